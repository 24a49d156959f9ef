"""``flask backup`` and ``flask restore``: a round trip of the whole deployment on both
engines, refusing a non-empty database, and refusing files that are not our backups."""

import hashlib
import io
import json
import os
import shutil
import tarfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.auth.models import User
from app.clock import utcnow
from app.extensions import db
from app.households.models import Household
from app.points import decisions
from app.points import evidence as evidence_store
from app.points import services as points
from app.points.models import Entry, Evidence, Period
from app.rankings import periods
from app.redemption import services as shop
from app.redemption import shops as shop_services
from app.redemption.models import Redemption
from app.scope import Actor
from tests import factories
from tests.conftest import TODAY

PG_URL = os.environ.get("TEST_DATABASE_URL")


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "orange").save(out, "JPEG")
    return out.getvalue()


def populate(app, session) -> dict:
    """Households, entries (approved, rejected, reversed), a sale, a closed period and a
    photo; a volunteer's account (a person scheme) with an entry, and a
    village's account in a county's village scheme with an entry: the state a restore
    must bring back, for every kind of account."""
    w = factories.World.build(session)
    now = utcnow()
    for key in ("tj1", "tj2", "tj3"):
        factories.score(session, w, key, "school", day=date(2026, 8, 10), today=TODAY, quantity=4)
    periods.close_period(session, w.actor("tj_reviewer"), w.a.id, "2026Q3", now=now, today=TODAY)
    pending = factories.score(session, w, "xf1", "school", day=TODAY, today=TODAY)
    decisions.approve_entry(session, w.actor("xf_reviewer"), pending.id, now=now)
    other = factories.score(session, w, "xf2", "school", day=TODAY, today=TODAY)
    decisions.reject_entry(session, w.actor("xf_reviewer"), other.id, reason="无证明", now=now)
    wrong = factories.score(session, w, "tj1", "labour", day=TODAY, today=TODAY)
    decisions.reverse_entry(session, w.actor("tj_reviewer"), wrong.id, reason="记错户", now=now)
    folder = Path(app.instance_path) / "evidence"
    photo = evidence_store.store_evidence(session, w.actor("tj_recorder"), w.a.id, jpeg_bytes(), folder, 10**6)
    points.record_entry(
        session,
        w.actor("tj_recorder"),
        household_id=w.households["tj2"].id,
        rule_id=w.rules["tj_photo"].id,
        occurred_on=TODAY,
        today=TODAY,
        now=now,
        evidence_id=photo.id,
    )
    s = shop_services.create_shop(session, w.actor("tj_village_admin"), w.a.id, "村超市")
    item = shop_services.create_item(
        session, w.actor("tj_clerk"), s.id, {"name": "洗衣粉", "price_points": 5, "stock": 10}, now=now
    )
    shop.redeem(
        session,
        w.actor("tj_clerk"),
        shop_id=s.id,
        lines=[{"item_id": item.id, "quantity": 2}],
        household_id=w.households["tj3"].id,
        now=now,
        today=TODAY,
        secret="test-secret",
    )
    other_kinds_of_account(session, w, now)
    session.commit()
    return {
        "world": w,
        "photo": photo.id,
        "photo_bytes": (folder / photo.id).read_bytes(),
        "snapshot": snapshot(session),
    }


def other_kinds_of_account(session, w, now) -> None:
    """A volunteer's entry, and a village's entry in its county's scheme. (No photo: a
    person's or a village's account has no village, which a photo must share.)"""
    from app.points import rules as rulebook
    from app.regions import services as regions
    from tests.county.conftest import village_accounts, village_scheme
    from tests.volunteers import person, volunteer_scheme

    volunteers = volunteer_scheme(session, w)
    volunteer = person(session, w, volunteers, "V-1", "志愿者甲", linked=w.households["tj1"])
    helping = rulebook.create_rule(
        session, w.actor("tj_village_admin"), None,
        {"code": "VOL-1", "name": "助老", "category": "勤劳致富", "points": 4}, scheme_id=volunteers.id,
    )  # fmt: skip
    points.record_entry(
        session, w.actor("tj_recorder"), household_id=volunteer.id, rule_id=helping.id,
        occurred_on=TODAY, today=TODAY, now=now,
    )  # fmt: skip
    county = regions.create_region(session, w.actor("admin"), {"name": "理塘县", "code": "LT", "level": "county"})
    w.a.region_id = county.id
    session.flush()
    projects = village_scheme(session, w.actor("admin"), county)
    target = rulebook.create_rule(
        session, w.actor("admin"), None,
        {"code": "LL-1", "name": "零事故", "category": "六零目标", "points": 10}, scheme_id=projects.id,
    )  # fmt: skip
    session.flush()
    points.record_entry(
        session, w.actor("admin"), household_id=village_accounts(session, projects)["TJ"].id,
        rule_id=target.id, occurred_on=TODAY, today=TODAY, now=now,
    )  # fmt: skip


