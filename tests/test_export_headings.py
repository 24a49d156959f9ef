"""Exports name an account's number and name by the kind of account they list: 户号/户主
for households, 编号/姓名 for people, 村编号/村名 for villages."""

import io

from openpyxl import load_workbook

from app.redemption import shops as shop_services
from tests.redemption.test_services import build_shop, give_points, sell
from tests.volunteers import person, volunteer_scheme


def sheet(response, name=None) -> list[tuple]:
    assert response.status_code == 200, response.status_code
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    return list((book[name] if name else book.active).iter_rows(values_only=True))


def test_a_person_schemes_standings_export_heads_number_and_name(world, session, auth, client):
    scheme = volunteer_scheme(session, world)
    person(session, world, scheme, "ZY-001", "李志愿")
    session.commit()
    auth.login("tj_village_admin")
    rows = sheet(client.get(f"/standings/export.xlsx?scheme_id={scheme.id}"))
    assert rows[0][2:4] == ("编号", "姓名") and rows[1][2:4] == ("ZY-001", "李志愿")
    csv_head = client.get(f"/standings/export.csv?scheme_id={scheme.id}").get_data(as_text=True).splitlines()[0]
    assert "编号,姓名" in csv_head and "户主" not in csv_head
    household = sheet(client.get(f"/standings/export.xlsx?scheme_id={world.a.household_scheme.id}"))
    assert household[0][2:4] == ("户号", "户主")


def test_the_settlement_heads_accounts_by_the_kind_its_shops_serve(world, session, auth, client):
    scheme = volunteer_scheme(session, world)
    shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "爱心超市", scheme_id=scheme.id)
    session.commit()
    auth.login("tj_reviewer")
    assert sheet(client.get("/shop/reports.xlsx"), "兑换明细")[0][3:5] == ("编号", "姓名")
    build_shop(session, world)  # the village's household shop beside it: both kinds
    session.commit()
    assert sheet(client.get("/shop/reports.xlsx"), "兑换明细")[0][3:5] == ("编号", "名称")
    auth.logout()
    auth.login("xf_reviewer")  # 幸福村 has only a household shop (or none)
    assert sheet(client.get("/shop/reports.xlsx"), "兑换明细")[0][3:5] == ("户号", "户主")


def test_the_settlement_of_one_shop_alone(world, session, auth, client):
    """A 爱心超市 is often funded apart from the village's shop: its settlement can be
    drawn for it alone, headed for its kind of account; another village's shop is 404."""
    scheme = volunteer_scheme(session, world)
    love = shop_services.create_shop(
        session, world.actor("tj_village_admin"), world.a.id, "爱心超市", scheme_id=scheme.id
    )
    household_shop, rice, *_ = build_shop(session, world)
    give_points(session, world, world.households["tj1"], 200)
    sell(session, world, household_shop, [{"item_id": rice.id, "quantity": 1}])
    xf_shop = shop_services.create_shop(session, world.actor("xf_village_admin"), world.b.id, "幸福超市")
    session.commit()
    auth.login("tj_reviewer")
    page = client.get("/shop/reports").get_data(as_text=True)
    assert f'<option value="{love.id}">爱心超市</option>' in page
    assert len(sheet(client.get("/shop/reports.xlsx"), "兑换明细")) == 2  # both shops: the one sale
    r = client.get(f"/shop/reports.xlsx?shop_id={love.id}")
    assert sheet(r, "兑换明细") == [sheet(r, "兑换明细")[0]] and sheet(r, "月度汇总")[1:] == []
    assert sheet(r, "兑换明细")[0][3:5] == ("编号", "姓名")
    assert "shop" in r.headers["Content-Disposition"]
    assert f'<option value="{love.id}" selected>' in client.get(f"/shop/reports?shop_id={love.id}").get_data(
        as_text=True
    )
    assert client.get(f"/shop/reports.xlsx?shop_id={xf_shop.id}").status_code == 404
    assert client.get(f"/shop/reports?shop_id={xf_shop.id}").status_code == 404
    assert client.get("/shop/reports?shop_id=999999").status_code == 404
