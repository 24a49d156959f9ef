"""Processes killed with SIGKILL in the middle of writing, on PostgreSQL: a gunicorn
worker recording a batch of 1,000 entries, a process importing a register of 300 households, the
workers serving a stream of sales (households' and volunteers'). Each is all or nothing, the server carries on, and
``ledger verify`` holds afterwards.

"In the middle" is observed, not guessed: the kill comes once the server shows the
request's transaction holding a transaction id (it has written) and not yet committed.
"""

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from app.households.models import Household
from app.households.register import import_households
from app.points.models import Entry
from app.points.proof import verify
from app.points.services import enroll_household
from app.redemption import reports, shops
from app.redemption.models import Item, Redemption, StockMovement
from tests import factories
from tests.conftest import TODAY
from tests.redemption import test_concurrency as live
from tests.redemption.test_concurrency import GUNICORN, ROOT, SECRET, call
from tests.redemption.test_services import give_points
from tests.volunteers import person, volunteer_scheme

PG_URL = os.environ.get("TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL): run scripts/with-postgres.sh"),
    pytest.mark.skipif(not GUNICORN.exists(), reason=f"gunicorn not found at {GUNICORN}"),
]

serve = live.serve  # gunicorn over the test's database (the fixture of the sales race)

# Backends of this database, other than the watcher's, inside a transaction that has written.
WRITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
)


