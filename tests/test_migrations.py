"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import os
from contextlib import contextmanager

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.points import rules as rulebook


def make_app(uri: str):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": uri,
            "RATELIMIT_STORAGE_URI": "memory://",  # the limiter is shared by every app
        }
    )


def head_revision(app) -> str:
    config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config).get_current_head()


def schema_differences(app) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def drop_everything(app) -> None:
    with app.app_context():
        db.session.remove()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


def check_upgrade_matches_models(app) -> None:
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        flask_migrate.upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        assert tables - set(db.metadata.tables) == {"alembic_version"}
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision(app)
        assert schema_differences(app) == []


def test_flask_db_upgrade_creates_the_schema(tmp_path):
    path = tmp_path / "cli.db"
    app = make_app(f"sqlite:///{path}")
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        names = set(inspect(db.engine).get_table_names())
    assert {"villages", "households", "users", "rules", "entries", "period_totals", "idempotency_records"} <= names
    # A second upgrade is a no-op.
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    drop_everything(app)


def test_sqlite_migrations_match_the_models(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        check_upgrade_matches_models(app)
    finally:
        drop_everything(app)


def test_migrated_sqlite_database_works(tmp_path):
    """The app runs on the migrated schema (not only on ``create_all``)."""
    from datetime import date, datetime

    from app.auth.services import create_user
    from app.points import services
    from app.points.proof import verify
    from app.scope import Actor
    from app.villages.services import create_village

    app = make_app(f"sqlite:///{tmp_path / 'works.db'}")
    try:
        with app.app_context():
            flask_migrate.upgrade()
            admin = create_user(db.session, None, {"username": "root", "password": "long-enough", "roles": ["admin"]})
            actor = Actor(admin)
            village = create_village(db.session, actor, {"name": "村", "code": "V", "township": "乡"})
            h = services.enroll_household(
                db.session,
                actor,
                village.id,
                {"number": "1", "head_name": "某"},
                today=date(2026, 11, 20),
                now=datetime(2026, 11, 20),
            )
            rule = rulebook.create_rule(
                db.session, actor, village.id, {"code": "R", "name": "规则", "category": "志愿服务", "points": 5}
            )
            services.record_entry(
                db.session,
                actor,
                household_id=h.id,
                rule_id=rule.id,
                occurred_on=date(2026, 11, 20),
                today=date(2026, 11, 20),
                now=datetime(2026, 11, 20),
            )
            db.session.commit()
            assert h.balance == 105
            assert verify(db.session) == []
    finally:
        drop_everything(app)


def test_downgrade_to_base_removes_everything(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'down.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


@contextmanager
def scratch_postgres_database(url: str):
    """A database of its own next to the run's (which other tests' tables live in)."""
    base = make_url(url).set(drivername="postgresql+psycopg")
    name = f"{base.database}_migrations"
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_postgres_migrations_match_the_models():
    with scratch_postgres_database(os.environ["TEST_DATABASE_URL"]) as url:
        app = make_app(url)
        try:
            check_upgrade_matches_models(app)
        finally:
            drop_everything(app)
