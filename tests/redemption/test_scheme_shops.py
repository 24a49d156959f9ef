"""Shops of a scheme (API.md "Shops of a scheme"): a shop takes the cards of one scheme,
its counter serves that scheme's accounts only, and values points at its yuan_per_point."""

import pytest
from sqlalchemy import select

from app.errors import BadReference, InvalidQR, NotFound, ValidationFailed
from app.households.models import Household
from app.redemption import reports, services
from app.redemption import shops as shop_services
from app.redemption.models import Redemption, Shop
from app.schemes import services as schemes
from tests.conftest import TODAY
from tests.factories import NOW
from tests.redemption.test_api import assert_error
from tests.redemption.test_services import SECRET, give_points
from tests.volunteers import volunteer_scheme


def sell(session, world, shop, item, **who):
    return services.redeem(
        session,
        world.actor("tj_clerk"),
        shop_id=shop.id,
        lines=[{"item_id": item.id, "quantity": 1}],
        now=NOW,
        today=TODAY,
        secret=SECRET,
        **who,
    )


def test_a_shop_takes_the_household_scheme_unless_told(world, session, love):
    assert love["household_shop"][0].scheme_id == world.a.household_scheme.id
    assert love["shop"].scheme_id == love["scheme"].id


def test_a_shop_refuses_a_scheme_of_another_village_or_out_of_scope(world, session, love):
    xf_scheme = volunteer_scheme(session, world, world.b, admin="xf_village_admin")
    with pytest.raises(ValidationFailed) as refused:
        shop_services.create_shop(session, world.actor("admin"), world.a.id, "错店", scheme_id=xf_scheme.id)
    assert set(refused.value.details) == {"scheme_id"}
    with pytest.raises(BadReference):  # 团结村's admin does not see 幸福村's scheme
        shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "错店", scheme_id=xf_scheme.id)
    with pytest.raises(BadReference):
        shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "错店", scheme_id=99999)


def test_a_shop_may_take_the_scheme_of_a_region_above_its_village(world, session, county):
    admin = world.actor("admin")
    scheme = schemes.create_scheme(session, admin, volunteer_values(region_id=county.county.id))
    shop = shop_services.create_shop(session, admin, county.hp.id, "县爱心超市", scheme_id=scheme.id)
    assert shop.scheme_id == scheme.id
    with pytest.raises(ValidationFailed):  # 团结村 is not below 洞口县
        shop_services.create_shop(session, admin, world.a.id, "错店", scheme_id=scheme.id)


def volunteer_values(**owner):
    return {
        "name": "县志愿积分",
        "account_kind": "person",
        "cadence": "quarter",
        "base_points": 0,
        "redeem_floor": 0,
        "yuan_per_point": 2.0,
        "approval_required": False,
        "notice_days": 7,
        "annual_reset": False,
        **owner,
    }


def test_a_volunteer_redeems_by_card_at_the_scheme_price(world, session, love):
    token = services.card_token(SECRET, love["v1"])
    r = sell(session, world, love["shop"], love["towel"], qr_token=token)
    session.commit()
    assert (r.household_id, r.total_points, r.yuan_value, r.balance_after) == (love["v1"].id, 20, 40.0, 80)
    row = [m for m in reports.monthly_report(session, world.a.id) if m.shop_id == love["shop"].id]
    assert [(m.points, m.yuan) for m in row] == [(20, 40.0)]


def test_the_household_shop_keeps_its_own_price(world, session, love):
    shop, rice, _, _ = love["household_shop"]
    give_points(session, world, world.households["tj2"], 100)
    r = sell(session, world, shop, rice, household_id=world.households["tj2"].id)
    assert (r.total_points, r.yuan_value) == (30, 30.0)


def test_another_schemes_card_is_invalid_qr_at_either_counter(world, session, love):
    household_card = services.card_token(SECRET, world.households["tj1"])
    with pytest.raises(InvalidQR) as refused:
        sell(session, world, love["shop"], love["towel"], qr_token=household_card)
    assert refused.value.render_message() == "这张积分卡不属于本店的积分方案，请到发卡方案的兑换点使用"
    assert refused.value.details == {}
    session.rollback()
    with pytest.raises(InvalidQR) as refused:  # a token that is no card at all
        sell(session, world, love["shop"], love["towel"], qr_token=household_card[:-2] + "xx")
    assert refused.value.render_message() == "无法识别的积分卡"
    session.rollback()
    shop, rice, _, _ = love["household_shop"]
    with pytest.raises(InvalidQR) as refused:
        sell(session, world, shop, rice, qr_token=services.card_token(SECRET, love["v1"]))
    assert "不属于本店的积分方案" in refused.value.render_message()
    session.rollback()
    assert session.scalar(select(Redemption.id)) is None


def test_an_account_id_of_another_scheme_is_a_bad_reference(world, session, love):
    with pytest.raises(BadReference) as refused:
        sell(session, world, love["shop"], love["towel"], household_id=world.households["tj1"].id)
    assert refused.value.details["field"] == "household_id"


