"""User management pages: the list, creating users, deactivating, resetting passwords."""

from app.auth.models import User
from tests.factories import PASSWORD


def text(response) -> str:
    return response.get_data(as_text=True)


def user(session, username) -> User | None:
    session.expire_all()
    return session.query(User).filter_by(username=username).one_or_none()


NEW = {"username": "wang_jg", "display_name": "王建国", "password": "long-enough-1", "household_number": ""}


def test_village_admin_lists_its_users_in_chinese(world, auth, client):
    auth.login("tj_village_admin")
    r = client.get("/users")
    assert r.status_code == 200
    page = text(r)
    assert "tj_recorder" in page and "tj_resident" in page
    assert "xf_recorder" not in page and ">admin<" not in page
    for label in ("村管理员", "记分员/网格员", "评议员", "超市店员", "村民"):
        assert label in page
    assert "TJ-001" in page  # the resident's household
    assert "系统管理员" not in page


def test_admin_sees_all_users_or_one_village(world, auth, client):
    auth.login("admin")
    page = text(client.get("/users"))
    assert "tj_recorder" in page and "xf_recorder" in page and "系统管理员" in page
    page = text(client.get(f"/users?village_id={world.b.id}"))
    assert "xf_recorder" in page and "tj_recorder" not in page


def test_create_a_resident_by_household_number(world, session, auth, client):
    auth.login("tj_village_admin")
    page = text(client.get("/users/new"))
    assert "系统管理员" not in page and "村民" in page
    r = client.post("/users/new", data=NEW | {"roles": ["resident"], "household_number": "TJ-002"})
    assert r.status_code == 302
    u = user(session, "wang_jg")
    assert u.roles == ["resident"] and u.village_id == world.a.id
    assert u.household_id == world.households["tj2"].id
    assert "已新建用户 wang_jg" in text(client.get(r.headers["Location"]))
    auth.logout()
    assert auth.login("wang_jg", "long-enough-1").status_code == 302


def test_create_staff_with_several_roles(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/users/new", data=NEW | {"roles": ["recorder", "reviewer"]})
    assert r.status_code == 302
    assert user(session, "wang_jg").roles == ["recorder", "reviewer"]


def test_an_unknown_household_number_is_refused_beside_the_field(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/users/new", data=NEW | {"roles": ["resident"], "household_number": "XF-001"})
    assert r.status_code == 422
    page = text(r)
    assert "本村没有户号 XF-001" in page
    assert 'value="wang_jg"' in page and 'value="王建国"' in page and "checked" in page
    assert user(session, "wang_jg") is None


def test_user_mistakes_show_beside_their_fields(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/users/new", data={"username": "tj_recorder", "password": "short", "display_name": "某"})
    assert r.status_code == 422
    page = text(r)
    assert "用户名已被使用" in page and "密码至少 8 位" in page and "角色须从" in page
    r = client.post("/users/new", data=NEW | {"roles": ["resident"]})
    assert r.status_code == 422 and "村民账号须关联本村的一户" in text(r)
    assert user(session, "wang_jg") is None


def test_every_field_mistake_shows_before_an_unknown_household(world, session, auth, client):
    """A short password and an unknown household number: the password's message shows,
    not only the household's (the household is looked up once the fields are valid)."""
    auth.login("tj_village_admin")
    r = client.post("/users/new", data=NEW | {"password": "short", "roles": ["resident"], "household_number": "XF-001"})
    assert r.status_code == 422
    assert "密码至少 8 位" in text(r)
    assert user(session, "wang_jg") is None


def test_a_village_admin_cannot_make_an_admin(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/users/new", data=NEW | {"roles": ["admin"]})
    assert r.status_code == 422
    assert user(session, "wang_jg") is None


def test_admin_creates_users_in_any_village(world, session, auth, client):
    auth.login("admin")
    r = client.post(
        "/users/new", data=NEW | {"roles": ["resident"], "village_id": str(world.b.id), "household_number": "XF-003"}
    )
    assert r.status_code == 302
    assert user(session, "wang_jg").household_id == world.households["xf3"].id


def test_deactivate_and_activate_a_user(world, session, auth, client):
    target = world.users["tj_recorder"]
    auth.login("tj_village_admin")
    r = client.post(f"/users/{target.id}/active", data={"active": "0"})
    assert r.status_code == 302
    assert user(session, "tj_recorder").active is False
    assert "已停用 tj_recorder" in text(client.get(r.headers["Location"]))
    auth.logout()
    assert auth.login("tj_recorder").status_code == 200  # the login page again, refused
    auth.login("tj_village_admin")
    client.post(f"/users/{target.id}/active", data={"active": "1"})
    assert user(session, "tj_recorder").active is True


def test_reset_a_password(world, session, auth, client):
    target = world.users["tj_resident"]
    auth.login("tj_village_admin")
    assert "tj_resident" in text(client.get(f"/users/{target.id}/password"))
    r = client.post(f"/users/{target.id}/password", data={"password": "short"})
    assert r.status_code == 422 and "密码至少 8 位" in text(r)
    r = client.post(f"/users/{target.id}/password", data={"password": "new-password-1"})
    assert r.status_code == 302
    auth.logout()
    assert auth.login("tj_resident", PASSWORD).status_code == 200
    assert auth.login("tj_resident", "new-password-1").status_code == 302


def test_a_village_admin_cannot_touch_another_village_users(world, session, auth, client):
    xf = world.users["xf_recorder"]
    auth.login("tj_village_admin")
    assert client.get(f"/users/{xf.id}/password").status_code == 404
    assert client.post(f"/users/{xf.id}/password", data={"password": "new-password-1"}).status_code == 404
    assert client.post(f"/users/{xf.id}/active", data={"active": "0"}).status_code == 404
    assert user(session, "xf_recorder").active is True
    assert client.get(f"/users/{world.admin.id}/password").status_code == 404


def test_only_village_admins_manage_users(world, session, auth, client):
    auth.login("tj_reviewer")
    assert client.get("/users").status_code == 403
    r = client.post(f"/users/{world.users['tj_recorder'].id}/active", data={"active": "0"})
    assert r.status_code == 403 and "无权执行此操作" in text(r)
    assert user(session, "tj_recorder").active is True
    assert client.post("/users/new", data=NEW | {"roles": ["recorder"]}).status_code == 403
    assert user(session, "wang_jg") is None


def test_the_login_field_keeps_a_phone_from_capitalising_the_name(client):
    page = client.get("/login").get_data(as_text=True)
    field = page[page.index('name="username"') - 200 : page.index('name="username"') + 200]
    assert 'autocapitalize="none"' in field


def test_logging_in_starts_a_fresh_session_keeping_only_the_language(world, client):
    """Session fixation: whatever a session carried before the login (planted by someone
    who handed the phone over, say) is gone after it; the chosen language stays."""
    client.get("/login?lang=en")
    with client.session_transaction() as s:
        s["planted"] = "by someone else"
    r = client.post("/login", data={"username": "tj_recorder", "password": PASSWORD})
    assert r.status_code == 302
    with client.session_transaction() as s:
        assert "planted" not in s
        assert s["lang"] == "en"
        assert s.get("_user_id") == world.users["tj_recorder"].get_id()
