"""Villages and their points scheme."""

import re
from collections.abc import Callable
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import Forbidden, ValidationFailed
from app.regions import services as regions
from app.schemes.models import Scheme
from app.scope import Actor, require_role
from app.villages.models import Village

CODE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,30}$")
# What a new village brings beyond its row and household scheme, run once it is made:
# ``(session, actor, village, today=, now=)``. The ledger sits above this package and
# opens the village's account in each village scheme of a region above it
# (``app.points.village_accounts.install``).
AFTER_CREATE: dict[str, Callable] = {}


def create_village(
    session: Session, actor: Actor, values: dict, *, today: date | None = None, now: datetime | None = None
) -> Village:
    """A village under the township region ``region_id``, or under the top-level
    township region named ``township`` (created when first named). Its accounts in the
    village schemes above it open with it (their opening entries dated ``today``)."""
    require_role(actor, "admin")
    errors = {}
    name = str(values.get("name") or "").strip()
    code = str(values.get("code") or "").strip()
    township = str(values.get("township") or "").strip()
    region_id = values.get("region_id")
    region = None
    if region_id is not None:
        region = regions.region_in_scope(session, actor, region_id, field="region_id")
        if region.level != "township":
            errors["region_id"] = [str(_l("村须挂在乡镇（街道）之下"))]
        township = region.name
    elif not actor.user.is_admin:
        raise Forbidden()  # a region's admin adds villages below its region, by region_id
    if not name or len(name) > 100:
        errors["name"] = [str(_l("请填写村名（100 字以内）"))]
    if not CODE_RE.match(code):
        errors["code"] = [str(_l("编码须为 1–30 位字母、数字、_ 或 -"))]
    elif session.scalar(select(Village.id).where(func.lower(Village.code) == code.lower())):  # tj is TJ
        errors["code"] = [str(_l("编码已被使用"))]
    if region is None and (not township or len(township) > 100):
        errors["township"] = [str(_l("请填写所属乡镇"))]
    if errors:
        raise ValidationFailed(errors)
    if region is None:
        region = regions.township_named(session, township)
    village = Village(name=name, code=code, township=township, region_id=region.id)
    session.add(village)
    session.flush()
    session.add(Scheme.for_village(village))
    session.flush()
    regions.forget_village_ids(session)
    audit.record(
        session, actor, "village.create", village_id=village.id, target=village, summary=f"{code} {name} ({township})"
    )
    for hook in AFTER_CREATE.values():
        hook(session, actor, village, today=today, now=now)
    return village


def list_villages(township: str | None = None, region_id: int | None = None):
    stmt = select(Village).order_by(Village.township, Village.code)
    if township:
        stmt = stmt.where(Village.township == township)
    if region_id is not None:
        stmt = stmt.where(Village.id.in_(regions.villages_below(region_id)))
    return stmt
