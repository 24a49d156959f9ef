"""Schemes (积分方案): a rule sheet with its settings, run by a village or a region."""

import re
from collections.abc import Callable
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import BadReference, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.regions.models import Region
from app.regions.services import can_see_region, region_ids_below, region_in_scope
from app.schemes.models import ACCOUNT_KINDS, CADENCES, SETTINGS, STANDARD_CATEGORIES, Scheme
from app.scope import Actor, require_role, village_in_scope

MAX_CATEGORIES = 30
CATEGORY_LENGTH = 20  # rules.category
# A control character (C0, DEL, C1: a tab, a newline, a NUL) has no place in a name shown
# in tables, exports and notices (``app.api.limits`` says so in the document).
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")

# Stored in the audit log as written, like its other summaries.
# What a new scheme brings beyond its row, run once it is made: ``(session, actor, scheme,
# today=, now=)``. The ledger sits above this package and opens a village scheme's
# accounts here (``app.points.village_accounts.install``).
AFTER_CREATE: dict[str, Callable] = {}

KIND_WORDS = {"household": "农户", "person": "个人", "village": "村"}
CADENCE_WORDS = {"quarter": "按季度", "month": "按月"}


def validate_settings(values: dict, *, partial: bool = False) -> dict:
    """The six settings of ``PUT /villages/{id}/scheme`` (those present, if ``partial``)."""
    errors = {}
    out = {}
    for field in ("base_points", "redeem_floor", "notice_days"):
        if partial and field not in values:
            continue
        v = values.get(field)
        upper = 90 if field == "notice_days" else 100_000
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= upper:
            errors[field] = [str(_l("须为 0 到 %(n)s 的整数", n=upper))]
        out[field] = v
    if not partial or "yuan_per_point" in values:
        ypp = values.get("yuan_per_point")
        # Kept to the fen (``Numeric(8, 2)``): 0.004 would be stored as 0.
        if isinstance(ypp, bool) or not isinstance(ypp, (int, float)) or not 0 < round(ypp, 2) <= 1000:
            errors["yuan_per_point"] = [str(_l("每分折合金额须大于 0、不超过 1000 元"))]
        else:
            out["yuan_per_point"] = round(float(ypp), 2)
    for field in ("approval_required", "annual_reset"):
        if partial and field not in values:
            continue
        if not isinstance(values.get(field), bool):
            errors[field] = [str(_l("须为是或否"))]
        out[field] = values.get(field)
    if errors:
        raise ValidationFailed(errors)
    return out


def validate_categories(value) -> list[str]:
    """An ordered list of 1–30 distinct names of at most 20 characters, without control
    characters."""
    message = str(_l("类别须为 1–%(n)s 个不重复的名称，每个不超过 %(l)s 个字", n=MAX_CATEGORIES, l=CATEGORY_LENGTH))
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CATEGORIES:
        raise ValidationFailed({"categories": [message]})
    names = [c.strip() if isinstance(c, str) else None for c in value]
    if any(not n or len(n) > CATEGORY_LENGTH for n in names) or len(set(names)) != len(names):
        raise ValidationFailed({"categories": [message]})
    if any(CONTROL_CHARACTER.search(n) for n in names):
        raise ValidationFailed({"categories": [str(_l("类别名称不能含有换行、制表符等控制字符"))]})
    return names


def categories_in_use(session: Session, scheme_id: int) -> set[str]:
    """The categories the scheme's rules are in (by table: rules sit above schemes)."""
    rules = db.metadata.tables["rules"]
    return set(session.scalars(select(rules.c.category).where(rules.c.scheme_id == scheme_id).distinct()))


def rules_by_category(session: Session, scheme_id: int) -> dict[str, int]:
    """``{category: rules}`` of the scheme's rules."""
    rules = db.metadata.tables["rules"]
    stmt = select(rules.c.category, func.count()).where(rules.c.scheme_id == scheme_id).group_by(rules.c.category)
    return {category: int(n) for category, n in session.execute(stmt)}


def _keep_used_categories(session: Session, scheme: Scheme, categories: list[str]) -> None:
    gone = categories_in_use(session, scheme.id) - set(categories)
    if gone:
        raise ValidationFailed(
            {"categories": [str(_l("类别 %(c)s 仍有规则在用，不能删除", c="、".join(sorted(gone))))]}
        )


def can_see_scheme(session: Session, user, scheme: Scheme) -> bool:
    """A village's scheme is seen by the officials of the village; a region's by the
    officials of the region (or above it)."""
    if user is None:
        return False
    if scheme.village_id is not None:
        return user.can_see_village(scheme.village_id)
    return can_see_region(session, user, scheme.region_id)


def scheme_in_scope(session: Session, actor: Actor, scheme_id, *, field: str | None = None) -> Scheme:
    scheme = session.get(Scheme, scheme_id) if isinstance(scheme_id, int) else None
    if scheme is None or not can_see_scheme(session, actor.user, scheme):
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return scheme


