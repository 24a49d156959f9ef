"""The shop's pages: the counter, receipts, shops and stock, reports, the resident's card
and catalogue, and printable cards, as a village's clerk, officials and residents use them."""

import io
import json
import re
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.clock import local_today, utcnow
from app.households.models import Household
from app.points import services as points
from app.points.proof import verify
from app.redemption import services
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, Shop, StockMovement

TODAY = local_today("Asia/Shanghai")
SECRET = "test-secret"


@dataclass
class StockedShop:
    """The shop fixture: its id and its items by nickname."""

    id: int
    items: dict[str, Item]


@pytest.fixture
def shop(world, session):
    """团结村's shop with rice, oil and (sold out) soap; the clerk works there; household
    tj1 has 60 points above the floor of 100; one point is worth 2 yuan."""
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "村委会积分超市")
    now = utcnow()
    items = {
        "rice": shop_services.create_item(
            session, admin, shop.id, {"name": "大米", "unit": "袋", "price_points": 50, "stock": 10}, now=now
        ),
        "oil": shop_services.create_item(
            session, admin, shop.id, {"name": "5升食用油", "unit": "桶", "price_points": 85, "stock": 3}, now=now
        ),
        "soap": shop_services.create_item(
            session, admin, shop.id, {"name": "肥皂", "price_points": 5, "stock": 0}, now=now
        ),
    }
    world.users["tj_clerk"].shop_id = shop.id
    world.a.yuan_per_point = 2.0
    points.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households["tj1"].id,
        rule_id=world.rules["tj_school"].id,
        quantity=20,
        occurred_on=TODAY,
        today=TODAY,
        now=now,
    )
    session.commit()
    return StockedShop(shop.id, items)


def text(response) -> str:
    return response.get_data(as_text=True)


def fresh(session, model, id_):
    session.expire_all()
    return session.get(model, id_)


def token_of(household) -> str:
    return services.card_token(SECRET, household)


def lookup(client, shop, card):
    return client.post("/shop/counter/lookup", json={"shop_id": shop.id, "card": card})


def redeem_form(client, shop, card, key="k1", **quantities):
    data = {"shop_id": shop.id, "card": card, "key": key}
    data.update({f"qty-{shop.items[name].id}": str(q) for name, q in quantities.items()})
    return client.post("/shop/counter/redeem", data=data)


def test_counter_lists_the_clerks_shop_and_its_items(world, shop, auth, client):
    auth.login("tj_clerk")
    r = client.get("/shop/counter")
    assert r.status_code == 200
    page = text(r)
    assert "兑换柜台 · 村委会积分超市" in page
    assert "大米" in page and "5升食用油" in page
    assert "vendor/jsqr/jsQR.js" in page and "js/counter.js" in page
    # Sold-out soap is shown but cannot be picked.
    soap_row = re.search(rf'<tr data-item-id="{shop.items["soap"].id}".*?</tr>', page, re.S).group(0)
    assert "缺货" in soap_row and "disabled" in soap_row


def test_counter_lookup_by_scanned_token(world, shop, auth, client):
    auth.login("tj_clerk")
    tj1 = world.households["tj1"]
    r = lookup(client, shop, token_of(tj1))
    assert r.status_code == 200
    assert r.get_json() == {
        "household_id": tj1.id,
        "number": "TJ-001",
        "head_name": "户主tj1",
        "balance": 160,
        "redeemable": 60,
        "qr_token": token_of(tj1),
    }


def test_counter_lookup_by_typed_number(world, shop, auth, client):
    auth.login("tj_clerk")
    body = lookup(client, shop, " tj-002 ").get_json()
    assert body["number"] == "TJ-002" and body["redeemable"] == 0 and body["qr_token"] is None
    r = lookup(client, shop, "TJ-999")
    assert r.status_code == 404
    assert r.get_json()["error"]["message"] == "本村没有户号为 TJ-999 的农户"


