"""Regions (city → county → township) and what lies below them."""

import hashlib
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import BadReference, Forbidden, NotFound, ValidationFailed
from app.households.models import Household
from app.regions.models import LEVELS, Region
from app.scope import Actor
from app.villages.models import Village

CODE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,30}$")
_CACHE = "region_village_ids"
_REGIONS_CACHE = "region_ids_below"

_TOWN = Region.__table__.alias("town")
_UPPER = Region.__table__.alias("upper_region")

# Stored in the audit log as written, like its other summaries.
LEVEL_WORDS = {"city": "市", "county": "县（区）", "township": "乡镇（街道）"}


def villages_below(region_id):
    """``SELECT villages.id`` of every village below the region (a value or a bound
    parameter): a subquery for a statement of its own, or run alone."""
    return (
        select(Village.id)
        .join(_TOWN, _TOWN.c.id == Village.region_id)
        .outerjoin(_UPPER, _UPPER.c.id == _TOWN.c.parent_id)
        .where(or_(_TOWN.c.id == region_id, _UPPER.c.id == region_id, _UPPER.c.parent_id == region_id))
    )


def village_ids_below(session: Session, region_id: int) -> frozenset[int]:
    """The ids of the villages below a region, read once per transaction: every scope
    check of a request asks, and the answer only changes when a village is added."""
    cache = session.info.setdefault(_CACHE, {})
    ids = cache.get(region_id)
    if ids is None:
        ids = cache[region_id] = frozenset(session.scalars(villages_below(region_id)))
    return ids


def forget_village_ids(session: Session) -> None:
    """Forget what ``village_ids_below`` and ``region_ids_below`` read: a region or
    village was just added."""
    session.info.pop(_CACHE, None)
    session.info.pop(_REGIONS_CACHE, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_on_end(session: Session) -> None:
    forget_village_ids(session)


def region_ids_below(session: Session, region_id: int) -> frozenset[int]:
    """The region and every region below it, read once per transaction like
    ``village_ids_below`` (a region official's scope checks ask it more than once)."""
    cache = session.info.setdefault(_REGIONS_CACHE, {})
    ids = cache.get(region_id)
    if ids is None:
        children = select(Region.id).where(Region.parent_id == region_id)
        ids = cache[region_id] = frozenset(
            session.scalars(
                select(Region.id).where(
                    or_(Region.id == region_id, Region.parent_id == region_id, Region.parent_id.in_(children))
                )
            )
        )
    return ids


def can_see_region(session: Session, user, region_id: int) -> bool:
    """The deployment's administrator sees every region; a region's official its region
    and the regions below; nobody else any."""
    if user is None:
        return False
    if user.is_admin:
        return True
    if user.region_id is None:
        return False
    # Its own region needs no query: a county recorder scoring the county's scheme.
    return region_id == user.region_id or region_id in region_ids_below(session, user.region_id)


def region_in_scope(session: Session, actor: Actor, region_id, *, field: str | None = None) -> Region:
    region = session.get(Region, region_id) if isinstance(region_id, int) else None
    if region is None or not can_see_region(session, actor.user, region.id):
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return region


def _clean_code(session: Session, code, errors: dict) -> str:
    code = str(code or "").strip()
    if not CODE_RE.match(code):
        errors["code"] = [str(_l("编码须为 1–30 位字母、数字、_ 或 -"))]
    elif session.scalar(select(Region.id).where(func.lower(Region.code) == code.lower())):
        errors["code"] = [str(_l("编码已被使用"))]
    return code


def create_region(session: Session, actor: Actor, values: dict) -> Region:
    """A region under ``parent_id`` (of a higher level), or at the top (the deployment's
    administrator only). A region's admin creates regions below its own."""
    user = actor.user
    if user is None or "admin" not in user.roles:
        raise Forbidden()
    parent_id = values.get("parent_id")
    parent = None
    if parent_id is not None:
        parent = session.get(Region, parent_id) if isinstance(parent_id, int) else None
        if parent is None or not can_see_region(session, user, parent.id):
            raise BadReference(field="parent_id")
    elif not user.is_admin:
        raise Forbidden()
    errors: dict[str, list[str]] = {}
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [str(_l("请填写名称（100 字以内）"))]
    code = _clean_code(session, values.get("code"), errors)
    level = values.get("level")
    if level not in LEVELS:
        errors["level"] = [str(_l("级别须为 city、county 或 township"))]
    elif parent is not None and LEVELS.index(parent.level) >= LEVELS.index(level):
        errors["parent_id"] = [str(_l("上级区域的级别须高于本区域"))]
    if errors:
        raise ValidationFailed(errors)
    region = Region(name=name, code=code, level=level, parent_id=parent.id if parent else None)
    session.add(region)
    session.flush()
    forget_village_ids(session)
    audit.record(session, actor, "region.create", target=region, summary=f"{LEVEL_WORDS[level]} {code} {name}")
    return region


def township_code(session: Session, name: str) -> str:
    """A code for a township region made from a village's ``township`` name."""
    base = "T-" + hashlib.sha1(name.encode()).hexdigest()[:8]  # as the migration 0006 makes them
    code, n = base, 1
    while session.scalar(select(Region.id).where(func.lower(Region.code) == code.lower())):
        n += 1
        code = f"{base}-{n}"
    return code


def township_named(session: Session, name: str) -> Region:
    """The top-level township region of this name, created when first named."""
    region = session.scalar(
        select(Region)
        .where(Region.name == name, Region.level == "township", Region.parent_id.is_(None))
        .order_by(Region.id)
        .limit(1)
    )
    if region is None:
        region = Region(name=name, code=township_code(session, name), level="township")
        session.add(region)
        session.flush()
        forget_village_ids(session)
    return region


def list_regions(session: Session, actor: Actor, parent_id=None):
    """Regions in the actor's scope, under ``parent_id`` if given (404 outside it)."""
    stmt = select(Region).order_by(Region.level, Region.code)
    if parent_id is not None:
        parent = region_in_scope(session, actor, parent_id)
        stmt = stmt.where(Region.parent_id == parent.id)
    user = actor.user
    if not user.is_admin:
        mine = region_ids_below(session, user.region_id) if user.region_id is not None else frozenset()
        stmt = stmt.where(Region.id.in_(sorted(mine)))
    return stmt


def region_counts(session: Session, region_id: int) -> dict:
    """``{"villages", "households"}`` below a region (households not moved out)."""
    below = villages_below(region_id)
    villages = session.scalar(select(func.count()).select_from(below.subquery()))
    households = session.scalar(
        select(func.count(Household.id)).where(Household.village_id.in_(below), Household.moved_out_on.is_(None))
    )
    return {"villages": int(villages or 0), "households": int(households or 0)}
