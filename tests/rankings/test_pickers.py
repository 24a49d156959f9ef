"""The scheme and region pickers of the rankings pages: what they rank, and 404 for a
scheme or region outside the user's scope."""

import pytest

from app.clock import utcnow
from app.schemes.models import Scheme
from tests.conftest import TODAY
from tests.regions.conftest import county  # noqa: F401  (the county of two townships)

PERIOD = f"{TODAY.year}Q{(TODAY.month - 1) // 3 + 1}"


def text(response) -> str:
    return response.get_data(as_text=True)


def household_scheme(session, village) -> Scheme:
    return session.query(Scheme).filter_by(village_id=village.id, account_kind="household").one()


@pytest.fixture
def scored(county, world, api):  # noqa: F811
    for key in ("hp1", "qf2"):
        body = {"household_id": county.households[key].id, "rule_id": world.rules[f"{key[:2]}_labour"].id}
        r = api.as_("dk_recorder").post("/entries", json=body | {"occurred_on": TODAY.isoformat()})
        assert r.status_code == 201
    return county


def test_a_county_official_ranks_a_township_by_the_region_picker(scored, world, auth, client):
    auth.login("dk_reviewer")
    page = text(client.get("/standings", query_string={"period": PERIOD}))
    assert '<select id="region_id" name="region_id">' in page
    assert f'<option value="{scored.cg.id}">城关镇</option>' in page and "洞口县</option>" in page
    page = text(client.get("/standings", query_string={"period": PERIOD, "region_id": scored.cg.id}))
    table = page.split("<table")[1]
    assert "户主hp1" in table and "户主hp2" in table and "户主qf2" not in table
    assert f'<option value="{scored.cg.id}" selected>' in page
    assert f"region_id={scored.cg.id}" in page.split("导出")[1].split("</p>")[0]  # the export follows


def test_a_region_out_of_scope_is_not_found(scored, world, session, auth, client):
    auth.login("cg_reviewer")
    assert client.get(f"/standings?region_id={scored.county.id}").status_code == 404
    assert client.get(f"/standings?region_id={scored.gs.id}").status_code == 404
    assert client.get("/standings?region_id=x").status_code == 404
    assert client.get(f"/standings/export.csv?region_id={scored.gs.id}").status_code == 404
    auth.logout()
    auth.login("tj_recorder")  # a village official picks no region
    page = text(client.get("/standings"))
    assert 'name="region_id"' not in page
    assert client.get(f"/standings?region_id={scored.cg.id}").status_code == 404


def test_a_township_officials_every_village_is_its_townships(scored, world, auth, client):
    """全部村 (the default without a village of one's own) ranks the villages below the
    official's region, as its picker lists them, never the deployment's; another
    township by name is 404, as another village is."""
    auth.login("cg_reviewer")
    for query in ({}, {"scope": "all"}):
        page = text(client.get("/standings", query_string={"period": PERIOD, **query}))
        table = page.split("<table")[1]
        assert "户主hp1" in table and "户主qf2" not in table and "户主tj1" not in table
        assert "城关镇 · " in page
    csv = text(client.get("/standings/export.csv", query_string={"period": PERIOD, "scope": "all"}))
    assert "户主hp1" in csv and "户主qf2" not in csv and "户主tj1" not in csv
    assert client.get("/standings", query_string={"township": "上木拉乡"}).status_code == 404
    assert client.get("/standings", query_string={"scope": "township:上木拉乡"}).status_code == 404


def test_a_villages_household_scheme_ranks_its_households(scored, session, auth, client):
    scheme = household_scheme(session, scored.qf)
    auth.login("dk_reviewer")
    page = text(client.get("/standings", query_string={"period": PERIOD, "scheme_id": scheme.id}))
    table = page.split("<table")[1]
    assert "户主qf2" in table and "户主qf1" in table and "户主hp1" not in table
    assert "清风村积分方案" in page


def test_a_scheme_out_of_scope_is_not_found(scored, world, session, auth, client):
    auth.login("cg_reviewer")
    qf = household_scheme(session, scored.qf)
    assert client.get(f"/standings?scheme_id={qf.id}").status_code == 404
    assert client.get(f"/standings/export.xlsx?scheme_id={qf.id}").status_code == 404
    assert client.get("/standings?scheme_id=999999").status_code == 404
    auth.logout()
    auth.login("tj_resident")
    tj = household_scheme(session, world.a)
    assert client.get(f"/standings?scheme_id={tj.id}").status_code == 404  # residents pick no scheme
    assert 'name="scheme_id"' not in text(client.get("/standings"))


def test_the_export_follows_the_region_picked(scored, auth, client):
    auth.login("dk_reviewer")
    r = client.get("/standings/export.csv", query_string={"period": PERIOD, "region_id": scored.gs.id})
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "户主qf2" in body and "户主hp1" not in body


@pytest.fixture
def volunteers(scored, world, session):
    """城关镇's volunteer scheme (a person scheme of the township) with one volunteer who
    earned 8 points in 志愿服务 today."""
    from app.households.models import Household
    from app.points import rules as rulebook
    from app.points import services as points
    from app.schemes import services as schemes
    from app.scope import Actor

    admin = Actor(world.admin)
    settings = {"base_points": 0, "redeem_floor": 0, "yuan_per_point": 2.0, "notice_days": 7}
    flags = {"approval_required": False, "annual_reset": False}
    scheme = schemes.create_scheme(
        session,
        admin,
        {"name": "城关镇志愿者", "region_id": scored.cg.id, "account_kind": "person", "cadence": "month"}
        | settings
        | flags
        | {"categories": ["志愿服务", "助老"]},
    )
    rule = rulebook.create_rule(
        session, admin, None, {"code": "V-1", "name": "助老服务", "category": "助老", "points": 8}, scheme_id=scheme.id
    )
    person = Household(
        scheme_id=scheme.id, kind="person", number="V001", head_name="志愿者李", home_village_id=scored.hp.id
    )
    session.add(person)
    session.flush()
    points.record_entry(
        session,
        admin,
        household_id=person.id,
        rule_id=rule.id,
        quantity=1,
        occurred_on=TODAY,
        today=TODAY,
        now=utcnow(),
    )
    session.commit()
    return scheme


def test_statistics_by_region_and_by_scheme(volunteers, scored, world, session, auth, client):
    auth.login("dk_reviewer")
    page = text(client.get("/stats", query_string={"region_id": scored.gs.id}))
    assert "高沙镇" in page and "清风村" in page and "和平村" not in page.split("参与率")[-1]
    assert f"region_id={scored.gs.id}" in page.split("导出排名")[1]
    page = text(client.get("/stats", query_string={"scheme_id": volunteers.id, "year": TODAY.year}))  # the data's year
    assert "城关镇志愿者" in page and "助老" in page and "各村各季度参与率" not in page
    assert f'<option value="{volunteers.id}" selected>城关镇志愿者</option>' in page
    auth.logout()
    auth.login("cg_reviewer")
    assert client.get(f"/stats?region_id={scored.gs.id}").status_code == 404
    assert client.get(f"/stats?scheme_id={household_scheme(session, scored.qf).id}").status_code == 404
    assert client.get(f"/stats?scheme_id={volunteers.id}").status_code == 200
    auth.logout()
    auth.login("tj_reviewer")
    assert client.get(f"/stats?scheme_id={volunteers.id}").status_code == 404
