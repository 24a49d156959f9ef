"""Villages and their points scheme."""

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import ValidationFailed
from app.scope import Actor, require_role, village_in_scope
from app.villages.models import Village

CODE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,30}$")


def create_village(session: Session, actor: Actor, values: dict) -> Village:
    require_role(actor, "admin")
    errors = {}
    name = str(values.get("name") or "").strip()
    code = str(values.get("code") or "").strip()
    township = str(values.get("township") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [str(_l("请填写村名（100 字以内）"))]
    if not CODE_RE.match(code):
        errors["code"] = [str(_l("编码须为 1–30 位字母、数字、_ 或 -"))]
    elif session.scalar(select(Village.id).where(func.lower(Village.code) == code.lower())):  # tj is TJ
        errors["code"] = [str(_l("编码已被使用"))]
    if not township or len(township) > 100:
        errors["township"] = [str(_l("请填写所属乡镇"))]
    if errors:
        raise ValidationFailed(errors)
    village = Village(name=name, code=code, township=township)
    session.add(village)
    session.flush()
    audit.record(
        session, actor, "village.create", village_id=village.id, target=village, summary=f"{code} {name} ({township})"
    )
    return village


def validate_scheme(values: dict) -> dict:
    errors = {}
    for field in ("base_points", "redeem_floor", "notice_days"):
        v = values.get(field)
        upper = 90 if field == "notice_days" else 100_000
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= upper:
            errors[field] = [str(_l("须为 0 到 %(n)s 的整数", n=upper))]
    ypp = values.get("yuan_per_point")
    # Kept to the fen (``Numeric(8, 2)``): 0.004 would be stored as 0.
    if isinstance(ypp, bool) or not isinstance(ypp, (int, float)) or not 0 < round(ypp, 2) <= 1000:
        errors["yuan_per_point"] = [str(_l("每分折合金额须大于 0、不超过 1000 元"))]
    for field in ("approval_required", "annual_reset"):
        if not isinstance(values.get(field), bool):
            errors[field] = [str(_l("须为是或否"))]
    if errors:
        raise ValidationFailed(errors)
    return {f: values[f] for f in Village.SCHEME_FIELDS} | {"yuan_per_point": round(float(ypp), 2)}


def set_scheme(session: Session, actor: Actor, village_id, values: dict) -> Village:
    """Change the scheme. Balances already on the ledger are not touched."""
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id)
    changes = audit.diff(village, validate_scheme(values))
    if changes:
        audit.record(
            session,
            actor,
            "village.scheme",
            village_id=village.id,
            target=village,
            summary=f"{village.name} 积分方案",
            changes=changes,
        )
    session.flush()
    return village


def list_villages(township: str | None = None):
    stmt = select(Village).order_by(Village.township, Village.code)
    if township:
        stmt = stmt.where(Village.township == township)
    return stmt
