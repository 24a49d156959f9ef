"""Redemptions racing on a real server: gunicorn (4 processes × 4 threads) over the test's
database — the SQLite file of the test, or the PostgreSQL database of TEST_DATABASE_URL.

No interleaving may oversell a shelf, overspend a household or charge a key twice."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.households.models import Household
from app.points.proof import verify
from app.redemption import reports
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, StockMovement
from tests import factories
from tests.redemption.test_services import give_points

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
if not GUNICORN.exists():
    GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SECRET = "test-secret"  # the test app's SECRET_KEY (tests/conftest.py)
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 60
START_TIMEOUT = 30

pytestmark = pytest.mark.skipif(not GUNICORN.exists(), reason=f"gunicorn not found at {GUNICORN}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, token=None, headers=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        h = {"Content-Type": "application/json", **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else {})
    finally:
        conn.close()


class Server:
    def __init__(self, port: int, log: Path):
        self.port = port
        self.log = log

    def login(self, username: str) -> str:
        status, body = call(self.port, "POST", "/auth/token", {"username": username, "password": factories.PASSWORD})
        assert status == 200, body
        return body["token"]

    def race(self, token: str, bodies: list[dict], headers=None) -> list[tuple[int, dict]]:
        """POST every body to /redemptions at once, one thread and connection each."""
        barrier = threading.Barrier(len(bodies), timeout=REQUEST_TIMEOUT)

        def one(body):
            barrier.wait()
            return call(self.port, "POST", "/redemptions", body, token, headers)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(one, bodies, timeout=REQUEST_TIMEOUT * 2))


@pytest.fixture
def serve(app, tmp_path):
    """``serve()`` starts gunicorn over the test's database once the fixture data is committed.

    ``--preload``: the app is imported once and forked, so four workers boot in seconds."""
    procs = []

    def start() -> Server:
        db.session.commit()
        db.session.remove()  # SQLite: no transaction (and so no lock) left open in this process
        port = free_port()
        log = tmp_path / "gunicorn.log"
        env = {k: v for k, v in os.environ.items() if k not in ("FLASK_DEBUG", "MORALBANK_DEV")}
        env.update(
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            SECRET_KEY=SECRET,
            TIMEZONE=app.config["TIMEZONE"],
            PYTHONDONTWRITEBYTECODE="1",
        )
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    str(GUNICORN),
                    "-w",
                    "4",
                    "-k",
                    "gthread",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "--preload",
                    "--no-control-socket",  # no shared ~/.gunicorn/gunicorn.ctl between parallel servers
                    "-b",
                    f"{HOST}:{port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                status, _ = call(port, "GET", "/ping")
                if status == 401:  # answering, and the API wants a login
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {START_TIMEOUT}s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        return Server(port, log)

    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # quick shutdown: the arbiter stops its workers
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:  # its own process group: the arbiter and its workers
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def proof(session) -> None:
    session.expire_all()
    assert verify(session) == []
    assert reports.verify_stock(session) == []


def test_forty_customers_five_bags_of_rice(world, session, serve):
    world.a.base_points = 500  # new households open with 500 points: 400 redeemable
    session.flush()
    households = [factories.household(session, world.admin, world.a, f"TJ-{100 + i}", f"买家{i}") for i in range(40)]
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "团结村积分超市")
    rice = shop_services.create_item(
        session, admin, shop.id, {"name": "限量大米", "price_points": 10, "stock": 5}, now=factories.NOW
    )
    session.commit()
    shop_id, rice_id, ids = shop.id, rice.id, [h.id for h in households]

    server = serve()
    token = server.login("tj_clerk")
    bodies = [{"shop_id": shop_id, "household_id": hid, "lines": [{"item_id": rice_id, "quantity": 1}]} for hid in ids]
    results = server.race(token, bodies)

    assert Counter(status for status, _ in results) == {201: 5, 409: 35}, results
    sold = [body for status, body in results if status == 201]
    refused = [body["error"] for status, body in results if status == 409]
    assert {e["code"] for e in refused} == {"out_of_stock"}
    assert {(e["details"]["item_id"], e["details"]["stock"]) for e in refused} == {(rice_id, 0)}
    assert all(b["total_points"] == 10 and b["balance_after"] == 490 and b["status"] == "completed" for b in sold)
    buyers = {b["household_id"] for b in sold}
    assert len(buyers) == 5

    session.expire_all()
    assert session.get(Item, rice_id).stock == 0
    moves = session.execute(
        select(StockMovement.reason, StockMovement.delta)
        .where(StockMovement.item_id == rice_id)
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(m) for m in moves] == [("receipt", 5)] + [("redemption", -1)] * 5
    assert session.scalar(select(func.count(Redemption.id))) == 5
    balances = dict(session.execute(select(Household.id, Household.balance).where(Household.id.in_(ids))).all())
    assert sorted(balances.values()) == [490] * 5 + [500] * 35
    assert {hid for hid, b in balances.items() if b == 490} == buyers
    proof(session)


def test_one_household_ten_tills(world, session, serve):
    h = world.households["tj1"]
    give_points(session, world, h, 120)  # 220: exactly 120 over the floor of 100
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "团结村积分超市")
    oil = shop_services.create_item(
        session, admin, shop.id, {"name": "食用油", "price_points": 30, "stock": 50}, now=factories.NOW
    )
    session.commit()
    hid, shop_id, oil_id = h.id, shop.id, oil.id
    assert h.balance == 220

    server = serve()
    token = server.login("tj_clerk")
    body = {"shop_id": shop_id, "household_id": hid, "lines": [{"item_id": oil_id, "quantity": 1}]}
    results = server.race(token, [body] * 10)

    assert Counter(status for status, _ in results) == {201: 4, 409: 6}, results
    sold = sorted((b for s, b in results if s == 201), key=lambda b: b["id"])
    assert [b["balance_after"] for b in sold] == [190, 160, 130, 100]
    refused = [b["error"] for s, b in results if s == 409]
    assert {e["code"] for e in refused} == {"insufficient_points"}
    assert {(e["details"]["redeemable"], e["details"]["needed"]) for e in refused} == {(0, 30)}

    session.expire_all()
    assert session.get(Household, hid).balance == 100
    assert session.get(Item, oil_id).stock == 46
    assert session.scalar(select(func.count(Redemption.id))) == 4
    assert (
        session.scalar(
            select(func.count(StockMovement.id)).where(
                StockMovement.item_id == oil_id, StockMovement.reason == "redemption"
            )
        )
        == 4
    )
    proof(session)


def test_one_key_pressed_eight_times(world, session, serve):
    """A till retrying the same sale with the same Idempotency-Key: charged once."""
    h = world.households["tj1"]
    give_points(session, world, h, 500)
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "团结村积分超市")
    oil = shop_services.create_item(
        session, admin, shop.id, {"name": "食用油", "price_points": 30, "stock": 50}, now=factories.NOW
    )
    session.commit()
    hid, shop_id, oil_id = h.id, shop.id, oil.id

    server = serve()
    token = server.login("tj_clerk")
    body = {"shop_id": shop_id, "household_id": hid, "lines": [{"item_id": oil_id, "quantity": 2}]}
    results = server.race(token, [body] * 8, headers={"Idempotency-Key": "till-7-000042"})

    assert [status for status, _ in results] == [201] * 8, results
    assert len({json.dumps(b, sort_keys=True) for _, b in results}) == 1
    assert results[0][1]["balance_after"] == 540
    session.expire_all()
    assert session.get(Household, hid).balance == 540
    assert session.get(Item, oil_id).stock == 48
    assert session.scalar(select(func.count(Redemption.id))) == 1
    proof(session)
