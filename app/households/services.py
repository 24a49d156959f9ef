"""Households: registration, members, moving out, search and lookup (the register
as a file is in ``register.py``).

Opening a household's account (its first ledger entry) belongs to the points package,
which calls ``create_household`` here; this package knows nothing of points.
"""

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import Forbidden, ValidationFailed
from app.households.models import Household, Member
from app.scope import (
    OFFICIAL_ROLES,
    Actor,
    acting_village_id,
    household_in_scope,
    in_villages,
    require_role,
    village_in_scope,
)

NUMBER_RE = re.compile(r"^[0-9A-Za-z\-]{1,20}$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
MAX_MEMBERS = 30


def _check_number(value) -> tuple[str, str | None]:
    number = str(value or "").strip()
    if not number:
        return number, str(_l("请填写户号"))
    if not NUMBER_RE.match(number):
        return number, str(_l("户号只能包含数字、字母和连字符，最多 20 位"))
    return number, None


def _check_head_name(value) -> tuple[str, str | None]:
    head = str(value or "").strip()
    if not head:
        return head, str(_l("请填写户主姓名"))
    return head, str(_l("姓名太长")) if len(head) > 50 else None


def _check_address(value) -> tuple[str | None, str | None]:
    address = str(value or "").strip()
    return address or None, str(_l("地址太长")) if len(address) > 200 else None


def _check_phone(value) -> tuple[str | None, str | None]:
    phone = re.sub(r"\s", "", str(value or ""))
    return phone or None, str(_l("电话号码格式不对")) if phone and not PHONE_RE.match(phone) else None


def _check_members(value) -> tuple[list[dict], str | None]:
    members = value or []
    if not isinstance(members, list) or len(members) > MAX_MEMBERS:
        return [], str(_l("家庭成员格式不对"))
    cleaned = []
    for m in members:
        name = str(m.get("name") or "").strip() if isinstance(m, dict) else ""
        relation = str(m.get("relation") or "").strip() if isinstance(m, dict) else ""
        if not name or len(name) > 50 or len(relation) > 20:
            return [], str(_l("每位成员须有姓名（50 字以内）和关系"))
        cleaned.append({"name": name, "relation": relation})
    return cleaned, None


# Each field's check (cleaned value, message or None), and whether a full record needs it.
_FIELD_CHECKS = {
    "number": (_check_number, True),
    "head_name": (_check_head_name, True),
    "address": (_check_address, False),
    "phone": (_check_phone, False),
    "members": (_check_members, False),
}


def validate_household(values: dict, *, partial: bool = False) -> dict:
    """Check and clean household fields; raises ValidationFailed naming each field."""
    errors: dict[str, list[str]] = {}
    out: dict = {}
    for name, (check, required) in _FIELD_CHECKS.items():
        if name in values or (required and not partial):
            out[name], message = check(values.get(name))
            if message:
                errors[name] = [message]
    if errors:
        raise ValidationFailed(errors)
    return out


def _number_taken(session: Session, village_id: int, number: str, exclude_id: int | None = None) -> bool:
    """Numbers are unique in a village ignoring case: ``tj-001`` beside ``TJ-001`` would
    make the number typed at the shop counter ambiguous."""
    stmt = select(Household.id).where(
        Household.village_id == village_id, func.upper(Household.number) == number.upper()
    )
    if exclude_id:
        stmt = stmt.where(Household.id != exclude_id)
    return session.scalar(stmt) is not None


def create_household(
    session: Session, actor: Actor, village_id, values: dict, *, field_name: str = "village_id"
) -> Household:
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id, field=field_name)
    values = validate_household(values)
    if _number_taken(session, village.id, values["number"]):
        raise ValidationFailed({"number": [str(_l("本村已有户号 %(n)s", n=values["number"]))]})
    household = Household(
        village=village,
        village_id=village.id,
        scheme=village.household_scheme,
        number=values["number"],
        head_name=values["head_name"],
        address=values.get("address"),
        phone=values.get("phone"),
        balance=0,
        entry_count=0,
    )
    household.members = [
        Member(name=m["name"], relation=m["relation"], position=i) for i, m in enumerate(values.get("members", []))
    ]
    session.add(household)
    session.flush()
    audit.record(
        session,
        actor,
        "household.create",
        village_id=village.id,
        target=household,
        summary=f"{household.number} {household.head_name}",
    )
    return household


