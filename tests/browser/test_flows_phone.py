"""Issue 11's phone flows in Chromium at 360×740: the counter's short list of households,
the periods page's disabled 定稿, objection links only while the window is open, and the
approval queue (entries of published periods apart, the bulk result per entry)."""

import pytest

from app.households.models import Member
from app.redemption import shops as shop_services
from tests.browser.conftest import login
from tests.browser.demo_site import watch
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app):
    """CSRF on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_the_counter_offers_households_by_a_members_name(world, session, phone, live_server):
    from playwright.sync_api import expect

    shop = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "村委会积分超市")
    world.users["tj_clerk"].shop_id = shop.id
    session.add(Member(household_id=world.households["tj2"].id, name="李小花", relation="女儿"))
    session.commit()
    problems = watch(phone)
    login(phone, live_server, "tj_clerk", PASSWORD)
    phone.goto(f"{live_server}/shop/counter")
    phone.fill("#lookup-form input[name=card]", "小花")
    phone.click("#lookup-form button[type=submit]")
    pick = phone.locator("#candidates .candidate")
    expect(pick).to_have_count(1)
    expect(pick).to_contain_text("TJ-002 户主tj2")
    expect(pick).to_contain_text("李小花")
    box = pick.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # fits the phone's width
    pick.click()
    expect(phone.locator("#who-number")).to_have_text("TJ-002")
    expect(phone.locator("#candidates")).to_be_hidden()

    phone.fill("#lookup-form input[name=card]", "tj 1")
    phone.click("#lookup-form button[type=submit]")
    expect(phone.locator("#who-number")).to_have_text("TJ-001")
    assert problems == [], problems
