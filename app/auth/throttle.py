"""Login throttling, the same for the page and the API and for every worker.

Both login routes (``POST /login``, ``POST /api/v1/auth/token``) draw on two shared
allowances, counting failed attempts only:

- per address and username (``LOGIN_RATE_LIMIT``, 10 per 5 minutes): a guesser gets ten
  tries at a name, from its address, whatever route or worker it uses;
- per address (``LOGIN_IP_RATE_LIMIT``, 30 per 5 minutes): it cannot spread its guesses
  over every name either.

There is no allowance per username alone, on purpose: one that a guesser could use up
would lock the village's officials out from their own phones. A guesser with many
addresses gets more tries; the minimum password length is what stands against that.

The counters live where every worker sees them: Redis when ``RATELIMIT_STORAGE_URI`` is
``redis://…``, else (``database://``, the default) the app's own database, in the
``rate_limits`` table through ``DatabaseStorage``.
"""

import hashlib
import random
import time

from flask import current_app, g, request
from limits.storage import Storage
from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from app.auth.models import RateLimitCounter
from app.database import read_only
from app.extensions import limiter

COUNTERS = RateLimitCounter.__table__


class DatabaseStorage(Storage):
    """A ``limits`` storage on the app's database (``database://``): the fixed-window
    counters as rows, each increment one atomic upsert on a connection of its own, so a
    count stands whatever becomes of the request's transaction."""

    STORAGE_SCHEME = ["database"]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    @staticmethod
    def _engine():
        from app.extensions import db

        return db.engine  # the current app's: one limiter serves every app of the process

    @staticmethod
    def _key(key: str) -> str:
        return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = self._engine()
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        expired = COUNTERS.c.expires_at <= now
        stmt = (
            insert(COUNTERS)
            .values(key=self._key(key), count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[COUNTERS.c.key],
                set_={
                    "count": case((expired, amount), else_=COUNTERS.c.count + amount),
                    "expires_at": case((expired, now + expiry), else_=COUNTERS.c.expires_at),
                },
            )
            .returning(COUNTERS.c.count)
        )
        # After a failed login only, whose view has rolled its session back (on SQLite a
        # write lock held by the request's own session would make this wait on itself).
        with engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            if random.random() < 0.01:  # now and then, forget the windows long over
                conn.execute(delete(COUNTERS).where(COUNTERS.c.expires_at < now - 3600))
        return count

    def _row(self, key: str):
        # Read without SQLite's write lock: the limiter reads again after the view, for
        # its headers, while the request's own session may still hold that lock.
        with read_only(), self._engine().connect() as conn:
            row = conn.execute(
                select(COUNTERS.c.count, COUNTERS.c.expires_at).where(COUNTERS.c.key == self._key(key))
            ).first()
            conn.commit()
        return row

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row is not None and row.expires_at > time.time() else time.time()

    def check(self) -> bool:
        try:
            with read_only(), self._engine().connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self._engine().begin() as conn:
            return conn.execute(delete(COUNTERS)).rowcount

    def clear(self, key: str) -> None:
        with self._engine().begin() as conn:
            conn.execute(delete(COUNTERS).where(COUNTERS.c.key == self._key(key)))


def username_key(username) -> str:
    """The name as ``authenticate`` looks it up (trimmed, any case), so that
    ``" tj_recorder"`` or ``"TJ_recorder"`` draws on the allowance of ``tj_recorder``."""
    return str(username or "").strip().lower()[:40]


def _attempted_username() -> str:
    if request.mimetype == "application/json":
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # a body nested too deep to parse: refused (400) after the check
            data = None
        return username_key(data.get("username") if isinstance(data, dict) else None)
    return username_key(request.form.get("username"))


def _address() -> str:
    return request.remote_addr or "-"


def _address_and_username() -> str:
    return f"{_address()}|{_attempted_username()}"


def _failed(response) -> bool:
    """Only failed attempts count: a village office behind one address logs in all day."""
    return bool(g.get("login_failed")) or response.status_code == 401


_per_address = limiter.shared_limit(
    lambda: current_app.config["LOGIN_IP_RATE_LIMIT"],
    scope="login-address",
    key_func=_address,
    methods=["POST"],
    deduct_when=_failed,
)
_per_address_and_name = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    scope="login-address-username",
    key_func=_address_and_username,
    methods=["POST"],
    deduct_when=_failed,
)


def retry_after_only_when_refused(response):
    """The limiter stamps every answer of a login route with its window's reset: a 401, a
    success, and a 503 whose own ``Retry-After`` (the database, seconds) it would stretch
    to the window's minutes. Only a 429 waits for the window."""
    if response.status_code == 503:
        from app.error_handlers import RETRY_AFTER_SECONDS

        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response


def login_limits(view):
    """The two shared allowances of this module's docstring, on a login route (POST)."""
    return _per_address(_per_address_and_name(view))
