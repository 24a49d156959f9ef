"""Village accounts: a region's village scheme has one account per village below it,
made with the scheme and with every village added below later."""

import pytest
from sqlalchemy import select

from app.households.models import Household
from app.points.models import Entry
from app.points.proof import verify
from app.schemes import services as schemes
from app.scope import Actor
from app.villages.services import create_village
from tests.conftest import TODAY
from tests.factories import NOW

SETTINGS = {
    "base_points": 100,
    "redeem_floor": 0,
    "yuan_per_point": 1.0,
    "approval_required": False,
    "notice_days": 7,
    "annual_reset": False,
}


def village_scheme(session, region, actor, **extra):
    values = {"name": "积分换项目", "region_id": region.id, "account_kind": "village", "cadence": "month"}
    return schemes.create_scheme(session, actor, values | SETTINGS | extra, today=TODAY, now=NOW)


def accounts_of(session, scheme):
    session.expire_all()
    return session.scalars(select(Household).where(Household.scheme_id == scheme.id).order_by(Household.number)).all()


def test_a_village_scheme_opens_one_account_per_village_below_its_region(county, world, session):
    scheme = village_scheme(session, county.county, Actor(county.users["dk_admin"]))
    session.commit()
    accounts = accounts_of(session, scheme)
    assert [(a.kind, a.number, a.name, a.village_id, a.home_village_id) for a in accounts] == [
        ("village", "HP", "和平村", None, county.hp.id),
        ("village", "QF", "清风村", None, county.qf.id),
    ]  # 团结村 and 幸福村 lie outside the county
    assert [a.balance for a in accounts] == [100, 100]
    openings = session.scalars(select(Entry).where(Entry.household_id.in_([a.id for a in accounts]))).all()
    assert [(e.kind, e.points, e.occurred_on, e.scheme_id, e.village_id) for e in openings] == [
        ("opening", 100, TODAY, scheme.id, None)
    ] * 2
    assert verify(session) == []


def test_a_township_scheme_covers_its_own_villages_only(county, world, session):
    scheme = village_scheme(session, county.cg, Actor(world.admin), base_points=0)
    session.commit()
    accounts = accounts_of(session, scheme)
    assert [(a.number, a.balance, a.entry_count) for a in accounts] == [("HP", 0, 0)]  # no base: no entry


@pytest.mark.parametrize("kind", ["person"])
def test_other_kinds_open_no_village_accounts(county, world, session, kind):
    scheme = village_scheme(session, county.county, Actor(world.admin), account_kind=kind)
    assert accounts_of(session, scheme) == []


def test_a_village_added_later_below_the_region_gets_its_account(county, world, session):
    county_scheme = village_scheme(session, county.county, Actor(world.admin))
    township_scheme = village_scheme(session, county.gs, Actor(world.admin), base_points=50)
    session.commit()
    new = create_village(
        session, Actor(county.users["dk_admin"]), {"name": "石门村", "code": "SM", "region_id": county.gs.id}
    )
    elsewhere = create_village(session, Actor(world.admin), {"name": "远方村", "code": "YF", "township": "别的乡"})
    session.commit()
    assert [(a.number, a.home_village_id, a.balance) for a in accounts_of(session, county_scheme)] == [
        ("HP", county.hp.id, 100),
        ("QF", county.qf.id, 100),
        ("SM", new.id, 100),
    ]
    assert [(a.number, a.balance) for a in accounts_of(session, township_scheme)] == [("QF", 50), ("SM", 50)]
    assert elsewhere.id not in {a.home_village_id for a in accounts_of(session, county_scheme)}
    # The village's own household scheme has no account of it: village_id stays households'.
    assert session.scalars(select(Household).where(Household.village_id == new.id)).all() == []
    assert verify(session) == []


def test_a_village_added_through_the_api_gets_its_account(county, world, session, api):
    scheme = village_scheme(session, county.county, Actor(world.admin))
    session.commit()
    r = api.as_("dk_admin").post("/villages", json={"name": "石门村", "code": "SM", "region_id": county.cg.id})
    assert r.status_code == 201, r.get_json()
    assert [a.number for a in accounts_of(session, scheme)] == ["HP", "QF", "SM"]


def test_a_village_scheme_made_through_the_api_opens_its_accounts(county, world, session, api):
    body = {"name": "积分换项目", "region_id": county.county.id, "account_kind": "village", "cadence": "month"}
    r = api.as_("dk_admin").post("/schemes", json=body | SETTINGS)
    assert r.status_code == 201, r.get_json()
    rows = session.scalars(select(Household).where(Household.scheme_id == r.get_json()["id"])).all()
    assert sorted((a.kind, a.number, a.balance) for a in rows) == [("village", "HP", 100), ("village", "QF", 100)]
