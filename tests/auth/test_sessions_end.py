"""A password change or reset, or a deactivation, ends every browser session of the
account as well as its API tokens (the session keeps the token version)."""

import pytest

from app.auth import services
from tests.factories import PASSWORD


def logged_in(app, username: str):
    """A browser of its own, logged in by the page, and an API token got by it too."""
    browser = app.test_client()
    assert browser.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    token = browser.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).get_json()["token"]
    assert browser.get("/api/v1/auth/me").status_code == 200
    r = browser.get("/")
    assert r.status_code == 200 or "/login" not in r.headers["Location"]
    return browser, token


def assert_logged_out(app, browser, token: str) -> None:
    r = browser.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = browser.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_a_password_reset_by_the_village_admin_ends_the_sessions(world, app):
    target = world.users["tj_recorder"]
    browser, token = logged_in(app, "tj_recorder")
    admin = app.test_client()
    admin.post("/login", data={"username": "tj_village_admin", "password": PASSWORD})
    assert admin.post(f"/users/{target.id}/password", data={"password": "new-password-1"}).status_code == 302
    assert_logged_out(app, browser, token)
    assert admin.get("/users").status_code == 200  # the one who reset it stays logged in
    # The new password opens a new session.
    again = app.test_client()
    assert again.post("/login", data={"username": "tj_recorder", "password": "new-password-1"}).status_code == 302
    assert again.get("/api/v1/auth/me").get_json()["username"] == "tj_recorder"


def test_one_s_own_password_change_ends_one_s_other_sessions(world, app, session):
    phone, token = logged_in(app, "tj_village_admin")
    desk, _ = logged_in(app, "tj_village_admin")
    me = world.users["tj_village_admin"]
    assert desk.post(f"/users/{me.id}/password", data={"password": "new-password-1"}).status_code in (302, 200)
    assert_logged_out(app, phone, token)


@pytest.mark.parametrize("reactivate", [False, True])
def test_deactivation_ends_the_sessions_even_once_reactivated(world, app, session, reactivate):
    target = world.users["tj_clerk"]
    browser, token = logged_in(app, "tj_clerk")
    admin = app.test_client()
    admin.post("/login", data={"username": "tj_village_admin", "password": PASSWORD})
    assert admin.post(f"/users/{target.id}/active", data={"active": "0"}).status_code == 302
    if reactivate:
        assert admin.post(f"/users/{target.id}/active", data={"active": "1"}).status_code == 302
    assert_logged_out(app, browser, token)


def test_a_service_password_change_ends_the_sessions(world, app, session):
    browser, token = logged_in(app, "tj_resident")
    user = world.users["tj_resident"]
    services.set_password(session, world.actor("admin"), user, "new-password-1")
    session.commit()
    assert_logged_out(app, browser, token)


@pytest.mark.parametrize("forged", ["{id}", "{id}:", "{id}:x", ":1", "{id}:99", "99999999999:1"])
def test_a_session_naming_no_current_version_is_no_login(world, app, forged):
    browser, _ = logged_in(app, "tj_clerk")  # a real session, its other keys kept
    with browser.session_transaction() as s:
        s["_user_id"] = forged.format(id=world.users["admin"].id)
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_a_phone_that_changes_address_stays_logged_in(world, app):
    """A phone moves between the village's Wi-Fi and 4G (a new address, even mid-form):
    the session is not bound to the address, or the grid worker would be logged out."""
    phone = app.test_client()
    wifi, mobile = {"REMOTE_ADDR": "192.168.1.23"}, {"REMOTE_ADDR": "10.88.4.7"}
    r = phone.post("/login", data={"username": "tj_recorder", "password": PASSWORD}, environ_overrides=wifi)
    assert r.status_code == 302
    assert phone.get("/api/v1/auth/me", environ_overrides=mobile).status_code == 200
    r = phone.get("/record", environ_overrides=mobile)
    assert r.status_code == 200, r.headers.get("Location")
