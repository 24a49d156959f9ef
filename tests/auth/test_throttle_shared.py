"""Login throttling holds across workers and across both login routes: every worker
counts in one store, the app's database by default (``database://``) or Redis."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
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
            with urllib.request.urlopen(request, timeout=30) as response:
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


@pytest.fixture(params=["database://", REDIS])
def workers(request, tmp_path):
    storage = request.param
    if storage.startswith("redis") and not redis_running():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    config = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'workers.db'}",
        "LOGIN_RATE_LIMIT": "4 per minute",
        "LOGIN_IP_RATE_LIMIT": "50 per minute",
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
