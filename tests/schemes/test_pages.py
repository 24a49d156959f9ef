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
    client.post(f"/schemes/{scheme.id}", data={"list-categories": "志愿服务"})
    assert tj_scheme(session, world).categories == list(STANDARD_CATEGORIES)
    auth.logout()
    auth.login("xf_village_admin")
    assert client.get(f"/schemes/{scheme.id}").status_code == 404


def test_the_scheme_list(world, auth, client):
    auth.login("tj_village_admin")
    page = client.get("/schemes").get_data(as_text=True)
    assert "团结村积分方案" in page and "幸福村积分方案" not in page
