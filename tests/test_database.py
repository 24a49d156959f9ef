"""SQLite transaction modes: writers take the lock up front; long reads take none."""

import sqlite3

import pytest
from sqlalchemy import select

from app.database import read_only
from app.extensions import db
from app.households.models import Household


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
