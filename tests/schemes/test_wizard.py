"""The new-scheme wizard: steps that keep what was typed, errors beside their field,
and only the owners the user manages."""

from app.households.models import Household
from app.schemes.models import STANDARD_CATEGORIES, Scheme

ANSWERS = {
    "account_kind": "village",
    "name": "积分换项目",
    "cadence": "month",
    "categories": "零事故\n零非访\n零发案",
    "base_points": "0",
    "redeem_floor": "0",
    "yuan_per_point": "2",
    "approval_required": "1",
    "notice_days": "5",
    "annual_reset": "0",
}


def step(client, at, go, **answers):
    return client.get("/schemes/new", query_string={"step": at, "go": go, **answers})


def test_a_county_admin_walks_the_wizard_to_a_village_scheme(county, session, auth, client):
    auth.login("dk_admin")
    first = client.get("/schemes/new").get_data(as_text=True)
    assert "第 1 步（共 5 步）" in first and "以村为账户" in first and "城关镇" in first
    answers = {**ANSWERS, "owner": f"region:{county.county.id}"}
    page = step(client, 4, 5, **answers)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "零事故、零非访、零发案" in text and "按月" in text and "创建方案" in text
    r = client.post("/schemes/new", data=answers)
    assert r.status_code == 302
    scheme = session.query(Scheme).filter_by(name="积分换项目").one()
    assert r.headers["Location"].endswith(f"/schemes/{scheme.id}")
    assert (scheme.region_id, scheme.village_id, scheme.account_kind, scheme.cadence) == (
        county.county.id,
        None,
        "village",
        "month",
    )
    assert scheme.categories == ["零事故", "零非访", "零发案"]
    assert (scheme.yuan_per_point, scheme.approval_required, scheme.notice_days) == (2.0, True, 5)
    accounts = session.query(Household).filter_by(scheme_id=scheme.id).all()  # one per village below
    assert {a.home_village_id for a in accounts} == {county.hp.id, county.qf.id}


def test_every_step_keeps_what_was_typed_going_back_and_forth(county, auth, client):
    auth.login("dk_admin")
    answers = {**ANSWERS, "owner": f"region:{county.gs.id}", "categories": "义务投工投劳\n农牧民夜校"}
    forward = step(client, 1, 2, **answers).get_data(as_text=True)
    assert "第 2 步" in forward and 'value="积分换项目"' in forward  # carried, hidden
    back = step(client, 2, 1, **answers).get_data(as_text=True)
    assert 'id="name" maxlength="100" name="name" type="text" value="积分换项目"' in back
    assert f'<option value="region:{county.gs.id}" selected>' in back
    assert 'value="village" checked' in back
    cats = step(client, 2, 3, **answers).get_data(as_text=True)
    assert "义务投工投劳\n农牧民夜校</textarea>" in cats


def test_errors_stand_beside_their_field_and_keep_the_rest(county, auth, client):
    auth.login("dk_admin")
    answers = {**ANSWERS, "owner": f"region:{county.county.id}", "base_points": "很多", "yuan_per_point": "0"}
    r = step(client, 4, 5, **answers)
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "第 4 步" in text and "请修改以下 2 处" in text
    assert "须为 0 到 100000 的整数" in text and "每分折合金额须大于 0" in text
    assert 'value="很多"' in text and 'name="categories" value="零事故' in text
    r = step(client, 1, 2, **{**answers, "name": "  "})
    assert r.status_code == 422 and "请填写方案名称" in r.get_data(as_text=True)
    r = step(client, 3, 4, **{**answers, "categories": "甲\n甲"})
    assert r.status_code == 422 and "不重复" in r.get_data(as_text=True)
    r = step(client, 1, 5, **{**answers, "cadence": "week"})  # skipping ahead stops at the wrong step
    assert r.status_code == 422 and "第 2 步" in r.get_data(as_text=True)


def test_the_standard_eight_come_back_with_one_tap(county, auth, client):
    auth.login("dk_admin")
    r = client.get(
        "/schemes/new",
        query_string={**ANSWERS, "owner": f"region:{county.county.id}", "step": 3, "standard": "1"},
    )
    assert "\n".join(STANDARD_CATEGORIES) + "</textarea>" in r.get_data(as_text=True)


def test_a_village_admin_sets_up_a_person_scheme_of_its_village(world, session, auth, client):
    auth.login("tj_village_admin")
    page = client.get("/schemes/new").get_data(as_text=True)
    assert "团结村" in page and "<select" not in page  # its village, the only owner
    answers = {**ANSWERS, "owner": f"village:{world.a.id}"}
    r = step(client, 1, 2, **answers)
    assert r.status_code == 422 and "以村为账户的方案须由区域设立" in r.get_data(as_text=True)
    r = client.post("/schemes/new", data={**answers, "account_kind": "person", "name": "志愿服务积分"})
    assert r.status_code == 302
    scheme = session.query(Scheme).filter_by(name="志愿服务积分").one()
    assert (scheme.village_id, scheme.region_id, scheme.account_kind) == (world.a.id, None, "person")


def test_an_owner_out_of_scope_is_refused(county, world, session, auth, client):
    auth.login("cg_admin")
    page = client.get("/schemes/new").get_data(as_text=True)
    assert "城关镇" in page and "洞口县" not in page and "高沙镇" not in page
    for owner in (f"region:{county.county.id}", f"village:{world.a.id}", "region:x"):
        r = client.post("/schemes/new", data={**ANSWERS, "owner": owner})
        assert r.status_code == 422 and "请选择方案属于哪个村或区域" in r.get_data(as_text=True)
    assert session.query(Scheme).filter_by(name="积分换项目").count() == 0


def test_only_admins_open_the_wizard(world, county, auth, client):
    auth.login("tj_recorder")
    assert client.get("/schemes/new").status_code == 403
    assert "新建积分方案" not in client.get("/schemes").get_data(as_text=True)
    auth.logout()
    auth.login("dk_reviewer")
    assert client.get("/schemes/new").status_code == 403
