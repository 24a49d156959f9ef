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


def _build_v1_data(session):
    """Villages with different settings, households, entries (one pending, one reversed),
    a redemption and a closed period: what a deployment of the previous version holds."""
    from datetime import date, datetime

    from app.auth.services import create_user
    from app.points import decisions
    from app.points import rules as rulebook
    from app.points import services as points
    from app.rankings import periods
    from app.redemption import services as shop
    from app.redemption import shops
    from app.scope import Actor
    from app.villages.services import create_village

    def user(name, roles, village=None, household=None):
        values = {"username": name, "password": "long-enough", "roles": roles}
        values |= {"village_id": village.id if village else None, "household_id": household.id if household else None}
        return create_user(session, None, values)

    admin = Actor(user("root", ["admin"]))
    now, today = datetime(2026, 11, 20, 2), date(2026, 11, 20)
    tj = create_village(session, admin, {"name": "团结村", "code": "TJ", "township": "上木拉乡"})
    xf = create_village(session, admin, {"name": "幸福村", "code": "XF", "township": "上木拉乡"})
    hn = create_village(session, admin, {"name": "禾尼村", "code": "HN", "township": "禾尼乡"})
    xf.approval_required, xf.base_points, xf.redeem_floor, xf.notice_days = True, 60, 50, 3
    hn.yuan_per_point, hn.annual_reset = 2.0, True
    session.flush()
    homes = {}
    for v in (tj, xf, hn):
        rulebook.load_standard_sheet(session, admin, v.id)
        for i in (1, 2):
            homes[f"{v.code}{i}"] = points.enroll_household(
                session, admin, v.id, {"number": f"{v.code}-{i}", "head_name": f"户主{i}"}, today=today, now=now
            )
    rules = {r.code + str(r.village_id): r for r in session.scalars(select_rules())}
    recorder = Actor(user("xf_rec", ["recorder"], xf))
    for key, code, day in (("TJ1", "VOL-LABOUR", date(2026, 8, 3)), ("TJ2", "PUB-PARTY", today)):
        v = homes[key].village_id
        points.record_entry(
            session,
            admin,
            household_id=homes[key].id,
            rule_id=rules[code + str(v)].id,
            occurred_on=day,
            today=today,
            now=now,
        )
    pending = points.record_entry(
        session,
        recorder,
        household_id=homes["XF1"].id,
        rule_id=rules["VOL-LABOUR" + str(xf.id)].id,
        occurred_on=today,
        today=today,
        now=now,
    )
    assert pending.status == "pending"
    done = points.record_entry(
        session,
        admin,
        household_id=homes["HN1"].id,
        rule_id=rules["PUB-PARTY" + str(hn.id)].id,
        occurred_on=today,
        today=today,
        now=now,
    )
    decisions.reverse_entry(session, admin, done.id, reason="记错", now=now)
    periods.close_period(session, admin, tj.id, "2026Q3", now=now, today=today)
    store = shops.create_shop(session, admin, tj.id, "团结村积分超市")
    soap = shops.create_item(session, admin, store.id, {"name": "肥皂", "price_points": 5, "stock": 9}, now=now)
    user("tj_res", ["resident"], tj, homes["TJ1"])
    session.flush()
    shop.redeem(
        session,
        admin,
        shop_id=store.id,
        household_id=homes["TJ1"].id,
        lines=[{"item_id": soap.id, "quantity": 1}],
        now=now,
        today=today,
        secret="test",
    )
    session.commit()
    return {"villages": [tj.id, xf.id, hn.id], "households": [h.id for h in homes.values()]}


def select_rules():
    from sqlalchemy import select

    from app.points.models import Rule

    return select(Rule)