PICK_ONE = _l("须指定村（village_id）或积分方案（scheme_id），二选一")


def village_or_scheme(session: Session, village_id, scheme_id) -> tuple:
    """``(village_id, scheme_id)`` of a call that takes ``scheme_id`` in place of
    ``village_id`` (which names the village's household scheme): both given, they must
    name the same scheme, which ``scheme_id`` then names alone; else 422 on
    ``scheme_id``. One answer for every such endpoint."""
    if village_id is None or scheme_id is None:
        return village_id, scheme_id
    ids = (village_id, scheme_id)
    same = all(isinstance(i, int) and not isinstance(i, bool) for i in ids) and scheme_id == session.scalar(
        select(Scheme.id).where(Scheme.village_id == village_id, Scheme.account_kind == "household")
    )
    if not same:
        raise ValidationFailed({"scheme_id": [str(PICK_ONE)]})
    return None, scheme_id


def household_scheme(session: Session, village_id: int) -> Scheme:
    return session.scalars(
        select(Scheme).where(Scheme.village_id == village_id, Scheme.account_kind == "household")
    ).one()


def _require_manager(actor: Actor, village_id: int | None) -> None:
    """A village's scheme is managed by its village admin (or an admin above it); a
    region's by an admin of the region or above."""
    if village_id is not None:
        require_role(actor, "village_admin")
    else:
        user = actor.user
        if user is None or "admin" not in user.roles:
            raise Forbidden()


def require_scheme_manager(actor: Actor, scheme: Scheme) -> None:
    """Who may manage ``scheme`` (its rules, its accounts): see ``_require_manager``."""
    _require_manager(actor, scheme.village_id)


ACCOUNT_HEADINGS = {
    "household": (_l("户号"), _l("户主")),
    "person": (_l("编号"), _l("姓名")),
    "village": (_l("村编号"), _l("村名")),
}
MIXED_HEADINGS = (_l("编号"), _l("名称"))


def account_headings(*kinds: str) -> tuple[str, str]:
    """The headings of an account's number and name in an export of accounts of these
    kinds (户号/户主, 编号/姓名, 村编号/村名); 编号/名称 when kinds are mixed."""
    found = set(kinds)
    number, name = ACCOUNT_HEADINGS[found.pop()] if len(found) == 1 else MIXED_HEADINGS
    return str(number), str(name)


def account_kind_error(kind, by_village: bool) -> str | None:
    """Why a new scheme may not have this account kind (None: it may)."""
    if kind not in ACCOUNT_KINDS:
        return str(_l("账户类型须为 household、person 或 village"))
    if kind == "household":
        if not by_village:
            return str(_l("户积分方案只能由村设立"))
        return str(_l("每个村只有一个户积分方案，请修改已有的方案"))
    if kind == "village" and by_village:
        return str(_l("以村为账户的方案须由区域设立"))
    return None


def create_scheme(
    session: Session, actor: Actor, values: dict, *, today: date | None = None, now: datetime | None = None
) -> Scheme:
    """A scheme of a village or a region; a village scheme's accounts open with it (its
    opening entries dated ``today``)."""
    errors: dict[str, list[str]] = {}
    village_id, region_id = values.get("village_id"), values.get("region_id")
    if (village_id is None) == (region_id is None):
        raise ValidationFailed({"village_id": [str(_l("须指定所属村或所属区域（二选一）"))]})
    village = region = None
    if village_id is not None:
        village = village_in_scope(session, actor, village_id, field="village_id")
    else:
        region = region_in_scope(session, actor, region_id, field="region_id")
    _require_manager(actor, village.id if village else None)
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [str(_l("请填写方案名称（100 字以内）"))]
    kind = values.get("account_kind")
    kind_error = account_kind_error(kind, village is not None)
    if kind_error:
        errors["account_kind"] = [kind_error]
    if values.get("cadence") not in CADENCES:
        errors["cadence"] = [str(_l("周期须为 quarter 或 month"))]
    categories = list(STANDARD_CATEGORIES)
    try:
        settings = validate_settings(values)
    except ValidationFailed as exc:
        errors.update(exc.details)
        settings = {}
    if values.get("categories") is not None:
        try:
            categories = validate_categories(values.get("categories"))
        except ValidationFailed as exc:
            errors.update(exc.details)
    if errors:
        raise ValidationFailed(errors)
    scheme = Scheme(
        name=name,
        village_id=village.id if village else None,
        region_id=region.id if region else None,
        account_kind=kind,
        cadence=values["cadence"],
        categories=categories,
        **settings,
    )
    session.add(scheme)
    session.flush()
    audit.record(
        session,
        actor,
        "scheme.create",
        village_id=scheme.village_id,
        target=scheme,
        summary=f"{name}（{KIND_WORDS[kind]}，{CADENCE_WORDS[scheme.cadence]}）",
    )
    for hook in AFTER_CREATE.values():
        hook(session, actor, scheme, today=today, now=now)
    return scheme


PATCHABLE = ("name", "cadence", "categories", *SETTINGS)


