"""The regions API, villages and officials under regions, and standings by region."""

import pytest

from app.regions.models import Region
from app.villages.models import Village
from tests.conftest import TODAY


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


# --- POST /regions ------------------------------------------------------------------


def test_admin_creates_a_city_and_a_county_under_it(world, api):
    r = api.as_("admin").post("/regions", json={"name": "邵阳市", "code": "SY", "level": "city"})
    assert r.status_code == 201, r.get_json()
    city = r.get_json()
    assert set(city) == {"id", "name", "code", "level", "parent_id"}
    assert city["level"] == "city" and city["parent_id"] is None
    r = api.as_("admin").post(
        "/regions", json={"name": "洞口县", "code": "DK", "level": "county", "parent_id": city["id"]}
    )
    assert r.status_code == 201 and r.get_json()["parent_id"] == city["id"]


def test_a_region_admin_creates_below_its_region_only(county, api):
    r = api.as_("dk_admin").post(
        "/regions", json={"name": "石江镇", "code": "SJ", "level": "township", "parent_id": county.county.id}
    )
    assert r.status_code == 201, r.get_json()
    # Another county is, to it, one that does not exist; the top level is not its own.
    other = api.as_("admin").post("/regions", json={"name": "武冈市", "code": "WG", "level": "county"}).get_json()
    body = {"name": "某镇", "code": "X1", "level": "township", "parent_id": other["id"]}
    err = assert_error(api.as_("dk_admin").post("/regions", json=body), 400, "not_found")
    assert err["details"] == {"field": "parent_id"}
    assert_error(
        api.as_("dk_admin").post("/regions", json={"name": "某县", "code": "X2", "level": "county"}), 403, "forbidden"
    )


@pytest.mark.parametrize("username", ["tj_village_admin", "tj_recorder", "cg_recorder", "tj_resident"])
def test_only_admins_create_regions(county, api, username):
    body = {"name": "某镇", "code": "X1", "level": "township", "parent_id": county.county.id}
    assert_error(api.as_(username).post("/regions", json=body), 403, "forbidden")


def test_creating_a_region_needs_a_login(client):
    r = client.post("/api/v1/regions", json={"name": "某市", "code": "X", "level": "city"})
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "某县", "code": "X", "level": "village"}, "level"),
        ({"name": "某县", "code": "dk", "level": "county"}, "code"),  # taken, ignoring case
        ({"name": "某县", "code": "a b", "level": "county"}, "code"),
        ({"name": "", "code": "X", "level": "county"}, "name"),
        ({"name": "某县", "code": "X", "level": "county", "parent_id": "county"}, "parent_id"),
        ({"name": "某县", "code": "X", "level": "county", "parent_id": "COUNTY"}, "parent_id"),  # same level
        ({"name": "某县", "code": "X", "level": "county", "parent_id": "CG"}, "parent_id"),  # a township under
        ({"name": "某镇", "code": "X", "level": "township", "parent_id": "CG"}, "parent_id"),
    ],
)
def test_invalid_regions_are_422(county, session, api, body, field):
    parents = {"COUNTY": county.county.id, "CG": county.cg.id}
    body = dict(body)
    if body.get("parent_id") in parents:
        body["parent_id"] = parents[body["parent_id"]]
    before = session.query(Region).count()
    err = assert_error(api.as_("admin").post("/regions", json=body), 422, "validation_error")
    assert field in err["details"]
    assert session.query(Region).count() == before


def test_an_unknown_parent_is_400(world, api):
    body = {"name": "某镇", "code": "X", "level": "township", "parent_id": 9999}
    err = assert_error(api.as_("admin").post("/regions", json=body), 400, "not_found")
    assert err["details"] == {"field": "parent_id"}


# --- GET /regions ---------------------------------------------------------------------


