"""POST /auth/token, bearer tokens and POST /users, through HTTP."""

from datetime import datetime, timedelta

import pytest

from app import create_app
from app.auth import services
from app.auth.models import User
from app.extensions import db, limiter
from tests.factories import PASSWORD


def token_for(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_token_carries_the_user(world, client):
    r = token_for(client, "tj_recorder")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["token"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == timedelta(hours=8)  # Asia/Shanghai
    assert expires > datetime.now(expires.tzinfo) + timedelta(days=29)
    user = body["user"]
    assert user["id"] == world.users["tj_recorder"].id
    assert user["username"] == "tj_recorder"
    assert user["roles"] == ["recorder"]
    assert user["village_id"] == world.a.id


def test_token_authenticates_later_requests(world, client):
    token = token_for(client, "tj_recorder").get_json()["token"]
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.get_json()["username"] == "tj_recorder"


def test_a_cookie_without_a_login_does_not_void_the_token(world, client):
    """A client that keeps cookies gets one from ``?lang=en`` (the session remembers the
    language, and nothing else); its bearer token must keep working, in English now."""
    token = token_for(client, "tj_recorder").get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/login?lang=en").status_code == 200
    assert client.get_cookie("session") is not None
    r = client.get("/api/v1/auth/me", headers=bearer)
    assert r.status_code == 200 and r.get_json()["username"] == "tj_recorder"
    r = client.get("/api/v1/households/999999", headers=bearer)
    assert r.status_code == 404 and r.get_json()["error"]["message"] != "未找到"


@pytest.mark.parametrize(
    "username, password",
    [("tj_recorder", "wrong-password"), ("nobody", PASSWORD), ("", ""), ("tj_recorder", "")],
)
def test_bad_credentials_are_401(world, client, username, password):
    err = assert_error(token_for(client, username, password), 401, "invalid_credentials")
    assert err["details"] == {}


def test_deactivated_user_cannot_get_a_token(world, session, client):
    services.set_active(session, world.actor("admin"), world.users["tj_clerk"].id, False)
    session.commit()
    assert_error(token_for(client, "tj_clerk"), 401, "invalid_credentials")


def test_deactivation_kills_outstanding_tokens(world, session, client):
    token = token_for(client, "tj_clerk").get_json()["token"]
    services.set_active(session, world.actor("admin"), world.users["tj_clerk"].id, False)
    session.commit()
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401, "unauthorized")


def test_token_request_without_fields_is_422(world, client):
    err = assert_error(client.post("/api/v1/auth/token", json={"username": "x"}), 422, "validation_error")
    assert "password" in err["details"]


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-token", "Bearer ", "Bearer eyJ1IjoxLCJ2IjoxfQ.aaaa.bbbb", "Basic dGpfcmVjb3JkZXI6eA=="],
)
def test_invalid_bearer_is_401(world, client, header):
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": header}), 401, "unauthorized")


def test_no_credentials_is_401(world, client):
    assert_error(client.get("/api/v1/households"), 401, "unauthorized")
    assert_error(client.post("/api/v1/entries", json={}), 401, "unauthorized")


def test_token_signed_with_another_secret_is_refused(world, app, client):
    forged, _ = services.issue_token(world.users["admin"], "another-secret", 3600, datetime(2026, 11, 20))
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized")


def test_token_stops_working_after_password_change(world, session, client):
    token = token_for(client, "tj_recorder").get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    user = session.get(User, world.users["tj_recorder"].id)
    services.set_password(session, world.actor("admin"), user, "a-new-password")
    session.commit()

    assert_error(client.get("/api/v1/auth/me", headers=headers), 401, "unauthorized")
    assert_error(token_for(client, "tj_recorder"), 401, "invalid_credentials")
    assert token_for(client, "tj_recorder", "a-new-password").status_code == 200


def test_expired_token_is_refused(world, app, client):
    app.config["API_TOKEN_MAX_AGE"] = -1
    token = token_for(client, "tj_recorder").get_json()["token"]
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthorized")