def update_scheme(session: Session, actor: Actor, scheme_id, values: dict) -> Scheme:
    """Change any of a scheme's fields but its account kind and owner. A category its
    rules are in cannot vanish from the list."""
    scheme = scheme_in_scope(session, actor, scheme_id)
    _require_manager(actor, scheme.village_id)
    fixed = [f for f in ("account_kind", "village_id", "region_id") if f in values]
    if fixed:
        raise ValidationFailed({f: [str(_l("方案设立后不能更改此项"))] for f in fixed})
    errors: dict[str, list[str]] = {}
    new = {}
    if "name" in values:
        name = str(values.get("name") or "").strip()
        if not name or len(name) > 100:
            errors["name"] = [str(_l("请填写方案名称（100 字以内）"))]
        new["name"] = name
    if "cadence" in values:
        if values["cadence"] not in CADENCES:
            errors["cadence"] = [str(_l("周期须为 quarter 或 month"))]
        new["cadence"] = values["cadence"]
    try:
        new.update(validate_settings({k: v for k, v in values.items() if k in SETTINGS}, partial=True))
    except ValidationFailed as exc:
        errors.update(exc.details)
    if "categories" in values:
        try:
            new["categories"] = validate_categories(values["categories"])
        except ValidationFailed as exc:
            errors.update(exc.details)
    if errors:
        raise ValidationFailed(errors)
    return _apply(session, actor, scheme, new)


def _apply(session: Session, actor: Actor, scheme: Scheme, new: dict) -> Scheme:
    if "categories" in new:
        _keep_used_categories(session, scheme, new["categories"])
    changes = audit.diff(scheme, new)
    if changes:
        audit.record(
            session,
            actor,
            "scheme.update" if scheme.account_kind != "household" else "village.scheme",
            village_id=scheme.village_id,
            target=scheme,
            summary=f"{scheme.name} 积分方案",
            changes=changes,
        )
    session.flush()
    return scheme


def set_village_scheme(session: Session, actor: Actor, village_id, values: dict) -> Scheme:
    """``PUT /villages/{id}/scheme``: the six settings (all of them) and, optionally, the
    categories of the village's household scheme. Balances already on the ledger are not
    touched."""
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id)
    scheme = household_scheme(session, village.id)
    new = validate_settings(values)
    if values.get("categories") is not None:
        new["categories"] = validate_categories(values["categories"])
    return _apply(session, actor, scheme, new)


def rename_category(session: Session, actor: Actor, scheme_id, old: str, new: str) -> Scheme:
    """Rename a category in place, and its rules with it (entries keep the name they were
    recorded with)."""
    scheme = scheme_in_scope(session, actor, scheme_id)
    _require_manager(actor, scheme.village_id)
    categories = list(scheme.categories)
    if old not in categories:
        raise ValidationFailed({"categories": [str(_l("没有类别 %(c)s", c=old))]})
    categories[categories.index(old)] = new
    categories = validate_categories(categories)
    rules = db.metadata.tables["rules"]
    session.execute(
        rules.update()
        .where(rules.c.scheme_id == scheme.id, rules.c.category == old)
        .values(category=categories[categories.index(new.strip())])
    )
    return _apply(session, actor, scheme, {"categories": categories})


def yearly_reset_villages():
    """``SELECT`` the villages whose household scheme resets spendable points yearly."""
    return select(Scheme.village_id).where(Scheme.account_kind == "household", Scheme.annual_reset.is_(True))


def list_schemes(session: Session, actor: Actor, *, village_id=None, region_id=None):
    """Schemes in the actor's scope: of a village, of a region (its own and those of the
    villages below; one of the two), or all it may see."""
    if village_id is not None and region_id is not None:
        raise ValidationFailed({"region_id": [str(_l("须指定所属村或所属区域（二选一）"))]})
    stmt = select(Scheme).order_by(Scheme.region_id.is_(None), Scheme.village_id, Scheme.id)
    if village_id is not None:
        village = village_in_scope(session, actor, village_id)
        return stmt.where(Scheme.village_id == village.id)
    if region_id is not None:
        from app.regions.services import villages_below

        region = region_in_scope(session, actor, region_id)
        return stmt.where(
            or_(
                Scheme.region_id.in_(sorted(region_ids_below(session, region.id))),
                Scheme.village_id.in_(villages_below(region.id)),
            )
        )
    user = actor.user
    if user.is_admin:
        return stmt
    if user.region_id is not None:
        return stmt.where(
            or_(
                Scheme.region_id.in_(sorted(region_ids_below(session, user.region_id))),
                Scheme.village_id.in_(sorted(user.region_village_ids())),
            )
        )
    if user.village_id is not None and user.can_see_village(user.village_id):
        return stmt.where(Scheme.village_id == user.village_id)
    return stmt.where(Scheme.id.is_(None))


def region_of(session: Session, scheme: Scheme) -> Region | None:
    return session.get(Region, scheme.region_id) if scheme.region_id else None
