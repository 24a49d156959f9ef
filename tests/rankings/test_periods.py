"""The quarterly cycle, called as services with explicit dates: close and publish (公示),
the notice window, objections (异议), finalising, awards and what a closed period refuses."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.errors import BadReference, DomainError, Forbidden, NotFound, NotPending, PeriodClosed, ValidationFailed
from app.extensions import db
from app.households import services as households
from app.households.models import Household
from app.points import decisions
from app.points import services as points
from app.points import year as ledger_year
from app.points.models import Entry
from app.points.proof import verify
from app.rankings import awards as prizes
from app.rankings import objections, periods
from app.rankings.models import Award, Objection, Publication
from app.rankings.services import household_period_points, household_standings
from app.scope import Actor
from tests import factories
from tests.factories import NOW

TODAY = date(2026, 11, 20)  # 2026Q4, as in the factories
Q3_DAY = date(2026, 8, 15)
Q4_DAY = date(2026, 11, 10)
LATER = NOW + timedelta(hours=1)


def score(session, world, key, rule, day=Q4_DAY, quantity=1):
    """Record an entry for household ``key`` under ``rule`` ("school", "labour", "gamble");
    in 幸福村 (approval required) a reviewer approves it at once."""
    prefix = key[:2]
    entry = points.record_entry(
        session,
        world.actor(f"{prefix}_recorder"),
        household_id=world.households[key].id,
        rule_id=world.rules[f"{prefix}_{rule}"].id,
        quantity=quantity,
        occurred_on=day,
        today=TODAY,
        now=NOW,
    )
    if entry.status == "pending":
        decisions.approve_entry(session, world.actor(f"{prefix}_reviewer"), entry.id, now=NOW)
    return entry


def add_household(session, world, key, number, head=None):
    village = world.a if key.startswith("tj") else world.b
    world.households[key] = factories.household(session, world.admin, village, number, head or f"户主{key}")
    return world.households[key]


def rows(standings):
    """(rank, household number, points, eligible) of standings rows (dicts or objects)."""
    out = []
    for s in standings:
        s = s if isinstance(s, dict) else s.to_dict()
        out.append((s["rank"], s["number"], s["points"], s["eligible"]))
    return out


def close(session, world, period, who="tj_reviewer", village=None, today=TODAY, now=NOW):
    village = village or world.a
    return periods.close_period(session, world.actor(who), village.id, period, now=now, today=today)


def finalize(session, world, period, who="admin", village=None, today=TODAY, now=LATER):
    village = village or world.a
    return periods.finalize_period(session, world.actor(who), village.id, period, now=now, today=today)


def object_to(session, world, who="tj_resident", reason="记错了", **target):
    return objections.file_objection(session, world.actor(who), reason=reason, now=NOW, **target)


def decide(session, world, objection, upheld, who="tj_reviewer", note="已核实"):
    return objections.decide_objection(session, world.actor(who), objection.id, upheld=upheld, note=note, now=LATER)


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def build_q3(session, world) -> dict:
    """团结村 in 2026Q3: tj1 8 (5 + 3), tj2 6, tj3 −20 with a veto; the entries by name."""
    e = {
        "tj1_labour": score(session, world, "tj1", "labour", Q3_DAY),
        "tj1_school": score(session, world, "tj1", "school", Q3_DAY),
        "tj2_school": score(session, world, "tj2", "school", Q3_DAY, quantity=2),
        "tj3_gamble": score(session, world, "tj3", "gamble", Q3_DAY),
    }
    session.commit()
    return e


@pytest.fixture
def q3(world, session):
    return build_q3(session, world)


def test_close_publishes_the_standings_and_opens_the_notice_window(world, session, q3):
    world.a.notice_days = 5
    view = close(session, world, "2026q3")
    assert (view.period, view.village_id, view.status) == ("2026Q3", world.a.id, "notice")
    assert view.notice_ends_on == date(2026, 11, 25)
    assert view.publication.version == 1
    assert rows(view.standings) == [
        (1, "TJ-001", 8, True),
        (2, "TJ-002", 6, True),
        (3, "TJ-003", -20, False),
    ]
    assert view.standings[0]["household_id"] == world.households["tj1"].id
    row = view.row
    assert (row.closed_by_id, row.closed_at) == (world.users["tj_reviewer"].id, NOW)
    session.commit()
    assert periods.view_period(session, world.a, "2026Q3").status == "notice"
    assert periods.view_period(session, world.b, "2026Q3").status == "open"  # per village
    assert periods.view_period(session, world.a, "2026Q4").status == "open"


def test_published_standings_stay_frozen(world, session, q3):
    close(session, world, "2026Q3")
    score(session, world, "tj3", "school", Q4_DAY, quantity=10)  # another period
    households.move_out(session, world.actor("tj_village_admin"), world.households["tj1"].id, TODAY)
    session.commit()
    live = household_standings(session, "2026Q3", village_id=world.a.id)
    assert rows(live) == [(1, "TJ-002", 6, True), (2, "TJ-003", -20, False)]
    view = periods.view_period(session, world.a, "2026Q3")
    assert rows(view.standings) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]
    assert view.publication.version == 1


def test_close_refuses_twice_the_future_bad_text_other_villages_and_other_roles(world, session, q3):
    close(session, world, "2026Q3")
    with pytest.raises(PeriodClosed) as exc:
        close(session, world, "2026Q3", who="tj_reviewer2")
    assert exc.value.details == {"period": "2026Q3"}
    for text in ("2027Q1", "2026Q5", "Q3", ""):
        with pytest.raises(ValidationFailed) as exc:
            close(session, world, text)
        assert "period" in exc.value.details
    with pytest.raises(BadReference):
        close(session, world, "2026Q3", who="tj_reviewer", village=world.b)
    for who in ("tj_recorder", "tj_resident", "tj_village_admin", "tj_clerk"):
        with pytest.raises(Forbidden):
            close(session, world, "2026Q2", who=who)
    assert count(session, Publication) == 1


def test_a_closed_quarter_refuses_entries_batches_and_reversals_dated_in_it(world, session, q3):
    close(session, world, "2026Q3")
    with pytest.raises(PeriodClosed) as exc:
        score(session, world, "tj3", "school", date(2026, 9, 30))
    assert exc.value.details == {"period": "2026Q3"}
    with pytest.raises(PeriodClosed):
        points.record_batch(
            session,
            world.actor("tj_recorder"),
            rule_id=world.rules["tj_school"].id,
            household_ids=[world.households["tj2"].id],
            occurred_on=date(2026, 7, 1),
            today=TODAY,
            now=NOW,
        )
    with pytest.raises(PeriodClosed):
        decisions.reverse_entry(session, world.actor("tj_reviewer"), q3["tj1_labour"].id, reason="x", now=NOW)
    # the days around it, and the other village, are open
    assert score(session, world, "tj3", "school", date(2026, 10, 1)).status == "approved"
    assert score(session, world, "tj3", "school", date(2026, 6, 30)).status == "approved"
    assert score(session, world, "xf1", "school", Q3_DAY).status == "approved"
    assert household_period_points(session, world.households["tj1"].id, ["2026Q3"]) == {"2026Q3": (8, 0)}


def test_a_closed_quarter_refuses_approving_its_pending_entries(world, session):
    pending = points.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf1"].id,
        rule_id=world.rules["xf_school"].id,
        occurred_on=Q3_DAY,
        today=TODAY,
        now=NOW,
    )
    assert pending.status == "pending"
    close(session, world, "2026Q3", who="xf_reviewer", village=world.b)
    with pytest.raises(PeriodClosed):
        decisions.approve_entry(session, world.actor("xf_reviewer"), pending.id, now=NOW)
    assert pending.status == "pending"
    assert household_period_points(session, world.households["xf1"].id, ["2026Q3"]) == {"2026Q3": (0, 0)}


def test_closing_a_year_blocks_every_date_of_it(world, session, q3):
    view = close(session, world, "2026")
    assert rows(view.standings) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]
    for day in (date(2026, 1, 1), date(2026, 5, 20), Q3_DAY, Q4_DAY, TODAY):
        with pytest.raises(PeriodClosed) as exc:
            score(session, world, "tj2", "school", day)
        assert exc.value.details == {"period": "2026"}
    assert score(session, world, "tj2", "school", date(2025, 12, 31)).period == "2025Q4"


def test_a_reviewer_finalises_only_after_the_notice_window(world, session, q3):
    close(session, world, "2026Q3")  # notice_days 7: ends on 2026-11-27
    for day in (TODAY, date(2026, 11, 27)):
        with pytest.raises(periods.NoticeRunning) as exc:
            finalize(session, world, "2026Q3", who="tj_reviewer", today=day)
        assert exc.value.code == "notice_running" and exc.value.status == 409
        assert exc.value.details == {"notice_ends_on": "2026-11-27"}
    view = finalize(session, world, "2026Q3", who="tj_reviewer", today=date(2026, 11, 28))
    assert (view.status, view.row.finalized_by_id) == ("final", world.users["tj_reviewer"].id)
    assert view.publication.version == 1
    with pytest.raises(PeriodClosed):
        finalize(session, world, "2026Q3", who="tj_reviewer", today=date(2026, 12, 1))
    with pytest.raises(PeriodClosed):
        finalize(session, world, "2026Q3", who="admin")


def test_an_admin_finalises_at_any_time(world, session, q3):
    close(session, world, "2026Q3")
    assert finalize(session, world, "2026Q3", who="admin", today=TODAY).status == "final"


def test_finalise_needs_a_closed_period_and_the_right_role(world, session, q3):
    with pytest.raises(periods.PeriodOpen):
        finalize(session, world, "2026Q3")
    close(session, world, "2026Q3")
    for who in ("tj_recorder", "tj_resident"):
        with pytest.raises(Forbidden):
            finalize(session, world, "2026Q3", who=who, today=date(2027, 1, 1))
    with pytest.raises(BadReference):
        finalize(session, world, "2026Q3", who="xf_reviewer", today=date(2027, 1, 1))


def test_an_open_objection_blocks_finalising(world, session, q3):
    close(session, world, "2026Q3")
    objection = object_to(session, world, period="2026Q3")
    after_window = date(2026, 11, 28)
    with pytest.raises(periods.ObjectionOpen) as exc:
        finalize(session, world, "2026Q3", who="admin")
    assert (exc.value.code, exc.value.details) == ("objection_open", {"count": 1})
    with pytest.raises(periods.ObjectionOpen):
        finalize(session, world, "2026Q3", who="tj_reviewer", today=after_window)
    decide(session, world, objection, upheld=False)
    assert finalize(session, world, "2026Q3", who="tj_reviewer", today=after_window).status == "final"


def test_a_final_period_changes_no_more(world, session, q3):
    close(session, world, "2026Q3")
    finalize(session, world, "2026Q3")
    with pytest.raises(PeriodClosed):
        score(session, world, "tj2", "school", Q3_DAY)
    for during_notice in (False, True):
        with pytest.raises(PeriodClosed):
            decisions.reverse_entry(
                session,
                world.actor("tj_reviewer"),
                q3["tj1_labour"].id,
                reason="x",
                now=NOW,
                during_notice=during_notice,
            )
    with pytest.raises(objections.ObjectionWindowClosed) as exc:
        object_to(session, world, entry_id=q3["tj1_labour"].id)
    assert exc.value.code == "objection_window_closed"
    with pytest.raises(objections.ObjectionWindowClosed):
        object_to(session, world, period="2026Q3")
    with pytest.raises(objections.ObjectionWindowClosed):
        object_to(session, world, who="tj_reviewer", entry_id=q3["tj2_school"].id)
    assert count(session, Objection) == 0
    assert household_period_points(session, world.households["tj1"].id, ["2026Q3"]) == {"2026Q3": (8, 0)}
    # the open quarter after it still takes entries
    assert score(session, world, "tj2", "school", Q4_DAY).status == "approved"


def test_who_may_object_to_what(world, session, q3):
    close(session, world, "2026Q3")
    own = object_to(session, world, entry_id=q3["tj1_labour"].id)
    assert (own.status, own.period, own.village_id) == ("open", "2026Q3", world.a.id)
    assert (own.entry_id, own.household_id, own.filed_by_id) == (
        q3["tj1_labour"].id,
        world.households["tj1"].id,
        world.users["tj_resident"].id,
    )
    with pytest.raises(BadReference) as exc:
        object_to(session, world, entry_id=q3["tj2_school"].id)  # a neighbour's entry
    assert exc.value.details == {"field": "entry_id"}
    standings = object_to(session, world, period="2026q3", village_id=world.a.id)
    assert (standings.period, standings.village_id, standings.entry_id) == ("2026Q3", world.a.id, None)
    assert object_to(session, world, period="2026Q3").village_id == world.a.id  # its own village
    with pytest.raises(BadReference):
        object_to(session, world, period="2026Q3", village_id=world.b.id)
    by_reviewer = object_to(session, world, who="tj_reviewer", entry_id=q3["tj2_school"].id)
    assert by_reviewer.household_id == world.households["tj2"].id
    with pytest.raises(BadReference):
        object_to(session, world, who="xf_reviewer", entry_id=q3["tj2_school"].id)
    for who in ("tj_recorder", "tj_clerk", "tj_village_admin"):
        with pytest.raises(Forbidden):
            object_to(session, world, who=who, period="2026Q3")
    for reason in ("", "   ", None):
        with pytest.raises(ValidationFailed) as exc:
            object_to(session, world, reason=reason, period="2026Q3")
        assert "reason" in exc.value.details
    with pytest.raises(ValidationFailed):
        object_to(session, world, reason="x" * 1001, period="2026Q3")
    with pytest.raises(ValidationFailed) as exc:
        object_to(session, world)  # neither an entry nor a period
    assert "period" in exc.value.details
    # objections are taken while a period is open too
    open_q4 = object_to(session, world, period="2026Q4")
    assert open_q4.status == "open"
    assert count(session, Objection) == 5


def opening_entry(session, world, key):
    """The household's base points, written when it was enrolled."""
    return session.scalar(select(Entry).where(Entry.household_id == world.households[key].id, Entry.kind == "opening"))


