"""A rule's code: made up when the page's field is left empty, and only letters, digits
and hyphens, as the form's hint says (the API still requires one)."""

from sqlalchemy import select

from app.points.models import Rule


def test_an_empty_code_is_generated_from_the_category(world, session, login):
    client = login("tj_village_admin")
    for name in ("清扫村道", "修水渠"):
        r = client.post("/rules/new", data={"name": name, "code": "", "category": "志愿服务", "points": "3"})
        assert r.status_code == 302, r.get_data(as_text=True)
    codes = session.scalars(
        select(Rule.code).where(Rule.village_id == world.a.id, Rule.name.in_(["清扫村道", "修水渠"])).order_by(Rule.id)
    ).all()
    assert codes == ["VOL-01", "VOL-02"]


def test_the_new_rule_form_says_an_empty_code_is_generated(world, login):
    page = login("tj_village_admin").get("/rules/new").get_data(as_text=True)
    assert "留空则自动生成" in page


def test_a_code_outside_the_hint_is_refused_beside_the_field(world, session, login):
    client = login("tj_village_admin")
    r = client.post("/rules/new", data={"name": "清扫", "code": "清扫 1", "category": "志愿服务", "points": "3"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "编码只能用字母、数字或连字符" in page and 'value="清扫 1"' in page
    assert session.scalar(select(Rule.id).where(Rule.name == "清扫")) is None


def test_the_api_still_requires_a_code(world, api):
    r = api.as_("tj_village_admin").post(
        "/rules", json={"village_id": world.a.id, "code": "", "name": "x", "category": "志愿服务", "points": 3}
    )
    assert r.status_code == 422 and "code" in r.get_json()["error"]["details"]
