"""Scheme services: the household scheme in the ledger's path, renaming a category."""

from sqlalchemy import event

from app.extensions import db
from app.points import services as points
from app.points.models import Rule
from app.schemes import services as schemes
from tests.conftest import TODAY
from tests.factories import NOW


def test_an_entry_reads_its_schemes_settings_in_the_statement_that_locks_the_household(world, session):
    scheme = schemes.household_scheme(session, world.a.id)
    scheme.approval_required = True
    session.commit()
    household_id, rule_id = world.households["tj2"].id, world.rules["tj_school"].id
    recorder = world.actor("tj_recorder")
    assert recorder.user.roles
    session.expire_all()
    seen = []

    def on_execute(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("SELECT") and "schemes" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        entry = points.record_entry(
            session,
            recorder,
            household_id=household_id,
            rule_id=rule_id,
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert entry.status == "pending"  # the scheme's setting
    assert len(seen) == 1 and "households" in seen[0] and "rules" in seen[0]


def test_renaming_a_category_renames_its_rules(world, session):
    scheme = schemes.household_scheme(session, world.a.id)
    schemes.rename_category(session, world.actor("tj_village_admin"), scheme.id, "勤劳致富", "农牧民夜校")
    session.commit()
    session.expire_all()
    assert schemes.household_scheme(session, world.a.id).categories[2] == "农牧民夜校"
    assert session.get(Rule, world.rules["tj_school"].id).category == "农牧民夜校"
    assert session.get(Rule, world.rules["xf_school"].id).category == "勤劳致富"  # another village's sheet


def test_a_new_village_gets_a_household_scheme_with_the_standard_eight(world, session):
    scheme = schemes.household_scheme(session, world.a.id)
    assert (scheme.account_kind, scheme.cadence, scheme.base_points) == ("household", "quarter", 100)
    assert len(scheme.categories) == 8
    assert world.households["tj1"].scheme_id == scheme.id
