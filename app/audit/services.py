"""The audit log of administrative acts. Services call ``record`` inside their own
transaction, so an act and its audit row commit (or vanish) together."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditLog
from app.scope import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    village_id: int | None = None,
    target=None,
    summary: str = "",
    changes: dict | None = None,
    at: datetime | None = None,
) -> AuditLog:
    row = AuditLog(
        user_id=actor.id,
        username=actor.username,
        ip=actor.ip,
        action=action,
        village_id=village_id,
        target_type=type(target).__tablename__ if target is not None else "",
        target_id=getattr(target, "id", None),
        summary=summary[:300],
        changes=changes,
    )
    if at is not None:
        row.at = at
    session.add(row)
    return row


def diff(obj, values: dict) -> dict:
    """Apply ``values`` to ``obj`` and return ``{field: [old, new]}`` for what changed."""
    changed = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            changed[field] = [_jsonable(old), _jsonable(new)]
            setattr(obj, field, new)
    return changed


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def search(village_id: int | frozenset[int] | None, q: str = "", action: str = ""):
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if isinstance(village_id, (set, frozenset)):  # a region official's villages
        stmt = stmt.where(AuditLog.village_id.in_(sorted(village_id)))
    elif village_id is not None:
        stmt = stmt.where(AuditLog.village_id == village_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(AuditLog.summary.like(like) | AuditLog.username.like(like))
    return stmt
