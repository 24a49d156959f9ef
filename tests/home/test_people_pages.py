"""People's pages of a person scheme (志愿积分): the list and its search, adding a
person, importing a list with the register's line-by-line preview, the card sheet, the
person's passbook, and a volunteer's household seeing its volunteers."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from app.clock import local_today
from app.households.models import Household
from app.points import rules as rulebook
from app.points import services as points
from app.redemption import qr
from app.redemption.shops import create_shop
from tests.conftest import TODAY
from tests.factories import NOW
from tests.households.test_pages import upload, xlsx
from tests.volunteers import person, volunteer_scheme


@pytest.fixture
def volunteers(world, session):
    """团结村's 志愿积分 with 李志愿 (of household TJ-001, 15 points) and 张热心."""
    scheme = volunteer_scheme(session, world)
    v1 = person(session, world, scheme, "ZY-001", "李志愿", linked=world.households["tj1"], phone="13800000001")
    v2 = person(session, world, scheme, "ZY-002", "张热心")
    rule = rulebook.create_rule(
        session,
        world.actor("tj_village_admin"),
        None,
        {"code": "V-PATROL", "name": "防汛值守", "category": "志愿服务", "points": 15},
        scheme_id=scheme.id,
    )
    points.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=v1.id,
        rule_id=rule.id,
        occurred_on=local_today("Asia/Shanghai"),  # this quarter, month and year, as the pages show
        today=local_today("Asia/Shanghai"),
        now=NOW,
    )
    session.commit()
    return {"scheme": scheme, "v1": v1, "v2": v2}


def accounts(session, scheme) -> dict[str, Household]:
    session.expire_all()
    return {a.number: a for a in session.scalars(select(Household).where(Household.scheme_id == scheme.id))}


