"""Engine settings. SQLite: WAL, a busy timeout, and write transactions that begin
IMMEDIATE, so concurrent writers queue for the lock instead of failing with
"database is locked" when a read transaction tries to upgrade."""

from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Migrations turn this off: batch mode rebuilds tables that other rows still reference.
SQLITE_FOREIGN_KEYS = True
_reading_only: ContextVar[bool] = ContextVar("reading_only", default=False)


@contextmanager
def read_only():
    """Transactions begun inside take no write lock on SQLite (``ledger verify`` reads
    for a minute; it must not make every writer wait)."""
    token = _reading_only.set(True)
    try:
        yield
    finally:
        _reading_only.reset(token)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite must not emit BEGIN on its own
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute(f"PRAGMA foreign_keys={'ON' if SQLITE_FOREIGN_KEYS else 'OFF'}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        reading = _reading_only.get() or (has_request_context() and request.method in SAFE_METHODS)
        conn.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")


def end_reads_with_commit(app: Flask, session: scoped_session) -> None:
    """End a reading request's transaction with COMMIT, not the session's ROLLBACK.

    psycopg forgets every prepared statement at a ROLLBACK (and sends DEALLOCATE ALL),
    so GETs ending the usual way made PostgreSQL plan every request's statements afresh:
    1.7 ms of planning for the passbook page's query alone, against 0.3 ms to run it.
    For a transaction that only read, COMMIT and ROLLBACK are the same to the database.
    A request that failed, flushed or holds unflushed changes still ends with ROLLBACK.
    """

    @app.teardown_request
    def _commit_reads(exc) -> None:
        s = session()
        if (
            exc is None
            and request.method in SAFE_METHODS
            and s.in_transaction()
            and not s.info.get("flushed")
            and not (s.new or s.dirty or s.deleted)
        ):
            s.expire_on_commit, expire = False, s.expire_on_commit  # nothing changed
            try:
                s.commit()
            finally:
                s.expire_on_commit = expire


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, _flush_context) -> None:
    session.info["flushed"] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flushed(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("flushed", None)


def execute_then_commit(session: Session, statement, params: dict) -> None:
    """Run ``statement`` (one that returns no rows) and commit the session's transaction.

    On PostgreSQL the two go to the server together, in a psycopg pipeline: one round
    trip instead of two for every creating POST's Idempotency-Key record. The session
    is flushed first, so only ``statement`` and the COMMIT are pipelined (a flush needs
    its row counts before the next statement). A database error is raised as SQLAlchemy's, as
    ``session.execute`` would raise it, with the transaction left to roll back.
    """
    session.flush()
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(statement, params)
        session.commit()
        return
    driver = conn.connection.driver_connection
    import psycopg

    try:
        with driver.pipeline():  # both are queued, then sent with the one Sync of its end
            conn.execute(statement, params)
            driver.execute("COMMIT")  # not driver.commit(): that would Sync by itself
    except psycopg.Error as exc:
        raise DBAPIError.instance(str(statement), params, exc, psycopg.Error) from exc
    session.commit()  # the session's own bookkeeping: the server has no transaction left