def test_only_rule_entries_can_be_objected_to(world, session, q3):
    """Opening balances, redemptions, refunds, expiry, awards and reversals are not a
    judgement of the committee: filing against them is a field error on ``entry_id``."""
    from app.redemption import services as redemption_services
    from app.redemption import shops as shop_services

    reviewer = world.actor("tj_reviewer")
    tj1 = world.households["tj1"].id
    refused = {"opening": opening_entry(session, world, "tj1")}
    refused["reversal"] = decisions.reverse_entry(session, reviewer, q3["tj1_school"].id, reason="误记", now=NOW)
    rule_q4 = score(session, world, "tj1", "school", quantity=10)  # +30 in 2026Q4
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "团结村积分超市")
    soap = shop_services.create_item(session, admin, shop.id, {"name": "肥皂", "price_points": 20, "stock": 5}, now=NOW)
    sale = redemption_services.redeem(
        session,
        world.actor("tj_clerk"),
        shop_id=shop.id,
        lines=[{"item_id": soap.id, "quantity": 1}],
        now=NOW,
        today=TODAY,
        secret="s",
        household_id=tj1,
    )
    redemption_services.cancel_redemption(session, reviewer, sale.id, reason="退货", now=NOW, tz="Asia/Shanghai")
    for kind in ("redemption", "refund"):
        refused[kind] = session.scalar(select(Entry).where(Entry.household_id == tj1, Entry.kind == kind))
    close(session, world, "2026Q3")
    finalize(session, world, "2026Q3")
    prizes.grant_awards(
        session,
        reviewer,
        period="2026Q3",
        village_id=world.a.id,
        title="季度道德之星",
        top_n=1,
        bonus_points=10,
        now=LATER,
        today=TODAY,
    )
    refused["award"] = session.scalar(select(Entry).where(Entry.kind == "award"))
    world.a.annual_reset = True
    ledger_year.roll_year(session, 2026, now=LATER, today=date(2027, 1, 1))
    refused["expiry"] = session.scalar(select(Entry).where(Entry.household_id == tj1, Entry.kind == "expiry"))
    assert {kind: e.kind for kind, e in refused.items() if e is not None} == {k: k for k in refused}
    session.commit()

    for kind, entry in refused.items():
        for who in ("tj_resident", "tj_reviewer"):
            if who == "tj_resident" and entry.household_id != tj1:
                continue  # the award went to TJ-002: only a reviewer may object to it
            with pytest.raises(ValidationFailed) as exc:
                object_to(session, world, who=who, entry_id=entry.id)
            assert exc.value.code == "validation_error" and exc.value.status == 422, kind
            assert exc.value.details == {
                "entry_id": ["只能对按规则记的分提出异议；开户底分、兑换、退还、清零、奖励和冲正记录不受理异议"]
            }, kind
    assert count(session, Objection) == 0
    # a neighbour's entry stays a bad reference, whatever its kind: nothing is learnt about it
    with pytest.raises(BadReference):
        object_to(session, world, entry_id=opening_entry(session, world, "tj2").id)
    # a rule entry is still taken
    assert object_to(session, world, entry_id=rule_q4.id).status == "open"


