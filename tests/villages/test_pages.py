"""The scheme page of a village and the admin's list of villages."""

from app.audit.models import AuditLog
from app.villages.models import Village


def text(response) -> str:
    return response.get_data(as_text=True)


SCHEME = {
    "base_points": "60",
    "redeem_floor": "60",
    "yuan_per_point": "2",
    "approval_required": "y",
    "notice_days": "5",
}


def village(session, code) -> Village:
    session.expire_all()
    return session.query(Village).filter_by(code=code).one()


def test_scheme_page_explains_each_field(world, auth, client):
    auth.login("tj_village_admin")
    r = client.get("/scheme")
    assert r.status_code == 200
    page = text(r)
    assert "团结村" in page and "幸福村" not in page
    assert "只有超过兑换底线的积分才能兑换" in page
    assert 'name="base_points"' in page and 'value="100"' in page
    assert "记分须经评议员审核" in page and "公示天数" in page


def test_change_the_scheme(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/scheme", data=SCHEME)
    assert r.status_code == 302
    v = village(session, "TJ")
    assert v.scheme() == {
        "base_points": 60,
        "redeem_floor": 60,
        "yuan_per_point": 2.0,
        "approval_required": True,
        "notice_days": 5,
        "annual_reset": False,
    }
    assert "积分方案已保存" in text(client.get(r.headers["Location"]))
    log = session.query(AuditLog).filter_by(action="village.scheme").one()
    assert log.changes["base_points"] == [100, 60] and log.user_id == world.users["tj_village_admin"].id


def test_scheme_mistakes_show_beside_the_fields(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/scheme", data=SCHEME | {"base_points": "-5", "notice_days": "abc", "yuan_per_point": "0"})
    assert r.status_code == 422
    page = text(r)
    assert "不是有效的整数" in page  # notice_days, from the form
    # ...and in the same round the scheme's ranges (they used to wait for a second one)
    assert "须为 0 到 100000 的整数" in page and "每分折合金额须大于 0" in page
    assert "请修改以下 3 处后再提交" in page
    assert 'value="-5"' in page and 'value="abc"' in page
    assert village(session, "TJ").base_points == 100
    r = client.post("/scheme", data=SCHEME | {"base_points": "-5", "yuan_per_point": "0"})
    assert r.status_code == 422
    page = text(r)
    assert "须为 0 到 100000 的整数" in page and "每分折合金额须大于 0" in page
    assert village(session, "TJ").base_points == 100


def test_a_missing_value_and_a_range_are_named_together(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/scheme", data=SCHEME | {"base_points": "", "notice_days": "91"})
    assert r.status_code == 422
    page = text(r)
    assert "必填" in page and "须为 0 到 90 的整数" in page
    assert village(session, "TJ").notice_days != 91


def test_only_village_admins_change_the_scheme(world, session, auth, client):
    auth.login("tj_reviewer")
    assert client.get("/scheme").status_code == 403
    assert client.post("/scheme", data=SCHEME).status_code == 403
    assert village(session, "TJ").base_points == 100


def test_a_village_admin_stays_in_its_village(world, session, auth, client):
    auth.login("tj_village_admin")
    # Another village's scheme is not found, rather than its own changed instead.
    assert client.post(f"/scheme?village_id={world.b.id}", data=SCHEME).status_code == 404
    assert village(session, "TJ").base_points == 100 and village(session, "XF").base_points == 100
    assert client.post("/scheme", data=SCHEME).status_code == 302
    assert village(session, "TJ").base_points == 60


def test_admin_chooses_the_village(world, session, auth, client):
    auth.login("admin")
    page = text(client.get("/scheme"))
    assert "请先选择一个村" in page and "团结村" in page and "幸福村" in page
    assert 'name="base_points"' not in page
    page = text(client.get(f"/scheme?village_id={world.b.id}"))
    assert "积分方案 · 幸福村" in page and "checked" in page  # XF requires approval
    assert client.post(f"/scheme?village_id={world.b.id}", data=SCHEME).status_code == 302
    assert village(session, "XF").base_points == 60
    assert client.get("/scheme?village_id=9999").status_code == 404


def test_admin_lists_villages_with_their_households(world, auth, client):
    auth.login("admin")
    r = client.get("/villages")
    assert r.status_code == 200
    page = text(r)
    assert "TJ" in page and "团结村" in page and "幸福村" in page and "上木拉乡" in page
    assert '<td data-label="户数" class="num">3</td>' in page


def test_admin_creates_a_village(world, session, auth, client):
    auth.login("admin")
    r = client.post("/villages", data={"name": "和平村", "code": "HP", "township": "上木拉乡"})
    assert r.status_code == 302
    assert village(session, "HP").name == "和平村"
    assert "已新建和平村" in text(client.get(r.headers["Location"]))


def test_a_bad_village_is_refused_beside_its_fields(world, session, auth, client):
    auth.login("admin")
    r = client.post("/villages", data={"name": "和平村", "code": "TJ", "township": ""})
    assert r.status_code == 422
    page = text(r)
    assert "编码已被使用" in page and "请填写所属乡镇" in page and 'value="和平村"' in page
    assert session.query(Village).count() == 2


def test_only_admins_see_the_villages(world, session, auth, client):
    auth.login("tj_village_admin")
    assert client.get("/villages").status_code == 403
    assert client.post("/villages", data={"name": "和平村", "code": "HP", "township": "乡"}).status_code == 403
    assert session.query(Village).count() == 2
