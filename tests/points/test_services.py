"""The ledger's domain operations, called directly: no HTTP client, explicit time."""

import io
from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from app.errors import (
    AlreadyReversed,
    BadReference,
    CapReached,
    EvidenceRequired,
    Forbidden,
    HouseholdMovedOut,
    NotApproved,
    NotFound,
    NotPending,
    RuleInactive,
    SelfApproval,
    ValidationFailed,
)
from app.households import services as households
from app.points import decisions, services
from app.points import evidence as evidence_store
from app.points import rules as rulebook
from app.points.models import Entry, PeriodTotal
from app.points.proof import verify
from app.rankings.services import household_period_points
from tests import factories
from tests.factories import NOW

TODAY = date(2026, 11, 20)  # a Friday in 2026Q4


def record(session, world, who, household, rule, day=TODAY, quantity=1, **extra):
    return services.record_entry(
        session,
        world.actor(who),
        household_id=household.id,
        rule_id=rule.id,
        quantity=quantity,
        occurred_on=day,
        today=TODAY,
        now=NOW,
        **extra,
    )


def totals(session, household, *periods):
    return household_period_points(session, household.id, periods or ("2026Q4", "2026"))


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    return out.getvalue()


def entry_count(session) -> int:
    return session.scalar(select(func.count(Entry.id)))


def test_record_entry_moves_balance_and_period_totals(world, session):
    h, rule = world.households["tj1"], world.rules["tj_school"]
    entry = record(session, world, "tj_recorder", h, rule, quantity=3, note=" 夜校 ", member_name="王一")
    assert (entry.kind, entry.points, entry.quantity, entry.status) == ("rule", 9, 3, "approved")
    assert (entry.period, entry.title, entry.category) == ("2026Q4", "参加夜校", "勤劳致富")
    assert (entry.note, entry.member_name) == ("夜校", "王一")
    assert entry.recorded_by_id == world.users["tj_recorder"].id
    assert entry.seq == 2 and entry.prev_hash == h.chain_hash or entry.hash == h.chain_hash
    assert h.balance == 109
    assert totals(session, h) == {"2026Q4": (9, 0), "2026": (9, 0)}
    session.commit()
    assert verify(session) == []


def test_deduction_is_negative(world, session):
    h = world.households["tj2"]
    entry = record(session, world, "tj_recorder", h, world.rules["tj_gamble"])
    assert entry.points == -20 and entry.veto
    assert h.balance == 80
    assert totals(session, h) == {"2026Q4": (-20, 1), "2026": (-20, 1)}


def test_entry_in_approval_village_is_pending_and_counts_nowhere(world, session):
    h = world.households["xf1"]
    entry = record(session, world, "xf_recorder", h, world.rules["xf_school"])
    assert entry.status == "pending"
    assert entry.decision_hash is None
    assert h.balance == 100
    assert totals(session, h) == {"2026Q4": (0, 0), "2026": (0, 0)}
    session.commit()
    assert verify(session) == []


def test_rule_points_change_does_not_touch_recorded_entries(world, session):
    h, rule = world.households["tj1"], world.rules["tj_school"]
    entry = record(session, world, "tj_recorder", h, rule)
    rulebook.update_rule(session, world.actor("tj_village_admin"), rule.id, {"points": 50})
    session.commit()
    session.expire_all()
    assert session.get(Entry, entry.id).points == 3
    assert world.households["tj1"].balance == 103
    second = record(session, world, "tj_recorder", world.households["tj1"], rule)
    assert second.points == 50
    assert verify(session) == []


@pytest.mark.parametrize(
    "quantity, day, field",
    [
        (0, TODAY, "quantity"),
        (-1, TODAY, "quantity"),
        (101, TODAY, "quantity"),
        (10**9, TODAY, "quantity"),
        ("1", TODAY, "quantity"),
        (True, TODAY, "quantity"),
        (1.0, TODAY, "quantity"),
        (1, TODAY + timedelta(days=1), "occurred_on"),
        (1, date(1999, 12, 31), "occurred_on"),
        (1, "2026-11-20", "occurred_on"),
    ],
)
def test_record_entry_validates(world, session, quantity, day, field):
    with pytest.raises(ValidationFailed) as exc:
        record(session, world, "tj_recorder", world.households["tj1"], world.rules["tj_school"], day, quantity)
    assert list(exc.value.details) == [field]
    assert entry_count(session) == 6