def test_an_upheld_objection_reverses_the_entry_and_republishes(world, session, q3):
    close(session, world, "2026Q3")
    session.commit()
    objection = object_to(session, world, entry_id=q3["tj1_labour"].id)
    decided = decide(session, world, objection, upheld=True, note="当天未出工")
    assert (decided.status, decided.decided_by_id, decided.decision_note) == (
        "upheld",
        world.users["tj_reviewer"].id,
        "当天未出工",
    )
    reversal = session.get(Entry, decided.reversal_entry_id)
    assert (reversal.kind, reversal.points, reversal.reverses_id) == ("reversal", -5, q3["tj1_labour"].id)
    assert (reversal.occurred_on, reversal.period, reversal.status) == (Q3_DAY, "2026Q3", "approved")
    session.commit()
    tj1 = world.households["tj1"]
    assert tj1.balance == 100 + 8 - 5
    assert household_period_points(session, tj1.id, ["2026Q3", "2026"]) == {"2026Q3": (3, 0), "2026": (3, 0)}
    view = periods.view_period(session, world.a, "2026Q3")
    assert (view.status, view.publication.version) == ("notice", 2)
    assert rows(view.standings) == [(1, "TJ-002", 6, True), (2, "TJ-001", 3, True), (3, "TJ-003", -20, False)]
    first = session.scalar(select(Publication).where(Publication.version == 1))
    assert rows(first.standings)[0] == (1, "TJ-001", 8, True)  # the first publication stays on record
    assert verify(session) == []