def _v1_answers(client, ids) -> dict:
    token = client.post("/api/v1/auth/token", json={"username": "root", "password": "long-enough"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    paths = [
        "/villages",
        "/leaderboards?period=2026Q4",
        "/leaderboards?period=2026&township=上木拉乡",
        "/leaderboards/villages?period=2026Q4",
        "/redemptions",
        "/entries?status=pending",
        "/awards?period=2026Q3&village_id=1",
    ]
    for v in ids["villages"]:
        paths += [
            f"/villages/{v}/scheme",
            f"/rules?village_id={v}",
            f"/periods/2026Q3?village_id={v}",
            f"/households?village_id={v}",
        ]
    for h in ids["households"]:
        paths += [f"/households/{h}", f"/households/{h}/entries"]
    answers = {}
    for path in paths:
        r = client.get("/api/v1" + path, headers=headers)
        answers[path] = (r.status_code, r.get_json())
    return answers


def test_a_deployment_of_the_previous_version_upgrades(tmp_path):
    check_previous_version_upgrades(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_a_postgres_deployment_of_the_previous_version_upgrades():
    with scratch_postgres_database(os.environ["TEST_DATABASE_URL"]) as url:
        check_previous_version_upgrades(url)


def check_previous_version_upgrades(url: str) -> None:
    """Data written at the previous head (0005) upgrades: each village's settings move to
    its household scheme, every village hangs under a township region named as its
    township, the ledger still verifies and the v1 answers are the same."""
    from app.points.proof import verify

    app = make_app(url)
    try:
        with app.app_context():
            flask_migrate.upgrade()
            ids = _build_v1_data(db.session)
            before = _v1_answers(app.test_client(), ids)
            assert {path: status for path, (status, _) in before.items() if status != 200} == {}
            db.session.remove()
            flask_migrate.downgrade(revision="0005")
            with db.engine.connect() as conn:
                settings = conn.execute(text("SELECT code, base_points, approval_required FROM villages ORDER BY id"))
                assert [(c, b, bool(a)) for c, b, a in settings] == [
                    ("TJ", 100, False),
                    ("XF", 60, True),
                    ("HN", 100, False),
                ]
                assert "regions" not in inspect(conn).get_table_names()
            flask_migrate.upgrade()
            with db.engine.connect() as conn:
                townships = conn.execute(
                    text(
                        "SELECT v.code, r.name, r.level FROM villages v JOIN regions r ON r.id = v.region_id ORDER BY v.id"
                    )
                ).all()
                assert [tuple(t) for t in townships] == [
                    ("TJ", "上木拉乡", "township"),
                    ("XF", "上木拉乡", "township"),
                    ("HN", "禾尼乡", "township"),
                ]
                orphans = conn.execute(
                    text(
                        "SELECT COUNT(*) FROM households h JOIN schemes s ON s.id = h.scheme_id WHERE s.village_id <> h.village_id"
                    )
                ).scalar()
                assert orphans == 0
            assert verify(db.session) == []
            after = _v1_answers(app.test_client(), ids)
            assert after == before
            assert before[f"/villages/{ids['villages'][1]}/scheme"][1]["notice_days"] == 3
            db.session.remove()
            check_accounts_upgrade(app, ids, before)
    finally:
        drop_everything(app)


def check_accounts_upgrade(app, ids: dict, before: dict) -> None:
    """The same data at 0007 (before accounts) upgrades through 0008: every household is
    an account of its village's household scheme, every ledger row and cycle row carries
    its scheme, the closed period still refuses entries, and the answers stay the same."""
    from app.points.proof import verify

    flask_migrate.downgrade(revision="0007")
    with db.engine.connect() as conn:
        assert "kind" not in {c["name"] for c in inspect(conn).get_columns("households")}
    flask_migrate.upgrade()
    with db.engine.connect() as conn:
        kinds = conn.execute(text("SELECT DISTINCT kind, home_village_id = village_id FROM households")).all()
        assert [(k, bool(same)) for k, same in kinds] == [("household", True)]
        for table in ("entries", "period_totals", "periods"):
            wrong = conn.execute(
                text(
                    f"SELECT COUNT(*) FROM {table} t JOIN schemes s ON s.id = t.scheme_id "
                    "WHERE s.account_kind <> 'household' OR s.village_id <> t.village_id"
                )
            ).scalar()
            missing = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE scheme_id IS NULL")).scalar()
            assert (table, wrong, missing) == (table, 0, 0)
        closed = conn.execute(text("SELECT period, status FROM periods")).all()
        assert [tuple(c) for c in closed] == [("2026Q3", "notice")]
    assert verify(db.session) == []
    assert _v1_answers(app.test_client(), ids) == before
    # the closed quarter still refuses an entry dated in it
    token = app.test_client().post("/api/v1/auth/token", json={"username": "root", "password": "long-enough"})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
    tj1 = ids["households"][0]
    rule = app.test_client().get(f"/api/v1/rules?village_id={ids['villages'][0]}", headers=headers).get_json()
    plain = next(r for r in rule["items"] if not r["requires_evidence"] and r["active"])
    body = {"household_id": tj1, "rule_id": plain["id"], "occurred_on": "2026-08-20"}
    r = app.test_client().post("/api/v1/entries", json=body, headers=headers)
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "period_closed")