@pytest.mark.parametrize("who", ["tj_resident", "tj_clerk", "tj_reviewer", "tj_village_admin"])
def test_only_recorders_record(world, session, who):
    with pytest.raises(Forbidden):
        record(session, world, who, world.households["tj1"], world.rules["tj_school"])


def test_admin_records_anywhere(world, session):
    assert record(session, world, "admin", world.households["xf1"], world.rules["xf_school"]).status == "pending"


def test_references_out_of_scope_are_bad_references(world, session):
    with pytest.raises(BadReference) as exc:
        record(session, world, "tj_recorder", world.households["xf1"], world.rules["xf_school"])
    assert exc.value.details == {"field": "household_id"}
    with pytest.raises(BadReference) as exc:
        record(session, world, "tj_recorder", world.households["tj1"], world.rules["xf_school"])
    assert exc.value.details == {"field": "rule_id"}
    # Even the admin cannot mix a household of one village with a rule of another.
    with pytest.raises(BadReference) as exc:
        record(session, world, "admin", world.households["tj1"], world.rules["xf_school"])
    assert exc.value.details == {"field": "rule_id"}
    for hid, rid in ((999999, world.rules["tj_school"].id), (world.households["tj1"].id, 999999), ("1", 1)):
        with pytest.raises(BadReference):
            services.record_entry(
                session,
                world.actor("tj_recorder"),
                household_id=hid,
                rule_id=rid,
                occurred_on=TODAY,
                today=TODAY,
                now=NOW,
            )
    assert entry_count(session) == 6


def test_inactive_rule(world, session):
    rule = world.rules["tj_school"]
    rulebook.update_rule(session, world.actor("tj_village_admin"), rule.id, {"active": False})
    with pytest.raises(RuleInactive):
        record(session, world, "tj_recorder", world.households["tj1"], rule)
    rulebook.update_rule(session, world.actor("tj_village_admin"), rule.id, {"active": True})
    assert record(session, world, "tj_recorder", world.households["tj1"], rule).points == 3


def test_evidence_required(world, session, tmp_path):
    rule = world.rules["tj_photo"]
    with pytest.raises(EvidenceRequired):
        record(session, world, "tj_recorder", world.households["tj1"], rule)
    ev = evidence_store.store_evidence(session, world.actor("tj_recorder"), world.a.id, png_bytes(), tmp_path, 10**6)
    kept = Image.open(tmp_path / ev.id)  # re-encoded: the same pixels, not the same bytes
    assert kept.format == "PNG" and kept.tobytes() == Image.open(io.BytesIO(png_bytes())).tobytes()
    entry = record(session, world, "tj_recorder", world.households["tj1"], rule, evidence_id=ev.id)
    assert entry.evidence == ev.id and entry.points == 15
    # Evidence of another village is a bad reference.
    other = evidence_store.store_evidence(session, world.actor("xf_recorder"), world.b.id, png_bytes(), tmp_path, 10**6)
    with pytest.raises(BadReference):
        record(session, world, "tj_recorder", world.households["tj2"], rule, evidence_id=other.id)


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"%PDF-1.4", b"\x89PNG\r\n\x1a\n broken"])
def test_store_evidence_refuses_what_is_not_a_photo(world, session, tmp_path, data):
    with pytest.raises(ValidationFailed) as exc:
        evidence_store.store_evidence(session, world.actor("tj_recorder"), world.a.id, data, tmp_path, 10**6)
    assert "evidence" in exc.value.details


def test_store_evidence_size_limit(world, session, tmp_path):
    with pytest.raises(ValidationFailed):
        evidence_store.store_evidence(session, world.actor("tj_recorder"), world.a.id, png_bytes(), tmp_path, 10)


def test_moved_out_household_takes_no_entries(world, session):
    h = world.households["tj3"]
    households.move_out(session, world.actor("tj_village_admin"), h.id, TODAY)
    with pytest.raises(HouseholdMovedOut):
        record(session, world, "tj_recorder", h, world.rules["tj_school"])


