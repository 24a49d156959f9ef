"""Exports name an account's number and name by the kind of account they list: 户号/户主
for households, 编号/姓名 for people, 村编号/村名 for villages."""

import io

from openpyxl import load_workbook

from app.redemption import shops as shop_services
from tests.redemption.test_services import build_shop
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
