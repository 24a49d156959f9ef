"""Login throttling holds across workers and across both login routes: every worker
counts in one store, the app's database by default (``database://``) or Redis."""

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from app.auth.throttle import DatabaseStorage
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/15"


def redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a login's 302 is its answer


OPENER = urllib.request.build_opener(_NoRedirects)


class Worker:
    """A process serving the app, as one gunicorn worker does."""

    def __init__(self, config: dict, init: bool = False):
        args = [sys.executable, "-m", "tests.auth.login_worker", json.dumps(config)] + (["--init"] if init else [])
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.base = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def post(self, path: str, *, form: dict | None = None, json_body: dict | None = None) -> int:
        if form is not None:
            data, kind = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        else:
            data, kind = json.dumps(json_body).encode(), "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": kind})
        try:
            with OPENER.open(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def page_login(self, username: str, password: str) -> int:
        return self.post("/login", form={"username": username, "password": password})

    def api_login(self, username: str, password: str) -> int:
        return self.post("/api/v1/auth/token", json_body={"username": username, "password": password})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def workers_database(tmp_path):
    """The workers' database: a file of their own, or on the run's PostgreSQL server
    (``TEST_DATABASE_URL``) a database of their own, dropped after."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'workers.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(url).set(drivername="postgresql+psycopg")
    name = f"{server.database}_w{uuid.uuid4().hex[:8]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["database://", REDIS])
def workers(request, workers_database):
    storage = request.param
    if storage.startswith("redis") and not redis_running():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    config = {
        "SQLALCHEMY_DATABASE_URI": workers_database,
        "LOGIN_RATE_LIMIT": "4 per minute",
        "LOGIN_IP_RATE_LIMIT": "12 per minute",
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",  # a run of its own in a shared Redis
    }
    if storage != "database://":
        config["RATELIMIT_STORAGE_URI"] = storage  # else the default, as the README's recipe has it
    first = Worker(config, init=True)
    second = Worker(config)
    yield first, second
    first.stop()
    second.stop()


def test_four_failures_in_all_across_two_workers_and_both_routes(workers):
    first, second = workers
    # Alternating workers and routes: with a count per worker or per route, each would
    # allow 4 and the 5th to 8th tries would still be answered.
    assert first.page_login("alice", "wrong-1") == 200  # the form again, with its message
    assert second.api_login("alice", "wrong-2") == 401
    assert second.page_login("Alice", "wrong-3") == 200
    assert first.api_login("alice ", "wrong-4") == 401
    for worker in (first, second):
        assert worker.api_login("alice", PASSWORD) == 429
        assert worker.page_login("alice", PASSWORD) == 429
    # Another account, from the same address, is not refused.
    assert second.api_login("bob", PASSWORD) == 200


def burst(calls) -> list[int]:
    """Every call at once, a thread each, released together: their statuses."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def guesses(workers, names, n: int) -> list:
    """``n`` wrong-password logins at ``names`` (cycled), over both workers and routes."""
    routes = itertools.cycle([w.page_login for w in workers] + [w.api_login for w in workers])
    names = itertools.cycle(names)
    return [partial(next(routes), next(names), f"wrong-{i}") for i in range(n)]


def test_concurrent_guesses_at_one_name_get_exactly_its_allowance(workers):
    """Forty guesses at once: each is counted before its password is checked, so no more
    than the allowance (4) is answered, however the requests interleave."""
    statuses = burst(guesses(workers, ["alice"], 40))
    answered = [s for s in statuses if s != 429]
    assert len(answered) == 4 and set(answered) <= {200, 401}, sorted(statuses)
    first, second = workers
    assert first.api_login("alice", PASSWORD) == 429
    # The refused guesses drew on no allowance of the address: another name still logs in.
    assert second.api_login("bob", PASSWORD) == 200


def test_concurrent_guesses_at_many_names_get_exactly_the_address_s_allowance(workers):
    statuses = burst(guesses(workers, [f"nobody{i}" for i in range(40)], 40))
    answered = [s for s in statuses if s != 429]
    assert len(answered) == 12 and set(answered) <= {200, 401}, sorted(statuses)
    assert workers[0].api_login("bob", PASSWORD) == 429  # the address is spent, for every name


def test_a_successful_login_gives_its_attempt_back(workers):
    """Each attempt is counted as it begins; only a failed one keeps its count."""
    first, second = workers
    for i in range(3):
        assert first.api_login("alice", f"wrong-{i}") == 401
    for worker in (first, second, first, second, first):
        assert worker.api_login("alice", PASSWORD) == 200
        assert worker.page_login("alice", PASSWORD) == 302
    assert second.page_login("alice", "wrong-3") == 200  # the 4th failure: still answered
    assert first.api_login("alice", PASSWORD) == 429


def test_the_readme_s_production_default_is_the_shared_store():
    from app.config import Config

    if "RATELIMIT_STORAGE_URI" not in os.environ:
        assert Config.RATELIMIT_STORAGE_URI == "database://"


# --- the storage itself, on the suite's database (SQLite or PostgreSQL) --------------------


def test_database_storage_counts_in_windows(app, monkeypatch):
    storage = DatabaseStorage()
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    with app.app_context():
        assert storage.get("k") == 0 and storage.check()
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert storage.incr("k", 60, amount=2) == 5
        assert storage.get("k") == 5 and storage.get_expiry("k") == 1_000_060.0
        assert storage.incr("other", 60) == 1
        clock[0] += 61  # the window is over: counting starts again
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1 and storage.get_expiry("k") == 1_000_121.0
        storage.clear("k")
        assert storage.get("k") == 0 and storage.get("other") == 0  # "other" expired too
        long_key = "x" * 500
        assert storage.incr(long_key, 60) == 1 and storage.get(long_key) == 1
        assert storage.reset() >= 1
        assert storage.get(long_key) == 0


def test_database_storage_gives_back_within_the_window_only(app, monkeypatch):
    storage = DatabaseStorage()
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    with app.app_context():
        storage.give_back("none")  # no count to give back: no row at -1
        assert storage._row("none") is None
        assert [storage.incr("k", 60) for _ in range(2)] == [1, 2]
        storage.give_back("k")
        assert storage.get("k") == 1
        storage.give_back("k")
        storage.give_back("k")  # never below 0
        assert storage.get("k") == 0 and storage.incr("k", 60) == 1
        clock[0] += 61  # the window is over: nothing to give back to
        storage.give_back("k")
        assert storage.incr("k", 60) == 1


def test_redis_gives_back_within_the_window_only():
    if not redis_running():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    from limits.storage import storage_from_string

    from app.auth.throttle import _give_back

    storage = storage_from_string(REDIS, key_prefix=f"test-{uuid.uuid4().hex}")
    connection = storage.get_connection()
    _give_back(storage, "none")
    assert not connection.exists(storage.prefixed_key("none"))  # DECR would have made it -1
    assert [storage.incr("k", 60) for _ in range(2)] == [1, 2]
    _give_back(storage, "k")
    assert storage.get("k") == 1
    _give_back(storage, "k")
    _give_back(storage, "k")  # never below 0
    assert storage.get("k") == 0 and 0 < connection.ttl(storage.prefixed_key("k")) <= 60  # its window kept
    assert storage.incr("k", 60) == 1
    storage.clear("k")