@pytest.mark.parametrize(
    "cap_period, inside, refused, outside",
    [
        ("day", [TODAY, TODAY], TODAY, date(2026, 11, 19)),
        ("week", [date(2026, 11, 16), TODAY], date(2026, 11, 18), date(2026, 11, 15)),
        ("month", [date(2026, 11, 1), TODAY], date(2026, 11, 10), date(2026, 10, 31)),
        ("quarter", [date(2026, 10, 1), TODAY], date(2026, 11, 1), date(2026, 9, 30)),
        ("year", [date(2026, 1, 1), TODAY], date(2026, 6, 30), date(2025, 12, 31)),
    ],
)
def test_cap_windows(world, session, cap_period, inside, refused, outside):
    rule = factories.rule(session, world.admin, world.a, f"CAP-{cap_period}", 2, cap_period=cap_period, cap_count=2)
    h = world.households["tj1"]
    for day in inside:
        record(session, world, "tj_recorder", h, rule, day)
    with pytest.raises(CapReached) as exc:
        record(session, world, "tj_recorder", h, rule, refused)
    assert exc.value.details == {"cap_count": 2, "used": 2}
    assert record(session, world, "tj_recorder", h, rule, outside).points == 2
    # The cap is per household.
    assert record(session, world, "tj_recorder", world.households["tj2"], rule, refused).points == 2
    assert h.balance == 106


def test_cap_counts_units_not_entries(world, session):
    rule = factories.rule(session, world.admin, world.a, "CAP-Q", 1, cap_period="month", cap_count=5)
    h = world.households["tj1"]
    record(session, world, "tj_recorder", h, rule, quantity=3)
    with pytest.raises(CapReached) as exc:
        record(session, world, "tj_recorder", h, rule, quantity=3)
    assert exc.value.details == {"cap_count": 5, "used": 3}
    assert record(session, world, "tj_recorder", h, rule, quantity=2).quantity == 2


def test_pending_units_count_towards_caps_and_rejected_ones_do_not(world, session):
    rule = world.rules["xf_labour"]  # 1 per day
    h = world.households["xf1"]
    pending = record(session, world, "xf_recorder", h, rule)
    with pytest.raises(CapReached) as exc:
        record(session, world, "xf_recorder", h, rule)
    assert exc.value.details == {"cap_count": 1, "used": 1}
    decisions.reject_entry(session, world.actor("xf_reviewer"), pending.id, reason="没来", now=NOW)
    assert record(session, world, "xf_recorder", h, rule).status == "pending"


def test_reversed_units_do_not_count_towards_caps(world, session):
    rule = world.rules["tj_labour"]
    h = world.households["tj1"]
    first = record(session, world, "tj_recorder", h, rule)
    with pytest.raises(CapReached):
        record(session, world, "tj_recorder", h, rule)
    decisions.reverse_entry(session, world.actor("tj_reviewer"), first.id, reason="记错户", now=NOW)
    again = record(session, world, "tj_recorder", h, rule)
    assert again.status == "approved"
    assert h.balance == 105
    assert verify(session) == []


def test_approve_moves_the_caches(world, session):
    h = world.households["xf1"]
    entry = record(session, world, "xf_recorder", h, world.rules["xf_school"], quantity=2)
    later = NOW + timedelta(hours=1)
    approved = decisions.approve_entry(session, world.actor("xf_reviewer"), entry.id, now=later)
    assert approved.status == "approved"
    assert approved.approved_by_id == world.users["xf_reviewer"].id
    assert approved.decided_at == later
    assert h.balance == 106
    assert totals(session, h) == {"2026Q4": (6, 0), "2026": (6, 0)}
    with pytest.raises(NotPending):
        decisions.approve_entry(session, world.actor("xf_reviewer2"), entry.id, now=later)
    session.commit()
    assert verify(session) == []


def test_nobody_approves_their_own_entry(world, session):
    both = factories.user(session, "xf_both", ["recorder", "reviewer"], world.b)
    world.users["xf_both"] = both
    entry = record(session, world, "xf_both", world.households["xf1"], world.rules["xf_school"])
    with pytest.raises(SelfApproval):
        decisions.approve_entry(session, world.actor("xf_both"), entry.id, now=NOW)
    with pytest.raises(SelfApproval):
        decisions.reject_entry(session, world.actor("xf_both"), entry.id, reason="x", now=NOW)
    admin_entry = record(session, world, "admin", world.households["xf2"], world.rules["xf_school"])
    with pytest.raises(SelfApproval):
        decisions.approve_entry(session, world.actor("admin"), admin_entry.id, now=NOW)
    assert decisions.approve_entry(session, world.actor("xf_reviewer"), entry.id, now=NOW).status == "approved"