def test_list_regions_by_parent(county, api):
    r = api.as_("admin").get(f"/regions?parent_id={county.county.id}")
    assert r.status_code == 200
    assert [x["code"] for x in r.get_json()["items"]] == ["CG", "GS"]
    codes = {x["code"] for x in api.as_("admin").get("/regions").get_json()["items"]}
    assert {"DK", "CG", "GS"} <= codes and len(codes) == 4  # and 上木拉乡, made from world's villages


def test_officials_list_their_part_of_the_map(county, api):
    assert [x["code"] for x in api.as_("cg_reviewer").get("/regions").get_json()["items"]] == ["CG"]
    assert {x["code"] for x in api.as_("dk_recorder").get("/regions").get_json()["items"]} == {"DK", "CG", "GS"}
    assert api.as_("tj_village_admin").get("/regions").get_json() == {"items": [], "total": 0}
    assert_error(api.as_("cg_admin").get(f"/regions?parent_id={county.county.id}"), 404, "not_found")
    assert_error(api.as_("admin").get("/regions?parent_id=9999"), 404, "not_found")


def test_get_region_counts_villages_and_households_below_it(county, api):
    r = api.as_("dk_reviewer").get(f"/regions/{county.county.id}")
    assert r.status_code == 200
    assert r.get_json() == {
        "id": county.county.id,
        "name": "洞口县",
        "code": "DK",
        "level": "county",
        "parent_id": None,
        "villages": 2,
        "households": 4,
    }
    body = api.as_("cg_recorder").get(f"/regions/{county.cg.id}").get_json()
    assert (body["villages"], body["households"]) == (1, 2)


@pytest.mark.parametrize("username", ["cg_admin", "tj_village_admin", "tj_recorder", "tj_resident"])
def test_a_region_outside_the_scope_is_404(county, api, username):
    assert_error(api.as_(username).get(f"/regions/{county.county.id}"), 404, "not_found")
    assert_error(api.as_(username).get(f"/regions/{county.gs.id}"), 404, "not_found")


def test_an_unknown_region_is_404(world, api):
    assert_error(api.as_("admin").get("/regions/9999"), 404, "not_found")


# --- villages under regions -------------------------------------------------------------


def test_a_village_created_by_region_takes_the_townships_name(county, session, api):
    r = api.as_("dk_admin").post("/villages", json={"name": "新村", "code": "XC", "region_id": county.gs.id})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["township"] == "高沙镇" and r.get_json()["region_id"] == county.gs.id
    assert api.as_("dk_admin").get(f"/regions/{county.county.id}").get_json()["villages"] == 3


def test_a_village_by_township_name_hangs_under_one_top_level_township(world, session, api):
    first = api.as_("admin").post("/villages", json={"name": "甲村", "code": "J1", "township": "新乡"}).get_json()
    second = api.as_("admin").post("/villages", json={"name": "乙村", "code": "J2", "township": "新乡"}).get_json()
    assert first["region_id"] == second["region_id"]
    region = session.get(Region, first["region_id"])
    assert (region.name, region.level, region.parent_id) == ("新乡", "township", None)
    # The villages world made with 上木拉乡 share the one made from that name.
    assert session.get(Village, world.a.id).region_id == session.get(Village, world.b.id).region_id


def test_villages_by_region(county, api):
    for who in ("admin", "dk_reviewer"):
        r = api.as_(who).get(f"/villages?region_id={county.county.id}")
        assert {v["code"] for v in r.get_json()["items"]} == {"HP", "QF"}
    r = api.as_("cg_recorder").get(f"/villages?region_id={county.cg.id}")
    assert [v["code"] for v in r.get_json()["items"]] == ["HP"]
    assert_error(api.as_("admin").get("/villages?region_id=9999"), 404, "not_found")


