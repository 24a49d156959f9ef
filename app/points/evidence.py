"""Evidence photos of entries: kept after checking they are images, shown in scope."""

import secrets
from io import BytesIO
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, ValidationFailed
from app.points.models import Entry, Evidence
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
    """Keep a JPEG or PNG photo (checked by decoding it, not by its name)."""
    require_role(actor, *RECORDERS, *REVIEWERS, "village_admin")
    village = village_in_scope(session, actor, village_id, field=field)
    if not data:
        raise ValidationFailed({"evidence": [str(_l("请选择照片"))]})
    if len(data) > max_bytes:
        raise ValidationFailed({"evidence": [str(_l("照片不能超过 %(mb)s MB", mb=max_bytes // (1024 * 1024)))]})
    try:
        with Image.open(BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except Image.DecompressionBombError as exc:  # a few KB that claim gigapixels
        raise ValidationFailed({"evidence": [str(_l("照片尺寸过大"))]}) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        fmt = None
    if fmt not in ("JPEG", "PNG"):
        raise ValidationFailed({"evidence": [str(_l("只接受 JPEG 或 PNG 照片"))]})
    ev = Evidence(
        id=secrets.token_hex(16),
        village_id=village.id,
        uploaded_by_id=actor.id,
        content_type="image/jpeg" if fmt == "JPEG" else "image/png",
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