def test_the_list_shows_the_people_and_finds_them(world, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    page = client.get(f"/schemes/{sid}/people").text
    assert "李志愿" in page and "张热心" in page and "TJ-001" in page and "共 2 人" in page
    found = client.get(f"/schemes/{sid}/people?q=热心").text
    assert "张热心" in found and "李志愿" not in found
    assert "李志愿" in client.get(f"/schemes/{sid}/people?q=13800000001").text
    assert "没有找到" in client.get(f"/schemes/{sid}/people?q=nobody").text


def test_another_village_and_a_household_scheme_have_no_people_page(world, auth, client, volunteers):
    auth.login("xf_village_admin")
    assert client.get(f"/schemes/{volunteers['scheme'].id}/people").status_code == 404
    auth.logout()
    auth.login("tj_village_admin")
    assert client.get(f"/schemes/{world.a.household_scheme.id}/people").status_code == 404


def test_the_scheme_page_and_the_menu_lead_to_the_people(world, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    assert f"/schemes/{sid}/people" in client.get(f"/schemes/{sid}").text
    r = client.get("/people")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/schemes/{sid}/people")
    assert "/people" in client.get("/").text  # the menu


def test_adding_a_person_opens_an_account_linked_to_a_household(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    r = client.post(
        f"/schemes/{sid}/people/new",
        data={"number": "ZY-003", "name": "王小红", "phone": "", "household": "tj-002"},
    )
    assert r.status_code == 302, r.text
    added = accounts(session, volunteers["scheme"])["ZY-003"]
    assert (added.kind, added.linked_household_id, added.village_id) == ("person", world.households["tj2"].id, None)


def test_mistakes_show_beside_their_fields_and_keep_the_input(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    r = client.post(f"/schemes/{sid}/people/new", data={"number": "zy-001", "name": "", "phone": "12345"})
    assert r.status_code == 422
    assert "本方案已有编号" in r.text and "请填写姓名" in r.text and "电话号码格式不对" in r.text
    assert 'value="zy-001"' in r.text and 'value="12345"' in r.text
    r = client.post(f"/schemes/{sid}/people/new", data={"number": "ZY-009", "name": "赵六", "household": "TJ-999"})
    assert r.status_code == 422 and "该村没有户号为 TJ-999 的农户" in r.text and 'value="赵六"' in r.text
    assert set(accounts(session, volunteers["scheme"])) == {"ZY-001", "ZY-002"}


def test_every_mistake_shows_at_once_an_unknown_household_too(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    data = {"number": "ZY-001", "name": "赵六", "phone": "12345", "household": "TJ-999"}
    r = client.post(f"/schemes/{sid}/people/new", data=data)
    assert r.status_code == 422
    assert "本方案已有编号" in r.text and "电话号码格式不对" in r.text and "该村没有户号为 TJ-999 的农户" in r.text
    r = client.post(f"/people/{volunteers['v1'].id}/edit", data=data | {"number": "ZY-002"})
    assert r.status_code == 422
    assert "本方案已有编号" in r.text and "电话号码格式不对" in r.text and "该村没有户号为 TJ-999 的农户" in r.text
    assert set(accounts(session, volunteers["scheme"])) == {"ZY-001", "ZY-002"}


def test_only_the_village_admin_adds_people(world, auth, client, volunteers):
    auth.login("tj_recorder")
    sid = volunteers["scheme"].id
    assert client.get(f"/schemes/{sid}/people").status_code == 200
    assert client.post(f"/schemes/{sid}/people/new", data={"number": "ZY-005", "name": "x"}).status_code == 403


HEADER = ["编号", "姓名", "电话", "户号"]


def test_an_import_with_bad_lines_writes_nothing_and_names_each_line(world, session, auth, client, volunteers, app):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    data = xlsx(
        [
            HEADER,
            ["ZY-010", "陈一", "13800000010", "TJ-002"],
            ["zy-001", "重复", None, None],
            ["ZY-012", "", None, None],
            ["ZY-013", "周三", None, "TJ-999"],
            ["ZY-010", "陈一又", None, None],
        ]
    )
    r = upload(client, data, "志愿者.xlsx", url=f"/schemes/{sid}/people/import")
    assert r.status_code == 422
    assert "没有导入任何人" in r.text
    assert "第 3 行" in r.text and "编号 zy-001 本方案已有" in r.text
    assert "第 4 行" in r.text and "请填写姓名" in r.text
    assert "第 5 行" in r.text and "TJ-999" in r.text
    assert "第 6 行" in r.text and "与第 2 行重复" in r.text
    assert "确认导入" not in r.text
    assert set(accounts(session, volunteers["scheme"])) == {"ZY-001", "ZY-002"}
    assert not list((Path(app.instance_path) / "imports").glob("*"))


def test_a_clean_list_is_previewed_then_imported(world, session, auth, client, volunteers, app):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    data = xlsx([HEADER, ["ZY-010", "陈一", "13800000010", "TJ-002"], ["ZY-011", "林二", None, None]])
    r = upload(client, data, "志愿者.xlsx", url=f"/schemes/{sid}/people/import")
    assert r.status_code == 200 and "确认导入 2 人" in r.text and "陈一" in r.text and "TJ-002" in r.text
    assert set(accounts(session, volunteers["scheme"])) == {"ZY-001", "ZY-002"}  # a preview writes nothing
    kept = list((Path(app.instance_path) / "imports").glob("*.xlsx"))
    assert len(kept) == 1
    r = client.post(f"/schemes/{sid}/people/import/confirm", data={"token": kept[0].name, "filename": "志愿者.xlsx"})
    assert r.status_code == 302
    found = accounts(session, volunteers["scheme"])
    assert found["ZY-010"].linked_household_id == world.households["tj2"].id and found["ZY-010"].kind == "person"
    assert "ZY-011" in found and not kept[0].exists()
    assert "已导入 2 人" in client.get(r.headers["Location"]).text
    r = client.post(f"/schemes/{sid}/people/import/confirm", data={"token": kept[0].name})
    assert r.status_code == 302 and len(accounts(session, volunteers["scheme"])) == 4


def test_a_csv_list_imports_and_the_template_downloads(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    sid = volunteers["scheme"].id
    buf = io.StringIO()
    csv.writer(buf).writerows([["编号", "姓名"], ["ZY-020", "何五"]])
    r = upload(client, buf.getvalue().encode("utf-8-sig"), "people.csv", url=f"/schemes/{sid}/people/import")
    assert r.status_code == 200 and "确认导入 1 人" in r.text
    template = client.get(f"/schemes/{sid}/people/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"


def test_the_card_sheet_prints_every_persons_card(world, auth, client, volunteers, app):
    auth.login("tj_village_admin")
    page = client.get(f"/schemes/{volunteers['scheme'].id}/people/cards").text
    assert page.count('class="idcard"') == 2 and "李志愿" in page and "张热心" in page and "志愿积分" in page
    one = client.get(f"/shop/cards/{volunteers['v1'].id}").text
    assert "ZY-001" in one and "编号" in one and "补办新卡" in one


def test_the_persons_passbook_shows_its_entries_and_household(world, auth, client, volunteers):
    auth.login("tj_village_admin")
    page = client.get(f"/households/{volunteers['v1'].id}").text
    assert "防汛值守" in page and "志愿积分" in page and "TJ-001" in page and "+15" in page
    assert "家</h1>" not in page and "本村第" not in page
    sid = volunteers["scheme"].id
    assert f'href="/schemes/{sid}/people">‹ 志愿积分 人员名单</a>' in page  # back to the list


def test_the_volunteers_household_sees_its_volunteer(world, auth, client, volunteers):
    auth.login("tj_resident")  # the resident of TJ-001
    own = client.get(f"/households/{world.households['tj1'].id}").text
    assert "本户的个人积分账户" in own and "李志愿" in own and "张热心" not in own
    passbook = client.get(f"/households/{volunteers['v1'].id}")
    assert passbook.status_code == 200 and "防汛值守" in passbook.text and "13800000001" not in passbook.text
    assert "人员名单" not in passbook.text  # a resident has no list to go back to
    card = client.get(f"/shop/cards/{volunteers['v1'].id}")
    assert card.status_code == 200 and "补办新卡" not in card.text
    assert qr.PREFIX + "." not in card.text  # the token is drawn as a QR code, not printed
    assert client.get(f"/households/{volunteers['v2'].id}").status_code == 404
    assert client.get(f"/schemes/{volunteers['scheme'].id}/people").status_code == 403
    auth.logout()
    auth.login("xf_resident")
    assert client.get(f"/households/{volunteers['v1'].id}").status_code == 404


def test_the_persons_passbook_shows_its_rank_in_the_scheme(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    first = client.get(f"/households/{volunteers['v1'].id}").text
    assert "本方案第 1 名（共 2 人）" in first
    second = client.get(f"/households/{volunteers['v2'].id}").text
    assert "本方案第 2 名（共 2 人）" in second  # 0 points, below 李志愿's 15 this quarter
    assert "本月" not in second  # a quarterly scheme: quarter and year only
    volunteers["scheme"].cadence = "month"
    session.commit()
    monthly = client.get(f"/households/{volunteers['v2'].id}").text
    assert "本月（" in monthly and monthly.count("（共 2 人）") == 3


def test_an_official_edits_a_person_from_the_passbook_and_the_list(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    pid, sid = volunteers["v2"].id, volunteers["scheme"].id
    assert f"/people/{pid}/edit" in client.get(f"/households/{pid}").text
    assert f"/people/{pid}/edit" in client.get(f"/schemes/{sid}/people").text
    form = client.get(f"/people/{pid}/edit").text
    assert 'value="ZY-002"' in form and 'value="张热心"' in form
    r = client.post(
        f"/people/{pid}/edit",
        data={"number": "ZY-020", "name": "张热情", "phone": "13800000020", "household": "tj-002"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/households/{pid}")
    changed = accounts(session, volunteers["scheme"])["ZY-020"]
    assert (changed.name, changed.phone, changed.linked_household_id) == (
        "张热情",
        "13800000020",
        world.households["tj2"].id,
    )
    r = client.post(f"/people/{pid}/edit", data={"number": "ZY-020", "name": "张热情", "phone": ""})
    assert r.status_code == 302 and accounts(session, volunteers["scheme"])["ZY-020"].linked_household_id is None


def test_editing_a_person_shows_mistakes_beside_their_fields(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    pid = volunteers["v2"].id
    r = client.post(f"/people/{pid}/edit", data={"number": "zy-001", "name": "", "phone": "12345"})
    assert r.status_code == 422
    assert "本方案已有编号" in r.text and "请填写姓名" in r.text and "电话号码格式不对" in r.text
    assert 'value="zy-001"' in r.text and 'value="12345"' in r.text
    r = client.post(f"/people/{pid}/edit", data={"number": "ZY-002", "name": "赵六", "household": "TJ-999"})
    assert r.status_code == 422 and "该村没有户号为 TJ-999 的农户" in r.text and 'value="赵六"' in r.text
    assert accounts(session, volunteers["scheme"])["ZY-002"].name == "张热心"
    r = client.post(f"/people/{pid}/edit", data={"number": "zy-002", "name": "张热心"})  # its own number
    assert r.status_code == 302


def test_only_the_schemes_officials_edit_a_person(world, auth, client, volunteers):
    pid = volunteers["v1"].id
    for login, status in (("xf_village_admin", 404), ("tj_resident", 404), ("tj_recorder", 403)):
        auth.login(login)
        for url in (f"/people/{pid}/edit", f"/people/{pid}/leave"):
            assert client.get(url).status_code == status, (login, url)
            assert client.post(url, data={"number": "X", "name": "x", "confirm": "y"}).status_code == status
        assert f"/people/{pid}/edit" not in client.get(f"/households/{pid}").text
        auth.logout()
    auth.login("tj_village_admin")
    assert client.get(f"/people/{world.households['tj1'].id}/edit").status_code == 404  # a household


def test_a_person_who_left_is_apart_and_can_no_longer_be_credited_or_redeem(
    world, session, auth, client, volunteers, app
):
    from app.errors import HouseholdMovedOut
    from app.redemption import services as shop
    from app.redemption.shops import create_shop
    from app.scope import Actor

    auth.login("tj_village_admin")
    pid, sid = volunteers["v1"].id, volunteers["scheme"].id
    r = client.post(f"/people/{pid}/leave", data={})
    assert r.status_code == 422 and "请勾选确认后再提交" in r.text
    assert client.post(f"/people/{pid}/leave", data={"confirm": "y"}).status_code == 302
    assert accounts(session, volunteers["scheme"])["ZY-001"].moved_out_on is not None
    passbook = client.get(f"/households/{pid}").text
    assert "离开，不再参加排名" in passbook and "本方案第" not in passbook
    assert "本方案第 1 名（共 1 人）" in client.get(f"/households/{volunteers['v2'].id}").text
    active = client.get(f"/schemes/{sid}/people").text
    assert "李志愿" not in active and "张热心" in active and "共 1 人" in active and "已离开 1 人" in active
    gone = client.get(f"/schemes/{sid}/people?left=1").text
    assert "李志愿" in gone and "张热心" not in gone
    assert client.get(f"/schemes/{sid}/people/cards").text.count('class="idcard"') == 1
    admin = world.actor("tj_village_admin")
    rule = rulebook.create_rule(
        session, admin, None, {"code": "V-2", "name": "助老", "category": "志愿服务", "points": 5}, scheme_id=sid
    )
    with pytest.raises(HouseholdMovedOut) as credited:
        points.record_entry(
            session,
            world.actor("tj_recorder"),
            household_id=pid,
            rule_id=rule.id,
            occurred_on=TODAY,
            today=TODAY,
            now=NOW,
        )
    love = create_shop(session, admin, world.a.id, "爱心超市", scheme_id=sid)
    session.commit()
    with pytest.raises(HouseholdMovedOut) as redeemed:
        shop.household_at_counter(session, Actor(world.users["tj_village_admin"]), love, "ZY-001", "s")
    assert "此人已离开" in credited.value.render_message() and "此人已离开" in redeemed.value.render_message()


def test_the_persons_yearly_passbook_is_labelled_as_a_person(world, auth, client, volunteers):
    auth.login("tj_resident")
    year = TODAY.year
    page = client.get(f"/passbook/{volunteers['v1'].id}/{year}")
    assert page.status_code == 200
    assert f"<h1>李志愿 · {year} 年存折</h1>" in page.text
    assert "志愿积分 · 编号 ZY-001" in page.text and "志愿积分 · 积分存折（年度对账单）" in page.text
    assert "（）" not in page.text and "户号" not in page.text and "李志愿 家" not in page.text
    household = client.get(f"/passbook/{world.households['tj1'].id}/{year}").text
    assert f"户主tj1 家 · {year} 年存折" in household and "户号 TJ-001" in household


def test_a_persons_card_names_the_schemes_shop(world, session, auth, client, volunteers):
    auth.login("tj_village_admin")
    url = f"/schemes/{volunteers['scheme'].id}/people/cards"
    unshopped = client.get(url).text
    assert "凭卡到收“志愿积分”的超市兑换" in unshopped and "凭卡到积分超市兑换" not in unshopped
    create_shop(session, world.actor("tj_village_admin"), world.a.id, "爱心超市", scheme_id=volunteers["scheme"].id)
    session.commit()
    sheet = client.get(url).text
    assert sheet.count("凭卡到爱心超市兑换") == 2 and "凭卡到积分超市兑换" not in sheet
    assert "凭卡到爱心超市兑换" in client.get(f"/shop/cards/{volunteers['v1'].id}").text
    assert "凭卡到积分超市兑换" in client.get(f"/shop/cards/{world.households['tj1'].id}").text
