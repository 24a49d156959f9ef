"""Accounts without HTTP: opening a person's account, scope, lists and the account view."""

import pytest
from sqlalchemy import select

from app.accounts import services as accounts
from app.errors import BadReference, Forbidden, NotFound, ValidationFailed
from app.households.models import Household
from app.points.models import Entry
from app.schemes import services as schemes
from app.scope import Actor
from tests.accounts.conftest import person, person_scheme
from tests.conftest import TODAY
from tests.factories import NOW


def test_a_person_account_opens_with_the_schemes_base_points(volunteers, world, session):
    li = volunteers.li
    assert (li.kind, li.scheme_id, li.number, li.name) == ("person", volunteers.scheme.id, "V-001", "李志愿")
    assert li.village_id is None  # only households have one: the village's lists stay households
    assert li.home_village_id == world.a.id  # its household's village
    assert li.linked_household_id == world.households["tj1"].id
    opening = session.scalars(select(Entry).where(Entry.household_id == li.id)).all()
    assert [(e.kind, e.points, e.scheme_id, e.village_id) for e in opening] == [
        ("opening", 10, volunteers.scheme.id, world.a.id)
    ]
    assert li.balance == 10 and li.entry_count == 1 and li.chain_hash


def test_a_person_without_household_or_village_has_no_home_village(volunteers):
    assert volunteers.zhao.home_village_id is None and volunteers.zhao.linked_household_id is None
    assert volunteers.zhao.phone == "13800000002"


def test_numbers_are_unique_in_the_scheme_ignoring_case(volunteers, world, session):
    boss = world.actor("tj_village_admin")
    with pytest.raises(ValidationFailed) as exc:
        person(session, boss, volunteers.scheme, "v-001", "另一人")
    assert set(exc.value.details) == {"number"}
    other = person_scheme(session, boss, {"village_id": world.a.id}, "最美居民")
    assert person(session, boss, other, "V-001", "另一人").number == "V-001"  # another scheme's numbers


def test_only_a_person_scheme_takes_a_new_account(world, session):
    boss = world.actor("tj_village_admin")
    household_scheme = schemes.household_scheme(session, world.a.id)
    with pytest.raises(ValidationFailed) as exc:
        person(session, boss, household_scheme, "P-1", "某人")
    assert set(exc.value.details) == {"scheme_id"}


def test_fields_are_checked_each_by_name(volunteers, world, session):
    boss = world.actor("tj_village_admin")
    with pytest.raises(ValidationFailed) as exc:
        accounts.create_account(
            session,
            boss,
            {"scheme_id": volunteers.scheme.id, "number": "V 1", "name": "", "phone": "12", "village_id": "1"},
            today=TODAY,
            now=NOW,
        )
    assert set(exc.value.details) == {"number", "name", "phone", "village_id"}


def test_the_village_and_household_must_lie_in_the_schemes_villages(volunteers, world, session, county):
    admin = Actor(world.admin)  # sees every village: the scheme's area is what refuses
    with pytest.raises(ValidationFailed) as exc:
        person(session, admin, volunteers.scheme, "V-9", "某人", village_id=world.b.id)
    assert set(exc.value.details) == {"village_id"}
    with pytest.raises(ValidationFailed) as exc:
        person(session, admin, volunteers.scheme, "V-9", "某人", household_id=world.households["xf1"].id)
    assert set(exc.value.details) == {"household_id"}
    with pytest.raises(ValidationFailed) as exc:  # a person is no household to link to
        person(session, admin, volunteers.scheme, "V-9", "某人", household_id=volunteers.zhao.id)
    assert set(exc.value.details) == {"household_id"}


def test_a_village_or_household_the_actor_cannot_see_is_a_bad_reference(volunteers, world, session):
    boss = world.actor("tj_village_admin")
    for extra, field in (
        ({"village_id": world.b.id}, "village_id"),
        ({"village_id": 10**6}, "village_id"),
        ({"household_id": world.households["xf1"].id}, "household_id"),
    ):
        with pytest.raises(BadReference) as exc:
            person(session, boss, volunteers.scheme, "V-9", "某人", **extra)
        assert exc.value.details == {"field": field}


