"""The counter finds a household by a loosely typed number, a name (the head's or a
member's) or a phone, offering a short list to pick from; only in the clerk's village."""

import pytest

from app.clock import local_today
from app.households import services as households
from app.households.models import Member
from app.redemption import shops as shop_services


@pytest.fixture
def shop(world, session):
    shop = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "村委会积分超市")
    world.users["tj_clerk"].shop_id = shop.id
    tj1, tj2 = world.households["tj1"], world.households["tj2"]
    tj1.phone = "13912345678"
    session.add(Member(household_id=tj2.id, name="李小花", relation="女儿"))
    # the other village has a household of the same name and number digits: never offered
    xf1 = world.households["xf1"]
    xf1.head_name, xf1.phone = "户主tj1", "13912345678"
    session.commit()
    return shop


def lookup(client, shop, card):
    return client.post("/shop/counter/lookup", json={"shop_id": shop.id, "card": card})


@pytest.mark.parametrize("typed", ["TJ001", "tj 1", "1", "tj-1", "TJ-001", "tj_001"])
def test_a_loosely_typed_number_finds_the_household(world, shop, login, typed):
    r = lookup(login("tj_clerk"), shop, typed)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["number"] == "TJ-001"


def test_a_members_name_offers_the_household_to_pick(world, shop, login):
    r = lookup(login("tj_clerk"), shop, "小花")
    assert r.get_json() == {
        "candidates": [{"number": "TJ-002", "head_name": "户主tj2", "members": ["李小花"], "phone_tail": ""}]
    }


def test_a_heads_name_and_a_phone_are_only_searched_in_the_clerks_village(world, shop, login):
    client = login("tj_clerk")
    by_name = lookup(client, shop, "户主tj").get_json()["candidates"]
    assert {c["number"] for c in by_name} == {h.number for k, h in world.households.items() if k.startswith("tj")}
    by_phone = lookup(client, shop, "5678").get_json()["candidates"]
    assert [c["number"] for c in by_phone] == ["TJ-001"] and by_phone[0]["phone_tail"] == "5678"


def test_nothing_like_it_is_still_a_404(world, shop, login):
    r = lookup(login("tj_clerk"), shop, "赵钱孙")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_without_javascript_the_page_lists_the_candidates_as_buttons(world, shop, login):
    r = login("tj_clerk").post("/shop/counter/lookup", data={"shop_id": shop.id, "card": "户主tj"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "找到以下几户，请点选" in page
    assert 'name="card" value="TJ-001"' in page and 'name="card" value="TJ-002"' in page


def test_the_candidates_service_keeps_moved_out_households_away(world, session, shop):
    tj2 = world.households["tj2"]
    tj2.moved_out_on = local_today("Asia/Shanghai")
    session.flush()
    found = households.counter_candidates(session, world.a.id, "小花")
    assert found == []
    assert households.counter_candidates(session, world.a.id, "") == []
