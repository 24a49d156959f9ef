"""A region's overview page for its officials."""

from tests.conftest import TODAY


def record(api, world, county, key, recorder="dk_recorder"):
    body = {"household_id": county.households[key].id, "rule_id": world.rules[f"{key[:2]}_labour"].id}
    assert api.as_(recorder).post("/entries", json=body | {"occurred_on": TODAY.isoformat()}).status_code == 201


def test_a_county_official_sees_its_villages_and_drills_down(county, world, api, auth, client):
    record(api, world, county, "qf1")
    record(api, world, county, "hp2")
    auth.login("dk_reviewer")
    r = client.get("/region")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/regions/{county.county.id}")
    page = client.get(f"/regions/{county.county.id}").get_data(as_text=True)
    assert "洞口县" in page and "和平村" in page and "清风村" in page and "团结村" not in page
    assert "城关镇" in page and "高沙镇" in page  # the townships below, to go down to
    assert "户主qf1" in page and "户主hp2" in page  # the best households of the county
    assert f"/?village_id={county.hp.id}" in page  # down to a village's page
    village = client.get(f"/?village_id={county.hp.id}").get_data(as_text=True)
    assert f'href="/regions/{county.cg.id}">‹ 城关镇</a>' in village  # and back up to its township
    assert 'href="/?village_id=">切换村</a>' in village
    picker = client.get("/?village_id=")  # 切换村 forgets the village: every village to pick from
    assert picker.status_code == 200 and "和平村" in picker.get_data(as_text=True)
    assert "今日记分" not in picker.get_data(as_text=True)
    assert client.get(f"/?village_id={world.a.id}").status_code == 404


def test_pending_approvals_are_counted_per_village(county, world, session, api, auth, client):
    county.qf.approval_required = True
    session.commit()
    record(api, world, county, "qf1")
    auth.login("dk_reviewer")
    page = client.get(f"/regions/{county.county.id}").get_data(as_text=True)
    assert f'/approvals?village_id={county.qf.id}">1</a>' in page


def test_a_township_official_sees_its_township_only(county, auth, client):
    auth.login("cg_recorder")
    page = client.get(f"/regions/{county.cg.id}").get_data(as_text=True)
    assert "和平村" in page and "清风村" not in page
    assert "洞口县" not in page  # the county above is not its to open
    assert client.get(f"/regions/{county.county.id}").status_code == 404
    assert client.get(f"/regions/{county.gs.id}").status_code == 404


def test_village_officials_and_residents_have_no_region_page(county, auth, client):
    auth.login("tj_reviewer")
    assert client.get(f"/regions/{county.cg.id}").status_code == 404
    assert client.get("/region").status_code == 404
    auth.logout()
    auth.login("tj_resident")
    assert client.get(f"/regions/{county.cg.id}").status_code == 403


def test_the_administrator_starts_from_the_top_regions(county, auth, client):
    auth.login("admin")
    page = client.get("/region").get_data(as_text=True)
    assert "洞口县" in page and "上木拉乡" in page and "城关镇" not in page


def test_a_region_official_sees_the_statistics_of_its_villages(county, world, auth, client):
    auth.login("dk_reviewer")
    page = client.get(f"/stats?village_id={county.qf.id}").get_data(as_text=True)
    assert "清风村" in page
    assert client.get("/stats").status_code == 200
    assert client.get(f"/stats?village_id={world.a.id}").status_code == 404


def test_the_overview_lists_the_regions_schemes(county, world, session, auth, client):
    from tests.schemes.test_pages import region_scheme

    region_scheme(session, world, county)
    region_scheme(session, world, county, name="城关镇志愿者", region_id=county.cg.id, account_kind="person")
    auth.login("dk_admin")
    page = client.get(f"/regions/{county.county.id}").get_data(as_text=True)
    assert "积分换项目" in page and "城关镇志愿者" in page and "以村为账户 · 按月" in page
    assert "和平村积分方案" not in page  # a village's own scheme is on the village's pages
    assert "/schemes/new" in page
    auth.logout()
    auth.login("cg_reviewer")
    page = client.get(f"/regions/{county.cg.id}").get_data(as_text=True)
    assert "城关镇志愿者" in page and "积分换项目" not in page and "/schemes/new" not in page
