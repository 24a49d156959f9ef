"""A scheme's rule sheet: its rules, their checks and the standard sheet."""

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import BadReference, Forbidden, NotFound, ValidationFailed
from app.points.models import CAP_PERIODS, CATEGORIES, Rule
from app.points.standard_sheet import STANDARD_RULES
from app.schemes import services as schemes
from app.schemes.models import Scheme
from app.scope import Actor, in_villages, require_role, village_in_scope

MAX_RULE_POINTS = 1000
CODE_PATTERN = re.compile(r"[A-Za-z0-9-]+")


def _check_cap(cap_period, cap_count, errors: dict) -> str | None:
    """The cap's period (None for no cap), its mistakes added to ``errors``."""
    if cap_period not in (None, "", *CAP_PERIODS):
        errors["cap_period"] = [str(_l("上限周期须为 day/week/month/quarter/year"))]
    cap_period = cap_period or None
    if (cap_period is None) != (cap_count is None):
        errors.setdefault("cap_count", []).append(str(_l("上限周期和上限次数须同时填写")))
    elif cap_count is not None and (not isinstance(cap_count, int) or not 1 <= cap_count <= 10000):
        errors["cap_count"] = [str(_l("上限次数须为 1 到 10000 的整数"))]
    return cap_period


def validate_rule_fields(values: dict, *, partial: bool = False, categories=CATEGORIES) -> dict:
    """Domain checks shared by the API and the pages; returns cleaned values. The
    category must be one of the scheme's ``categories``."""
    errors: dict[str, list[str]] = {}
    out = dict(values)

    def need(field):
        return not partial or field in values

    for field, longest in (("code", 30), ("name", 100), ("category", 20)):
        if need(field):
            text = (values.get(field) or "").strip()
            if not text:
                errors[field] = [str(_l("必填"))]
            elif len(text) > longest:  # the column's width: PostgreSQL would refuse the row
                errors[field] = [str(_l("最多 %(n)s 个字", n=longest))]
            elif field == "code" and not CODE_PATTERN.fullmatch(text):  # what the form's hint promises
                errors[field] = [str(_l("编码只能用字母、数字或连字符"))]
            out[field] = text
    if need("category") and out.get("category") and out["category"] not in categories:
        errors["category"] = [str(_l("类别须为：%(c)s", c="、".join(categories)))]
    if need("points"):
        pts = values.get("points")
        if not isinstance(pts, int) or isinstance(pts, bool) or pts == 0 or abs(pts) > MAX_RULE_POINTS:
            errors["points"] = [str(_l("分值须为 -1000 到 1000 之间的非零整数"))]
    if need("cap_period") or need("cap_count"):
        out["cap_period"] = _check_cap(values.get("cap_period"), values.get("cap_count"), errors)
    if errors:
        raise ValidationFailed(errors)
    return out


def _code_taken(scheme: Scheme) -> str:
    if scheme.account_kind == "household":
        return str(_l("该村已有此编码的规则"))
    return str(_l("该方案已有此编码的规则"))


def next_rule_code(session: Session, scheme_id: int, category: str | None) -> str:
    """A free code for a new rule: the standard sheet's prefix of its category (``R``
    otherwise) and the lowest number not taken in the scheme, e.g. ``VOL-01``."""
    prefix = next((v["code"].split("-")[0] for v in STANDARD_RULES if v["category"] == category), "R")
    taken = set(session.scalars(select(Rule.code).where(Rule.scheme_id == scheme_id)))
    n = 1
    while f"{prefix}-{n:02d}" in taken:
        n += 1
    return f"{prefix}-{n:02d}"


