"""Regions: what lies below one, read once per transaction."""

from sqlalchemy import event

from app.extensions import db
from app.regions import services as regions
from app.scope import Actor
from app.villages.services import create_village


def test_villages_below_a_city_a_county_and_a_township(county, world, session):
    admin = Actor(world.admin)
    city = regions.create_region(session, admin, {"name": "邵阳市", "code": "SY", "level": "city"})
    county.county.parent_id = city.id
    # A township straight under the city (a county may be skipped).
    direct = regions.create_region(
        session, admin, {"name": "双清街道", "code": "SQ", "level": "township", "parent_id": city.id}
    )
    sq = create_village(session, admin, {"name": "桥头社区", "code": "QT", "region_id": direct.id})
    session.flush()
    below = regions.village_ids_below
    assert below(session, city.id) == {county.hp.id, county.qf.id, sq.id}
    assert below(session, county.county.id) == {county.hp.id, county.qf.id}
    assert below(session, county.cg.id) == {county.hp.id}
    assert regions.region_ids_below(session, city.id) == {
        city.id,
        county.county.id,
        county.cg.id,
        county.gs.id,
        direct.id,
    }
    assert regions.region_counts(session, city.id) == {"villages": 3, "households": 4}


def test_a_region_officials_checks_read_the_villages_once(county, session):
    official = county.users["dk_reviewer"]
    session.commit()
    assert official.roles == ["reviewer"]  # the user itself loaded again after the commit
    hp = county.hp.id
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert official.can_see_village(hp)
            assert not official.can_see_village(999)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_the_regions_below_are_read_once_and_a_new_one_is_seen(county, world, session):
    official = county.users["dk_reviewer"]
    session.commit()
    cg, _ = county.cg.id, official.region_id  # loaded again after the commit
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert regions.can_see_region(session, official, cg)
            assert not regions.can_see_region(session, official, 999)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "regions" in s]) == 1
    town = regions.create_region(
        session, Actor(world.admin), {"name": "新乡", "code": "XX", "level": "township", "parent_id": county.county.id}
    )
    assert regions.can_see_region(session, official, town.id)


def test_a_village_added_below_is_seen_at_once(county, world, session):
    official = county.users["cg_admin"]
    assert official.region_village_ids() == {county.hp.id}
    village = create_village(session, Actor(world.admin), {"name": "新村", "code": "XC", "region_id": county.cg.id})
    assert official.can_see_village(village.id)


def test_township_named_makes_one_top_level_township(world, session):
    first = regions.township_named(session, "新乡")
    assert regions.township_named(session, "新乡").id == first.id
    assert (first.level, first.parent_id) == ("township", None)


def test_a_region_admin_manages_the_users_below_its_region(county, world, session):
    from app.auth.services import manages

    cg_admin = county.users["cg_admin"]
    assert manages(session, cg_admin, county.users["cg_recorder"])
    assert not manages(session, cg_admin, county.users["dk_recorder"])  # the county's, above it
    assert not manages(session, cg_admin, world.users["tj_recorder"])
    assert manages(session, county.users["dk_admin"], county.users["cg_recorder"])
    assert not manages(session, world.users["tj_village_admin"], county.users["cg_recorder"])
    assert manages(session, world.admin, county.users["dk_admin"])