def test_upholding_republishes_the_year_in_notice_too(world, session, q3):
    close(session, world, "2026Q3")
    close(session, world, "2026")
    objection = object_to(session, world, who="tj_reviewer", entry_id=q3["tj3_gamble"].id)
    decide(session, world, objection, upheld=True, who="tj_reviewer2")
    for period in ("2026Q3", "2026"):
        view = periods.view_period(session, world.a, period)
        assert view.publication.version == 2
        assert rows(view.standings) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", 0, True)]
    session.commit()
    assert verify(session) == []


def test_upholding_against_the_standings_republishes_without_reversing(world, session, q3):
    close(session, world, "2026Q3")
    objection = object_to(session, world, period="2026Q3")
    decided = decide(session, world, objection, upheld=True)
    assert (decided.status, decided.reversal_entry_id) == ("upheld", None)
    assert count(session, Entry, Entry.kind == "reversal") == 0
    view = periods.view_period(session, world.a, "2026Q3")
    assert view.publication.version == 2
    assert rows(view.standings) == [(1, "TJ-001", 8, True), (2, "TJ-002", 6, True), (3, "TJ-003", -20, False)]


def stored_objection(session, world, entry, who="tj_resident", reason="记错了"):
    """An objection already on record against ``entry``: one filed before filing refused
    entries other than rule entries."""
    objection = Objection(
        scheme_id=entry.scheme_id,
        village_id=entry.village_id,
        period=entry.period,
        entry_id=entry.id,
        household_id=entry.household_id,
        reason=reason,
        status="open",
        filed_by_id=world.users[who].id,
        filed_at=NOW,
    )
    session.add(objection)
    session.flush()
    return objection