@pytest.fixture
def watcher():
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def wait_for_writer(conn, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while conn.execute(WRITING).scalar() == 0:
        assert time.monotonic() < deadline, "no transaction started writing"
        time.sleep(0.001)


def wait_until_no_writer(conn, timeout=30.0) -> None:
    """A killed client's transaction is rolled back once the server sees its socket close."""
    deadline = time.monotonic() + timeout
    while conn.execute(WRITING).scalar():
        assert time.monotonic() < deadline, "a killed process's transaction is still open"
        time.sleep(0.05)


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return pids


def kill_workers(master: int) -> int:
    pids = worker_pids(master)
    assert pids, "gunicorn has no worker to kill"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return len(pids)


def gunicorn_master(server) -> int:
    """The arbiter the ``serve`` fixture started: our child, listening on the server's port."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat, cmd = (entry / "stat").read_text(), (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"gunicorn" in cmd and f":{server.port}".encode() in cmd:
            return int(entry.name)
    raise AssertionError("gunicorn's arbiter not found")


def register_csv(count: int, prefix: str) -> bytes:
    rows = ["户号,户主,地址"] + [f"{prefix}-{i:04d},户主{prefix}{i},{prefix}组{i % 9}号" for i in range(count)]
    return "\n".join(rows).encode()


def enrol(session, world, count: int, prefix: str) -> list[int]:
    actor = world.actor("tj_village_admin")
    preview, created = import_households(
        session,
        actor,
        world.a.id,
        "r.csv",
        register_csv(count, prefix),
        commit=True,
        enroll=partial(enroll_household, session, actor, today=TODAY, now=factories.NOW),
    )
    assert preview.ok, preview.errors
    session.commit()
    return [h.id for h in created]


def proof(session) -> None:
    session.expire_all()
    assert verify(session) == []
    assert reports.verify_stock(session) == []
    session.rollback()


def test_worker_killed_in_a_batch_of_1000_entries(world, session, serve, watcher):
    ids = enrol(session, world, 1000, "B")
    rule_id = world.rules["tj_school"].id
    server = serve()
    master = gunicorn_master(server)
    token = server.login("tj_recorder")
    outcomes = []
    for attempt in range(3):
        day = TODAY.replace(day=1 + attempt)
        result = {}
        body = {"rule_id": rule_id, "household_ids": ids, "occurred_on": day.isoformat()}

        def post(body=body, result=result):
            try:
                result["status"] = call(server.port, "POST", "/entries/batch", body, token)[0]
            except OSError as exc:  # the worker died under the request
                result["error"] = exc

        sender = threading.Thread(target=post)
        sender.start()
        wait_for_writer(watcher)
        kill_workers(master)
        sender.join(120)
        wait_until_no_writer(watcher)
        written = session.scalar(select(func.count(Entry.id)).where(Entry.rule_id == rule_id, Entry.occurred_on == day))
        session.rollback()
        assert written in (0, 1000), f"attempt {attempt}: {written} of 1000 entries survived the kill"
        if result.get("status") == 201:
            assert written == 1000
        outcomes.append(written)
        proof(session)
        if written == 0:
            break
    assert 0 in outcomes, f"every kill came after the commit: {outcomes}"
    # The arbiter's new workers serve: the same batch records whole.
    token = server.login("tj_recorder")
    status, body = call(server.port, "POST", "/entries/batch", {**body, "occurred_on": TODAY.isoformat()}, token)
    assert status == 201 and len(body["created"]) == 1000
    proof(session)


IMPORT_ROWS = 300  # a village's register; each row is a household and its opening entry
IMPORT_SCRIPT = """
import sys
from sqlalchemy import select
from app import create_app
from app.scope import Actor
from app.auth.models import User
from app.clock import utcnow
from app.extensions import db
from app.households.register import import_households
from app.points.services import enroll_household
from functools import partial
from tests.conftest import TODAY

app = create_app()
with app.app_context():
    user = db.session.scalar(select(User).where(User.username == sys.argv[1]))
    data = open(sys.argv[3], "rb").read()
    actor = Actor(user, "127.0.0.1")
    preview, created = import_households(
        db.session, actor, int(sys.argv[2]), "register.csv", data,
        commit=True, enroll=partial(enroll_household, db.session, actor, today=TODAY, now=utcnow()),
    )
    assert preview.ok, preview.errors
    db.session.commit()
    print("committed", len(created), flush=True)
"""


def test_process_killed_in_a_household_import(world, session, watcher, tmp_path):
    register = tmp_path / "register.csv"
    register.write_bytes(register_csv(IMPORT_ROWS, "I"))
    env = {**os.environ, "DATABASE_URL": PG_URL, "SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    opened_before = session.scalar(select(func.count(Entry.id)).where(Entry.kind == "opening"))
    village_id = world.a.id
    session.commit()
    session.remove()
    proc = subprocess.Popen(
        [sys.executable, "-c", IMPORT_SCRIPT, "tj_village_admin", str(village_id), str(register)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_writer(watcher)
        time.sleep(random.uniform(0, 0.3))  # somewhere in the rows, not only at the first
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    wait_until_no_writer(watcher)
    imported = session.scalar(select(func.count(Household.id)).where(Household.number.like("I-%")))
    opened = session.scalar(select(func.count(Entry.id)).where(Entry.kind == "opening"))
    session.rollback()
    if b"committed" in out:
        assert (imported, opened) == (IMPORT_ROWS, opened_before + IMPORT_ROWS)
    else:
        assert (imported, opened) == (0, opened_before), "a killed import left part of itself"
    proof(session)
    # The same file imports whole afterwards.
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, "tj_village_admin", str(village_id), str(register)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0 and f"committed {IMPORT_ROWS}".encode() in done.stdout, done.stderr.decode()[-2000:]
    proof(session)


def test_workers_killed_in_a_stream_of_sales(world, session, serve, watcher):
    """Households at the 积分超市 and volunteers (a person scheme's accounts) at the
    爱心超市, on the one engine, while the workers are killed."""
    admin = world.actor("tj_village_admin")
    volunteers = volunteer_scheme(session, world)
    people = [person(session, world, volunteers, f"V-{i}", f"志愿者{i}").id for i in (1, 2)]
    stores = {
        "households": shops.create_shop(session, admin, world.a.id, "团结村积分超市"),
        "volunteers": shops.create_shop(session, admin, world.a.id, "团结村爱心超市", scheme_id=volunteers.id),
    }
    soap = {
        name: shops.create_item(
            session, admin, store.id, {"name": "肥皂", "price_points": 3, "stock": 100000}, now=factories.NOW
        ).id
        for name, store in stores.items()
    }
    buyers = {"households": enrol(session, world, 2, "S"), "volunteers": people}
    at = {hid: (stores[name].id, soap[name]) for name, ids in buyers.items() for hid in ids}
    for hid in at:
        give_points(session, world, session.get(Household, hid), 1000)
    before = dict(session.execute(select(Household.id, Household.balance).where(Household.id.in_(at))).all())
    session.commit()
    server = serve()
    master = gunicorn_master(server)
    token = server.login("tj_clerk")
    answered, stop = [], threading.Event()

    def sell(buyer):
        shop_id, item_id = at[buyer]
        while not stop.is_set():
            body = {"shop_id": shop_id, "account_id": buyer, "lines": [{"item_id": item_id, "quantity": 1}]}
            try:
                status, reply = call(server.port, "POST", "/redemptions", body, token)
            except (OSError, http.client.HTTPException):
                continue  # killed under this request; the arbiter starts new workers
            if status == 201:
                answered.append(reply["id"])

    clerks = [threading.Thread(target=sell, args=(b,)) for b in at]
    for t in clerks:
        t.start()
    try:
        kill_while_answering(answered, master, watcher)
    finally:
        stop.set()
        for t in clerks:
            t.join(120)
    wait_until_no_writer(watcher)
    assert_sales_whole(session, answered, at, soap, before)


def kill_while_answering(answered: list, master: int, watcher) -> None:
    """Three times: once 20 more sales have been answered, kill the workers mid-write."""
    for _round in range(3):
        start = len(answered)
        deadline = time.monotonic() + 60
        while len(answered) < start + 20:
            assert time.monotonic() < deadline, "sales stopped coming"
            time.sleep(0.01)
        wait_for_writer(watcher)
        kill_workers(master)


def assert_sales_whole(session, answered, at: dict, soap: dict, before: dict) -> None:
    session.expire_all()
    sales = session.scalars(select(Redemption)).all()
    assert set(answered) <= {r.id for r in sales}  # every sale answered 201 is there
    assert {r.household_id for r in sales} == set(at)  # both kinds of account bought
    for r in sales:  # and every sale there is whole: its entry, its line, its stock movement
        item_id = at[r.household_id][1]
        assert r.entry is not None and r.entry.points == -r.total_points == -3
        moved = session.scalars(select(StockMovement.delta).where(StockMovement.redemption_id == r.id)).all()
        assert [(ln.item_id, ln.quantity) for ln in r.lines] == [(item_id, 1)] and moved == [-1]
    for item_id in soap.values():
        sold = sum(1 for r in sales if at[r.household_id][1] == item_id)
        assert session.get(Item, item_id).stock == 100000 - sold
    spent = dict.fromkeys(at, 0)
    for r in sales:
        spent[r.household_id] += r.total_points
    balances = dict(session.execute(select(Household.id, Household.balance).where(Household.id.in_(at))).all())
    assert balances == {hid: before[hid] - spent[hid] for hid in at}
    session.rollback()
    proof(session)
