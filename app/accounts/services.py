"""Accounts of any scheme: opening a person's account, finding, listing and showing them.

An account is a row of the households table whatever its kind (``Household.kind``), so
the ledger, caps, QR cards and redemption serve it unchanged; this package only adds
what a person account needs and the one view of an account's figures.
"""

import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.clock import periods_of
from app.errors import BadReference, NotFound, ValidationFailed
from app.households import services as households
from app.households.models import Household
from app.points import services as points
from app.rankings.services import household_period_points
from app.regions.services import village_ids_below
from app.schemes import services as schemes
from app.schemes.models import Scheme
from app.scope import Actor, household_in_scope, require_role
from app.villages.models import Village

NAME_LENGTH = 50  # households.head_name


def account_in_scope(session: Session, actor: Actor, account_id, *, field: str | None = None, lock: bool = False):
    """Any account the actor may see (its scheme's officials; the resident of the
    household it is or is linked to), else NotFound (BadReference for a body ``field``)."""
    return household_in_scope(session, actor, account_id, field=field, lock=lock)


def scheme_village_ids(session: Session, scheme: Scheme) -> frozenset[int]:
    """The villages a scheme's accounts may belong to: a village scheme's own village,
    every village below a region scheme's region."""
    if scheme.village_id is not None:
        return frozenset({scheme.village_id})
    return village_ids_below(session, scheme.region_id)


def _clean(values: dict) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    number = str(values.get("number") or "").strip()
    if not number:
        errors["number"] = [str(_l("请填写编号"))]
    elif not households.NUMBER_RE.match(number):
        errors["number"] = [str(_l("编号只能包含数字、字母和连字符，最多 20 位"))]
    name = str(values.get("name") or "").strip()
    if not name or len(name) > NAME_LENGTH:
        errors["name"] = [str(_l("请填写姓名（%(n)s 字以内）", n=NAME_LENGTH))]
    phone = re.sub(r"\s", "", str(values.get("phone") or "")) or None
    if phone and not households.PHONE_RE.match(phone):
        errors["phone"] = [str(_l("电话号码格式不对"))]
    for field in ("village_id", "household_id"):
        v = values.get(field)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            errors[field] = [str(_l("须为整数"))]
    return {"number": number, "name": name, "phone": phone}, errors


def validate_person(values: dict) -> dict:
    """A person's ``number``, ``name`` and ``phone`` cleaned; ValidationFailed naming each
    bad field (what ``create_account`` checks before it looks anything up)."""
    cleaned, errors = _clean(values)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _number_taken(session: Session, scheme_id: int, number: str) -> bool:
    """Unique in the scheme ignoring case, as households' numbers in a village: the
    number typed at a counter must name one account."""
    stmt = select(Household.id).where(Household.scheme_id == scheme_id, func.upper(Household.number) == number.upper())
    return session.scalar(stmt.limit(1)) is not None


def _home_village(session: Session, actor: Actor, scheme: Scheme, village_id, errors: dict) -> Village | None:
    if village_id is None or "village_id" in errors:
        return None
    village = session.get(Village, village_id)
    if village is None or not actor.user.can_see_village(village.id):
        raise BadReference(field="village_id")
    if village.id not in scheme_village_ids(session, scheme):
        errors["village_id"] = [str(_l("该村不在本方案的范围内"))]
    return village


def _linked_household(session: Session, actor: Actor, scheme: Scheme, values: dict, errors: dict) -> Household | None:
    """``household_id``, or (a page's form) ``household_number`` in the person's village."""
    household_id = values.get("household_id")
    number = (values.get("household_number") or "").strip()
    if household_id is None and number and "village_id" not in errors:
        village_id = values.get("village_id")
        found = households.find_by_number(session, village_id, number) if village_id else None
        if found is None:
            missing = _l("该村没有户号为 %(n)s 的农户", n=number[:20]) if village_id else _l("请先选择所在村")
            errors["household_id"] = [str(missing)]
            return None
        household_id = found.id
    if household_id is None or "household_id" in errors:
        return None
    household = household_in_scope(session, actor, household_id, field="household_id")
    if not household.is_household or household.village_id not in scheme_village_ids(session, scheme):
        errors["household_id"] = [str(_l("该户不在本方案的范围内"))]
    return household


def create_account(session: Session, actor: Actor, values: dict, *, today: date, now: datetime) -> Household:
    """Open a person's account in a ``person`` scheme, with the scheme's base points as
    its opening entry (as a new household's). ``village_id`` and ``household_id`` (the
    person's household, whose resident then sees the account) must lie in the scheme's
    villages; a person linked to a household lives in its village unless told otherwise."""
    require_role(actor, "village_admin")
    scheme = schemes.scheme_in_scope(session, actor, values.get("scheme_id"), field="scheme_id")
    schemes.require_scheme_manager(actor, scheme)
    if scheme.account_kind != "person":
        raise ValidationFailed({"scheme_id": [str(_l("只有以个人为账户的方案可以添加个人账户"))]})
    cleaned, errors = _clean(values)
    village = _home_village(session, actor, scheme, values.get("village_id"), errors)
    linked = _linked_household(session, actor, scheme, values, errors)
    if "number" not in errors and _number_taken(session, scheme.id, cleaned["number"]):
        errors["number"] = [str(_l("本方案已有编号 %(n)s", n=cleaned["number"]))]
    if errors:
        raise ValidationFailed(errors)
    account = Household(
        kind="person",
        scheme=scheme,
        scheme_id=scheme.id,
        village_id=None,  # a household's only: a village's lists of households stay households
        home_village_id=village.id if village else (linked.village_id if linked else None),
        linked_household_id=linked.id if linked else None,
        number=cleaned["number"],
        head_name=cleaned["name"],
        phone=cleaned["phone"],
        balance=0,
        entry_count=0,
    )
    session.add(account)
    session.flush()
    points.open_account(session, account, actor, today=today, now=now)
    audit.record(
        session,
        actor,
        "account.create",
        village_id=scheme.village_id,
        target=account,
        summary=f"{scheme.name}: {account.number} {account.name}"[:300],
    )
    session.flush()
    return account


