"""The demo's volunteers on a 360×740 phone in Chromium: the village admin's list of
them is dense and fits the screen's width; the volunteers' household lands on its own
page, sees its two volunteers and opens a volunteer's passbook and card."""

import pytest

from tests.browser.demo_site import login, phone_page

pytestmark = pytest.mark.browser
SCREEN = 740
WIDTH = 360


def test_the_people_list_is_dense_on_a_phone(demo_site, browser):
    page = phone_page(browser)
    login(page, demo_site.url, "tj_admin")
    page.goto(demo_site.url + "/people")  # the menu's link: straight to the only person scheme
    assert "/schemes/" in page.url and "/people" in page.url
    rows = page.locator("main table tbody tr")
    assert rows.count() == 5
    tallest = max(rows.nth(i).evaluate("r => r.getBoundingClientRect().height") for i in range(rows.count()))
    width = page.evaluate("document.documentElement.scrollWidth")
    page.context.close()
    print(f"people list: tallest row {tallest:.0f} px, page {width} px wide")
    assert tallest <= SCREEN / 8  # at least eight people a screen
    assert width <= WIDTH


def test_a_volunteers_household_sees_its_volunteers_on_a_phone(demo_site, browser):
    from playwright.sync_api import expect

    page = phone_page(browser)
    login(page, demo_site.url, "tj_volunteer")
    section = page.locator(".linked-people")
    expect(section).to_contain_text("陈志愿")
    expect(section).to_contain_text("李爱心")
    section.get_by_role("link", name="陈志愿").click()
    expect(page.locator("h1")).to_have_text("陈志愿")
    expect(page.locator(".passbook-head")).to_contain_text("志愿积分")
    assert page.locator("table.passbook tbody tr").count() >= 3
    page.get_by_role("link", name="积分卡").first.click()
    expect(page.locator(".idcard")).to_contain_text("ZY-001")
    assert page.locator(".idcard svg").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    page.context.close()
    assert width <= WIDTH


def test_editing_a_person_fits_a_phone(demo_site, browser):
    from playwright.sync_api import expect

    page = phone_page(browser)
    login(page, demo_site.url, "tj_admin")
    page.goto(demo_site.url + "/people")
    page.locator("main table tbody tr").first.get_by_role("link", name="修改").click()
    expect(page.locator("h1")).to_have_text("修改人员资料")
    page.fill("#phone", "12345")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("main")).to_contain_text("电话号码格式不对")
    assert page.input_value("#phone") == "12345"
    form_width = page.evaluate("document.documentElement.scrollWidth")
    page.get_by_role("link", name="取消").click()
    expect(page.locator(".grid")).to_contain_text("本方案第")
    passbook_width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path="/tmp/pages-person-passbook.png")
    page.context.close()
    assert form_width <= WIDTH and passbook_width <= WIDTH