def create_rule(
    session: Session,
    actor: Actor,
    village_id,
    values: dict,
    *,
    field="village_id",
    scheme_id=None,
    generate_code=False,
) -> Rule:
    """A rule of a scheme: ``scheme_id``'s, or the household scheme of ``village_id``;
    with ``generate_code`` (the page), a code left empty is made up."""
    require_role(actor, "village_admin")
    village_id, scheme_id = schemes.village_or_scheme(session, village_id, scheme_id)
    if scheme_id is not None:
        scheme = schemes.scheme_in_scope(session, actor, scheme_id, field="scheme_id")
        if scheme.village_id is None and "admin" not in actor.user.roles:
            raise Forbidden()  # a region's rule sheet is its admins'
    else:
        village = village_in_scope(session, actor, village_id, field=field)
        scheme = schemes.household_scheme(session, village.id)
    if generate_code and not (values.get("code") or "").strip():
        values = {**values, "code": next_rule_code(session, scheme.id, values.get("category"))}
    values = validate_rule_fields(values, categories=scheme.categories)
    if session.scalar(select(Rule.id).where(Rule.scheme_id == scheme.id, Rule.code == values["code"])):
        raise ValidationFailed({"code": [_code_taken(scheme)]})
    rule = Rule(
        scheme_id=scheme.id,
        village_id=scheme.village_id,
        code=values["code"],
        name=values["name"],
        category=values["category"],
        points=values["points"],
        cap_period=values.get("cap_period"),
        cap_count=values.get("cap_count"),
        veto=bool(values.get("veto", False)),
        requires_evidence=bool(values.get("requires_evidence", False)),
        active=bool(values.get("active", True)),
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor,
        "rule.create",
        village_id=scheme.village_id,
        target=rule,
        summary=f"{rule.code} {rule.name} {rule.points:+d}",
    )
    return rule


def update_rule(session: Session, actor: Actor, rule_id: int, values: dict) -> Rule:
    """Change a rule. Entries keep the points they were recorded with."""
    require_role(actor, "village_admin")
    rule = get_rule(session, actor, rule_id)
    merged = {f: getattr(rule, f) for f in ("code", "name", "category", "points", "cap_period", "cap_count")}
    merged.update(values)
    cleaned = validate_rule_fields(merged, categories=rule.scheme.categories)
    allowed = ("code", "name", "category", "points", "cap_period", "cap_count", "veto", "requires_evidence", "active")
    new = {k: cleaned[k] for k in allowed if k in values}
    if (
        "code" in new
        and new["code"] != rule.code
        and session.scalar(select(Rule.id).where(Rule.scheme_id == rule.scheme_id, Rule.code == new["code"]))
    ):
        raise ValidationFailed({"code": [_code_taken(rule.scheme)]})
    for flag in ("veto", "requires_evidence", "active"):
        if flag in new:
            new[flag] = bool(new[flag])
    if "cap_period" in values or "cap_count" in values:
        new["cap_period"], new["cap_count"] = cleaned.get("cap_period"), cleaned.get("cap_count")
    changes = audit.diff(rule, new)
    if changes:
        audit.record(
            session,
            actor,
            "rule.update",
            village_id=rule.village_id,
            target=rule,
            summary=f"{rule.code} {rule.name}",
            changes=changes,
        )
    session.flush()
    return rule


def get_rule(session: Session, actor: Actor, rule_id, *, field: str | None = None) -> Rule:
    rule = session.get(Rule, rule_id) if isinstance(rule_id, int) else None
    if rule is None:
        visible = False
    elif rule.village_id is None:  # a region's scheme
        visible = schemes.can_see_scheme(session, actor.user, rule.scheme)
    else:
        visible = actor.user.can_see_village(rule.village_id) or actor.user.village_id == rule.village_id
    if not visible:
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return rule


def list_rules(village_id, *, active_only: bool = False, scheme_id: int | None = None):
    """The rules of a scheme: ``scheme_id``'s, or the household scheme's of ``village_id``
    (of a region official's villages, a set; of every village, None)."""
    if scheme_id is None:
        households = select(Scheme.id).where(Scheme.account_kind == "household")
        owned = Rule.scheme_id.in_(households.where(in_villages(Scheme.village_id, village_id)))
    else:
        owned = Rule.scheme_id == scheme_id
    stmt = select(Rule).where(owned).order_by(Rule.village_id, Rule.category, Rule.points.desc(), Rule.code)
    if active_only:
        stmt = stmt.where(Rule.active.is_(True))
    return stmt


def load_standard_sheet(session: Session, actor: Actor, village_id: int) -> list[Rule]:
    """Add the standard rules the village's household scheme does not have yet (by code),
    in the categories the scheme has; idempotent."""
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id)
    scheme = schemes.household_scheme(session, village.id)
    have = set(session.scalars(select(Rule.code).where(Rule.scheme_id == scheme.id)))
    added = []
    for values in STANDARD_RULES:
        if values["code"] in have or values["category"] not in scheme.categories:
            continue
        rule = Rule(village_id=village.id, scheme_id=scheme.id, **values)
        session.add(rule)
        added.append(rule)
    session.flush()
    if added:
        audit.record(
            session,
            actor,
            "rule.load_standard",
            village_id=village.id,
            summary=f"从标准细则载入 {len(added)} 条规则",
        )
    return added