@pytest.fixture(params=[0])
def strict_app(tmp_path, request):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            # Its own SQLite file whatever the run's database: this app drops its tables.
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'strict.db'}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOGIN_RATE_LIMIT": "3 per minute",
            "LOGIN_IP_RATE_LIMIT": "5 per minute",
            "TRUSTED_PROXIES": request.param,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        limiter.reset()
        services.create_user(db.session, None, {"username": "alice", "password": PASSWORD, "roles": ["admin"]})
        services.create_user(db.session, None, {"username": "bob", "password": PASSWORD, "roles": ["admin"]})
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    limiter.reset()


def test_repeated_failures_are_rate_limited(strict_app):
    client = strict_app.test_client()
    for _ in range(3):
        assert_error(token_for(client, "alice", "wrong-password"), 401, "invalid_credentials")
    assert_error(token_for(client, "alice", "wrong-password"), 429, "rate_limited")
    # Even the right password is refused until the window passes.
    assert_error(token_for(client, "alice"), 429, "rate_limited")


def test_the_limit_per_address_and_username_holds_across_spellings_but_locks_no_one_out(strict_app):
    """A guesser who pads or recases the name (which still logs in to the same account)
    draws on one allowance; the account's owner, at another address, still logs in."""
    client = strict_app.test_client()
    for name in ("alice", " alice", "ALICE\t"):
        r = client.post(
            "/api/v1/auth/token",
            json={"username": name, "password": "wrong-password"},
            environ_overrides={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert_error(r, 401, "invalid_credentials")
    for name in ("alice", "  Alice ", "alice\t"):
        r = client.post(
            "/api/v1/auth/token",
            json={"username": name, "password": PASSWORD},
            environ_overrides={"REMOTE_ADDR": "10.0.0.1"},
        )
        assert_error(r, 429, "rate_limited")
    r = client.post(
        "/api/v1/auth/token",
        json={"username": "alice", "password": PASSWORD},
        environ_overrides={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert r.status_code == 200


def test_the_login_page_and_the_api_share_one_allowance(strict_app):
    client = strict_app.test_client()
    for i in range(3):
        if i % 2:
            r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong-password"})
            assert r.status_code == 401
        else:
            r = client.post("/login", data={"username": "alice " if i else "alice", "password": "wrong-password"})
            assert r.status_code == 200  # the form again, with its message
    r = client.post("/login", data={"username": " ALICE", "password": PASSWORD})
    assert r.status_code == 429
    assert "尝试次数过多" in r.get_data(as_text=True)
    assert_error(token_for(client, "alice"), 429, "rate_limited")


def _guess(client, username, forwarded_for):
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": "wrong-password"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_overrides={"REMOTE_ADDR": "127.0.0.1"},  # the proxy
    )


@pytest.mark.parametrize("strict_app", [1], indirect=True)
def test_behind_a_trusted_proxy_each_phone_has_its_own_allowance(strict_app):
    client = strict_app.test_client()
    for i in range(7):  # seven phones, seven names: none reaches a limit
        assert_error(_guess(client, f"nobody{i}", f"203.0.113.{i + 1}"), 401, "invalid_credentials")
    for i in range(5):  # one phone, five names: its address's allowance
        _guess(client, f"guess{i}", "203.0.113.99")
    assert_error(_guess(client, "another", "203.0.113.99"), 429, "rate_limited")


@pytest.mark.parametrize("strict_app", [1], indirect=True)
def test_a_trusted_proxy_sets_the_address_and_scheme_but_not_the_host(strict_app):
    """nginx sets Host itself and passes a client's X-Forwarded-Host through: believing
    it would let the client choose the app's external URLs."""
    from flask import request, url_for

    headers = {"X-Forwarded-For": "1.2.3.4, 5.6.7.8", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    seen = {}

    @strict_app.get("/_whoami")
    def whoami():
        seen.update(addr=request.remote_addr, scheme=request.scheme, url=url_for("auth.login", _external=True))
        return ""

    strict_app.test_client().get(
        "/_whoami", headers={"Host": "bank.example", **headers}, environ_overrides={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert seen == {"addr": "5.6.7.8", "scheme": "https", "url": "https://bank.example/login"}


def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(strict_app):
    client = strict_app.test_client()
    for i in range(5):
        assert_error(_guess(client, f"nobody{i}", f"203.0.113.{i + 1}"), 401, "invalid_credentials")
    assert_error(_guess(client, "nobody9", "203.0.113.9"), 429, "rate_limited")  # all from 127.0.0.1


def test_successful_logins_are_not_counted(strict_app):
    client = strict_app.test_client()
    for _ in range(6):
        assert token_for(client, "bob").status_code == 200


def test_only_a_failed_login_keeps_its_count(strict_app):
    """Every attempt is counted before its password is checked; one that checked none (a
    body that is not JSON, no password, a blank form) or that succeeded gives it back."""
    client = strict_app.test_client()
    for _ in range(3):
        assert client.post("/api/v1/auth/token", data="{", content_type="application/json").status_code == 400
        assert client.post("/api/v1/auth/token", json={"username": "alice"}).status_code == 422
        assert client.post("/login", data={"username": "alice", "password": ""}).status_code == 200
        assert token_for(client, "alice").status_code == 200
    for _ in range(3):
        assert_error(token_for(client, "alice", "wrong-password"), 401, "invalid_credentials")
    assert_error(token_for(client, "alice", "wrong-password"), 429, "rate_limited")


def test_a_page_login_with_a_stale_csrf_token_is_not_counted(strict_app):
    """Refused (400) before the limits are reached for: no password was checked."""
    client = strict_app.test_client()
    strict_app.config["WTF_CSRF_ENABLED"] = True
    try:
        for _ in range(5):
            assert client.post("/login", data={"username": "alice", "password": "wrong-password"}).status_code == 400
    finally:
        strict_app.config["WTF_CSRF_ENABLED"] = False
    for _ in range(3):
        assert_error(token_for(client, "alice", "wrong-password"), 401, "invalid_credentials")
    assert_error(token_for(client, "alice", "wrong-password"), 429, "rate_limited")


def test_an_inactive_account_s_login_is_a_failure_that_counts(strict_app):
    with strict_app.app_context():
        db.session.execute(db.update(User).where(User.username == "bob").values(active=False))
        db.session.commit()
    client = strict_app.test_client()
    for _ in range(3):
        assert_error(token_for(client, "bob"), 401, "invalid_credentials")
    assert_error(token_for(client, "bob"), 429, "rate_limited")


def test_default_login_limit_is_ten_per_five_minutes(world, app, client):
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per 5 minutes"
    for _ in range(10):
        assert token_for(client, "tj_recorder", "wrong-password").status_code == 401
    assert_error(token_for(client, "tj_recorder", "wrong-password"), 429, "rate_limited")


def new_user(**extra):
    return {
        "username": "new_user",
        "password": "long-enough",
        "display_name": "新用户",
        "roles": ["recorder"],
        **extra,
    }


def test_admin_creates_a_user_in_any_village(world, api):
    r = api.as_("admin").post("/users", json=new_user(village_id=world.b.id))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["id"] > 0
    assert body["username"] == "new_user"
    assert body["roles"] == ["recorder"]
    assert body["village_id"] == world.b.id
    assert token_for(api.client, "new_user", "long-enough").status_code == 200


def test_admin_creates_an_admin(world, api):
    r = api.as_("admin").post("/users", json=new_user(roles=["admin"]))
    assert r.status_code == 201
    assert r.get_json()["roles"] == ["admin"]


def test_village_admin_creates_users_of_its_village(world, api):
    me = api.as_("tj_village_admin")
    r = me.post("/users", json=new_user(village_id=world.a.id, roles=["recorder", "reviewer"]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["roles"] == ["recorder", "reviewer"]
    resident = new_user(
        username="tj_resident2", roles=["resident"], village_id=world.a.id, household_id=world.households["tj2"].id
    )
    r = me.post("/users", json=resident)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["household_id"] == world.households["tj2"].id


def test_village_admin_cannot_create_outside_its_village(world, session, api):
    before = session.query(User).count()
    me = api.as_("tj_village_admin")
    # another village is, to it, one that does not exist (a bad reference)
    assert_error(me.post("/users", json=new_user(village_id=world.b.id)), 400, "not_found")
    assert_error(me.post("/users", json=new_user(village_id=999_999)), 400, "not_found")
    assert_error(me.post("/users", json=new_user()), 403, "forbidden")
    assert_error(me.post("/users", json=new_user(village_id=world.a.id, roles=["admin"])), 403, "forbidden")
    session.expire_all()
    assert session.query(User).count() == before


@pytest.mark.parametrize("username", ["tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_other_roles_cannot_create_users(world, api, username):
    assert_error(api.as_(username).post("/users", json=new_user(village_id=world.a.id)), 403, "forbidden")


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"password": "short"}, "password"),
        ({"roles": ["mayor"]}, "roles"),
        ({"roles": []}, "roles"),
        ({"username": "x"}, "username"),
        ({"username": "tj_recorder"}, "username"),
        ({"username": "名字"}, "username"),
        ({"roles": ["resident"]}, "household_id"),
        ({"roles": ["recorder"], "household_id": 1}, "household_id"),
        ({"village_id": "1"}, "village_id"),
        ({"roles": "recorder"}, "roles"),
    ],
)
def test_user_validation_is_422_naming_the_field(world, session, api, changes, field):
    body = new_user(village_id=world.a.id) | changes
    err = assert_error(api.as_("admin").post("/users", json=body), 422, "validation_error")
    assert field in err["details"]
    assert session.query(User).filter_by(username=body["username"]).count() == (
        1 if body["username"] == "tj_recorder" else 0
    )


def test_village_role_needs_a_village(world, api):
    err = assert_error(api.as_("admin").post("/users", json=new_user()), 422, "validation_error")
    assert "village_id" in err["details"]


def test_an_unknown_village_household_or_shop_is_a_bad_reference(world, api):
    """400 ``not_found`` naming the field, as for households and rules (the contract: 400
    bad reference); a village official never learns another village's household id."""
    admin = api.as_("admin")
    err = assert_error(admin.post("/users", json=new_user(village_id=999999)), 400, "not_found")
    assert err["details"] == {"field": "village_id"}
    resident = new_user(roles=["resident"], village_id=world.a.id, household_id=999999)
    assert assert_error(admin.post("/users", json=resident), 400, "not_found")["details"] == {"field": "household_id"}
    elsewhere = {**resident, "household_id": world.households["xf1"].id}
    assert assert_error(admin.post("/users", json=elsewhere), 400, "not_found")["details"] == {"field": "household_id"}
    clerk = new_user(roles=["clerk"], village_id=world.a.id, shop_id=999999)
    assert assert_error(admin.post("/users", json=clerk), 400, "not_found")["details"] == {"field": "shop_id"}
    # A resident without a household is a missing field: 422, the field named.
    err = assert_error(admin.post("/users", json={**resident, "household_id": None}), 422, "validation_error")
    assert "household_id" in err["details"]


def test_user_list_is_scoped(world, api):
    r = api.as_("tj_village_admin").get("/users")
    assert r.status_code == 200
    names = {u["username"] for u in r.get_json()["items"]}
    assert "tj_recorder" in names and "xf_recorder" not in names and "admin" not in names
    assert r.get_json()["total"] == len(names)
    assert_error(api.as_("tj_recorder").get("/users"), 403, "forbidden")


def test_created_user_is_audited(world, session, api):
    from app.audit.models import AuditLog

    r = api.as_("tj_village_admin").post("/users", json=new_user(village_id=world.a.id))
    assert r.status_code == 201
    row = session.query(AuditLog).filter_by(action="user.create", target_id=r.get_json()["id"]).one()
    assert row.username == "tj_village_admin"


def test_retry_after_is_the_limits_on_a_429_only(strict_app, monkeypatch):
    """The limiter would stamp every answer of a login route with its window's reset
    (a 401, a success, a 503): a client told to wait five minutes for a database that is
    back in seconds. Retry-After belongs to a 429 (the window) and a 503 (ours)."""
    from sqlalchemy.exc import OperationalError

    client = strict_app.test_client()
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong-password"})
    assert r.status_code == 401 and "Retry-After" not in r.headers
    assert r.headers["X-RateLimit-Remaining"]  # the allowance itself is still told

    def gone(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(services, "authenticate", gone)
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 503 and r.headers["Retry-After"] == "10"
    r = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 503 and r.headers["Retry-After"] == "10"
    monkeypatch.undo()
    r = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 302 and "Retry-After" not in r.headers
    for _ in range(3):
        client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong-password"})
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong-password"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 10
