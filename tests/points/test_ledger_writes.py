"""The ledger's rows go out below the ORM (app.points.ledger._write_ledger): flushes,
rollbacks and savepoints must leave the session and the database agreeing."""

from datetime import date

import pytest
from sqlalchemy import event, func, select

from app.households.models import Household
from app.points import decisions, services
from app.points.models import Entry, PeriodTotal
from app.points.proof import verify
from tests.factories import NOW

TODAY = date(2026, 11, 20)


def record(session, world, key="tj1", rule="tj_school", quantity=1):
    return services.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households[key].id,
        rule_id=world.rules[rule].id,
        quantity=quantity,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )


def db_balance(session, household_id):
    return session.execute(select(Household.balance).where(Household.id == household_id)).scalar_one()


def test_an_append_is_written_by_the_next_flush_and_reads_see_it(world, session):
    hid = world.households["tj1"].id
    entry = record(session, world, quantity=2)
    assert entry.id is not None and entry in session
    assert db_balance(session, hid) == 106  # a plain SELECT sees the row, without a commit
    total = session.execute(
        select(PeriodTotal.points).where(PeriodTotal.household_id == hid, PeriodTotal.period == "2026Q4")
    ).scalar_one()
    assert total == 6
    session.commit()
    session.expire_all()
    assert session.get(Household, hid).balance == 106 and verify(session) == []


def test_a_rollback_forgets_the_rows_and_their_ids_can_be_used_again(world, session):
    hid = world.households["tj1"].id
    before = session.scalar(select(func.count(Entry.id)))
    gone = record(session, world)
    gone_id = gone.id
    session.rollback()
    assert gone not in session
    assert session.get(Household, hid).balance == 100
    again = record(session, world, quantity=3)  # SQLite may hand out the same id
    session.commit()
    assert session.scalar(select(func.count(Entry.id))) == before + 1
    assert session.get(Entry, again.id).points == 9
    assert gone_id == again.id or session.get(Entry, gone_id) is None
    assert verify(session) == []


def test_a_savepoint_rolled_back_undoes_only_its_own_entries(world, session):
    hid = world.households["tj1"].id
    record(session, world)  # kept: +3
    with pytest.raises(RuntimeError), session.begin_nested():
        record(session, world, quantity=2)  # undone
        session.flush()
        raise RuntimeError("the second reviewer changed their mind")
    assert session.get(Household, hid).balance == 103  # reloaded, not the undone 109
    record(session, world, quantity=4)  # +12 on top of the kept row
    session.commit()
    session.expire_all()
    assert session.get(Household, hid).balance == 115
    assert [e.points for e in session.scalars(select(Entry).where(Entry.household_id == hid).order_by(Entry.seq))] == [
        100,
        3,
        12,
    ]
    assert verify(session) == []


def test_a_new_household_is_written_before_its_opening_entry(world, session):
    household = services.enroll_household(
        session,
        world.actor("tj_village_admin"),
        world.a.id,
        {"number": "TJ-900", "head_name": "新户"},
        today=TODAY,
        now=NOW,
    )
    session.commit()
    assert household.balance == 100 and household.entry_count == 1
    assert verify(session) == []


@pytest.fixture
def cache_writes(app):
    """Every statement that writes a household's cached balance or a period total."""
    from app.extensions import db

    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_):
        word = statement.split(None, 1)[0].upper()
        if word in ("INSERT", "UPDATE", "WITH") and ("households" in statement or "period_totals" in statement):
            seen.append(word)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


def _postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def test_one_entry_and_its_caches_are_one_statement_on_postgresql(world, session, cache_writes):
    """The entry, the balance and both period totals: data-modifying CTEs of one statement
    on PostgreSQL (one round trip); three statements (the entry apart) elsewhere."""
    hid = world.households["tj1"].id
    record(session, world, quantity=2)
    assert cache_writes == (["WITH"] if _postgres(session) else ["UPDATE", "INSERT"])
    session.commit()
    session.expire_all()
    assert session.get(Household, hid).balance == 106
    rows = session.execute(select(PeriodTotal.period, PeriodTotal.points).where(PeriodTotal.household_id == hid))
    assert {period: points for period, points in rows} == {"2026Q4": 6, "2026": 6}
    assert verify(session) == []


