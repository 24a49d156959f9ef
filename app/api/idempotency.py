"""``Idempotency-Key``: the same key and body return the first response; nothing runs twice.

The record is inserted with the response, in the transaction that did the work. A
retry, or a twin running at the same moment, does its work too but cannot commit it: its
record fails on the unique index (or its work is refused because the first attempt's
already happened), everything it did is rolled back, and the stored response is
replayed. No lookup comes first: a fresh key is the common case.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from flask import Response, make_response, request
from flask_login import current_user
from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import HTTPException

from app.clock import utcnow
from app.database import execute_then_commit
from app.errors import DomainError, IdempotencyConflict, ValidationFailed
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


# Core, not the unit of work, for one row; ``inline``: no RETURNING of the id, which
# nothing reads (and which would wait for the server before the COMMIT is sent).
_INSERT_RECORD = insert(IdempotencyRecord.__table__).inline()
_FIND_RECORD = select(IdempotencyRecord).where(
    IdempotencyRecord.user_id == bindparam("user_id"), IdempotencyRecord.key == bindparam("key")
)


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
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: the bytes
            canonical = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + canonical).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> Response:
    if record.request_hash != request_hash or record.status_code is None:
        raise IdempotencyConflict()
    response = Response(record.response_body, status=record.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def once(key: str, work: Callable[[], object]) -> Response:
    """Run ``work()`` (one transaction's writes; its answer, as a view's) and commit it
    with a record of the answer, at most once per user and ``key``: a retry or a twin gets
    the first answer replayed, a different request under the same key a conflict."""
    request_hash = _request_hash()

    def stored_answer() -> Response | None:
        db.session.rollback()
        record = db.session.scalar(_FIND_RECORD, {"user_id": current_user.id, "key": key})
        return _replay(record, request_hash) if record is not None else None

    # No lookup first: a fresh key is the common case, and a retry is caught either
    # by the unique index when its record is written, or here when its work is
    # refused because the first attempt already happened (cap reached, stock gone).
    try:
        response = make_response(work())
    except (DomainError, HTTPException):
        replay = stored_answer()
        if replay is None:
            raise
        return replay
    if response.status_code >= 400:
        return stored_answer() or response
    record = {
        "created_at": utcnow(),
        "user_id": current_user.id,
        "key": key,
        "request_hash": request_hash,
        "status_code": response.status_code,
        "response_body": response.get_data(as_text=True),
    }
    try:
        execute_then_commit(db.session, _INSERT_RECORD, record)
    except IntegrityError:
        replay = stored_answer()  # our work is undone, the first attempt's answer replayed
        if replay is None:  # the work itself broke a constraint
            raise
        return replay
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
        return once(key, lambda: view(*args, **kwargs))

    return wrapper