def test_upholding_never_reverses_anything_but_a_rule_entry(world, session, q3):
    """Upholding an objection already stored against an opening balance, a reversal or an
    award records the decision and reverses nothing (rather than failing or taking the
    household's base points away)."""
    reversal = decisions.reverse_entry(session, world.actor("tj_reviewer"), q3["tj1_labour"].id, reason="误记", now=NOW)
    close(session, world, "2026Q3")
    against_reversal = stored_objection(session, world, reversal, reason="我那天确实出工了")
    against_opening = stored_objection(session, world, opening_entry(session, world, "tj1"), reason="底分不对")
    entries_before = count(session, Entry)
    decided = decide(session, world, against_reversal, upheld=True, note="情况属实，另行补录")
    assert (decided.status, decided.reversal_entry_id) == ("upheld", None)
    assert periods.view_period(session, world.a, "2026Q3").publication.version == 2
    decided = decide(session, world, against_opening, upheld=True, note="底分另行核对")
    assert (decided.status, decided.reversal_entry_id) == ("upheld", None)
    assert count(session, Entry) == entries_before
    assert world.households["tj1"].balance == 103  # the base of 100 stays
    assert finalize(session, world, "2026Q3").status == "final"  # nothing left open

    grant(session, world, top_n=1, bonus_points=10)  # TJ-002 (6) is first
    award = session.scalar(select(Entry).where(Entry.kind == "award"))
    against_award = stored_objection(session, world, award, who="tj_reviewer")
    decided = decide(session, world, against_award, upheld=True, who="tj_reviewer2", note="另行处理")
    assert (decided.status, decided.reversal_entry_id) == ("upheld", None)
    assert count(session, Entry, Entry.kind == "reversal") == 1  # only the first, by hand
    assert world.households["tj2"].balance == 100 + 6 + 10
    session.commit()
    assert verify(session) == []


