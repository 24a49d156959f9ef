"""A writing API request authenticated by the session cookie needs the CSRF token; one
without it is told so (403 forbidden), not that its JSON is malformed."""

import pytest

from tests.factories import PASSWORD


@pytest.fixture
def browser(world, app):
    app.config["WTF_CSRF_ENABLED"] = True  # as in production
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = client.post("/login", data={"csrf_token": token, "username": "tj_recorder", "password": PASSWORD})
    assert r.status_code == 302
    return client


def entry(world) -> dict:
    return {
        "household_id": world.households["tj1"].id,
        "rule_id": world.rules["tj_school"].id,
        "occurred_on": "2026-11-19",
    }


def test_a_cookie_post_without_the_token_is_told_what_is_missing(world, browser, session):
    from app.points.models import Entry

    before = session.query(Entry).count()
    r = browser.post("/api/v1/entries", json=entry(world))
    assert r.status_code == 403
    error = r.get_json()["error"]
    assert error["code"] == "forbidden"
    assert "CSRF" in error["message"] and "缺少" in error["message"] and "X-CSRFToken" in error["message"]
    assert "JSON" not in error["message"]
    assert session.query(Entry).count() == before


def test_a_cookie_post_with_a_wrong_token_is_403_too(world, browser):
    r = browser.post("/api/v1/entries", json=entry(world), headers={"X-CSRFToken": "forged"})
    assert r.status_code == 403
    assert "CSRF 令牌无效" in r.get_json()["error"]["message"]


def test_a_cookie_post_with_the_token_goes_through(world, browser):
    page = browser.get("/record").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = browser.post("/api/v1/entries", json=entry(world), headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer forged", "Bearer ", "bearer x", "Digest x"])
def test_an_authorization_header_that_is_no_bearer_token_needs_the_token_too(world, browser, session, header):
    """A browser sends HTTP Basic credentials (a password in front of the site) by itself,
    with the cookie, on a form another site posts: only a good bearer token, the
    request's own login, spares the CSRF token."""
    from app.households.models import Household

    household = world.households["tj1"]
    version = household.qr_version
    r = browser.post(f"/api/v1/households/{household.id}/qr/revoke", headers={"Authorization": header})
    assert r.status_code == 403, r.get_json()
    assert "CSRF" in r.get_json()["error"]["message"]
    session.expire_all()
    assert session.get(Household, household.id).qr_version == version


def test_a_good_bearer_token_needs_no_csrf_token_even_beside_a_cookie(world, app, browser, client):
    r = client.post("/api/v1/auth/token", json={"username": "tj_recorder", "password": PASSWORD})
    bearer = {"Authorization": "Bearer " + r.get_json()["token"]}
    assert client.post("/api/v1/entries", json=entry(world), headers=bearer).status_code == 201
    assert browser.post("/api/v1/entries", json=entry(world), headers=bearer).status_code == 201