def person_in_scope(session: Session, actor: Actor, account_id) -> Household:
    """A person account of a scheme the actor is an official of, else NotFound (its
    linked household's resident sees the passbook, never these pages)."""
    account = session.get(Household, account_id) if isinstance(account_id, int) else None
    if account is None or account.kind != "person" or not schemes.can_see_scheme(session, actor.user, account.scheme):
        raise NotFound()
    return account


def update_account(session: Session, actor: Actor, account_id, values: dict) -> Household:
    """Change a person's number, name, phone, village and linked household, checked as
    ``create_account`` checks them (the number unique in the scheme but for itself)."""
    account = person_in_scope(session, actor, account_id)
    require_role(actor, "village_admin")
    scheme = account.scheme
    schemes.require_scheme_manager(actor, scheme)
    cleaned, errors = _clean(values)
    village = _home_village(session, actor, scheme, values.get("village_id"), errors)
    linked = _linked_household(session, actor, scheme, values, errors)
    number = cleaned["number"]
    if (
        "number" not in errors
        and number.upper() != account.number.upper()
        and _number_taken(session, scheme.id, number)
    ):
        errors["number"] = [str(_l("本方案已有编号 %(n)s", n=number))]
    if errors:
        raise ValidationFailed(errors)
    new = {
        "number": number,
        "head_name": cleaned["name"],
        "phone": cleaned["phone"],
        "home_village_id": village.id if village else (linked.village_id if linked else None),
        "linked_household_id": linked.id if linked else None,
    }
    changes = audit.diff(account, new)
    if changes:
        summary = f"{scheme.name}: {account.number} {account.name}"[:300]
        audit.record(
            session,
            actor,
            "account.update",
            village_id=scheme.village_id,
            target=account,
            summary=summary,
            changes=changes,
        )
    session.flush()
    return account


def leave(session: Session, actor: Actor, account_id, on: date) -> Household:
    """Record that a person left (``moved_out_on``), as a household moves out: the
    passbook stays; the person leaves the rankings, the active list, the cards, and can
    no longer be credited nor redeem (the points and redemption services refuse)."""
    account = person_in_scope(session, actor, account_id)
    require_role(actor, "village_admin")
    schemes.require_scheme_manager(actor, account.scheme)
    if account.moved_out_on is None:
        account.moved_out_on = on
        audit.record(
            session,
            actor,
            "account.leave",
            village_id=account.scheme.village_id,
            target=account,
            summary=f"{account.scheme.name}: {account.number} {account.name}"[:300],
        )
    session.flush()
    return account


def _visible_to_resident(user):
    mine = user.household_id
    if mine is None:
        return false()
    return or_(Household.id == mine, Household.linked_household_id == mine)


def list_accounts(session: Session, actor: Actor, scheme_id=None, q: str = ""):
    """``SELECT`` the accounts the actor may see, of one scheme if named (404 if the
    scheme is not the actor's to see), matching ``q`` (number, name or phone). Officials
    see their schemes' accounts; a resident its household's and the persons linked to it."""
    user = actor.user
    mine = _visible_to_resident(user)
    stmt = select(Household).order_by(Household.scheme_id, Household.number, Household.id)
    if scheme_id is not None:
        scheme = session.get(Scheme, scheme_id) if isinstance(scheme_id, int) else None
        if scheme is None:
            raise NotFound()
        if schemes.can_see_scheme(session, user, scheme):
            stmt = stmt.where(Household.scheme_id == scheme.id)
        else:
            stmt = stmt.where(Household.scheme_id == scheme.id, mine)
            if session.scalar(stmt.with_only_columns(Household.id).limit(1)) is None:
                raise NotFound()
    else:
        visible = schemes.list_schemes(session, actor).with_only_columns(Scheme.id).order_by(None)
        stmt = stmt.where(or_(Household.scheme_id.in_(visible), mine))
    if (q or "").strip():
        stmt = stmt.where(households.matching(q))
    return stmt


def account_row(account: Household) -> dict:
    """What a list shows of an account: the contract's fields without period points."""
    return {
        "id": account.id,
        "scheme_id": account.scheme_id,
        "kind": account.kind,
        "number": account.number,
        "name": account.name,
        "village_id": account.home_village_id,
        "household_id": account.linked_household_id,
        "phone": account.phone,
        "balance": account.balance,
        "redeemable": account.redeemable,
    }


def account_view(session: Session, account: Household, *, today: date) -> dict:
    """Any account as ``GET /accounts/{id}`` shows it: its row and its ranking points in
    the current quarter and year (and month, for a monthly scheme)."""
    periods = periods_of(today, account.scheme.cadence)
    found = household_period_points(session, account.id, periods)
    names = ("quarter", "year", "month")
    return {**account_row(account), "period_points": {names[i]: found[p][0] for i, p in enumerate(periods)}}
