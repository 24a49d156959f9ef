"""Many writers at once: caps hold, decisions happen once, an Idempotency-Key writes once.

Each thread has its own app context, hence its own session and connection. On SQLite
writers queue on BEGIN IMMEDIATE; on PostgreSQL on the household row lock.
"""

import random
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.clock import local_today
from app.errors import AlreadyReversed, CapReached, NotPending
from app.extensions import db
from app.households.models import Household
from app.points import decisions, services
from app.points.models import Entry
from app.points.proof import verify
from app.scope import Actor
from tests import factories
from tests.factories import NOW, PASSWORD

TODAY = date(2026, 11, 20)
THREADS = 16
JOIN_TIMEOUT = 180


def run_threads(app, count, work):
    """Run ``work(i)`` in ``count`` threads, each inside its own app context, started together;
    returns each thread's result (an outcome string, or the repr of an unexpected error)."""
    barrier = threading.Barrier(count, timeout=60)
    results: list = [None] * count

    def target(i):
        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                db.session.rollback()
                results[i] = repr(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results


def release(session):
    """The test's own session must not hold a transaction (on SQLite: the write lock) while
    the threads run; its objects are detached, so take their ids first."""
    session.commit()
    session.close()


def as_actor(username: str) -> Actor:
    return Actor(db.session.scalar(select(User).where(User.username == username)))


def outcome(fn):
    try:
        fn()
    except CapReached:
        db.session.rollback()
        return "cap_reached"
    except NotPending:
        db.session.rollback()
        return "not_pending"
    except AlreadyReversed:
        db.session.rollback()
        return "already_reversed"
    db.session.commit()
    return "ok"


def test_cap_holds_under_concurrent_recording(app, world, session):
    rule = factories.rule(session, world.admin, world.a, "CAP-5", 2, cap_period="day", cap_count=5)
    hid, rid = world.households["tj1"].id, rule.id
    release(session)

    def work(i):
        return outcome(
            lambda: services.record_entry(
                db.session,
                as_actor("tj_recorder"),
                household_id=hid,
                rule_id=rid,
                occurred_on=TODAY,
                today=TODAY,
                now=NOW,
            )
        )

    results = run_threads(app, THREADS, work)
    assert sorted(results) == ["cap_reached"] * (THREADS - 5) + ["ok"] * 5, results
    assert session.scalar(select(func.count(Entry.id)).where(Entry.rule_id == rid)) == 5
    assert session.get(Household, hid).balance == 110
    assert verify(session) == []


def test_pending_entries_count_towards_the_cap_under_concurrency(app, world, session):
    rule = factories.rule(session, world.admin, world.b, "CAP-3", 1, cap_period="week", cap_count=3)
    hid, rid = world.households["xf1"].id, rule.id
    release(session)

    def work(i):
        return outcome(
            lambda: services.record_entry(
                db.session,
                as_actor("xf_recorder"),
                household_id=hid,
                rule_id=rid,
                occurred_on=TODAY,
                today=TODAY,
                now=NOW,
            )
        )

    results = run_threads(app, 8, work)
    assert results.count("ok") == 3 and results.count("cap_reached") == 5, results
    statuses = session.scalars(select(Entry.status).where(Entry.rule_id == rid)).all()
    assert statuses == ["pending"] * 3
    assert verify(session) == []


def test_concurrent_batches_and_single_entries_keep_every_cap(app, world, session):
    rule = factories.rule(session, world.admin, world.a, "CAP-B", 1, cap_period="day", cap_count=5)
    ids = [world.households[k].id for k in ("tj1", "tj2", "tj3")]
    rid = rule.id
    release(session)

    def work(i):
        order = ids[:]
        random.Random(i).shuffle(order)
        if i % 3 == 0:
            return outcome(
                lambda: services.record_entry(
                    db.session,
                    as_actor("tj_recorder"),
                    household_id=order[0],
                    rule_id=rid,
                    occurred_on=TODAY,
                    today=TODAY,
                    now=NOW,
                )
            )
        created, skipped = services.record_batch(
            db.session,
            as_actor("tj_recorder"),
            rule_id=rid,
            household_ids=order,
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
        db.session.commit()
        assert {s["reason"] for s in skipped} <= {"cap_reached"}
        return "ok"

    results = run_threads(app, 12, work)
    assert set(results) <= {"ok", "cap_reached"}, results
    per_household = dict(
        session.execute(
            select(Entry.household_id, func.count(Entry.id)).where(Entry.rule_id == rid).group_by(Entry.household_id)
        ).all()
    )
    assert per_household == {hid: 5 for hid in ids}
    assert [session.get(Household, hid).balance for hid in ids] == [105, 105, 105]
    assert verify(session) == []


def test_a_pending_entry_is_decided_once(app, world, session):
    entry = services.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf2"].id,
        rule_id=world.rules["xf_school"].id,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    eid, hid = entry.id, world.households["xf2"].id
    reviewers = ["xf_reviewer", "xf_reviewer2", "admin"]
    release(session)

    def work(i):
        who = as_actor(reviewers[i % len(reviewers)])
        return outcome(lambda: decisions.approve_entry(db.session, who, eid, now=NOW))

    results = run_threads(app, 9, work)
    assert sorted(results) == ["not_pending"] * 8 + ["ok"], results
    assert session.get(Household, hid).balance == 103
    assert verify(session) == []


def test_an_entry_is_reversed_once(app, world, session):
    entry = services.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households["tj2"].id,
        rule_id=world.rules["tj_school"].id,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    eid, hid = entry.id, world.households["tj2"].id
    release(session)

    def work(i):
        who = as_actor("tj_reviewer" if i % 2 else "tj_reviewer2")
        return outcome(lambda: decisions.reverse_entry(db.session, who, eid, reason=f"第{i}次", now=NOW))

    results = run_threads(app, 8, work)
    assert sorted(results) == ["already_reversed"] * 7 + ["ok"], results
    assert session.scalar(select(func.count(Entry.id)).where(Entry.reverses_id == eid)) == 1
    assert session.get(Household, hid).balance == 100
    assert verify(session) == []


def token(app, username):
    # Runs in the test's app context (Flask reuses it): call before ``release``.
    r = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    return r.get_json()["token"]


def test_same_idempotency_key_from_many_clients_writes_once(app, world, session):
    hid, rid = world.households["tj3"].id, world.rules["tj_school"].id
    headers = {"Authorization": f"Bearer {token(app, 'tj_recorder')}", "Idempotency-Key": "tablet-42-0001"}
    release(session)
    body = {"household_id": hid, "rule_id": rid, "occurred_on": local_today("Asia/Shanghai").isoformat()}

    def work(i):
        r = app.test_client().post("/api/v1/entries", json=body, headers=headers)
        return (r.status_code, (r.get_json() or {}).get("id"))

    results = run_threads(app, THREADS, work)
    assert {status for status, _ in results} == {201}, results
    ids = {entry_id for _, entry_id in results}
    assert len(ids) == 1 and None not in ids
    assert session.scalar(select(func.count(Entry.id)).where(Entry.rule_id == rid)) == 1
    assert session.get(Household, hid).balance == 103
    assert verify(session) == []


def test_concurrent_api_posts_respect_the_cap(app, world, session):
    rule = factories.rule(session, world.admin, world.a, "CAP-API", 1, cap_period="day", cap_count=5)
    hid, rid = world.households["tj2"].id, rule.id
    auth = {"Authorization": f"Bearer {token(app, 'tj_recorder')}"}
    release(session)
    body = {"household_id": hid, "rule_id": rid, "occurred_on": local_today("Asia/Shanghai").isoformat()}

    def work(i):
        r = app.test_client().post("/api/v1/entries", json=body, headers=auth | {"Idempotency-Key": f"k{i}"})
        return r.status_code if r.status_code == 201 else (r.status_code, r.get_json()["error"]["code"])

    results = run_threads(app, THREADS, work)
    assert results.count(201) == 5, results
    assert results.count((409, "cap_reached")) == THREADS - 5, results
    assert session.get(Household, hid).balance == 105
    assert verify(session) == []


@pytest.mark.parametrize("threads", [4])
def test_concurrent_enrolment_keeps_numbers_unique(app, world, session, threads):
    vid = world.a.id
    release(session)

    def work(i):
        try:
            services.enroll_household(
                db.session,
                as_actor("tj_village_admin"),
                vid,
                {"number": "TJ-777", "head_name": f"户{i}"},
                today=TODAY,
                now=NOW,
            )
            db.session.commit()
            return "ok"
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            return type(exc).__name__

    results = run_threads(app, threads, work)
    assert results.count("ok") == 1, results
    assert session.scalar(select(func.count(Household.id)).where(Household.number == "TJ-777")) == 1
    assert verify(session) == []


def test_cap_holds_for_a_village_account_under_concurrent_recording(app, county, world, session):
    """The same race for a county's village account (a scheme of a region, no village of its own)."""
    from app.points import rules as rulebook
    from app.schemes import services as schemes

    admin = Actor(county.users["dk_admin"])
    values = {"name": "积分换项目", "region_id": county.county.id, "account_kind": "village", "cadence": "month"}
    settings = {"base_points": 100, "redeem_floor": 0, "yuan_per_point": 1.0, "approval_required": False}
    scheme = schemes.create_scheme(
        session, admin, values | settings | {"notice_days": 7, "annual_reset": False}, today=TODAY, now=NOW
    )
    rule = rulebook.create_rule(
        session,
        admin,
        None,
        {"code": "CAP-5", "name": "零事故", "category": "志愿服务", "points": 2, "cap_period": "day", "cap_count": 5},
        scheme_id=scheme.id,
    )
    hid = session.scalar(select(Household.id).where(Household.scheme_id == scheme.id, Household.number == "HP"))
    rid = rule.id
    release(session)

    def work(i):
        return outcome(
            lambda: services.record_entry(
                db.session,
                as_actor("dk_recorder"),
                household_id=hid,
                rule_id=rid,
                occurred_on=TODAY,
                today=TODAY,
                now=NOW,
            )
        )

    results = run_threads(app, THREADS, work)
    assert sorted(results) == ["cap_reached"] * (THREADS - 5) + ["ok"] * 5, results
    assert session.scalar(select(func.count(Entry.id)).where(Entry.rule_id == rid)) == 5
    account = session.get(Household, hid)
    assert (account.kind, account.balance) == ("village", 110)
    assert verify(session) == []
