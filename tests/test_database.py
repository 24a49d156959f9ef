"""Transactions: SQLite's modes (writers take the lock up front; long reads take none),
how a request's transaction ends, and a statement committed with its COMMIT."""

import sqlite3

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from app.database import execute_then_commit, read_only
from app.extensions import db
from app.households.models import Household
from tests import factories


def _other_writer_can_start(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.fixture
def sqlite_path(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite transaction modes")
    return db.engine.url.database


def test_a_write_transaction_holds_the_lock_from_its_first_statement(session, sqlite_path):
    session.execute(select(Household.id)).all()
    assert not _other_writer_can_start(sqlite_path)
    session.rollback()
    assert _other_writer_can_start(sqlite_path)


def test_a_read_only_transaction_lets_writers_in(session, sqlite_path):
    with read_only():
        session.execute(select(Household.id)).all()
        assert _other_writer_can_start(sqlite_path)
        session.rollback()


@pytest.fixture
def transaction_ends(app):
    """Every COMMIT and ROLLBACK the engine sends, in order."""
    ends: list[str] = []

    def on_commit(_conn):
        ends.append("commit")

    def on_rollback(_conn):
        ends.append("rollback")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    yield ends
    event.remove(engine, "commit", on_commit)
    event.remove(engine, "rollback", on_rollback)


def test_a_reading_request_ends_with_commit(world, api, transaction_ends):
    """psycopg forgets its prepared statements at every ROLLBACK: reads must not send one."""
    reader = api.as_("tj_recorder")
    transaction_ends.clear()
    assert reader.get("/ping").status_code == 200
    assert reader.get(f"/households/{world.households['tj1'].id}").status_code == 200
    assert transaction_ends == ["commit", "commit"]


def test_a_refused_write_still_ends_with_rollback(world, api, transaction_ends):
    recorder = api.as_("tj_recorder")
    transaction_ends.clear()
    body = {"household_id": world.households["tj1"].id, "rule_id": 999_999, "occurred_on": "2026-11-20"}
    assert recorder.post("/entries", json=body).status_code == 400
    assert "commit" not in transaction_ends


def test_a_reading_request_that_flushed_ends_with_rollback(app, session, transaction_ends):
    """A GET that wrote something (none should) is not committed by the end of the request."""
    from app.auth.models import User

    with app.test_request_context("/", method="GET"):
        session.add(User(username="stray", password_hash="x"))
        session.flush()
        app.do_teardown_request(None)
    assert "commit" not in transaction_ends
    session.rollback()
    assert session.scalar(select(User.id).where(User.username == "stray")) is None


def test_prepared_statements_outlive_reading_requests(app, api):
    """Each request in an application context of its own, as in production, so the
    session ends (and returns its connection) after every request."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's prepared statements")
        factories.user(db.session, "reader", "admin")
        db.session.commit()
        engine = db.engine
    engine.dispose()  # one connection in the pool, so every request below takes it
    used = []

    def on_checkout(dbapi_conn, _record, _proxy):
        used.append(dbapi_conn)

    event.listen(engine, "checkout", on_checkout)
    try:
        reader = api.as_("reader")
        for _ in range(8):  # psycopg prepares a statement at its sixth run
            assert reader.get("/ping").status_code == 200
    finally:
        event.remove(engine, "checkout", on_checkout)
    conn = used[-1]
    assert all(c is conn for c in used[-3:]), "the requests shared one pooled connection"
    prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    conn.rollback()
    assert prepared >= 1


def _record(key: str) -> dict:
    from app.clock import utcnow

    return {
        "user_id": 1,
        "key": key,
        "request_hash": "h",
        "status_code": 201,
        "response_body": "{}",
        "created_at": utcnow(),
    }


def test_execute_then_commit_commits_the_statement_and_the_flushed_work(app, session):
    from app.api.idempotency import _INSERT_RECORD, IdempotencyRecord
    from app.auth.models import User

    session.add(User(username="flushed-first", password_hash="x"))  # pending: flushed, then committed
    execute_then_commit(session, _INSERT_RECORD, _record("k1"))
    assert not session().in_transaction()
    with db.engine.connect() as other:  # what another connection sees: it is committed
        assert other.scalar(select(IdempotencyRecord.key).where(IdempotencyRecord.key == "k1")) == "k1"
        assert other.scalar(select(User.id).where(User.username == "flushed-first")) is not None


def test_execute_then_commit_raises_sqlalchemys_error_and_commits_nothing(app, session):
    from app.api.idempotency import _INSERT_RECORD, IdempotencyRecord
    from app.auth.models import User

    execute_then_commit(session, _INSERT_RECORD, _record("taken"))
    session.add(User(username="undone", password_hash="x"))
    with pytest.raises(IntegrityError):
        execute_then_commit(session, _INSERT_RECORD, _record("taken"))
    session.rollback()
    assert session.scalar(select(User.id).where(User.username == "undone")) is None
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1  # and the session works


def test_execute_then_commit_is_one_round_trip_on_postgresql(app, session, tmp_path):
    """The server answers once (one ReadyForQuery in libpq's protocol trace), not after
    the statement and again after the COMMIT."""
    from app.api.idempotency import _INSERT_RECORD

    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg pipelines")
    session.execute(select(1))  # the transaction (BEGIN) is open before the call
    pgconn = session.connection().connection.driver_connection.pgconn
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        pgconn.trace(out.fileno())
        try:
            execute_then_commit(session, _INSERT_RECORD, _record("k2"))
        finally:
            pgconn.untrace()
    answers = [line for line in trace.read_text().splitlines() if "ReadyForQuery" in line]
    assert len(answers) == 1
