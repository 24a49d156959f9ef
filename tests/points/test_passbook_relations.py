"""``attach_passbook_relations``: a page of the passbook gets its authors, approvers and
reversal links in two queries, even when the other half of a reversal is on another page."""

from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, select

from app.points import services
from app.points.models import Entry
from tests.factories import NOW

TODAY = date(2026, 11, 20)


def _record(session, world, who, key, rule):
    return services.record_entry(
        session,
        world.actor(who),
        household_id=world.households[key].id,
        rule_id=world.rules[rule].id,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )


def _fresh(session, entry_id):
    session.expunge_all()
    return session.scalars(select(Entry).where(Entry.id == entry_id)).one()


@contextmanager
def _statements(session):
    seen = []

    def listener(*args):
        seen.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_each_half_of_a_reversal_finds_the_other_when_loaded_alone(world, session):
    original = _record(session, world, "tj_recorder", "tj1", "tj_labour")
    reversal = services.reverse_entry(session, world.actor("tj_reviewer"), original.id, reason="误记", now=NOW)
    session.commit()
    original_id, reversal_id = original.id, reversal.id

    alone = _fresh(session, original_id)
    services.attach_passbook_relations(session, [alone])
    assert alone.reversed_by.id == reversal_id and alone.reverses is None
    assert alone.recorded_by.username == "tj_recorder"

    alone = _fresh(session, reversal_id)
    services.attach_passbook_relations(session, [alone])
    assert alone.reverses.id == original_id and alone.reversed_by is None
    assert alone.recorded_by.username == "tj_reviewer"


def test_a_page_takes_two_queries_and_no_lazy_loads(world, session):
    first = _record(session, world, "xf_recorder", "xf1", "xf_school")
    second = _record(session, world, "xf_recorder", "xf1", "xf_school")
    services.approve_entry(session, world.actor("xf_reviewer"), first.id, now=NOW)
    services.reverse_entry(session, world.actor("xf_reviewer"), first.id, reason="重复", now=NOW)
    session.commit()
    household_id, second_id = world.households["xf1"].id, second.id
    session.expunge_all()
    page = session.scalars(services.household_entries(household_id)).all()
    with _statements(session) as statements:
        services.attach_passbook_relations(session, page)
        shown = [(e.recorded_by, e.approved_by, e.reverses, e.reversed_by) for e in page]  # no lazy load
    assert len(shown) == 4
    assert len(statements) == 2, statements
    by_seq = {e.seq: e for e in page}
    assert by_seq[4].reverses.seq == 2 and by_seq[2].reversed_by.seq == 4
    assert by_seq[2].approved_by.username == "xf_reviewer"
    assert by_seq[3].approved_by is None and by_seq[3].reversed_by is None
    assert second_id in {e.id for e in page}


def test_an_empty_page_asks_nothing(session):
    with _statements(session) as statements:
        services.attach_passbook_relations(session, [])
    assert statements == []
