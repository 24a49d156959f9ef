"""Evidence photos of entries: kept re-encoded, shown in scope."""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import BadReference, NotFound, ValidationFailed
from app.points.models import Entry, Evidence
from app.points.photos import clean_photo, is_clean
from app.regions.services import village_ids_below
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
    require_role(actor, "recorder", "reviewer", "village_admin")
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


def usable_evidence(session: Session, actor: Actor, evidence_id, scheme, home_village_id: int | None) -> str:
    """The photo an entry of ``scheme`` names: taken in the account's own village (a
    household's, a person's home village, a village's own account), or for an event of
    many accounts (``home_village_id`` None) in a village the scheme runs and the actor
    sees. Any other is a bad reference, as one that does not exist."""
    ev = session.get(Evidence, evidence_id) if isinstance(evidence_id, str) else None
    if ev is not None and home_village_id is not None:
        fits = ev.village_id == home_village_id
    elif ev is not None and actor.user.can_see_village(ev.village_id):
        runs = {scheme.village_id} if scheme.village_id is not None else village_ids_below(session, scheme.region_id)
        fits = ev.village_id in runs
    else:
        fits = False
    if not fits:
        raise BadReference(field="evidence_id")
    return ev.id


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


@dataclass
class Scrubbed:
    cleaned: int = 0
    already_clean: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def scrub_stored(session: Session, folder: Path) -> Scrubbed:
    """Re-encode the stored photos that were kept as uploaded (before uploads were
    re-encoded: GPS and whatever followed the image), each file replaced atomically.
    Photos already clean are left byte for byte: running it again changes nothing."""
    done = Scrubbed()
    for ev in session.scalars(select(Evidence).order_by(Evidence.id)):
        path = folder / ev.id
        if not path.is_file():
            done.missing.append(ev.id)
            continue
        data = path.read_bytes()
        if is_clean(data):
            done.already_clean += 1
            continue
        try:
            cleaned, content_type = clean_photo(data, max_bytes=len(data))
        except ValidationFailed:
            done.unreadable.append(ev.id)
            continue
        spare = path.with_name(ev.id + ".scrub")
        spare.write_bytes(cleaned)
        os.replace(spare, path)
        ev.size, ev.content_type = len(cleaned), content_type
        done.cleaned += 1
    return done
