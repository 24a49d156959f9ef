"""The ledger's rows go out below the ORM (app.points.ledger._write_ledger): flushes,
rollbacks and savepoints must leave the session and the database agreeing."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.households.models import Household
from app.points import services
from app.points.ledger import verify
from app.points.models import Entry, PeriodTotal
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
