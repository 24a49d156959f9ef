"""The counter's page at a shop of a household scheme and at one of a person scheme:
the words it uses, and what it says of a number of another scheme's account."""

from tests.redemption.test_scheme_shops import sell
from tests.volunteers import person, volunteer_scheme


def lookup(client, shop, card):
    return client.post("/shop/counter/lookup", data={"shop_id": shop.id, "card": card})


def test_a_number_of_another_schemes_account_says_where_it_is_served(world, session, love, client, auth):
    auth.login("tj_clerk")
    household_shop = love["household_shop"][0]
    refused = lookup(client, household_shop, "v001")
    assert refused.status_code == 404
    assert "V001 是“志愿积分”的账户，请到爱心超市兑换" in refused.text and "本村没有户号为" not in refused.text
    back = client.post("/shop/counter/lookup", json={"shop_id": love["shop"].id, "card": "TJ-002"})
    message = back.get_json()["error"]["message"]
    assert "TJ-002 是“" in message and "请到团结村积分超市兑换" in message


def test_another_villages_accounts_are_not_told_of(world, session, love, client, auth):
    xf_scheme = volunteer_scheme(session, world, world.b, admin="xf_village_admin")
    person(session, world, xf_scheme, "XZ-001", "幸福志愿", linked=world.households["xf1"], admin="xf_village_admin")
    session.commit()
    auth.login("tj_clerk")
    refused = lookup(client, love["household_shop"][0], "XZ-001")
    assert refused.status_code == 404
    assert "本村没有户号为 XZ-001 的农户" in refused.text and "幸福" not in refused.text


def test_a_person_schemes_counter_speaks_of_people_not_households(world, session, love, client, auth):
    auth.login("tj_clerk")
    page = client.get(f"/shop/counter?shop_id={love['shop'].id}").text
    assert "编号或卡上的编码" in page and "找到以下几位" in page and "换一位" in page
    assert not any(word in page for word in ("户号", "找到以下几户", "换一户"))
    picked = lookup(client, love["shop"], "志愿").text  # 李志愿 among the candidates
    assert "V001 李志愿" in picked and "户号" not in picked
    household = client.get(f"/shop/counter?shop_id={love['household_shop'][0].id}").text
    assert "户号或卡上的编码" in household and "找到以下几户" in household and "换一户" in household


def test_a_person_schemes_receipt_offers_the_next_person(world, session, love, client, auth):
    r = sell(session, world, love["shop"], love["towel"], household_id=love["v1"].id)
    session.commit()
    auth.login("tj_clerk")
    page = client.get(f"/shop/redemptions/{r.id}/receipt").text
    assert "继续兑换下一位" in page and "下一户" not in page


def test_an_empty_lookup_at_a_person_schemes_counter_asks_for_the_number(world, session, love, client, auth):
    auth.login("tj_clerk")
    assert "请扫积分卡或输入编号" in lookup(client, love["shop"], " ").text
    assert "请扫积分卡或输入户号" in lookup(client, love["household_shop"][0], " ").text