def test_a_dismissed_objection_changes_nothing(world, session, q3):
    close(session, world, "2026Q3")
    objection = object_to(session, world, entry_id=q3["tj1_labour"].id)
    entries_before = count(session, Entry)
    decided = decide(session, world, objection, upheld=False, note="记录属实")
    assert (decided.status, decided.reversal_entry_id, decided.decision_note) == ("dismissed", None, "记录属实")
    assert count(session, Entry) == entries_before
    assert world.households["tj1"].balance == 108
    view = periods.view_period(session, world.a, "2026Q3")
    assert view.publication.version == 1
    assert rows(view.standings)[0] == (1, "TJ-001", 8, True)


def test_deciding_rules(world, session, q3):
    close(session, world, "2026Q3")
    objection = object_to(session, world, entry_id=q3["tj1_labour"].id)
    for note in ("", "  ", None):
        with pytest.raises(ValidationFailed) as exc:
            decide(session, world, objection, upheld=True, note=note)
        assert "note" in exc.value.details
    for who in ("tj_resident", "tj_recorder"):
        with pytest.raises(Forbidden):
            decide(session, world, objection, upheld=True, who=who)
    with pytest.raises(NotFound):
        decide(session, world, objection, upheld=True, who="xf_reviewer")
    assert objection.status == "open"
    decide(session, world, objection, upheld=False)
    for upheld in (False, True):
        with pytest.raises(NotPending):
            decide(session, world, objection, upheld=upheld)
    assert objection.status == "dismissed"
    assert count(session, Entry, Entry.kind == "reversal") == 0


