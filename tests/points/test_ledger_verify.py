"""Tamper evidence: ``verify`` and ``flask ledger verify`` find what was changed behind
the application's back, and name the rows."""

from datetime import date

import pytest
from sqlalchemy import select, text

from app.households.models import Household
from app.points import decisions, services
from app.points.models import Entry, PeriodTotal
from app.points.proof import verify
from tests.factories import NOW

TODAY = date(2026, 11, 20)


@pytest.fixture
def activity(world, session):
    """A little of everything: immediate, pending, approved, rejected, reversed, a veto and a batch."""

    def record(who, key, rule, day=TODAY, quantity=1):
        return services.record_entry(
            session,
            world.actor(who),
            household_id=world.households[key].id,
            rule_id=world.rules[rule].id,
            quantity=quantity,
            occurred_on=day,
            today=TODAY,
            now=NOW,
        )

    e = {
        "school": record("tj_recorder", "tj1", "tj_school", quantity=2),
        "early": record("tj_recorder", "tj1", "tj_school", day=date(2026, 8, 1)),
        "labour": record("tj_recorder", "tj1", "tj_labour"),
        "gamble": record("tj_recorder", "tj2", "tj_gamble"),
        "pending": record("xf_recorder", "xf1", "xf_school"),
        "approved": record("xf_recorder", "xf2", "xf_school", quantity=3),
        "rejected": record("xf_recorder", "xf3", "xf_school"),
    }
    decisions.approve_entry(session, world.actor("xf_reviewer"), e["approved"].id, now=NOW)
    decisions.reject_entry(session, world.actor("xf_reviewer"), e["rejected"].id, reason="不实", now=NOW)
    e["reversal"] = decisions.reverse_entry(session, world.actor("tj_reviewer"), e["gamble"].id, reason="误记", now=NOW)
    created, _ = services.record_batch(
        session,
        world.actor("tj_recorder"),
        rule_id=world.rules["tj_school"].id,
        household_ids=[world.households["tj2"].id, world.households["tj3"].id],
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    e["batch"] = created[0]
    session.commit()
    return e


def run_cli(runner):
    result = runner.invoke(args=["ledger", "verify"])
    return result.exit_code, result.output


def tamper(session, sql, **params):
    session.execute(text(sql), params)
    session.commit()
    session.expire_all()


def test_clean_ledger_verifies(world, session, runner, activity):
    assert world.households["tj1"].balance == 100 + 6 + 3 + 5
    assert verify(session) == []
    code, output = run_cli(runner)
    assert code == 0, output
    assert "ledger OK" in output


@pytest.mark.parametrize("column, value", [("title", "见义勇为"), ("category", "遵纪守法")])
def test_a_changed_passbook_label_is_found(world, session, activity, column, value):
    entry, h = activity["school"], world.households["tj1"]
    tamper(session, f"UPDATE entries SET {column} = :v WHERE id = :id", v=value, id=entry.id)
    assert [(p.household_id, p.entry_id, p.what) for p in verify(session)] == [
        (h.id, entry.id, "content changed after it was written")
    ]


def test_changed_points_are_found(world, session, runner, activity):
    entry, h = activity["school"], world.households["tj1"]
    tamper(session, "UPDATE entries SET points = points + 50 WHERE id = :id", id=entry.id)
    problems = verify(session)
    found = {(p.household_id, p.entry_id) for p in problems}
    assert (h.id, entry.id) in found  # the content hash no longer matches
    assert (h.id, None) in found  # the balance no longer equals the ledger
    text_ = "\n".join(map(str, problems))
    assert f"household {h.id}, entry {entry.id}: content changed" in text_
    assert f"household {h.id}: balance 114 but ledger says 164" in text_
    assert "period 2026Q4: cached points 11" in text_ and "ledger says 61" in text_
    assert "period 2026: cached points 14" in text_ and "ledger says 64" in text_
    code, output = run_cli(runner)
    assert code == 1
    assert f"MISMATCH household {h.id}, entry {entry.id}" in output
    assert f"household {h.id}: balance 114 but ledger says 164" in output


def test_a_deleted_entry_is_found(world, session, runner, activity):
    h = world.households["tj1"]
    middle = activity["early"]  # seq 3 of 4
    tamper(session, "DELETE FROM entries WHERE id = :id", id=middle.id)
    problems = verify(session)
    following = activity["labour"]
    messages = [str(p) for p in problems]
    assert f"household {h.id}, entry {following.id}: sequence jumps from 2 to 4 (entries deleted)" in messages
    assert f"household {h.id}, entry {following.id}: previous-hash link broken" in messages
    assert f"household {h.id}: balance 114 but ledger says 111" in messages
    assert any(p.household_id == h.id and "2026Q3" in p.what for p in problems)
    code, output = run_cli(runner)
    assert code == 1 and f"entry {following.id}" in output


def test_the_last_entry_deleted_is_found_by_the_chain_head(world, session, runner, activity):
    h = world.households["tj3"]
    last = activity["batch"]
    assert last.household_id == world.households["tj2"].id
    last_tj3 = session.scalar(select(Entry).where(Entry.household_id == h.id).order_by(Entry.seq.desc()))
    tamper(session, "DELETE FROM entries WHERE id = :id", id=last_tj3.id)
    tamper(session, "UPDATE households SET balance = 100 WHERE id = :id", id=h.id)
    tamper(session, "UPDATE period_totals SET points = 0, positive_count = 0 WHERE household_id = :id", id=h.id)
    problems = verify(session)
    assert [(p.household_id, p.entry_id) for p in problems] == [(h.id, None)]
    assert "chain head differs: household says 2 entries, ledger has 1" in problems[0].what
    code, output = run_cli(runner)
    assert code == 1 and f"household {h.id}: chain head differs" in output


def test_a_changed_balance_is_found(world, session, runner, activity):
    h = world.households["xf1"]
    tamper(session, "UPDATE households SET balance = balance + 1000 WHERE id = :id", id=h.id)
    assert [str(p) for p in verify(session)] == [f"household {h.id}: balance 1100 but ledger says 100"]
    code, output = run_cli(runner)
    assert code == 1
    assert f"MISMATCH household {h.id}: balance 1100 but ledger says 100" in output
    assert "1 problem(s) found" in output


@pytest.mark.parametrize(
    "column, value, period",
    [("points", 999, "2026Q4"), ("points", -1, "2026"), ("veto_count", 1, "2026Q4")],
)
def test_changed_period_totals_are_found(world, session, runner, activity, column, value, period):
    h = world.households["tj1"]
    tamper(
        session,
        f"UPDATE period_totals SET {column} = :v WHERE household_id = :h AND period = :p",
        v=value,
        h=h.id,
        p=period,
    )
    problems = verify(session)
    assert len(problems) == 1
    assert problems[0].household_id == h.id and problems[0].what.startswith(f"period {period}: cached")
    code, output = run_cli(runner)
    assert code == 1 and f"household {h.id}: period {period}" in output


def test_a_deleted_period_total_is_found(world, session, activity):
    h = world.households["xf2"]
    tamper(session, "DELETE FROM period_totals WHERE household_id = :h AND period = '2026'", h=h.id)
    assert [str(p) for p in verify(session)] == [f"household {h.id}: period 2026: no cached total; ledger says 9"]


def test_a_period_total_with_no_ranked_entries_behind_it_is_found(world, session, activity):
    """A quarter where the household has only unranked entries (its opening) or none."""
    h = world.households["tj3"]
    opening = session.scalar(select(Entry.period).where(Entry.household_id == h.id, Entry.kind == "opening"))
    assert opening == "2026Q4"
    tamper(session, "DELETE FROM entries WHERE household_id = :h AND kind = 'rule'", h=h.id)
    tamper(
        session,
        "UPDATE households SET balance = 100, entry_count = 1, chain_hash = "
        "(SELECT hash FROM entries WHERE household_id = :h AND seq = 1) WHERE id = :h",
        h=h.id,
    )
    tamper(session, "UPDATE period_totals SET points = 2 WHERE household_id = :h AND period = '2026Q4'", h=h.id)
    tamper(session, "DELETE FROM period_totals WHERE household_id = :h AND period = '2026'", h=h.id)
    session.execute(
        text(
            "INSERT INTO period_totals (household_id, scheme_id, village_id, period, points, veto_count,"
            " positive_count) VALUES (:h, :s, :v, '2025Q1', 0, 1, 0)"
        ),
        {"h": h.id, "s": h.scheme_id, "v": world.a.id},
    )
    session.commit()
    assert sorted(str(p) for p in verify(session)) == [
        f"household {h.id}: period 2025Q1: cached points 0, vetoes 1, positive entries 0; ledger says 0, 0, 0",
        f"household {h.id}: period 2026Q4: cached points 2, vetoes 0, positive entries 1; ledger says 0, 0, 0",
    ]


def test_a_changed_status_is_found(world, session, runner, activity):
    approved, h = activity["approved"], world.households["xf2"]
    tamper(session, "UPDATE entries SET status = 'rejected' WHERE id = :id", id=approved.id)
    problems = [str(p) for p in verify(session)]
    assert f"household {h.id}, entry {approved.id}: status or approver changed after the decision" in problems
    assert f"household {h.id}: balance 109 but ledger says 100" in problems
    code, output = run_cli(runner)
    assert code == 1 and f"entry {approved.id}: status or approver changed" in output


def test_a_pending_entry_approved_behind_the_apps_back_is_found(world, session, activity):
    pending, h = activity["pending"], world.households["xf1"]
    tamper(session, "UPDATE entries SET status = 'approved' WHERE id = :id", id=pending.id)
    problems = [str(p) for p in verify(session)]
    assert f"household {h.id}, entry {pending.id}: status or approver changed after the decision" in problems
    assert f"household {h.id}: balance 100 but ledger says 103" in problems


def test_a_rejected_entry_revived_with_its_caches_is_still_found(world, session, activity):
    """Even a careful forger who fixes the caches cannot fix the decision seal."""
    rejected, h = activity["rejected"], world.households["xf3"]
    tamper(session, "UPDATE entries SET status = 'approved' WHERE id = :id", id=rejected.id)
    tamper(session, "UPDATE households SET balance = balance + 3 WHERE id = :id", id=h.id)
    session.execute(
        text(
            "INSERT INTO period_totals (household_id, scheme_id, village_id, period, points, veto_count,"
            " positive_count) VALUES (:h, :s, :v, '2026Q4', 3, 0, 1), (:h, :s, :v, '2026', 3, 0, 1)"
        ),
        {"h": h.id, "s": h.scheme_id, "v": world.b.id},
    )
    session.commit()
    assert [str(p) for p in verify(session)] == [
        f"household {h.id}, entry {rejected.id}: status or approver changed after the decision"
    ]


def test_a_changed_approver_is_found(world, session, activity):
    approved = activity["approved"]
    tamper(
        session,
        "UPDATE entries SET approved_by_id = :u WHERE id = :id",
        u=world.users["xf_reviewer2"].id,
        id=approved.id,
    )
    assert [(p.entry_id, p.what) for p in verify(session)] == [
        (approved.id, "status or approver changed after the decision")
    ]


def test_a_changed_note_breaks_the_hash(world, session, activity):
    entry = activity["labour"]
    tamper(session, "UPDATE entries SET note = 'edited' WHERE id = :id", id=entry.id)
    assert [(p.entry_id, p.what) for p in verify(session)] == [(entry.id, "content changed after it was written")]


def test_a_rewritten_chain_is_found(world, session, activity):
    """Changing an entry and recomputing its hash still breaks the next entry's link."""
    from app.points.ledger import content_hash

    entry = activity["school"]
    tamper(session, "UPDATE entries SET note = 'edited' WHERE id = :id", id=entry.id)
    row = session.execute(select(*Entry.__table__.c).where(Entry.id == entry.id)).one()
    tamper(session, "UPDATE entries SET hash = :h WHERE id = :id", h=content_hash(row), id=entry.id)
    problems = verify(session)
    assert entry.id not in [p.entry_id for p in problems if "content" in p.what]
    assert any(p.entry_id == activity["early"].id and p.what == "previous-hash link broken" for p in problems)


def test_the_session_still_writes_after_verify(world, session, activity):
    """verify streams its rows; the streaming must not stick to the session's
    connection (on PostgreSQL the next INSERT would go through a cursor and fail)."""
    assert verify(session) == []
    before = world.households["tj2"].balance
    services.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households["tj2"].id,
        rule_id=world.rules["tj_school"].id,
        occurred_on=NOW.date(),
        today=NOW.date(),
        now=NOW,
    )
    session.commit()
    assert world.households["tj2"].balance == before + 3


