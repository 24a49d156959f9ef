"""A household's shop pages seen by its resident: its redemptions (its linked person
accounts' too) and the catalogue judged per shop's scheme."""

from tests.redemption.test_scheme_shops import sell
from tests.redemption.test_services import give_points


def test_my_redemptions_lists_the_linked_volunteers_too(world, session, love, client, auth):
    household_shop, rice, _, _ = love["household_shop"]
    give_points(session, world, world.households["tj1"], 100)
    sell(session, world, household_shop, rice, household_id=world.households["tj1"].id)
    sell(session, world, love["shop"], love["towel"], household_id=love["v1"].id)
    session.commit()
    auth.login("tj_resident")
    page = client.get("/shop/my-redemptions")
    assert page.status_code == 200
    assert "还没有兑换过" not in page.text
    assert "V001 李志愿" in page.text and "爱心超市" in page.text and "毛巾×1" in page.text
    assert "TJ-001 户主tj1" in page.text and "团结村积分超市" in page.text


def test_my_redemptions_leaves_out_other_households_people(world, session, love, client, auth):
    sell(session, world, love["shop"], love["towel"], household_id=love["v1"].id)
    session.commit()
    auth.login("xf_resident")
    assert "还没有兑换过" in client.get("/shop/my-redemptions").text