def test_two_reviewers_deciding_at_once_make_one_decision(world, session, q3, app):
    """The second decision waits for the first and is refused (not_pending): never a
    dismissed objection whose entry was reversed anyway. (Telling on PostgreSQL; SQLite
    serialises the two transactions whole.)"""
    close(session, world, "2026Q3")
    objection = object_to(session, world, entry_id=q3["tj1_labour"].id)
    oid = objection.id
    user_ids = {u: world.users[u].id for u in ("tj_reviewer", "tj_reviewer2")}
    tj1 = world.households["tj1"].id
    session.commit()
    session.close()  # hold no transaction (on SQLite, no lock) while the threads work
    first_done, release = threading.Event(), threading.Event()

    def decide_apart(username, upheld, hold):
        with app.app_context():
            s = db.session
            try:
                actor = Actor(s.get(User, user_ids[username]))
                objections.decide_objection(s, actor, oid, upheld=upheld, note=username, now=LATER)
                if hold:
                    first_done.set()
                    assert release.wait(10)  # keep the transaction open meanwhile
                s.commit()
                return "decided"
            except DomainError as exc:
                s.rollback()
                return exc.code
            finally:
                first_done.set()
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(decide_apart, "tj_reviewer", False, True)
        assert first_done.wait(10)
        second = pool.submit(decide_apart, "tj_reviewer2", True, False)
        time.sleep(0.5)
        release.set()
        assert (first.result(timeout=20), second.result(timeout=20)) == ("decided", "not_pending")
    session.expire_all()
    decided = session.get(Objection, oid)
    assert (decided.status, decided.decision_note, decided.reversal_entry_id) == ("dismissed", "tj_reviewer", None)
    assert count(session, Entry, Entry.kind == "reversal") == 0
    assert session.get(Household, tj1).balance == 108


def build_contest(session, world):
    """团结村 2026Q3: tj1 30 − 20 = 10 with a veto (rank 1), tj2 9, tj3 6, tj4 6, tj5 5."""
    add_household(session, world, "tj4", "TJ-004")
    add_household(session, world, "tj5", "TJ-005")
    score(session, world, "tj1", "school", Q3_DAY, quantity=10)
    score(session, world, "tj1", "gamble", Q3_DAY)
    score(session, world, "tj2", "school", Q3_DAY, quantity=3)
    score(session, world, "tj3", "school", Q3_DAY, quantity=2)
    score(session, world, "tj4", "school", Q3_DAY, quantity=2)
    score(session, world, "tj5", "labour", Q3_DAY)
    session.commit()
    return world


@pytest.fixture
def contest(world, session):
    return build_contest(session, world)


def grant(session, world, period="2026Q3", title="季度道德之星", top_n=2, bonus_points=0, who="tj_reviewer"):
    return prizes.grant_awards(
        session,
        world.actor(who),
        period=period,
        village_id=world.a.id,
        title=title,
        top_n=top_n,
        bonus_points=bonus_points,
        now=LATER,
        today=TODAY,
    )


def test_awards_wait_for_the_final_standings(contest, session):
    world = contest
    with pytest.raises(periods.PeriodNotFinal) as exc:
        grant(session, world)
    assert (exc.value.code, exc.value.details) == ("period_not_final", {"period": "2026Q3"})
    close(session, world, "2026Q3")
    with pytest.raises(periods.PeriodNotFinal):
        grant(session, world)
    assert count(session, Award) == 0


