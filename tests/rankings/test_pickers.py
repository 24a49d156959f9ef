"""The scheme and region pickers of the rankings pages: what they rank, and 404 for a
scheme or region outside the user's scope."""

import pytest

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