def test_villages_by_a_region_outside_the_scope_are_404(county, world, api):
    """The contract: a filter naming a region outside the caller's scope is 404 (a region
    above or beside one's own; a village's users have no region in their scope)."""
    for who, region_id in (
        ("cg_recorder", county.county.id),
        ("cg_reviewer", county.gs.id),
        ("tj_resident", county.county.id),
        ("tj_village_admin", county.cg.id),
        ("tj_village_admin", world.a.region_id),  # its own township
    ):
        assert_error(api.as_(who).get("/villages", query_string={"region_id": region_id}), 404, "not_found")
    # without the filter, the directory of every village as before
    assert api.as_("tj_resident").get("/villages").get_json()["total"] == 4


def test_a_village_needs_a_township_region(county, api):
    body = {"name": "新村", "code": "XC", "region_id": county.county.id}
    err = assert_error(api.as_("admin").post("/villages", json=body), 422, "validation_error")
    assert "region_id" in err["details"]
    err = assert_error(api.as_("admin").post("/villages", json=body | {"region_id": 9999}), 400, "not_found")
    assert err["details"] == {"field": "region_id"}
    # A township admin: its own township, not another's, nor a township by name.
    body = {"name": "新村", "code": "XC", "region_id": county.gs.id}
    assert_error(api.as_("cg_admin").post("/villages", json=body), 400, "not_found")
    body = {"name": "新村", "code": "XC", "township": "城关镇"}
    assert_error(api.as_("cg_admin").post("/villages", json=body), 403, "forbidden")


# --- officials of a region ---------------------------------------------------------------


def test_admin_creates_a_region_official(county, api):
    body = {"username": "gs_recorder", "password": "long-enough", "roles": ["recorder"], "region_id": county.gs.id}
    r = api.as_("admin").post("/users", json=body)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["region_id"] == county.gs.id and r.get_json()["village_id"] is None
    assert api.as_("gs_recorder", "long-enough").get(f"/regions/{county.gs.id}").status_code == 200


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"roles": ["village_admin"]}, "roles"),
        ({"roles": ["clerk"]}, "roles"),
        ({"village_id": "HP"}, "region_id"),
    ],
)
def test_invalid_region_officials_are_422(county, api, extra, field):
    body = {"username": "x_user", "password": "long-enough", "roles": ["recorder"], "region_id": county.gs.id}
    body |= extra
    if body.get("village_id") == "HP":
        body["village_id"] = county.hp.id
    err = assert_error(api.as_("admin").post("/users", json=body), 422, "validation_error")
    assert field in err["details"]


def test_region_officials_are_made_inside_the_region(county, world, api):
    body = {"username": "x_user", "password": "long-enough", "roles": ["recorder"]}
    assert_error(api.as_("admin").post("/users", json=body | {"region_id": 9999}), 400, "not_found")
    assert_error(api.as_("cg_admin").post("/users", json=body | {"region_id": county.gs.id}), 400, "not_found")
    assert_error(api.as_("cg_admin").post("/users", json=body | {"village_id": world.a.id}), 400, "not_found")
    # to a village admin any region is one that does not exist
    village_admin = api.as_("tj_village_admin")
    assert_error(village_admin.post("/users", json=body | {"region_id": county.cg.id}), 400, "not_found")
    r = api.as_("cg_admin").post("/users", json=body | {"village_id": county.hp.id})
    assert r.status_code == 201, r.get_json()
    r = api.as_("dk_admin").post("/users", json=body | {"username": "y_user", "region_id": county.gs.id})
    assert r.status_code == 201, r.get_json()
    users = {u["username"] for u in api.as_("cg_admin").get("/users").get_json()["items"]}
    assert "x_user" in users and "y_user" not in users and "tj_recorder" not in users


