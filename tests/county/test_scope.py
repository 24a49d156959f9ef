"""Who opens the county's scoring page: the county's officials; a township's only for
the villages of its township; a village's official never."""

import re

from app.scope import Actor
from tests import factories
from tests.county.conftest import village_accounts, village_scheme


def test_the_county_official_sees_each_township(county, auth, client):
    auth.login("dk_reviewer")
    r = client.get(f"/county/schemes/{county.scheme.id}/score")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "城关镇" in page and "高沙镇" in page
    assert 'name="tap"' not in page  # a reviewer reads; recording is a recorder's
    assert client.get("/county/").status_code == 302  # straight to the only scheme


def test_a_village_official_gets_404(county, world, auth, client):
    for username in ("tj_recorder", "tj_reviewer"):
        auth.login(username)
        assert client.get(f"/county/schemes/{county.scheme.id}/score").status_code == 404
        account = county.accounts["HP"]
        data = {"township_id": county.cg.id, "month": "2026-11", "tap": f"{account.id}-{county.rules['零事故'].id}"}
        assert client.post(f"/county/schemes/{county.scheme.id}/score", data=data).status_code == 404
        auth.logout()


def test_a_township_official_does_not_open_the_county_scheme(county, auth, client):
    auth.login("cg_recorder")
    assert client.get(f"/county/schemes/{county.scheme.id}/score").status_code == 404


def test_a_township_official_sees_only_its_villages(county, world, auth, client, session):
    scheme = village_scheme(session, Actor(world.admin), county.cg, name="城关镇月度考评")
    session.commit()
    assert set(village_accounts(session, scheme)) == {"HP", "XH"}
    auth.login("cg_recorder")
    page = client.get(f"/county/schemes/{scheme.id}/score").get_data(as_text=True)
    assert "和平村" in page and "新华村" in page and "清风村" not in page
    assert client.get(f"/county/schemes/{scheme.id}/score?township_id={county.gs.id}").status_code == 404
    assert client.get("/county/").status_code == 302  # its one scheme


def test_a_resident_is_refused(county, auth, client):
    auth.login("tj_resident")
    assert client.get(f"/county/schemes/{county.scheme.id}/score").status_code == 403


def test_a_region_recorder_sees_pending_counts_without_a_link_it_may_not_follow(
    county, world, session, api, auth, client
):
    qf = county.villages["QF"]
    qf.household_scheme.approval_required = True
    household = factories.household(session, world.admin, qf, "QF-001")
    rule = factories.rule(session, world.admin, qf, "VOL", 5)
    session.commit()
    body = {"household_id": household.id, "rule_id": rule.id, "occurred_on": "2026-11-20"}
    assert api.as_("dk_recorder").post("/entries", json=body).status_code == 201
    auth.login("dk_recorder")  # the approvals page is a reviewer's: 403 for a recorder
    page = client.get(f"/regions/{county.county.id}").get_data(as_text=True)
    assert f"/approvals?village_id={qf.id}" not in page
    auth.logout()
    auth.login("dk_reviewer")
    page = client.get(f"/regions/{county.county.id}").get_data(as_text=True)
    assert f'/approvals?village_id={qf.id}">1</a>' in page


def test_another_kind_of_scheme_is_sent_to_its_own_page(county, world, auth, client):
    household_scheme = county.villages["HP"].household_scheme
    auth.login("dk_reviewer")
    r = client.get(f"/county/schemes/{household_scheme.id}/score")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/schemes/{household_scheme.id}")
    data = {"township_id": county.cg.id, "month": "2026-11", "tap": "1-1"}
    assert client.post(f"/county/schemes/{household_scheme.id}/score", data=data).status_code == 302


def test_a_region_recorder_with_a_village_scheme_lands_on_its_scoring(county, client):
    for username, landing in (("dk_recorder", "/county/"), ("cg_recorder", "/record"), ("tj_recorder", "/record")):
        r = client.post("/login", data={"username": username, "password": factories.PASSWORD})
        assert r.status_code == 302 and r.headers["Location"] == landing, username
        client.post("/logout")
    r = client.post("/login", data={"username": "dk_reviewer", "password": factories.PASSWORD})
    assert r.headers["Location"] == "/approvals"  # a reviewer's landing is unchanged


def test_the_menu_offers_village_scoring_only_with_a_scheme_in_scope(county, auth, client):
    def menu():
        html = client.get("/standings").get_data(as_text=True)
        return re.search(r'<nav class="menu">(.*?)</nav>', html, re.S).group(1)

    auth.login("dk_reviewer")
    assert "村级考评" in menu()
    auth.logout()
    auth.login("cg_reviewer")  # the county's scheme exists, but is not its township's
    assert "村级考评" not in menu()
    page = client.get("/county/").get_data(as_text=True)
    assert "城关镇没有运行以村为账户的积分方案" in page and "还没有以村为账户的积分方案" not in page