def test_awards_take_the_top_eligible_with_ties_at_the_cut(contest, session):
    world = contest
    close(session, world, "2026Q3")
    finalize(session, world, "2026Q3")
    hid = {k: h.id for k, h in world.households.items()}
    awards = grant(session, world, top_n=2, bonus_points=20)
    assert [(a.household_id, a.rank, a.points, a.title, a.bonus_points) for a in awards] == [
        (hid["tj2"], 2, 9, "季度道德之星", 20),
        (hid["tj3"], 3, 6, "季度道德之星", 20),
        (hid["tj4"], 3, 6, "季度道德之星", 20),
    ]
    bonus = [session.get(Entry, a.bonus_entry_id) for a in awards]
    assert [(e.kind, e.points, e.ranked, e.occurred_on, e.household_id) for e in bonus] == [
        ("award", 20, False, TODAY, hid["tj2"]),
        ("award", 20, False, TODAY, hid["tj3"]),
        ("award", 20, False, TODAY, hid["tj4"]),
    ]
    session.commit()
    assert [world.households[k].balance for k in ("tj1", "tj2", "tj3", "tj4", "tj5")] == [110, 129, 126, 126, 105]
    # a bonus never ranks: neither the quarter nor the year it was given in
    assert rows(household_standings(session, "2026Q4", village_id=world.a.id))[0][2] == 0
    assert rows(household_standings(session, "2026Q3", village_id=world.a.id)) == [
        (1, "TJ-001", 10, False),
        (2, "TJ-002", 9, True),
        (3, "TJ-003", 6, True),
        (3, "TJ-004", 6, True),
        (5, "TJ-005", 5, True),
    ]
    assert household_period_points(session, hid["tj2"], ["2026Q3", "2026Q4", "2026"]) == {
        "2026Q3": (9, 0),
        "2026Q4": (0, 0),
        "2026": (9, 0),
    }
    assert verify(session) == []

    champion = grant(session, world, title="季度道德冠军", top_n=1)
    assert [(a.household_id, a.rank, a.bonus_entry_id) for a in champion] == [(hid["tj2"], 2, None)]
    with pytest.raises(ValidationFailed) as exc:
        grant(session, world, title="季度道德之星", top_n=5)
    assert "title" in exc.value.details
    assert count(session, Award) == 4
    listed = session.scalars(prizes.list_awards(world.a.household_scheme.id, "2026Q3")).all()
    assert sorted((a.title, a.rank, a.household_id) for a in listed) == sorted(
        [
            ("季度道德之星", 2, hid["tj2"]),
            ("季度道德之星", 3, hid["tj3"]),
            ("季度道德之星", 3, hid["tj4"]),
            ("季度道德冠军", 2, hid["tj2"]),
        ]
    )
    assert session.scalars(prizes.list_awards(world.a.household_scheme.id, "2026Q4")).all() == []
    assert session.scalars(prizes.list_awards(world.b.household_scheme.id, "2026Q3")).all() == []


def test_award_arguments_and_roles(contest, session):
    world = contest
    close(session, world, "2026Q3")
    finalize(session, world, "2026Q3")
    for kwargs, field in (
        ({"top_n": 0}, "top_n"),
        ({"top_n": True}, "top_n"),
        ({"bonus_points": -1}, "bonus_points"),
        ({"title": "  "}, "title"),
        ({"title": "星" * 51}, "title"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            grant(session, world, **kwargs)
        assert field in exc.value.details
    for who in ("tj_recorder", "tj_resident", "tj_village_admin"):
        with pytest.raises(Forbidden):
            grant(session, world, who=who)
    with pytest.raises(BadReference):
        grant(session, world, who="xf_reviewer")
    assert count(session, Award) == 0


def test_a_year_award_uses_the_annual_totals(contest, session):
    world = contest
    score(session, world, "tj5", "school", Q4_DAY, quantity=5)  # 5 + 15 = 20 for the year
    close(session, world, "2026Q3")
    finalize(session, world, "2026Q3")
    close(session, world, "2026")
    finalize(session, world, "2026")
    view = periods.view_period(session, world.a, "2026")
    assert rows(view.standings) == [
        (1, "TJ-005", 20, True),
        (2, "TJ-001", 10, False),
        (3, "TJ-002", 9, True),
        (4, "TJ-003", 6, True),
        (4, "TJ-004", 6, True),
    ]
    quarter = grant(session, world, top_n=1)
    year = grant(session, world, period="2026", title="年度最美家庭", top_n=1, bonus_points=50)
    assert [(a.household_id, a.rank, a.points) for a in quarter] == [(world.households["tj2"].id, 2, 9)]
    assert [(a.household_id, a.rank, a.points, a.period) for a in year] == [(world.households["tj5"].id, 1, 20, "2026")]
    assert world.households["tj5"].balance == 100 + 20 + 50
    assert household_period_points(session, world.households["tj5"].id, ["2026"]) == {"2026": (20, 0)}
    session.commit()
    assert verify(session) == []