def test_a_township_official_acts_in_its_villages_only(county, world, api):
    rec = api.as_("cg_recorder")
    body = {"rule_id": world.rules["hp_labour"].id, "occurred_on": TODAY.isoformat()}
    r = rec.post("/entries", json=body | {"household_id": county.households["hp1"].id})
    assert r.status_code == 201, r.get_json()
    body = {"rule_id": world.rules["qf_labour"].id, "occurred_on": TODAY.isoformat()}
    assert_error(rec.post("/entries", json=body | {"household_id": county.households["qf1"].id}), 400, "not_found")
    assert rec.get(f"/households/{county.households['hp1'].id}").status_code == 200
    assert_error(rec.get(f"/households/{county.households['qf1'].id}"), 404, "not_found")
    assert_error(rec.get(f"/households/{world.households['tj1'].id}"), 404, "not_found")
    numbers = [h["number"] for h in rec.get("/households").get_json()["items"]]
    assert numbers == ["HP-001", "HP-002"]
    assert_error(rec.get(f"/households?village_id={county.qf.id}"), 404, "not_found")


def test_a_county_official_acts_in_every_village_below(county, world, api):
    rev = api.as_("dk_reviewer")
    assert rev.get(f"/households/{county.households['qf2'].id}").status_code == 200
    assert rev.get(f"/households/{county.households['hp2'].id}").status_code == 200
    assert_error(rev.get(f"/households/{world.households['tj1'].id}"), 404, "not_found")
    assert rev.get(f"/households?village_id={county.qf.id}").get_json()["total"] == 2
    assert rev.get("/households").get_json()["total"] == 4


def test_a_village_official_cannot_see_the_township_villages(county, api):
    assert_error(api.as_("tj_village_admin").get(f"/households/{county.households['hp1'].id}"), 404, "not_found")


# --- standings by region -----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["", "&limit=2"])
def test_household_standings_of_a_region(county, world, api, limit):
    rec = api.as_("dk_recorder")
    for key, times in (("qf1", 1), ("hp2", 1)):
        body = {"household_id": county.households[key].id, "rule_id": world.rules[f"{key[:2]}_labour"].id}
        assert (
            rec.post("/entries", json=body | {"occurred_on": TODAY.isoformat(), "quantity": times}).status_code == 201
        )
    tj = {"household_id": world.households["tj1"].id, "rule_id": world.rules["tj_labour"].id}
    assert api.as_("tj_recorder").post("/entries", json=tj | {"occurred_on": TODAY.isoformat()}).status_code == 201
    r = api.as_("tj_resident").get(f"/leaderboards?period=2026Q4&region_id={county.county.id}{limit}")
    assert r.status_code == 200
    rows = r.get_json()["items"]
    assert {row["number"] for row in rows if row["points"] > 0} == {"QF-001", "HP-002"}
    assert all(row["number"][:2] in ("HP", "QF") for row in rows)
    r = api.as_("tj_resident").get(f"/leaderboards?period=2026Q4&region_id={county.cg.id}")
    assert [row["number"] for row in r.get_json()["items"]] == ["HP-002", "HP-001"]
    assert_error(api.as_("admin").get("/leaderboards?period=2026Q4&region_id=9999"), 404, "not_found")


def test_village_standings_of_a_region(county, api):
    r = api.as_("cg_reviewer").get(f"/leaderboards/villages?period=2026Q4&region_id={county.county.id}")
    assert r.status_code == 200
    assert sorted(row["name"] for row in r.get_json()["items"]) == ["和平村", "清风村"]
    r = api.as_("cg_reviewer").get(f"/leaderboards/villages?period=2026Q4&region_id={county.gs.id}")
    assert [row["name"] for row in r.get_json()["items"]] == ["清风村"]
    assert_error(api.as_("admin").get("/leaderboards/villages?period=2026Q4&region_id=9999"), 404, "not_found")


def test_a_township_official_picks_among_its_villages_on_the_pages(county, client, auth):
    auth.login("cg_reviewer")
    page = client.get("/").get_data(as_text=True)
    assert "和平村" in page and "清风村" not in page and "团结村" not in page
    r = client.get(f"/approvals?village_id={county.hp.id}")
    assert r.status_code == 200
    assert client.get(f"/approvals?village_id={county.qf.id}").status_code == 404
