"""积分换项目 in real Chromium on a 360 px phone: the county's official scores the villages
of a township for the month one tap per cell, closes the month (公示), finalises it and
grants the project fund; the amounts shown add up to the fund."""

from decimal import Decimal

import pytest

from tests.browser.conftest import login
from tests.browser.demo_site import watch
from tests.county.conftest import county  # noqa: F401  (the fixture)
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

FUND = "100000.01"


@pytest.fixture
def app(app):
    """CSRF on, as in production: the forms must carry the token they were given."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def cell(page, village, rule):
    return page.locator(f'button[aria-label="{village} · {rule}"]')


def test_a_county_official_scores_a_month_and_grants_the_fund(county, live_server, phone):  # noqa: F811
    phone.on("dialog", lambda dialog: dialog.accept())  # the confirm of 公示 and 定稿
    problems = watch(phone)  # no CSP refusal, script error or failed request on the way
    login(phone, live_server, "dk_admin", PASSWORD)
    phone.goto(f"{live_server}/county/")
    assert phone.locator("h1").inner_text().startswith("积分换项目")
    phone.select_option("#township_id", label="城关镇")
    phone.click("form.score-pick button[type=submit]")
    assert phone.locator("tbody tr").count() == 2  # 和平村 and 新华村

    # 和平村: all six targets; 新华村: three, and a deduction.
    for rule in ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情"):
        cell(phone, "和平村", rule).click()
        phone.wait_for_load_state("networkidle")
        assert cell(phone, "和平村", rule).count() == 0  # the cell now shows its points
    for rule in ("零事故", "零非访", "零发案", "发生重大问题"):
        cell(phone, "新华村", rule).click()
        phone.wait_for_load_state("networkidle")
    assert phone.locator("h1").inner_text() == "确认扣分"  # a deduction asks first
    phone.click("button:has-text('确认扣分')")
    phone.wait_for_load_state("networkidle")
    assert phone.url.endswith(f"#c-{county.accounts['XH'].id}-{county.rules['扣分'].id}")  # back at the cell
    totals = phone.locator("tbody td.total").all_inner_texts()
    assert totals == ["60", "10"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360 + 1  # the table scrolls, not the page

    phone.click("text=本月排名与公示")
    phone.click("text=结束本期并公示")
    assert "已公示" in phone.locator(".flash").first.inner_text()
    ranked = phone.locator("table.standings tbody tr").all_inner_texts()
    assert "和平村" in ranked[0] and "60" in ranked[0]
    assert "公示期至" in phone.locator("#cycle p.warn").inner_text()  # an early 定稿 is said so
    phone.click("#cycle button:has-text('定稿')")
    assert "已定稿" in phone.locator(".flash").first.inner_text()

    phone.fill("#top_n", "3")
    phone.fill("#fund_yuan", FUND)
    phone.select_option("#allocation", "proportional")
    phone.click("text=评选并分配资金")
    assert "共分配" in phone.locator(".flash").first.inner_text()
    amounts = [Decimal(t) for t in phone.locator("table.awards td.amount").all_inner_texts()]
    assert len(amounts) == 2  # the villages with points (清风村 of 高沙镇 has none)
    assert sum(amounts) == Decimal(FUND)
    assert Decimal(phone.locator("table.awards [data-total]").inner_text()) == Decimal(FUND)
    assert amounts[0] > amounts[1] > 0  # proportional to 60 and 10
    phone.click("text=公示（打印）")
    phone.wait_for_load_state("networkidle")
    assert "考评结果公示" in phone.content()
    assert problems == [], "\n".join(problems)