def test_approval_scope_and_roles(world, session):
    entry = record(session, world, "xf_recorder", world.households["xf1"], world.rules["xf_school"])
    with pytest.raises(Forbidden):
        decisions.approve_entry(session, world.actor("xf_recorder"), entry.id, now=NOW)
    with pytest.raises(Forbidden):
        decisions.approve_entry(session, world.actor("xf_village_admin"), entry.id, now=NOW)
    with pytest.raises(NotFound):
        decisions.approve_entry(session, world.actor("tj_reviewer"), entry.id, now=NOW)
    with pytest.raises(NotFound):
        decisions.approve_entry(session, world.actor("xf_reviewer"), 999999, now=NOW)


def test_reject_needs_a_reason_and_decides_once(world, session):
    h = world.households["xf2"]
    entry = record(session, world, "xf_recorder", h, world.rules["xf_school"])
    with pytest.raises(ValidationFailed) as exc:
        decisions.reject_entry(session, world.actor("xf_reviewer"), entry.id, reason="  ", now=NOW)
    assert "reason" in exc.value.details
    rejected = decisions.reject_entry(session, world.actor("xf_reviewer"), entry.id, reason="重复记录", now=NOW)
    assert (rejected.status, rejected.reject_reason) == ("rejected", "重复记录")
    assert h.balance == 100
    with pytest.raises(NotPending):
        decisions.approve_entry(session, world.actor("xf_reviewer2"), entry.id, now=NOW)
    with pytest.raises(NotApproved):
        decisions.reverse_entry(session, world.actor("xf_reviewer2"), entry.id, reason="x", now=NOW)
    session.commit()
    assert verify(session) == []


def test_reject_entries_with_one_reason_in_savepoints(world, session):
    school = world.rules["xf_school"]
    first = record(session, world, "xf_recorder", world.households["xf1"], school)
    second = record(session, world, "xf_recorder", world.households["xf2"], school)
    reviewer = world.actor("xf_reviewer")
    with pytest.raises(ValidationFailed):
        decisions.reject_entries(session, reviewer, [first.id, second.id], reason=" ", now=NOW)
    assert (first.status, second.status) == ("pending", "pending")
    decisions.approve_entry(session, reviewer, second.id, now=NOW)
    rejected, refused = decisions.reject_entries(
        session, reviewer, [first.id, second.id, first.id], reason="重复", now=NOW
    )
    assert [e.id for e in rejected] == [first.id]
    assert [(i, type(exc)) for i, exc in refused] == [(second.id, NotPending)]
    session.commit()
    assert (first.status, first.reject_reason, second.status) == ("rejected", "重复", "approved")
    assert verify(session) == []


def test_reverse_appends_the_opposite(world, session):
    h = world.households["tj1"]
    entry = record(session, world, "tj_recorder", h, world.rules["tj_school"], quantity=2)
    reversal = decisions.reverse_entry(session, world.actor("tj_reviewer"), entry.id, reason=" 记错了 ", now=NOW)
    assert reversal.kind == "reversal"
    assert reversal.points == -6
    assert reversal.reverses_id == entry.id
    assert reversal.status == "approved"
    assert reversal.note == "记错了"
    assert reversal.occurred_on == entry.occurred_on
    assert h.balance == 100
    assert totals(session, h) == {"2026Q4": (0, 0), "2026": (0, 0)}
    session.commit()
    session.expire_all()
    # The original is untouched.
    original = session.get(Entry, entry.id)
    assert (original.points, original.status) == (6, "approved")
    assert original.reversed_by.id == reversal.id
    with pytest.raises(AlreadyReversed):
        decisions.reverse_entry(session, world.actor("tj_reviewer"), entry.id, reason="again", now=NOW)
    with pytest.raises(AlreadyReversed):
        decisions.reverse_entry(session, world.actor("tj_reviewer"), reversal.id, reason="undo", now=NOW)
    assert verify(session) == []


def test_reverse_refuses_pending_entries_and_needs_a_reason(world, session):
    entry = record(session, world, "xf_recorder", world.households["xf1"], world.rules["xf_school"])
    with pytest.raises(NotApproved):
        decisions.reverse_entry(session, world.actor("xf_reviewer"), entry.id, reason="x", now=NOW)
    with pytest.raises(ValidationFailed):
        decisions.reverse_entry(session, world.actor("xf_reviewer"), entry.id, reason="", now=NOW)
    with pytest.raises(Forbidden):
        decisions.reverse_entry(session, world.actor("xf_recorder"), entry.id, reason="x", now=NOW)