def parallel(session, jobs=3):
    url = session.get_bind().url.render_as_string(hide_password=False)
    return verify(session, url=url, jobs=jobs)


def test_the_parallel_walk_finds_what_the_single_walk_finds(world, session, activity):
    """Several tampered households, spread over the process pool's ranges."""
    assert parallel(session) == []
    tamper(session, "UPDATE entries SET note = 'edited' WHERE id = :id", id=activity["school"].id)
    tamper(session, "DELETE FROM entries WHERE id = :id", id=activity["approved"].id)
    tamper(session, "UPDATE entries SET status = 'approved' WHERE id = :id", id=activity["rejected"].id)
    tamper(session, "UPDATE households SET chain_hash = 'x' WHERE id = :id", id=world.households["tj3"].id)
    single = sorted(map(str, verify(session)))
    assert len(single) >= 5
    assert sorted(map(str, parallel(session))) == single
    assert sorted(map(str, parallel(session, jobs=2))) == single


def test_ranges_cover_every_household_with_balanced_entries(world, session, activity):
    from app.points.proof import _ranges

    ranges = _ranges(session, parts=4)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert 2 <= len(ranges) <= 4


@pytest.fixture
def monthly(county, world, session):
    """A county's monthly village scheme: its accounts scored in March and April."""
    from app.points import rules as rulebook
    from app.schemes import services as schemes
    from app.scope import Actor

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
        {"code": "ZERO", "name": "零事故", "category": "志愿服务", "points": 10},
        scheme_id=scheme.id,
    )
    accounts = session.scalars(
        select(Household).where(Household.scheme_id == scheme.id).order_by(Household.number)
    ).all()
    for account, day in (
        (accounts[0], date(2026, 3, 5)),
        (accounts[0], date(2026, 4, 5)),
        (accounts[1], date(2026, 3, 9)),
    ):
        services.record_entry(
            session,
            Actor(county.users["dk_recorder"]),
            household_id=account.id,
            rule_id=rule.id,
            occurred_on=day,
            today=TODAY,
            now=NOW,
        )
    session.commit()
    return accounts


