"""A household's shop pages seen by its resident: its redemptions (its linked person
accounts' too) and the catalogue judged per shop's scheme."""

from tests.factories import user
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


def _sections(page) -> dict[str, str]:
    """The catalogue's shops by name: each section's HTML."""
    parts = page.text.split("<h2>")[1:]
    return {part.split("</h2>")[0]: part for part in parts}


def test_the_catalogue_judges_each_shop_by_the_account_of_its_scheme(world, session, love, client, auth):
    """团结村's resident (household tj1, nearly no points) is linked to volunteer V001 (100
    志愿积分): the 爱心超市's towel is within reach, the household shop's rice is not."""
    auth.login("tj_resident")
    shops = _sections(client.get("/shop/catalogue"))
    assert world.households["tj1"].redeemable < 30
    assert "您的积分够换" in shops["爱心超市"] and "V001 李志愿" in shops["爱心超市"]
    assert "您的积分够换" not in shops["团结村积分超市"]


def test_a_household_without_an_account_of_the_scheme_gets_a_note_not_a_marker(world, session, love, client, auth):
    give_points(session, world, world.households["tj2"], 100)
    user(session, "tj2_resident", "resident", world.a, world.households["tj2"])
    session.commit()
    auth.login("tj2_resident")
    shops = _sections(client.get("/shop/catalogue"))
    assert "您的积分够换" in shops["团结村积分超市"]
    assert "您的积分够换" not in shops["爱心超市"]
    assert "您家没有“志愿积分”的账户" in shops["爱心超市"]
