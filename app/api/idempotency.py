"""``Idempotency-Key``: the same key and body return the first response; nothing runs twice.

The record is inserted with the response, in the transaction that did the work. A twin
running at the same moment either finds it (SQLite's write transactions are serialised)
or, on PostgreSQL, fails on the unique index when committing: its own work is then
rolled back with it and the first response is replayed.
"""

import hashlib
import json
from datetime import datetime
from functools import wraps

from flask import Response, make_response, request
from flask_login import current_user
from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.errors import IdempotencyConflict, ValidationFailed
from app.extensions import db


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def _request_hash() -> str:
    if request.mimetype == "multipart/form-data":
        # A client's retry may choose a new part boundary: hash the parts, not the bytes.
        files = []
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            files.append([name, upload.filename, hashlib.sha256(upload.stream.read()).hexdigest()])
            upload.stream.seek(0)
        canonical = json.dumps([sorted(request.form.items(multi=True)), files], separators=(",", ":")).encode()
    else:
        raw = request.get_data()
        try:
            canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            canonical = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + canonical).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> Response:
    if record.request_hash != request_hash or record.status_code is None:
        raise IdempotencyConflict()
    response = Response(record.response_body, status=record.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def mutation(view):
    """Run a writing API view in one transaction, honouring ``Idempotency-Key``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            response = make_response(view(*args, **kwargs))
            db.session.commit()
            return response
        if not 1 <= len(key) <= 255:
            raise ValidationFailed({"Idempotency-Key": ["须为 1–255 个字符"]})
        request_hash = _request_hash()
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == current_user.id, IdempotencyRecord.key == key
        )
        existing = db.session.scalar(stmt)
        if existing is not None:
            return _replay(existing, request_hash)
        response = make_response(view(*args, **kwargs))
        if response.status_code >= 400:
            db.session.rollback()
            return response
        db.session.add(
            IdempotencyRecord(
                user_id=current_user.id,
                key=key,
                request_hash=request_hash,
                status_code=response.status_code,
                response_body=response.get_data(as_text=True),
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            twin = db.session.scalar(stmt)
            if twin is None:  # the work itself broke a constraint
                raise
            return _replay(twin, request_hash)  # our work is undone, the twin's answer replayed
        return response

    return wrapper