def test_month_totals_verify_and_a_tampered_one_is_found(monthly, session, runner):
    hp = monthly[0]
    months = session.execute(
        select(PeriodTotal.period, PeriodTotal.points)
        .where(PeriodTotal.household_id == hp.id)
        .order_by(PeriodTotal.period)
    ).all()
    assert [tuple(r) for r in months] == [
        ("2026", 20),
        ("2026-03", 10),
        ("2026-04", 10),
        ("2026Q1", 10),
        ("2026Q2", 10),
    ]
    assert verify(session) == []
    assert run_cli(runner)[0] == 0
    tamper(session, "UPDATE period_totals SET points = 30 WHERE household_id = :h AND period = '2026-03'", h=hp.id)
    assert [str(p) for p in verify(session)] == [
        f"household {hp.id}: period 2026-03: cached points 30, vetoes 0, positive entries 1; ledger says 10, 0, 1"
    ]
    code, output = run_cli(runner)
    assert code == 1 and f"household {hp.id}: period 2026-03" in output


def test_a_deleted_month_total_is_found(monthly, session):
    qf = monthly[1]
    tamper(session, "DELETE FROM period_totals WHERE household_id = :h AND period = '2026-03'", h=qf.id)
    assert [str(p) for p in verify(session)] == [f"household {qf.id}: period 2026-03: no cached total; ledger says 10"]
