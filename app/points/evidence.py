"""Evidence photos of entries: kept re-encoded, shown in scope."""

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.points.models import Entry, Evidence
from app.points.photos import clean_photo
from app.points.services import RECORDERS, REVIEWERS
from app.scope import Actor, require_role, village_in_scope


def store_evidence(
    session: Session,
    actor: Actor,
    village_id: int,
    data: bytes,
    folder: Path,
    max_bytes: int,
    *,
    field: str = "village_id",
) -> Evidence:
    """Keep a JPEG or PNG photo, re-encoded without its metadata (``photos.clean_photo``)."""
    require_role(actor, *RECORDERS, *REVIEWERS, "village_admin")
    village = village_in_scope(session, actor, village_id, field=field)
    data, content_type = clean_photo(data, max_bytes)
    ev = Evidence(
        id=secrets.token_hex(16),
        village_id=village.id,
        uploaded_by_id=actor.id,
        content_type=content_type,
        size=len(data),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ev.id).write_bytes(data)
    session.add(ev)
    session.flush()
    return ev


def evidence_in_scope(session: Session, actor: Actor, evidence_id: str) -> Evidence:
    """Evidence is shown to officials of its village and to the household it is about."""
    ev = session.get(Evidence, evidence_id) if isinstance(evidence_id, str) else None
    if ev is None:
        raise NotFound()
    if actor.user.can_see_village(ev.village_id):
        return ev
    own = actor.user.household_id
    if own and session.scalar(select(Entry.id).where(Entry.evidence == ev.id, Entry.household_id == own)):
        return ev
    raise NotFound()