def test_the_counter_finds_a_volunteer_by_number_or_name_but_not_a_household(world, session, love):
    clerk, shop = world.actor("tj_clerk"), love["shop"]
    assert services.counter_lookup(session, clerk, shop, "v001", SECRET)[0].id == love["v1"].id
    found, candidates = services.counter_lookup(session, clerk, shop, "热心", SECRET)
    assert found is None and [c.id for c in candidates] == [love["v2"].id]
    with pytest.raises(NotFound):
        services.counter_lookup(session, clerk, shop, "TJ-001", SECRET)
    with pytest.raises(InvalidQR):
        services.counter_lookup(session, clerk, shop, services.card_token(SECRET, world.households["tj1"]), SECRET)


def test_the_resident_of_a_linked_household_sees_the_volunteers_receipt(world, session, love):
    r = sell(session, world, love["shop"], love["towel"], household_id=love["v1"].id)
    session.commit()
    assert services.redemption_in_scope(session, world.actor("tj_resident"), r.id).id == r.id
    with pytest.raises(NotFound):
        services.redemption_in_scope(session, world.actor("xf_resident"), r.id)


# --- API ---


def test_api_creates_a_shop_of_a_scheme(world, session, love, api):
    admin = api.as_("tj_village_admin")
    r = admin.post("/shops", json={"village_id": world.a.id, "name": "第二爱心超市", "scheme_id": love["scheme"].id})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["scheme_id"] == love["scheme"].id
    assert session.get(Shop, r.get_json()["id"]).scheme_id == love["scheme"].id
    default = admin.post("/shops", json={"village_id": world.a.id, "name": "积分超市二"})
    assert default.get_json()["scheme_id"] == world.a.household_scheme.id
    assert_error(
        admin.post("/shops", json={"village_id": world.a.id, "name": "x", "scheme_id": 99999}), 400, "not_found"
    )
    xf_scheme = volunteer_scheme(session, world, world.b, admin="xf_village_admin")
    session.commit()
    assert_error(
        api.as_("admin").post("/shops", json={"village_id": world.a.id, "name": "x", "scheme_id": xf_scheme.id}),
        422,
        "validation_error",
    )


def test_api_redeems_a_volunteer_card_and_refuses_other_schemes(world, session, love, api):
    clerk = api.as_("tj_clerk")
    body = {"shop_id": love["shop"].id, "lines": [{"item_id": love["towel"].id, "quantity": 2}]}
    ok = clerk.post("/redemptions", json={**body, "qr_token": services.card_token(SECRET, love["v1"])})
    assert ok.status_code == 201, ok.get_json()
    assert (ok.get_json()["account_id"], ok.get_json()["total_points"], ok.get_json()["yuan_value"]) == (
        love["v1"].id,
        40,
        80.0,
    )
    household_card = services.card_token(SECRET, world.households["tj1"])
    assert_error(clerk.post("/redemptions", json={**body, "qr_token": household_card}), 400, "invalid_qr")
    error = assert_error(
        clerk.post("/redemptions", json={**body, "household_id": world.households["tj1"].id}), 400, "not_found"
    )
    assert error["details"]["field"] == "household_id"
    assert_error(clerk.post("/redemptions", json={**body, "account_id": world.households["tj1"].id}), 400, "not_found")
    by_id = clerk.post("/redemptions", json={**body, "account_id": love["v2"].id})
    assert_error(by_id, 409, "insufficient_points")  # 张热心 has no points yet: found, then refused
    session.expire_all()
    assert session.get(Household, love["v1"].id).balance == 60


# --- pages ---


def test_the_shop_page_offers_the_scheme_and_creates_its_shop(world, session, love, client, auth):
    auth.login("tj_village_admin")
    page = client.get("/shop/shops")
    assert "收哪个方案的积分卡" in page.text and "志愿积分" in page.text
    r = client.post("/shop/shops", data={"name": "村爱心超市", "scheme_id": love["scheme"].id})
    assert r.status_code == 302, r.text
    assert session.scalar(select(Shop.scheme_id).where(Shop.name == "村爱心超市")) == love["scheme"].id


def test_the_counter_page_prices_at_the_scheme_and_refuses_a_household_card(world, session, love, client, auth):
    auth.login("tj_clerk")
    page = client.get(f"/shop/counter?shop_id={love['shop'].id}")
    assert 'data-yuan-per-point="2.0"' in page.text
    card = services.card_token(SECRET, world.households["tj1"])
    refused = client.post("/shop/counter/lookup", data={"shop_id": love["shop"].id, "card": card})
    assert refused.status_code == 400 and "这张积分卡不属于本店的积分方案" in refused.text
    found = client.post("/shop/counter/lookup", json={"shop_id": love["shop"].id, "card": "V001"})
    assert found.get_json()["head_name"] == "李志愿"


def test_a_volunteers_receipt_names_the_scheme_and_the_person(world, session, love, client, auth):
    r = sell(session, world, love["shop"], love["towel"], household_id=love["v1"].id)
    session.commit()
    auth.login("tj_resident")
    page = client.get(f"/shop/redemptions/{r.id}/receipt")
    assert page.status_code == 200
    assert "志愿积分" in page.text and "李志愿" in page.text and "¥40.00" in page.text and "户主" not in page.text
