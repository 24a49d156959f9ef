"""``flask periods roll-year YEAR``: spendable points above the base expire at year end
in villages whose scheme says so; honour (the rankings) stays."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app import clock as app_clock
from app.audit.models import AuditLog
from app.errors import DomainError, YearNotEnded
from app.points import year as ledger_year
from app.points.models import Entry
from app.rankings.services import household_period_points, household_standings
from tests.rankings.test_periods import NOW, Q3_DAY, score

NEW_YEAR = datetime(2027, 1, 1, 2, 0, 0)  # 10:00 on 1 January 2027 in Shanghai (naive UTC)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The command reads the time from ``app.clock``: pin it (after 2026 by default), so
    rolling 2026 does not depend on when the suite runs."""

    class Clock:
        now = NEW_YEAR

        def set(self, value: datetime) -> None:
            self.now = value

    pinned = Clock()
    monkeypatch.setattr(app_clock, "utcnow", lambda: pinned.now)
    return pinned


def entries(session, **where):
    stmt = select(Entry).order_by(Entry.id)
    for column, value in where.items():
        stmt = stmt.where(getattr(Entry, column) == value)
    return session.scalars(stmt).all()


def entry_count(session):
    return session.scalar(select(func.count(Entry.id)))


def roll(runner, year="2026"):
    return runner.invoke(args=["periods", "roll-year", year])


def standings(session, period, village):
    return [
        (s.rank, s.number, s.points, s.eligible) for s in household_standings(session, period, village_id=village.id)
    ]


@pytest.fixture
def year(world, session):
    """团结村 resets each year: TJ-001 115, TJ-002 100, TJ-003 80 (a veto).
    幸福村 does not: XF-001 115."""
    world.a.annual_reset = True
    score(session, world, "tj1", "school", Q3_DAY, quantity=2)  # 6 in 2026Q3
    score(session, world, "tj1", "school", quantity=3)  # 9 in 2026Q4
    score(session, world, "tj3", "gamble")  # −20
    score(session, world, "xf1", "school", quantity=5)
    session.commit()
    return world


def test_roll_year_expires_the_balance_above_the_base(year, session, runner):
    world = year
    before = {p: standings(session, p, world.a) for p in ("2026Q3", "2026Q4", "2026")}
    assert before["2026"] == [(1, "TJ-001", 15, True), (2, "TJ-002", 0, True), (3, "TJ-003", -20, False)]

    result = roll(runner)
    assert result.exit_code == 0, result.output
    assert "2026: 1 household(s) expired" in result.output
    session.expire_all()
    expired = entries(session, kind="expiry")
    assert [(e.household_id, e.points, e.occurred_on, e.period, e.status, e.ranked) for e in expired] == [
        (world.households["tj1"].id, -15, date(2026, 12, 31), "2026Q4", "approved", False)
    ]
    assert [world.households[k].balance for k in ("tj1", "tj2", "tj3", "xf1")] == [100, 100, 80, 115]
    assert {p: standings(session, p, world.a) for p in before} == before
    assert household_period_points(session, world.households["tj1"].id, ["2026Q4", "2026"]) == {
        "2026Q4": (9, 0),
        "2026": (15, 0),
    }

    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_roll_year_is_idempotent(year, session, runner):
    assert roll(runner).exit_code == 0
    session.expire_all()
    written = entry_count(session)
    result = roll(runner)
    assert result.exit_code == 0, result.output
    assert "2026: nothing to expire" in result.output
    session.expire_all()
    assert entry_count(session) == written
    assert len(entries(session, kind="expiry")) == 1
    assert year.households["tj1"].balance == 100
    # a household expired for the year once is not expired again, even above the base
    score(session, year, "tj1", "school", date(2026, 11, 20))
    session.commit()
    result = roll(runner)
    assert "2026: nothing to expire" in result.output
    session.expire_all()
    assert len(entries(session, kind="expiry")) == 1
    assert year.households["tj1"].balance == 103