def test_who_may_open_a_person_account(volunteers, world, session, county):
    for username in ("tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"):
        with pytest.raises(Forbidden):
            person(session, world.actor(username), volunteers.scheme, "V-9", "某人")
    with pytest.raises(BadReference):  # another village's admin never learns the scheme exists
        person(session, world.actor("xf_village_admin"), volunteers.scheme, "V-9", "某人")
    grid = person_scheme(session, Actor(county.users["dk_admin"]), {"region_id": county.county.id}, "网格员积分")
    with pytest.raises(BadReference):  # a village admin below does not run the county's scheme
        person(session, world.actor("tj_village_admin"), grid, "G-1", "网格员")
    with pytest.raises(BadReference):  # a township's admin does not run its county's
        person(session, Actor(county.users["cg_admin"]), grid, "G-1", "网格员")
    worker = person(session, Actor(county.users["dk_admin"]), grid, "G-1", "网格员", village_id=county.qf.id)
    assert (worker.home_village_id, worker.scheme.region_id) == (county.qf.id, county.county.id)
    with pytest.raises(ValidationFailed):  # 团结村 is not below 洞口县
        person(session, Actor(world.admin), grid, "G-2", "网格员", village_id=world.a.id)


def test_a_resident_sees_its_household_and_the_persons_linked_to_it(volunteers, world, session):
    resident = world.actor("tj_resident")
    assert accounts.account_in_scope(session, resident, volunteers.li.id) is volunteers.li
    assert accounts.account_in_scope(session, resident, world.households["tj1"].id).id == world.households["tj1"].id
    for other in (volunteers.zhao.id, world.households["tj2"].id):
        with pytest.raises(NotFound):
            accounts.account_in_scope(session, resident, other)
    with pytest.raises(NotFound):
        accounts.account_in_scope(session, world.actor("xf_resident"), volunteers.li.id)
    with pytest.raises(NotFound):
        accounts.account_in_scope(session, world.actor("xf_village_admin"), volunteers.li.id)


def test_lists_follow_the_scope_and_search(volunteers, world, session):
    def numbers(actor, scheme_id=None, q=""):
        return [a.number for a in session.scalars(accounts.list_accounts(session, world.actor(actor), scheme_id, q))]

    assert numbers("tj_village_admin", volunteers.scheme.id) == ["V-001", "V-002"]
    assert numbers("tj_village_admin", volunteers.scheme.id, "赵") == ["V-002"]
    assert numbers("tj_village_admin", volunteers.scheme.id, "00002") == ["V-002"]  # phone
    assert numbers("tj_village_admin", volunteers.scheme.id, "V-00") == ["V-001", "V-002"]
    assert numbers("tj_village_admin", volunteers.scheme.id, "%") == []
    assert set(numbers("tj_clerk")) == {"TJ-001", "TJ-002", "TJ-003", "V-001", "V-002"}
    assert numbers("tj_resident") == ["TJ-001", "V-001"]
    assert numbers("tj_resident", volunteers.scheme.id) == ["V-001"]
    with pytest.raises(NotFound):
        numbers("xf_village_admin", volunteers.scheme.id)
    with pytest.raises(NotFound):
        numbers("xf_resident", volunteers.scheme.id)
    with pytest.raises(NotFound):
        numbers("tj_village_admin", 10**6)


def test_the_account_view_of_a_person_and_of_a_household(volunteers, world, session):
    view = accounts.account_view(session, volunteers.li, today=TODAY)
    assert view == {
        "id": volunteers.li.id,
        "scheme_id": volunteers.scheme.id,
        "kind": "person",
        "number": "V-001",
        "name": "李志愿",
        "village_id": world.a.id,
        "household_id": world.households["tj1"].id,
        "phone": None,
        "balance": 10,
        "redeemable": 10,
        "period_points": {"quarter": 0, "year": 0},
    }
    tj1 = session.get(Household, world.households["tj1"].id)
    view = accounts.account_view(session, tj1, today=TODAY)
    assert (view["kind"], view["village_id"], view["name"], view["balance"]) == (
        "household",
        world.a.id,
        "户主tj1",
        100,
    )
    assert view["redeemable"] == 0  # the household scheme's floor of 100


def test_a_monthly_schemes_account_view_has_its_month(world, session):
    boss = world.actor("tj_village_admin")
    monthly = person_scheme(session, boss, {"village_id": world.a.id}, "月度积分", cadence="month")
    someone = person(session, boss, monthly, "M-1", "某人")
    assert accounts.account_view(session, someone, today=TODAY)["period_points"] == {
        "quarter": 0,
        "year": 0,
        "month": 0,
    }


def test_a_village_schemes_list_takes_only_its_own_village(volunteers, world, session):
    """A village's own scheme needs no 村 column; a line naming another village is an
    error of that line, never quietly enrolled in the scheme's village."""
    from app.accounts.register import parse_people

    data = "编号,姓名,村\nZY-050,陈五,幸福村\nZY-051,陈六,团结村\nZY-052,陈七,tj\nZY-053,陈八,\n".encode()
    preview = parse_people(session, volunteers.scheme, "people.csv", data)
    assert [line for line, _ in preview.errors] == [2]
    assert "幸福村" in preview.errors[0][1] and "团结村" in preview.errors[0][1]
    assert not preview.ok
