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

An attempt is counted as it begins, before its password is checked: one atomic increment
per allowance (the narrower first), whose result says whether it is within; if not, 429
and no password is checked. A check made before the count (as Flask-Limiter's
``deduct_when`` does) lets concurrent guesses all pass before any is counted; counted
first, no more than the allowance are answered, however many workers and threads the
guesses hit. Flask-Limiter only provides the store (``RATELIMIT_STORAGE_URI``).

The attempt gives its counts back with its answer unless it turned out a failed login
(wrong password, unknown name, inactive account): a success, a page form without a
password, an API body that is not JSON or lacks a field, all give them back, so only
failures stay counted. A page form with a stale CSRF token is refused before it is
counted. A refused attempt gives back what it took within an allowance and keeps the
count that went over (a count given back after its window is over lands in nothing, or
in the next window: only ever a try the previous window had not used); once the
allowance per name refuses, the one per address is not counted. A success still holds
its count while in flight, so concurrent logins at a name with few tries left may be
refused. The windows are fixed (``limits``'), starting at a counter's first attempt.
"""

import hashlib
import random
import time
from functools import wraps

from flask import after_this_request, current_app, g, request
from limits import parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from sqlalchemy import case, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from app.auth.models import RateLimitCounter
from app.database import read_only
from app.errors import InvalidCredentials
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
        # Before the login's view, whose session has not begun (on SQLite a write lock
        # held by the request's own session would make this wait on itself).
        with engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            if random.random() < 0.01:  # now and then, forget the windows long over
                conn.execute(delete(COUNTERS).where(COUNTERS.c.expires_at < now - 3600))
        return count

    def give_back(self, key: str) -> None:
        """One attempt less in the key's current window: never below 0, never a new row,
        nothing once the window is over."""
        from app.extensions import db

        engine = self._engine()
        if engine.dialect.name == "sqlite":
            db.session.rollback()  # the request is over: free the write lock a POST's session may hold
        with engine.begin() as conn:
            conn.execute(
                update(COUNTERS)
                .where(COUNTERS.c.key == self._key(key), COUNTERS.c.count > 0, COUNTERS.c.expires_at > time.time())
                .values(count=COUNTERS.c.count - 1)
            )

    def _row(self, key: str):
        # Read without SQLite's write lock (the request's own session may hold it).
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


# Redis: one less, but never below 0 and never a key of its own (DECR would make one at -1).
_REDIS_GIVE_BACK = """
local n = tonumber(redis.call('get', KEYS[1]) or '0')
if n > 0 then return redis.call('decr', KEYS[1]) end
return n
"""


def check_storage(app) -> None:
    """At start: a store this module can give attempts back to."""
    if not app.config.get("RATELIMIT_ENABLED", True):
        return
    if not isinstance(limiter.storage, (DatabaseStorage, RedisStorage, MemoryStorage)):
        raise RuntimeError("RATELIMIT_STORAGE_URI: database:// or redis://… (memory:// for tests)")


def _give_back(storage: Storage, key: str) -> None:
    if isinstance(storage, DatabaseStorage):
        storage.give_back(key)
    elif isinstance(storage, RedisStorage):
        storage.get_connection().eval(_REDIS_GIVE_BACK, 1, storage.prefixed_key(key))
    else:
        storage.decr(key)  # memory://, tests


class _Attempt:
    """One login attempt's counts: taken before the view, settled with its answer."""

    def __init__(self):
        config = current_app.config
        prefix = [config["RATELIMIT_KEY_PREFIX"]] if config.get("RATELIMIT_KEY_PREFIX") else []
        self.storage = limiter.storage
        per_name = parse(config["LOGIN_RATE_LIMIT"])
        per_address = parse(config["LOGIN_IP_RATE_LIMIT"])
        self.allowances = [  # the narrower first: its refusal spares the address's allowance
            (per_name, per_name.key_for(*prefix, "login-address-username", _address_and_username())),
            (per_address, per_address.key_for(*prefix, "login-address", _address())),
        ]
        self.taken: list[tuple] = []  # (item, key, count) within the allowance
        self.refused = None  # (item, key) over it

    def take(self) -> None:
        for item, key in self.allowances:
            count = self.storage.incr(key, item.get_expiry())
            if count > item.amount:
                self.refused = (item, key)
                raise TooManyRequests()
            self.taken.append((item, key, count))

    def settle(self, response):
        if not self.taken and self.refused is None:  # the store failed (a 503)
            return response
        failed = bool(g.get("login_failed"))
        remaining = []
        try:
            for item, key, count in self.taken:
                if not failed:
                    _give_back(self.storage, key)
                    count -= 1
                remaining.append((max(0, item.amount - count), item))
            if self.refused is not None:
                item, key = self.refused
                remaining.append((0, item))
                reset = self.storage.get_expiry(key)
                response.headers["Retry-After"] = str(max(1, int(reset - time.time() + 0.999)))
                response.headers["X-RateLimit-Reset"] = str(int(reset))
        except (StorageError, self.storage.base_exceptions) as exc:  # an attempt stays counted
            current_app.logger.warning("login limits' store failed after the attempt: %r", exc)
            return response
        left, item = min(remaining, key=lambda pair: pair[0])
        response.headers["X-RateLimit-Limit"] = str(item.amount)
        response.headers["X-RateLimit-Remaining"] = str(left)
        return response


def login_limits(view):
    """The two shared allowances of this module's docstring, on a login route (POST)."""

    @wraps(view)
    def limited(*args, **kwargs):
        if request.method == "POST" and current_app.config.get("RATELIMIT_ENABLED", True):
            attempt = _Attempt()
            after_this_request(attempt.settle)  # also after a 429 or an error's answer
            attempt.take()
        try:
            return view(*args, **kwargs)
        except InvalidCredentials:  # the API's failure (the page marks its own)
            g.login_failed = True
            raise

    return limited