def test_reversing_a_veto_restores_eligibility(world, session):
    h = world.households["tj2"]
    veto = record(session, world, "tj_recorder", h, world.rules["tj_gamble"])
    assert totals(session, h)["2026Q4"] == (-20, 1)
    decisions.reverse_entry(session, world.actor("tj_reviewer"), veto.id, reason="查无实据", now=NOW)
    assert totals(session, h) == {"2026Q4": (0, 0), "2026": (0, 0)}
    assert h.balance == 100
    session.commit()
    assert verify(session) == []


def test_reversing_the_opening_entry(world, session):
    h = world.households["tj3"]
    opening = session.scalar(select(Entry).where(Entry.household_id == h.id, Entry.kind == "opening"))
    reversal = decisions.reverse_entry(session, world.actor("tj_reviewer"), opening.id, reason="重复开户", now=NOW)
    assert reversal.points == -100 and h.balance == 0
    assert totals(session, h) == {"2026Q4": (0, 0), "2026": (0, 0)}  # never ranked


def test_batch_creates_and_skips_with_reasons(world, session):
    rule = world.rules["tj_labour"]  # 1 per day
    tj1, tj2, tj3 = (world.households[k] for k in ("tj1", "tj2", "tj3"))
    record(session, world, "tj_recorder", tj2, rule)
    households.move_out(session, world.actor("tj_village_admin"), tj3.id, TODAY)
    created, skipped = services.record_batch(
        session,
        world.actor("tj_recorder"),
        rule_id=rule.id,
        household_ids=[tj1.id, tj2.id, tj3.id, world.households["xf1"].id, 999999, tj1.id],
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
        note="清扫河道",
    )
    assert [(e.household_id, e.points, e.note) for e in created] == [(tj1.id, 5, "清扫河道")]
    assert skipped == [
        {"household_id": tj2.id, "reason": "cap_reached"},
        {"household_id": tj3.id, "reason": "moved_out"},
        {"household_id": world.households["xf1"].id, "reason": "not_found"},
        {"household_id": 999999, "reason": "not_found"},
        {"household_id": tj1.id, "reason": "duplicate"},
    ]
    assert tj1.balance == 105
    session.commit()
    assert verify(session) == []


