"""A scheme's categories on its page: add, reorder, rename; one in use cannot vanish."""

from app.points.models import Rule
from app.schemes.models import STANDARD_CATEGORIES, Scheme


def tj_scheme(session, world) -> Scheme:
    session.expire_all()
    return session.query(Scheme).filter_by(village_id=world.a.id, account_kind="household").one()


def test_a_village_admin_adds_and_reorders_categories(world, session, auth, client):
    auth.login("tj_village_admin")
    scheme = tj_scheme(session, world)
    page = client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    assert "志愿服务" in page and "条规则" in page
    lines = ["农牧民夜校", *reversed(STANDARD_CATEGORIES)]
    r = client.post(f"/schemes/{scheme.id}", data={"list-categories": "\n".join(lines)})
    assert r.status_code == 302
    assert tj_scheme(session, world).categories == lines


def test_a_category_in_use_stays_and_the_page_says_why(world, session, auth, client):
    auth.login("tj_village_admin")
    scheme = tj_scheme(session, world)
    without = [c for c in STANDARD_CATEGORIES if c != "志愿服务"]
    r = client.post(f"/schemes/{scheme.id}", data={"list-categories": "\n".join(without)})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "仍有规则在用" in page and "遵纪守法" in page  # the list typed is kept
    assert tj_scheme(session, world).categories == list(STANDARD_CATEGORIES)


def test_renaming_a_category_renames_its_rules(world, session, auth, client):
    auth.login("tj_village_admin")
    scheme = tj_scheme(session, world)
    r = client.post(f"/schemes/{scheme.id}", data={"rename-old": "勤劳致富", "rename-new": "农牧民夜校"})
    assert r.status_code == 302
    assert tj_scheme(session, world).categories[2] == "农牧民夜校"
    assert session.get(Rule, world.rules["tj_school"].id).category == "农牧民夜校"
    r = client.post(f"/schemes/{scheme.id}", data={"rename-old": "遵纪守法", "rename-new": "志愿服务"})
    assert r.status_code == 422 and "类别须为" in r.get_data(as_text=True)  # a name already there


def test_others_read_but_do_not_edit(world, session, auth, client):
    scheme = tj_scheme(session, world)
    auth.login("tj_recorder")
    page = client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    assert "志愿服务" in page and "保存类别" not in page
    assert "/scheme?village_id=" not in page  # the settings page is the village admin's
    client.post(f"/schemes/{scheme.id}", data={"list-categories": "志愿服务"})
    assert tj_scheme(session, world).categories == list(STANDARD_CATEGORIES)
    auth.logout()
    auth.login("xf_village_admin")
    assert client.get(f"/schemes/{scheme.id}").status_code == 404


def test_the_scheme_list(world, auth, client):
    auth.login("tj_village_admin")
    page = client.get("/schemes").get_data(as_text=True)
    assert "团结村积分方案" in page and "幸福村积分方案" not in page


def region_scheme(session, world, county, **extra):
    from app.schemes import services
    from app.scope import Actor

    values = {
        "name": "积分换项目",
        "region_id": county.county.id,
        "account_kind": "village",
        "cadence": "month",
        "categories": ["零事故", "零违建"],
        "base_points": 0,
        "redeem_floor": 0,
        "yuan_per_point": 1.0,
        "approval_required": False,
        "notice_days": 5,
        "annual_reset": False,
    }
    scheme = services.create_scheme(session, Actor(world.admin), values | extra)
    session.commit()
    return scheme


def test_a_schemes_rules_are_edited_from_its_page(world, county, session, auth, client):
    scheme = region_scheme(session, world, county)
    auth.login("dk_admin")
    page = client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    assert f"/rules?scheme_id={scheme.id}" in page and "积分规则（0 条）" in page
    rules = client.get(f"/rules?scheme_id={scheme.id}").get_data(as_text=True)
    assert "积分换项目" in rules and "零违建" in rules and "载入标准积分细则" not in rules
    form = client.get(f"/rules/new?scheme_id={scheme.id}").get_data(as_text=True)
    assert '<option value="零事故">' in form and "遵纪守法" not in form
    data = {"name": "当月零违建", "code": "", "category": "零违建", "points": "10", "active": "y"}
    r = client.post(f"/rules/new?scheme_id={scheme.id}", data=data)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/rules?scheme_id={scheme.id}")
    rule = session.query(Rule).filter_by(name="当月零违建").one()
    assert (rule.scheme_id, rule.village_id, rule.category) == (scheme.id, None, "零违建")
    r = client.post(f"/rules/{rule.id}/edit", data={**data, "code": rule.code, "points": "20"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/rules?scheme_id={scheme.id}")
    assert "积分规则（1 条）" in client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    r = client.post(f"/schemes/{scheme.id}", data={"list-categories": "零事故"})
    assert r.status_code == 422 and "零违建 仍有规则在用" in r.get_data(as_text=True)


def test_a_schemes_rules_out_of_scope_are_not_found(world, county, session, auth, client):
    scheme = region_scheme(session, world, county)
    auth.login("cg_admin")  # a township's admin: the county's scheme is above it
    assert client.get(f"/rules?scheme_id={scheme.id}").status_code == 404
    assert client.get(f"/rules/new?scheme_id={scheme.id}").status_code == 404
    auth.logout()
    auth.login("tj_village_admin")
    assert client.get(f"/rules?scheme_id={tj_scheme(session, world).id}").status_code == 200
    xf = session.query(Scheme).filter_by(village_id=world.b.id).one()
    assert client.get(f"/rules?scheme_id={xf.id}").status_code == 404
    auth.logout()
    auth.login("dk_reviewer")  # reads the county's sheet, does not edit it
    page = client.get(f"/rules?scheme_id={scheme.id}").get_data(as_text=True)
    assert "积分换项目" in page and "新增规则" not in page
    assert client.get(f"/rules/new?scheme_id={scheme.id}").status_code == 403


def test_a_region_schemes_settings_are_changed_on_its_page(world, county, session, auth, client):
    scheme = region_scheme(session, world, county)
    auth.login("dk_admin")
    page = client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    assert 'name="settings-notice_days" type="text" value="5"' in page
    data = {
        "settings-name": "积分换项目（2027）",
        "settings-base_points": "0",
        "settings-redeem_floor": "0",
        "settings-yuan_per_point": "1.5",
        "settings-approval_required": "1",
        "settings-notice_days": "99",
        "settings-annual_reset": "0",
    }
    r = client.post(f"/schemes/{scheme.id}", data=data)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "须为 0 到 90 的整数" in page and 'value="积分换项目（2027）"' in page
    r = client.post(f"/schemes/{scheme.id}", data=data | {"settings-notice_days": "10"})
    assert r.status_code == 302
    session.expire_all()
    changed = session.get(Scheme, scheme.id)
    assert (changed.name, changed.yuan_per_point, changed.approval_required, changed.notice_days) == (
        "积分换项目（2027）",
        1.5,
        True,
        10,
    )
    auth.logout()
    auth.login("dk_reviewer")
    assert "保存设置" not in client.get(f"/schemes/{scheme.id}").get_data(as_text=True)
    client.post(f"/schemes/{scheme.id}", data=data | {"settings-notice_days": "3"})
    session.expire_all()
    assert session.get(Scheme, scheme.id).notice_days == 10


def test_a_household_schemes_settings_stay_on_its_villages_page(world, session, auth, client):
    auth.login("tj_village_admin")
    page = client.get(f"/schemes/{tj_scheme(session, world).id}").get_data(as_text=True)
    assert "保存设置" not in page and f"/scheme?village_id={world.a.id}" in page
