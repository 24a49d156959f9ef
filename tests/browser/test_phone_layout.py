"""The demo on a 360×740 phone in Chromium, measured: landing pages within four screens
(the recorder's with pending approvals and today's entries on the first), lists of at
least eight rows per screen, a menu of at most seven top items, legible charts, and
pages that still print."""

import pytest

from tests.browser.demo_site import login, phone_page

pytestmark = pytest.mark.browser
SCREEN = 740

ROWS_PER_SCREEN = """sel => {
  const rows = [...document.querySelectorAll(sel)].filter(r => r.offsetHeight > 0);
  const top = rows[0].getBoundingClientRect().top;
  return rows.filter(r => r.getBoundingClientRect().bottom <= top + innerHeight).length;
}"""


def height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def top_of(page, selector: str) -> float:
    return page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top + scrollY")


@pytest.mark.parametrize(
    "username, landing",
    [
        ("admin", "/"),
        ("tj_admin", "/"),
        ("tj_recorder", "/record"),
        ("xf_recorder", "/record"),
        ("tj_reviewer", "/approvals"),
        ("xf_reviewer", "/approvals"),
        ("tj_clerk", "/shop/counter"),
        ("tj_resident", "/households/"),
    ],
)
def test_each_role_lands_on_its_work_within_four_screens(demo_site, browser, username, landing):
    page = phone_page(browser)
    login(page, demo_site.url, username)
    path = page.url[len(demo_site.url) :]
    landed = height(page)
    page.context.close()
    print(f"{username}: landing {path} is {landed} px")
    assert path == landing or (landing.endswith("/") and path.startswith(landing) and path != landing)
    assert landed <= 4 * SCREEN


@pytest.mark.parametrize("username", ["tj_recorder", "xf_recorder"])
def test_the_recorders_dashboard_shows_pending_and_todays_entries_first(demo_site, browser, username):
    demo_site.recorded_today(username)
    page = phone_page(browser)
    login(page, demo_site.url, username)
    page.goto(f"{demo_site.url}/")
    pending, today = top_of(page, "#pending h2"), top_of(page, "#today h2")
    first_today_row = top_of(page, "#today tbody tr")
    total = height(page)
    page.context.close()
    assert total <= 4 * SCREEN
    assert pending < SCREEN and today < SCREEN and first_today_row < SCREEN - 40


@pytest.mark.parametrize(
    "username, path",
    [
        ("tj_recorder", "/households"),
        ("admin", "/households"),
        ("xf_reviewer", "/approvals"),
        ("tj_resident", "/standings"),
        ("xf_recorder", "/standings"),
        ("tj_admin", "/"),
    ],
)
def test_lists_show_at_least_eight_rows_per_screen(demo_site, browser, username, path):
    page = phone_page(browser)
    login(page, demo_site.url, username)
    page.goto(demo_site.url + path)
    rows = page.evaluate(ROWS_PER_SCREEN, "main table tbody tr")
    total = height(page)
    page.context.close()
    print(f"{username} {path}: {rows} rows per screen, {total} px")
    assert rows >= 8


TOP_ITEMS = "nav.menu > a, nav.menu > details"


@pytest.mark.parametrize("username", ["admin", "tj_admin", "tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_the_menu_has_at_most_seven_top_items_and_every_link_opens(demo_site, browser, username):
    page = phone_page(browser)
    login(page, demo_site.url, username)
    assert not page.locator(TOP_ITEMS).first.is_visible()  # folded behind 菜单
    page.click("label.nav-label")
    top = page.locator(TOP_ITEMS).count()
    assert 2 <= top <= 7
    for group in page.locator("nav.menu > details").all():
        group.locator("summary").click()
    links = page.locator("nav.menu a")
    assert all(link.is_visible() for link in links.all())
    labels = [link.inner_text().strip() for link in links.all()]
    menu_height = page.locator("nav.menu").evaluate("e => e.getBoundingClientRect().height")
    page.context.close()
    assert len(labels) == len(set(labels))
    print(f"{username}: {top} top items, {len(labels)} links, {menu_height:.0f} px open")
    if username == "tj_resident":
        assert "兑换记录" in labels and "我的存折" in labels


def test_chart_labels_are_legible_on_a_phone_and_the_page_prints(demo_site, browser):
    page = phone_page(browser)
    login(page, demo_site.url, "tj_reviewer")
    page.goto(f"{demo_site.url}/stats")
    assert page.locator("svg.chart-wide").first.is_hidden()
    narrow = page.locator("svg.chart-narrow").first
    assert narrow.is_visible()
    # A label's size on the screen: its font size in the drawing's units, scaled as drawn.
    label_px = narrow.evaluate(
        """svg => parseFloat(svg.getAttribute('font-size')) * svg.getBoundingClientRect().width
                 / svg.viewBox.baseVal.width"""
    )
    page.emulate_media(media="print")
    printed = page.locator("svg.chart-wide").first.is_visible() and page.locator("svg.chart-narrow").first.is_hidden()
    topbar_hidden = page.locator("header.topbar").is_hidden()
    page.context.close()
    print(f"chart labels: median {label_px:.1f} px high on a 360 px phone")
    assert label_px >= 10
    assert printed and topbar_hidden


@pytest.mark.parametrize("path", ["/households/1", "/standings"])
def test_printable_pages_keep_their_print_layout(demo_site, browser, path):
    page = phone_page(browser)
    login(page, demo_site.url, "tj_admin")
    page.goto(demo_site.url + path)
    page.emulate_media(media="print")
    hidden = page.locator("header.topbar").is_hidden()
    pdf_ok = page.evaluate("() => document.querySelectorAll('main table tbody tr').length") > 0
    page.context.close()
    assert hidden and pdf_ok


def test_the_scheme_wizard_fits_a_phone_and_the_back_button_keeps_what_was_typed(demo_site, browser):
    page = phone_page(browser)
    login(page, demo_site.url, "xf_admin")  # 幸福村: 团结村's one person scheme stays its only one
    page.goto(f"{demo_site.url}/schemes/new")
    widths = [page.evaluate("document.documentElement.scrollWidth")]
    page.check("input[name=account_kind][value=person]")
    page.fill("#name", "志愿服务积分")
    page.click("button[name=go][value='2']")
    page.check("input[name=cadence][value=month]")
    page.click("button[name=go][value='3']")
    page.fill("#categories", "助老\n环境整治\n志愿服务")
    page.click("button[name=go][value='4']")
    page.wait_for_load_state()  # a click returns once the next page commits, maybe before it parses
    widths.append(page.evaluate("document.documentElement.scrollWidth"))
    page.go_back()  # the browser's own back button: the categories as typed
    kept = page.input_value("#categories")
    page.go_back()
    month = page.is_checked("input[name=cadence][value=month]")
    page.go_forward()
    page.go_forward()
    page.fill("#yuan_per_point", "2")
    page.click("button[name=go][value='5']")
    summary = page.inner_text("dl.summary")
    page.wait_for_load_state()  # a click returns once the next page commits, maybe before it parses
    widths.append(page.evaluate("document.documentElement.scrollWidth"))
    page.click(".wizard-create button")
    page.wait_for_load_state("networkidle")
    landed = page.inner_text("main h1")
    page.context.close()
    assert max(widths) <= 360
    assert kept.splitlines() == ["助老", "环境整治", "志愿服务"] and month
    assert "助老、环境整治、志愿服务" in summary and "按月" in summary
    assert landed == "志愿服务积分"