def update_household(session: Session, actor: Actor, household_id: int, values: dict) -> Household:
    require_role(actor, "village_admin")
    household = household_in_scope(session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    values = validate_household(values, partial=True)
    if "number" in values and _number_taken(session, household.village_id, values["number"], household.id):
        raise ValidationFailed({"number": [str(_l("本村已有户号 %(n)s", n=values["number"]))]})
    members = values.pop("members", None)
    changes = audit.diff(household, values)
    if members is not None:
        old = [{"name": m.name, "relation": m.relation} for m in household.members]
        if old != members:
            changes["members"] = [old, members]
            household.members = [
                Member(name=m["name"], relation=m["relation"], position=i) for i, m in enumerate(members)
            ]
    if changes:
        audit.record(
            session,
            actor,
            "household.update",
            village_id=household.village_id,
            target=household,
            summary=f"{household.number} {household.head_name}",
            changes=changes,
        )
    session.flush()
    return household


def move_out(session: Session, actor: Actor, household_id: int, on: date) -> Household:
    """Mark a household moved out: it keeps its passbook and leaves the rankings."""
    require_role(actor, "village_admin")
    household = household_in_scope(session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    if household.moved_out_on is None:
        household.moved_out_on = on
        audit.record(
            session,
            actor,
            "household.move_out",
            village_id=household.village_id,
            target=household,
            summary=f"{household.number} {household.head_name}",
        )
    session.flush()
    return household


def search(village_id: int | None, q: str = "", *, include_moved_out: bool = True):
    stmt = select(Household).order_by(Household.village_id, Household.number)
    # Households only: a person's or a village's account has no village_id.
    stmt = stmt.where(in_villages(Household.village_id, village_id), Household.village_id.is_not(None))
    if (q or "").strip():
        stmt = stmt.where(matching(q))
    if not include_moved_out:
        stmt = stmt.where(Household.moved_out_on.is_(None))
    return stmt


def matching(q: str):
    """The condition of a search box: an account whose number starts with ``q``, or whose
    name or phone contains it."""
    # What the user typed is text, not a pattern: % and _ match only themselves.
    q = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{q}%"
    return or_(
        Household.number.like(f"{q}%", escape="\\"),
        Household.head_name.like(like, escape="\\"),
        Household.phone.like(like, escape="\\"),
    )


def list_for(actor: Actor, village_id: int | None, q: str = ""):
    """Households an official may list: its own village's; an admin's choice (or all)."""
    require_role(actor, *OFFICIAL_ROLES)
    return search(acting_village_id(actor, village_id), q)


def _of(village_id: int | None, scheme_id: int | None):
    """The accounts looked among: a village's households, or (``scheme_id``) a scheme's accounts."""
    return Household.scheme_id == scheme_id if scheme_id is not None else Household.village_id == village_id


def find_by_number(
    session: Session, village_id: int | None, number: str, *, scheme_id: int | None = None
) -> Household | None:
    """The household (or, with ``scheme_id``, the scheme's account) a person typed the
    number of: exactly, else ignoring case (numbers are unique that way; of older numbers
    differing only in case, none is guessed)."""
    number = (number or "").strip()[:20]
    if not number:
        return None
    owner = _of(village_id, scheme_id)
    exact = session.scalar(select(Household).where(owner, Household.number == number))
    if exact is not None:
        return exact
    rows = session.scalars(
        select(Household).where(owner, func.upper(Household.number) == number.upper()).limit(2)
    ).all()
    return rows[0] if len(rows) == 1 else None


def counts_by_village(session: Session) -> dict[int, int]:
    """Households on the register (moved out or not) per village id."""
    rows = session.execute(select(Household.village_id, func.count(Household.id)).group_by(Household.village_id))
    return {vid: n for vid, n in rows}


def find_household(session: Session, village_id: int, text: str) -> Household | None:
    """The household a recorder typed: its number, or its head's name when only one
    household of the village has that name (a page without JavaScript)."""
    text = (text or "").strip()
    if not text:
        return None
    household = find_by_number(session, village_id, text)
    if household is not None:
        return household
    named = session.scalars(
        select(Household).where(Household.village_id == village_id, Household.head_name == text).limit(2)
    ).all()
    return named[0] if len(named) == 1 else None


def households_by_numbers(session: Session, village_id: int, numbers: list[str]) -> dict[str, Household]:
    """``{number: household}`` for the numbers found in the village."""
    wanted = sorted({n for n in numbers if n})
    if not wanted:
        return {}
    found = session.scalars(
        select(Household).where(Household.village_id == village_id, Household.number.in_(wanted))
    ).all()
    return {h.number: h for h in found}


def lookup_households(village_id: int | None, q: str, *, limit: int = 10):
    """Active households matching a number prefix or a name, for the typeahead."""
    return search(village_id, q, include_moved_out=False).limit(limit)


def households_by_ids(session: Session, village_id: int, ids: list) -> dict[int, Household]:
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return {}
    found = session.scalars(select(Household).where(Household.village_id == village_id, Household.id.in_(wanted)))
    return {h.id: h for h in found}


LOOSE_NUMBER_RE = re.compile(r"^([A-Za-z]*)[\s\-_]*0*(\d+)$")


def _loose_number(text: str) -> tuple[str, int] | None:
    """``TJ-001``, ``TJ001``, ``tj 1`` → ``("TJ", 1)``; ``1`` → ``("", 1)``; else None."""
    m = LOOSE_NUMBER_RE.match((text or "").strip())
    return (m.group(1).upper(), int(m.group(2))) if m else None


def find_by_loose_number(
    session: Session, village_id: int | None, text: str, *, scheme_id: int | None = None
) -> list[Household]:
    """The village's households still there whose number reads as ``text`` typed loosely
    (letters in any case, any separator, leading zeros or none): ``TJ001``, ``tj 1`` and
    ``1`` all find ``TJ-001``."""
    typed = _loose_number(text)
    if typed is None:
        return []
    letters, digits = typed
    rows = session.execute(
        select(Household.id, Household.number).where(_of(village_id, scheme_id), Household.moved_out_on.is_(None))
    )
    ids = []
    for hid, number in rows:
        have = _loose_number(number)
        if have is not None and have[1] == digits and (not letters or have[0] == letters):
            ids.append(hid)
    if not ids:
        return []
    return list(session.scalars(select(Household).where(Household.id.in_(ids)).order_by(Household.number)))


def counter_candidates(
    session: Session, village_id: int | None, text: str, *, limit: int = 8, scheme_id: int | None = None
) -> list[Household]:
    """Households still in the village that the counter's typed text may mean, for the
    clerk to pick from: a loosely typed number, a number's part, the head's or a member's
    name (or part of it), a phone number (or its last digits). Best matches first."""
    text = (text or "").strip()[:50]
    if not text:
        return []
    found = {h.id: h for h in find_by_loose_number(session, village_id, text, scheme_id=scheme_id)}
    q = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{q}%"
    compact = re.sub(r"[\s\-_]", "", q)
    member_of = select(Member.household_id).where(Member.name.like(like, escape="\\"))
    conditions = [
        Household.head_name.like(like, escape="\\"),
        Household.id.in_(member_of),
        func.upper(Household.number).like(like.upper(), escape="\\"),
    ]
    if compact.isdigit() and len(compact) >= 3:  # a phone's last digits, not a lone "1"
        conditions.append(Household.phone.like(f"%{compact}%", escape="\\"))
    rest = session.scalars(
        select(Household)
        .where(_of(village_id, scheme_id), Household.moved_out_on.is_(None), or_(*conditions))
        .order_by(Household.number)
        .limit(limit)
    )
    for household in rest:
        found.setdefault(household.id, household)
    return list(found.values())[:limit]