def snapshot(session) -> dict:
    return {
        "balances": dict(session.execute(select(Household.kind + ":" + Household.number, Household.balance)).all()),
        "kinds": sorted(session.scalars(select(Household.kind).distinct())),
        "entries": session.scalar(select(func.count()).select_from(Entry)),
        "hashes": session.scalars(select(Entry.hash).order_by(Entry.id)).all(),
        "redemptions": session.scalar(select(func.count()).select_from(Redemption)),
        "periods": session.execute(select(Period.period, Period.status)).all(),
        "evidence": session.scalars(select(Evidence.id)).all(),
    }


@pytest.fixture
def target_url(tmp_path):
    """An empty database to restore into, on the engine the suite runs on."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (Debian: postgresql-client; .ci/run installs it)")
    name = f"{make_url(PG_URL).database}_restore"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def second_app(target_url, tmp_path):
    """Another deployment: its own database and instance folder."""
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": target_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",  # the limiter is shared by every app
        },
    )
    other.instance_path = str(tmp_path / "restored-instance")
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def in_app(app, *args):
    with app.app_context():  # the suite's `session` keeps the first app's context pushed
        result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_round_trip_restores_ledger_photos_and_counts(app, session, second_app, tmp_path):
    """On SQLite, or on PostgreSQL when the suite runs there (``scripts/with-postgres.sh``)."""
    before = populate(app, session)
    backup = tmp_path / "backups" / "moralbank.tar"
    code, out = in_app(app, "backup", str(backup))
    assert code == 0, out
    assert oct(backup.stat().st_mode & 0o777) == "0o600"  # it holds password hashes
    with tarfile.open(backup) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["engine"] == db.engine.dialect.name and list(manifest["photos"]) == [before["photo"]]

    code, out = in_app(second_app, "restore", str(backup))
    assert code == 0, out
    code, out = in_app(second_app, "ledger", "verify", "--jobs", "1")
    assert code == 0, out
    with second_app.app_context():
        assert snapshot(db.session) == before["snapshot"]
        db.session.remove()
    restored = Path(second_app.instance_path) / "evidence" / before["photo"]
    assert restored.read_bytes() == before["photo_bytes"]
    assert before["snapshot"]["kinds"] == ["household", "person", "village"]
    # The restored deployment's users log in and see the photo.
    with second_app.app_context():
        client = second_app.test_client()
        assert (
            client.post("/login", data={"username": "tj_recorder", "password": factories.PASSWORD}).status_code == 302
        )
        assert client.get(f"/evidence/{before['photo']}").data == before["photo_bytes"]
        db.session.remove()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL): run scripts/with-postgres.sh")
def test_postgres_round_trip_into_an_upgraded_empty_database(app, session, second_app, tmp_path):
    """A database made by ``flask db upgrade`` and never used counts as empty."""
    before = populate(app, session)
    backup = tmp_path / "pg.tar"
    assert in_app(app, "backup", str(backup))[0] == 0
    with second_app.app_context():
        db.create_all()
        db.session.remove()
    code, out = in_app(second_app, "restore", str(backup))
    assert code == 0, out
    assert in_app(second_app, "ledger", "verify", "--jobs", "1")[0] == 0
    with second_app.app_context():
        assert snapshot(db.session) == before["snapshot"]
        db.session.remove()


def test_restore_refuses_a_database_that_is_not_empty(app, session, tmp_path):
    before = populate(app, session)
    backup = tmp_path / "b.tar"
    assert in_app(app, "backup", str(backup))[0] == 0
    factories.score(session, before["world"], "tj1", "school", day=TODAY, today=TODAY)
    session.commit()
    after_one_more = snapshot(session)
    session.rollback()  # a read ends; the restore must not wait for it
    code, out = in_app(app, "restore", str(backup))
    assert code == 2
    assert "not empty" in out and "nothing was changed" in out
    session.expire_all()
    assert snapshot(session) == after_one_more != before["snapshot"]


def tar_with(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def good_manifest(**changes) -> bytes:
    manifest = {
        "format": "moralbank-backup",
        "version": 1,
        "engine": db.engine.dialect.name,
        "alembic_revision": None,
        "created_at": datetime(2026, 11, 20).isoformat(),
        "database": {"name": "database.sqlite3" if db.engine.dialect.name == "sqlite" else "database.pgdump"},
        "photos": {},
    }
    manifest["database"]["sha256"] = "0" * 64
    manifest.update(changes)
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("missing", "no such file"),
        ("random", "not a Moral Bank backup"),
        ("foreign tar", "manifest.json is missing"),
        ("other format", "no moralbank-backup manifest"),
        ("manifest not json", "unreadable manifest"),
        ("manifest a folder", "manifest.json is not a file"),
        ("manifest too large", "manifest.json is too large"),
        ("future version", "format version 2"),
        ("damaged dump", "is damaged"),
        ("damaged photo", "evidence/a.jpg is damaged"),
        ("path in photos", "manifest is damaged"),
        ("truncated", "damaged or truncated"),
    ],
)
def test_restore_refuses_a_file_that_is_not_a_sound_backup(
    app, session, second_app, tmp_path, monkeypatch, kind, expected
):
    path = tmp_path / "file.tar"
    dump = "database.sqlite3" if db.engine.dialect.name == "sqlite" else "database.pgdump"
    if kind == "random":
        path.write_bytes(os.urandom(3000))
    elif kind == "foreign tar":
        tar_with(path, {"etc/passwd": b"root:x:0:0"})
    elif kind == "other format":
        tar_with(path, {"manifest.json": b'{"format": "something-else"}'})
    elif kind == "manifest not json":
        tar_with(path, {"manifest.json": b"{not json"})
    elif kind == "manifest a folder":
        with tarfile.open(path, "w") as tar:
            folder = tarfile.TarInfo("manifest.json")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
    elif kind == "manifest too large":
        monkeypatch.setattr("app.backup.MANIFEST_MAX_BYTES", 10)
        tar_with(path, {"manifest.json": good_manifest()})
    elif kind == "future version":
        tar_with(path, {"manifest.json": good_manifest(version=2)})
    elif kind == "damaged dump":
        tar_with(path, {"manifest.json": good_manifest(), dump: b"not the dump the manifest hashed"})
    elif kind == "damaged photo":
        database = {"name": dump, "sha256": hashlib.sha256(b"the dump").hexdigest()}
        manifest = good_manifest(database=database, photos={"a.jpg": "0" * 64})
        tar_with(path, {"manifest.json": manifest, dump: b"the dump", "evidence/a.jpg": b"not the photo"})
    elif kind == "path in photos":
        tar_with(path, {"manifest.json": good_manifest(photos={"../../wsgi.py": "0" * 64})})
    elif kind == "truncated":
        populate(app, session)
        whole = tmp_path / "whole.tar"
        assert in_app(app, "backup", str(whole))[0] == 0
        data = whole.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # inside the dump, its largest part
    code, out = in_app(second_app, "restore", str(path))
    assert code == 2, out
    assert expected in out
    with second_app.app_context():  # nothing was written: not a table, not a photo
        assert not [n for n in db.inspect(db.engine).get_table_names() if n != "alembic_version"]
        db.session.remove()
    assert not (Path(second_app.instance_path) / "evidence").exists()


def test_backup_taken_while_entries_are_being_recorded(app, session, second_app, tmp_path):
    """A consistent copy while the app writes: the restored ledger verifies."""
    w = factories.World.build(session)
    recorder_id, rule_id = w.users["tj_recorder"].id, w.rules["tj_school"].id
    household_ids = [w.households[k].id for k in ("tj1", "tj2", "tj3")]
    session.commit()
    session.rollback()
    stop, written, failures = threading.Event(), [], []

    def record():
        with app.app_context():
            actor = Actor(db.session.get(User, recorder_id), "127.0.0.1")
            try:
                while not stop.is_set() or len(written) < 20:
                    for hid in household_ids:
                        points.record_entry(
                            db.session,
                            actor,
                            household_id=hid,
                            rule_id=rule_id,
                            occurred_on=TODAY,
                            today=TODAY,
                            now=utcnow(),
                        )
                    db.session.commit()
                    written.append(1)
            except Exception as exc:  # reported below: the thread's failure is the test's
                failures.append(exc)
            finally:
                db.session.remove()

    writer = threading.Thread(target=record)
    writer.start()
    try:
        while len(written) < 5 and writer.is_alive():
            time.sleep(0.01)
        backup = tmp_path / "live.tar"
        code, out = in_app(app, "backup", str(backup))
    finally:
        stop.set()
        writer.join(60)
    assert code == 0, out
    assert not failures, failures
    code, out = in_app(second_app, "restore", str(backup))
    assert code == 0, out
    code, out = in_app(second_app, "ledger", "verify", "--jobs", "1")
    assert code == 0, out
    with second_app.app_context():
        restored = db.session.scalar(select(func.count()).select_from(Entry).where(Entry.rule_id == rule_id))
        db.session.remove()
    assert restored % 3 == 0 and 0 < restored <= 3 * len(written)  # whole commits only