def test_counter_lookup_refuses_forged_and_foreign_cards(world, shop, auth, client):
    auth.login("tj_clerk")
    forged = token_of(world.households["tj1"])[:-3] + "abc"
    r = lookup(client, shop, forged)
    assert r.status_code == 400 and r.get_json()["error"]["message"] == "无法识别的积分卡"
    # Another village's card, and another village's number, are not found here.
    r = lookup(client, shop, token_of(world.households["xf1"]))
    assert r.get_json()["error"]["message"] == "无法识别的积分卡"
    assert lookup(client, shop, "XF-001").status_code == 404


def test_counter_lookup_without_script_shows_the_cart(world, shop, auth, client):
    auth.login("tj_clerk")
    r = client.post("/shop/counter/lookup", data={"shop_id": shop.id, "card": "TJ-001"})
    assert r.status_code == 200
    page = text(r)
    assert "户主tj1" in page and 'id="who-redeemable">60<' in page
    r = client.post("/shop/counter/lookup", data={"shop_id": shop.id, "card": "TJ-404"})
    assert r.status_code == 404
    assert "本村没有户号为 TJ-404 的农户" in text(r) and 'value="TJ-404"' in text(r)


def test_counter_lookup_refuses_input_no_database_can_hold(world, shop, auth, client):
    """The counter's script gets the API's error JSON, never a 500: a card with half a
    surrogate pair (JSON's "\\ud800"), a body nested too deep to parse."""
    auth.login("tj_clerk")
    body = json.dumps({"shop_id": shop.id, "card": "TJ-\ud800"})  # the surrogate as its escape
    r = client.post("/shop/counter/lookup", data=body, content_type="application/json")
    assert r.status_code == 422 and set(r.get_json()["error"]["details"]) == {"card"}
    r = client.post("/shop/counter/lookup", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "validation_error"


def test_redemption_through_the_page_lowers_balance_and_stock_once(world, shop, session, auth, client):
    auth.login("tj_clerk")
    tj1 = world.households["tj1"]
    r = redeem_form(client, shop, token_of(tj1), key="tap-1", rice=1)
    assert r.status_code == 302
    redemption = session.query(Redemption).one()
    assert r.headers["Location"].endswith(f"/shop/redemptions/{redemption.id}/receipt")
    assert fresh(session, Household, tj1.id).balance == 110
    assert fresh(session, Item, shop.items["rice"].id).stock == 9
    # A double tap posts the same cart with the same key: the same receipt, no second charge.
    again = redeem_form(client, shop, token_of(tj1), key="tap-1", rice=1)
    assert again.headers["Location"] == r.headers["Location"]
    assert session.query(Redemption).count() == 1
    assert fresh(session, Household, tj1.id).balance == 110
    assert session.query(StockMovement).filter_by(reason="redemption").count() == 1


def test_insufficient_points_says_how_many_are_missing(world, shop, session, auth, client):
    auth.login("tj_clerk")
    r = redeem_form(client, shop, "TJ-001", rice=1, oil=1)  # 135 points, 60 redeemable
    assert r.status_code == 409
    page = text(r)
    assert "可兑换积分不足，还差 75 分" in page
    # The cart is kept as typed, and nothing moved.
    assert f'name="qty-{shop.items["oil"].id}" value="1"' in page
    assert fresh(session, Household, world.households["tj1"].id).balance == 160
    assert session.query(Redemption).count() == 0


def test_out_of_stock_is_refused(world, shop, session, auth, client):
    household = world.households["tj1"]
    balance = fresh(session, Household, household.id).balance
    auth.login("tj_clerk")
    r = redeem_form(client, shop, "TJ-001", soap=2)
    assert r.status_code == 409
    assert "库存不足：肥皂 只剩 0" in text(r)
    assert fresh(session, Item, shop.items["soap"].id).stock == 0
    # The stock is taken last: the entry and the balance written before it are undone.
    assert fresh(session, Household, household.id).balance == balance
    assert session.scalar(select(func.count()).select_from(Redemption)) == 0
    assert verify(session) == []


def test_empty_cart_asks_for_an_item(world, shop, auth, client):
    auth.login("tj_clerk")
    r = redeem_form(client, shop, "TJ-001")
    assert r.status_code == 422
    assert "请至少选择一件商品" in text(r)


def test_a_clerk_sells_only_at_its_own_shop(world, shop, session, auth, client):
    other = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "二组积分超市")
    session.commit()
    auth.login("tj_clerk")
    assert lookup(client, other, "TJ-001").status_code == 403
    # The shop picker never offers it, and its pages are not found for this clerk.
    assert "二组积分超市" not in text(client.get(f"/shop/counter?shop_id={other.id}"))
    assert client.get(f"/shop/shops/{other.id}").status_code == 404