def test_roll_year_follows_each_village_scheme(year, session, runner):
    world = year
    world.a.base_points = 90  # the base is read at the reset, not at enrolment
    world.b.annual_reset = True
    session.commit()
    result = roll(runner)
    assert result.exit_code == 0, result.output
    assert "2026: 3 household(s) expired" in result.output
    session.expire_all()
    got = sorted((e.household_id, e.points) for e in entries(session, kind="expiry"))
    h = world.households
    assert got == sorted([(h["tj1"].id, -25), (h["tj2"].id, -10), (h["xf1"].id, -15)])
    assert [h[k].balance for k in ("tj1", "tj2", "tj3", "xf1", "xf2")] == [90, 90, 80, 100, 100]
    assert standings(session, "2026", world.b)[0] == (1, "XF-001", 15, True)
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0


def test_roll_year_skips_villages_without_annual_reset(world, session, runner):
    score(session, world, "tj1", "school", quantity=5)
    score(session, world, "xf1", "school", quantity=5)
    session.commit()
    result = roll(runner)
    assert result.exit_code == 0, result.output
    assert "2026: nothing to expire" in result.output
    session.expire_all()
    assert entries(session, kind="expiry") == []
    assert [world.households[k].balance for k in ("tj1", "xf1")] == [115, 115]


def test_roll_year_refuses_a_year_out_of_range(world, session, runner):
    for bad in ("1999", "2101"):
        result = roll(runner, bad)
        assert result.exit_code == 2
        assert "YEAR must be between 2000 and 2100" in result.output
    assert roll(runner, "next").exit_code == 2
    assert entries(session, kind="expiry") == []


def test_roll_year_refuses_a_year_that_has_not_ended_in_local_time(year, session, runner, clock, app):
    session.expire_all()
    written, audited = entry_count(session), session.scalar(select(func.count(AuditLog.id)))
    balances = [year.households[k].balance for k in ("tj1", "tj2", "tj3", "xf1")]

    def unchanged():
        session.expire_all()
        assert entry_count(session) == written
        assert session.scalar(select(func.count(AuditLog.id))) == audited
        assert [year.households[k].balance for k in ("tj1", "tj2", "tj3", "xf1")] == balances

    # 23:59:59 on 31 December in Shanghai (15:59:59 UTC): 2026 has not ended yet
    clock.set(datetime(2026, 12, 31, 15, 59, 59))
    result = roll(runner)
    assert result.exit_code == 2, result.output
    assert "2026 has not ended yet (today is 2026-12-31 in Asia/Shanghai)" in result.output
    assert "nothing changed" in result.output
    unchanged()
    for future in ("2027", "2100"):
        result = roll(runner, future)
        assert result.exit_code == 2, result.output
        assert f"{future} has not ended yet" in result.output
    unchanged()

    # the deployment's zone decides: at 16:00 UTC it is 1 January 2027 in Shanghai but
    # still 31 December in UTC
    clock.set(datetime(2026, 12, 31, 16, 0, 0))
    app.config["TIMEZONE"] = "UTC"
    result = roll(runner)
    assert result.exit_code == 2 and "today is 2026-12-31 in UTC" in result.output
    unchanged()
    app.config["TIMEZONE"] = "Asia/Shanghai"
    result = roll(runner)
    assert result.exit_code == 0, result.output
    assert "2026: 1 household(s) expired" in result.output
    session.expire_all()
    assert len(entries(session, kind="expiry")) == 1
    assert year.households["tj1"].balance == 100
    assert roll(runner).output.strip() == "2026: nothing to expire"  # still idempotent


def test_the_service_refuses_a_year_that_has_not_ended(year, session):
    written = entry_count(session)
    for today in (date(2026, 11, 20), date(2026, 12, 31)):
        with pytest.raises(YearNotEnded) as exc:
            ledger_year.roll_year(session, 2026, now=NOW, today=today)
        error = exc.value
        assert isinstance(error, DomainError)
        assert (error.code, error.status, error.details) == (
            "year_not_ended",
            409,
            {"year": 2026, "today": today.isoformat()},
        )
        assert error.render_message() == f"2026 年尚未结束（今天是 {today.isoformat()}），不能年度清零"
    assert entry_count(session) == written
    assert ledger_year.roll_year(session, 2026, now=NOW, today=date(2027, 1, 1)) == 1