def test_an_approval_moves_the_caches_in_one_statement_on_postgresql(world, session, cache_writes):
    world.a.approval_required = True
    session.commit()
    hid = world.households["tj1"].id
    entry = record(session, world, quantity=2)
    session.commit()
    assert session.get(Household, hid).balance == 100  # pending counts nowhere
    cache_writes.clear()
    decisions.approve_entry(session, world.actor("tj_reviewer"), entry.id, now=NOW)
    session.commit()
    assert cache_writes == (["WITH"] if _postgres(session) else ["UPDATE", "INSERT"])
    session.expire_all()
    assert session.get(Household, hid).balance == 106
    assert verify(session) == []


TEXTS = ["NULL", "null", "", 'say "hi"', "{1,2}", "back\\slash", "two\nlines", "逗号，顿号、", "tab\there"]


def test_entries_of_one_flush_go_out_in_one_statement_each_with_its_own_id(world, session, app):
    """Nine entries over three households (three each) in one flush: one INSERT, each
    entry holds the id of its own row, and awkward text is stored as written."""
    from app.extensions import db
    from app.points.ledger import LedgerWriter, lock_households

    inserts: list[str] = []

    def on_execute(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("INSERT INTO ENTRIES"):
            inserts.append(statement)

    keys = ("tj1", "tj2", "tj3")
    record(session, world, key="tj2")  # tj2's chain is one entry ahead of the others
    session.commit()
    households = lock_households(session, [world.households[k].id for k in keys])
    writer = LedgerWriter(session, NOW)
    rule = world.rules["tj_school"]
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        written = [
            writer.append(
                households[world.households[keys[i % 3]].id],
                kind="rule",
                rule=rule,
                title=rule.name,
                category=rule.category,
                points=i + 1,
                ranked=True,
                occurred_on=TODAY,
                recorded_by_id=world.users["tj_recorder"].id,
                note=text,
                member_name=text,
            )
            for i, text in enumerate(TEXTS)
        ]
        session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert len(inserts) == 1
    session.commit()
    stored = {
        row.id: row
        for row in session.execute(select(Entry.id, Entry.household_id, Entry.seq, Entry.points, Entry.note))
    }
    assert len({e.id for e in written}) == len(TEXTS)
    for i, entry in enumerate(written):
        row = stored[entry.id]
        assert (row.household_id, row.seq, row.points, row.note) == (entry.household_id, entry.seq, i + 1, TEXTS[i])
    assert verify(session) == []


def test_a_monthly_schemes_entry_and_its_three_totals_are_one_statement_on_postgresql(
    county, world, session, cache_writes
):
    """A monthly scheme keeps a month total beside the quarter and the year: still one
    statement on PostgreSQL."""
    from app.points import rules as rulebook
    from app.schemes import services as schemes
    from app.scope import Actor

    admin = Actor(world.admin)
    values = {"name": "积分换项目", "region_id": county.county.id, "account_kind": "village", "cadence": "month"}
    settings = {"base_points": 0, "redeem_floor": 0, "yuan_per_point": 1.0, "approval_required": False}
    scheme = schemes.create_scheme(session, admin, values | settings | {"notice_days": 7, "annual_reset": False})
    rule = rulebook.create_rule(
        session,
        admin,
        None,
        {"code": "LL-1", "name": "零事故", "category": "遵纪守法", "points": 10},
        scheme_id=scheme.id,
    )
    account = session.scalars(
        select(Household).where(Household.scheme_id == scheme.id, Household.home_village_id == county.hp.id)
    ).one()
    session.commit()
    cache_writes.clear()
    services.record_entry(
        session, admin, household_id=account.id, rule_id=rule.id, occurred_on=TODAY, today=TODAY, now=NOW
    )
    assert cache_writes == (["WITH"] if _postgres(session) else ["UPDATE", "INSERT"])
    session.commit()
    rows = session.execute(select(PeriodTotal.period, PeriodTotal.points).where(PeriodTotal.household_id == account.id))
    assert {period: points for period, points in rows} == {"2026-11": 10, "2026Q4": 10, "2026": 10}
    assert verify(session) == []