def test_receipt_shows_number_items_yuan_and_balance(world, shop, session, auth, client):
    auth.login("tj_clerk")
    r = redeem_form(client, shop, "TJ-001", rice=1)
    page = text(client.get(r.headers["Location"]))
    redemption = session.query(Redemption).one()
    assert redemption.number in page
    assert "团结村" in page and "村委会积分超市" in page
    assert "TJ-001" in page and "户主tj1" in page
    assert "大米" in page and "1袋" in page
    assert "50 分" in page and "¥100.00" in page  # 1 point = 2 yuan
    assert "兑换后余额" in page and "110 分" in page
    assert "tj_clerk" in page


def test_resident_sees_own_receipt_only(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    rid = session.query(Redemption).one().id
    auth.logout()
    auth.login("tj_resident")
    assert client.get(f"/shop/redemptions/{rid}/receipt").status_code == 200
    auth.logout()
    auth.login("xf_resident")
    assert client.get(f"/shop/redemptions/{rid}/receipt").status_code == 404


def test_clerk_cancels_a_redemption_of_the_day(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    redemption = session.query(Redemption).one()
    page = text(client.get(f"/shop/shops/{shop.id}"))
    assert redemption.number in page and "共 1 笔，50 分" in page
    # A reason is required.
    r = client.post(f"/shop/redemptions/{redemption.id}/cancel", data={"reason": " "}, follow_redirects=True)
    assert "请填写撤销原因" in text(r)
    assert fresh(session, Redemption, redemption.id).status == "completed"
    r = client.post(
        f"/shop/redemptions/{redemption.id}/cancel",
        data={"reason": "拿错商品", "next": f"/shop/shops/{shop.id}"},
        follow_redirects=True,
    )
    page = text(r)
    assert f"已撤销兑换 {redemption.number}：50 分和商品已退回" in page
    assert "已撤销" in page and "拿错商品" in page
    assert fresh(session, Household, world.households["tj1"].id).balance == 160
    assert fresh(session, Item, shop.items["rice"].id).stock == 10
    r = client.post(f"/shop/redemptions/{redemption.id}/cancel", data={"reason": "再撤一次"}, follow_redirects=True)
    assert "该兑换已撤销" in text(r)


def test_clerk_cannot_cancel_an_earlier_day(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    redemption = session.query(Redemption).one()
    redemption.created_at = redemption.created_at.replace(year=redemption.created_at.year - 1)
    session.commit()
    r = client.post(f"/shop/redemptions/{redemption.id}/cancel", data={"reason": "太晚了"}, follow_redirects=True)
    assert "店员只能撤销本店当天的兑换；其他请找评议员" in text(r)
    assert fresh(session, Redemption, redemption.id).status == "completed"


def test_cancel_answers_403_without_the_role_and_404_outside_the_village(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    redemption = session.query(Redemption).one()
    auth.logout()
    for username, status in (("tj_recorder", 403), ("tj_resident", 403), ("xf_reviewer", 404)):
        auth.login(username)
        r = client.post(f"/shop/redemptions/{redemption.id}/cancel", data={"reason": "退货"})
        assert r.status_code == status, username
        auth.logout()
    assert fresh(session, Redemption, redemption.id).status == "completed"


def test_village_admin_creates_a_shop(world, auth, client, session):
    auth.login("tj_village_admin")
    r = client.post("/shop/shops", data={"name": ""})
    assert r.status_code == 422 and "请填写超市名称" in text(r)
    r = client.post("/shop/shops", data={"name": "二组积分超市"}, follow_redirects=True)
    assert "已新建积分超市：二组积分超市" in text(r)
    page = text(client.get("/shop/shops"))
    assert "二组积分超市" in page and "新建积分超市" in page
    auth.logout()
    auth.login("xf_village_admin")
    assert "二组积分超市" not in text(client.get("/shop/shops"))


def test_clerk_goes_straight_to_its_shop(world, shop, auth, client):
    auth.login("tj_clerk")
    r = client.get("/shop/shops")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/shop/shops/{shop.id}")


def test_items_are_created_with_messages_beside_fields(world, shop, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post(
        f"/shop/shops/{shop.id}",
        data={"name": "洗衣液", "unit": "瓶", "price_points": "二十", "stock": "5", "low_stock": "2", "active": "y"},
    )
    assert r.status_code == 422
    page = text(r)
    assert "须为 1 到 100000 的整数" in page and 'value="二十"' in page and 'value="洗衣液"' in page
    r = client.post(
        f"/shop/shops/{shop.id}",
        data={"name": "洗衣液", "unit": "瓶", "price_points": "20", "stock": "5", "low_stock": "2", "active": "y"},
        follow_redirects=True,
    )
    assert "已上架 洗衣液（20 分/瓶）" in text(r)
    item = session.query(Item).filter_by(name="洗衣液").one()
    assert (item.price_points, item.stock, item.low_stock, item.active) == (20, 5, 2, True)


def test_item_edit_receipt_loss_and_history(world, shop, session, auth, client):
    auth.login("tj_clerk")
    oil = shop.items["oil"]
    r = client.post(
        f"/shop/items/{oil.id}",
        data={"name": "5升食用油", "unit": "桶", "price_points": "80", "low_stock": "2"},
        follow_redirects=True,
    )
    assert "已保存 5升食用油" in text(r)
    oil = fresh(session, Item, oil.id)
    assert oil.price_points == 80 and oil.active is False  # unticked: taken off the shelf
    r = client.post(f"/shop/items/{oil.id}/stock", data={"reason": "receipt", "quantity": "12", "note": "镇里配送"})
    assert r.status_code == 302
    r = client.post(f"/shop/items/{oil.id}/stock", data={"reason": "loss", "quantity": "2", "note": "漏油"})
    assert fresh(session, Item, oil.id).stock == 13
    r = client.post(f"/shop/items/{oil.id}/stock", data={"reason": "loss", "quantity": "99"})
    assert r.status_code == 409 and "库存不足" in text(r)
    r = client.post(f"/shop/items/{oil.id}/stock", data={"reason": "receipt", "quantity": "0"})
    assert r.status_code == 422 and "数量须为正整数" in text(r)
    page = text(client.get(f"/shop/items/{oil.id}"))
    for expected in ("期初库存", "入库", "+12", "镇里配送", "报损", "-2", "漏油", "tj_clerk"):
        assert expected in page


def test_low_stock_list(world, shop, auth, client):
    auth.login("tj_village_admin")
    page = text(client.get(f"/shop/shops/{shop.id}"))
    low = page.split("库存不足，请及时补货")[1].split("</section>")[0]
    assert "5升食用油" in low and "肥皂" in low and "大米" not in low


def test_reports_and_settlement_workbook(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    month = session.query(Redemption).one().created_at.strftime("%Y-%m")
    auth.logout()
    auth.login("tj_reviewer")
    page = text(client.get("/shop/reports"))
    assert month in page and "村委会积分超市" in page and "大米" in page and "100.00" in page
    r = client.get(f"/shop/reports.xlsx?month={month}")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(r.data), read_only=True)
    assert wb.sheetnames == ["月度汇总", "商品排行", "兑换明细"]
    summary = list(wb["月度汇总"].iter_rows(values_only=True))
    assert summary[1] == (month, "村委会积分超市", 1, 50, 100)
    detail = list(wb["兑换明细"].iter_rows(values_only=True))
    assert detail[1][3:9] == ("TJ-001", "户主tj1", "大米×1", 50, 100, "已完成")
    auth.logout()
    auth.login("xf_reviewer")
    assert "村委会积分超市" not in text(client.get("/shop/reports"))
    auth.logout()
    auth.login("tj_resident")
    assert client.get("/shop/reports").status_code == 403


def test_resident_card_catalogue_and_history(world, shop, session, auth, client):
    auth.login("tj_clerk")
    redeem_form(client, shop, "TJ-001", rice=1)
    auth.logout()
    auth.login("tj_resident")
    page = text(client.get("/shop/my-card"))
    assert "<svg" in page and "TJ-001" in page and "户主tj1" in page and "<?xml" not in page
    page = text(client.get("/shop/catalogue"))
    assert "村委会积分超市" in page and "大米" in page and "约 100.00 元" in page
    assert "有货" in page and "缺货" in page
    page = text(client.get("/shop/my-redemptions"))
    assert "大米×1" in page and "-50" in page


def test_resident_sees_only_its_own_card(world, shop, auth, client):
    auth.login("tj_resident")
    assert client.get(f"/shop/cards/{world.households['tj1'].id}").status_code == 200
    assert client.get(f"/shop/cards/{world.households['tj2'].id}").status_code == 404
    assert client.get(f"/shop/cards/{world.households['xf1'].id}").status_code == 404
    assert client.get("/shop/cards").status_code == 403
    assert "补办新卡" not in text(client.get(f"/shop/cards/{world.households['tj1'].id}"))


def test_official_without_household_has_no_card(world, auth, client):
    auth.login("tj_clerk")
    r = client.get("/shop/my-card")
    assert r.status_code == 404 and "您的账号没有关联农户" in text(r)


def test_a4_sheet_has_every_household_of_the_village(world, session, auth, client):
    for i in range(4, 13):
        points.enroll_household(
            session,
            world.actor("tj_village_admin"),
            world.a.id,
            {"number": f"TJ-{i:03d}", "head_name": f"户主{i}"},
            today=TODAY,
            now=utcnow(),
        )
    session.commit()
    auth.login("tj_village_admin")
    page = text(client.get("/shop/cards"))
    for i in range(1, 13):
        assert f"TJ-{i:03d}" in page
    assert "XF-001" not in page
    assert page.count('class="idcard"') == 12 and page.count("<svg") == 12
    assert page.count('class="sheet"') == 2  # ten cards to an A4 page


def test_revoked_card_is_refused_at_the_counter(world, shop, session, auth, client):
    tj1 = world.households["tj1"]
    old = token_of(tj1)
    auth.login("tj_village_admin")
    page = text(client.get(f"/shop/cards/{tj1.id}"))
    assert "补办新卡并作废旧卡" in page
    r = client.post(f"/shop/cards/{tj1.id}/revoke", follow_redirects=True)
    assert "已补办新卡" in text(r)
    auth.logout()
    auth.login("tj_clerk")
    r = lookup(client, shop, old)
    assert r.status_code == 400 and r.get_json()["error"]["message"] == "这张积分卡已作废，请使用新卡"
    assert lookup(client, shop, token_of(fresh(session, Household, tj1.id))).status_code == 200


def test_revoking_a_card_answers_403_without_the_role_and_404_outside_the_village(world, session, auth, client):
    tj1 = world.households["tj1"]
    version = tj1.qr_version
    auth.login("tj_clerk")
    r = client.post(f"/shop/cards/{tj1.id}/revoke")
    assert r.status_code == 403 and "无权执行此操作" in text(r)
    auth.logout()
    auth.login("xf_village_admin")
    assert client.post(f"/shop/cards/{tj1.id}/revoke").status_code == 404
    assert fresh(session, Household, tj1.id).qr_version == version


def test_admin_creates_a_shop_in_a_chosen_village_and_picks_it_at_the_counter(world, session, auth, client):
    auth.login("admin")
    page = text(client.get("/shop/shops"))
    assert "团结村（上木拉乡）" in page and "幸福村（上木拉乡）" in page
    r = client.post("/shop/shops", data={"village_id": str(world.b.id), "name": "幸福超市"}, follow_redirects=True)
    assert "已新建积分超市：幸福超市" in text(r)
    shop = session.query(Shop).filter_by(name="幸福超市").one()
    assert shop.village_id == world.b.id
    page = text(client.get(f"/shop/counter?shop_id={shop.id}"))
    assert "兑换柜台 · 幸福超市" in page
    # The choice is remembered for the next visit.
    assert "兑换柜台 · 幸福超市" in text(client.get("/shop/counter"))