def test_batch_in_approval_village_is_pending(world, session):
    created, skipped = services.record_batch(
        session,
        world.actor("xf_recorder"),
        rule_id=world.rules["xf_school"].id,
        household_ids=[world.households["xf1"].id, world.households["xf2"].id],
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    assert [e.status for e in created] == ["pending", "pending"] and skipped == []
    assert world.households["xf1"].balance == 100


def test_a_batch_sends_as_many_statements_for_three_households_as_for_two(world, session):
    """Nothing is read or written per household: the lock, the entries, the balances
    and the period totals each go out once, whatever the batch's size. (Two, not one:
    on PostgreSQL a single entry's writes go out as one combined statement.)"""
    from app.extensions import db

    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_):
        seen.append(statement)

    ids = {k: h.id for k, h in world.households.items()}
    rule_id = world.rules["tj_school"].id

    def batch(keys) -> int:
        session.commit()  # each batch starts from the same state: everything expired
        seen.clear()
        created, _ = services.record_batch(
            session,
            world.actor("tj_recorder"),
            rule_id=rule_id,
            household_ids=[ids[k] for k in keys],
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
        assert len(created) == len(keys)
        return len(seen)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        two, three = batch(["tj1", "tj2"]), batch(["tj1", "tj2", "tj3"])
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert two == three
    session.commit()
    assert verify(session) == []


@pytest.mark.parametrize("household_ids", [[], "1,2", None, list(range(1, 2002))])
def test_batch_validates_the_list(world, session, household_ids):
    with pytest.raises(ValidationFailed) as exc:
        services.record_batch(
            session,
            world.actor("tj_recorder"),
            rule_id=world.rules["tj_school"].id,
            household_ids=household_ids,
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
    assert "household_ids" in exc.value.details


def test_batch_refuses_rules_out_of_scope_and_inactive(world, session):
    kwargs = dict(household_ids=[world.households["tj1"].id], occurred_on=TODAY, today=TODAY, now=NOW)
    with pytest.raises(BadReference):
        services.record_batch(session, world.actor("tj_recorder"), rule_id=world.rules["xf_school"].id, **kwargs)
    with pytest.raises(EvidenceRequired):
        services.record_batch(session, world.actor("tj_recorder"), rule_id=world.rules["tj_photo"].id, **kwargs)
    rulebook.update_rule(session, world.actor("admin"), world.rules["tj_school"].id, {"active": False})
    with pytest.raises(RuleInactive):
        services.record_batch(session, world.actor("tj_recorder"), rule_id=world.rules["tj_school"].id, **kwargs)
    with pytest.raises(ValidationFailed):
        services.record_batch(
            session,
            world.actor("tj_recorder"),
            rule_id=world.rules["tj_labour"].id,
            household_ids=[world.households["tj1"].id],
            occurred_on=TODAY + timedelta(days=1),
            today=TODAY,
            now=NOW,
        )
    assert entry_count(session) == 6


def test_batch_failing_midway_writes_nothing(world, session, monkeypatch):
    """The rows of a batch commit together or not at all."""
    real = services._rule_entry
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_rule_entry", flaky)
    before = entry_count(session)
    with pytest.raises(RuntimeError):
        services.record_batch(
            session,
            world.actor("tj_recorder"),
            rule_id=world.rules["tj_school"].id,
            household_ids=[h.id for k, h in world.households.items() if k.startswith("tj")],
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
    session.rollback()
    assert entry_count(session) == before
    assert [session.get(type(h), h.id).balance for k, h in world.households.items() if k.startswith("tj")] == [100] * 3
    assert verify(session) == []


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"category": "唱歌跳舞"}, "category"),
        ({"points": 0}, "points"),
        ({"points": 1001}, "points"),
        ({"points": True}, "points"),
        ({"cap_period": "day"}, "cap_count"),
        ({"cap_count": 3}, "cap_count"),
        ({"cap_period": "fortnight", "cap_count": 1}, "cap_period"),
        ({"cap_period": "day", "cap_count": 0}, "cap_count"),
        ({"code": ""}, "code"),
        ({"code": "X" * 31}, "code"),
        ({"name": "名" * 101}, "name"),
        ({"code": "VOL-LABOUR"}, "code"),
    ],
)
def test_create_rule_validates(world, session, changes, field):
    values = {"code": "NEW", "name": "新规则", "category": "志愿服务", "points": 2} | changes
    with pytest.raises(ValidationFailed) as exc:
        rulebook.create_rule(session, world.actor("tj_village_admin"), world.a.id, values)
    assert field in exc.value.details


def test_update_rule_validates_the_merged_rule(world, session):
    rule = world.rules["tj_labour"]
    with pytest.raises(ValidationFailed):
        rulebook.update_rule(session, world.actor("tj_village_admin"), rule.id, {"cap_period": None})
    updated = rulebook.update_rule(
        session, world.actor("tj_village_admin"), rule.id, {"cap_period": None, "cap_count": None}
    )
    assert (updated.cap_period, updated.cap_count) == (None, None)
    with pytest.raises(ValidationFailed):
        rulebook.update_rule(session, world.actor("tj_village_admin"), rule.id, {"code": "WORK-SCHOOL"})
    with pytest.raises(NotFound):
        rulebook.update_rule(session, world.actor("xf_village_admin"), rule.id, {"active": False})


def test_standard_sheet_loads_once(world, session):
    added = rulebook.load_standard_sheet(session, world.actor("tj_village_admin"), world.a.id)
    assert len(added) > 10
    assert "VOL-LABOUR" not in {r.code for r in added}  # the village already has it
    assert rulebook.load_standard_sheet(session, world.actor("tj_village_admin"), world.a.id) == []


def test_period_totals_rows_are_one_per_household_and_period(world, session):
    h = world.households["tj1"]
    for day in (date(2026, 10, 5), date(2026, 11, 5), date(2026, 2, 5)):
        record(session, world, "tj_recorder", h, world.rules["tj_school"], day)
    session.commit()
    rows = session.execute(
        select(PeriodTotal.period, PeriodTotal.points)
        .where(PeriodTotal.household_id == h.id)
        .order_by(PeriodTotal.period)
    ).all()
    assert rows == [("2026", 9), ("2026Q1", 3), ("2026Q4", 6)]


def test_time_is_explicit(world, session):
    later = datetime(2027, 1, 2, 3, 4, 5)
    entry = services.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households["tj1"].id,
        rule_id=world.rules["tj_school"].id,
        occurred_on=date(2027, 1, 1),
        today=date(2027, 1, 2),
        now=later,
    )
    assert entry.created_at == later and entry.period == "2027Q1"
