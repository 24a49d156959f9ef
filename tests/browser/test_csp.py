"""The CSP breaks no page: each demo user, on a 360×740 phone in Chromium, walks every
page its menu reaches and the pages those link to, three clicks deep (one of each kind),
and the browser logs no CSP refusal, no script error and no failed request (the favicon
included). The pages only a form's answer shows (a deduction's confirmation, a batch's
result, an import's preview) and the county's printed notice are walked by the journeys
of test_county_scoring.py and test_ledger_journeys.py, under the same watch."""

import pytest

from tests.browser.demo_site import ROLES, WALK_LIMIT, crawl, login, menu_paths, phone_page, watch

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("username", ROLES)
def test_no_page_of_a_demo_user_breaks_the_csp(demo_site, browser, username):
    page = phone_page(browser)
    problems = watch(page)
    login(page, demo_site.url, username)
    start = menu_paths(page, demo_site.url)
    assert start, f"{username} has no menu"
    visited = crawl(page, demo_site.url, [page.url[len(demo_site.url) :], *start])
    page.context.close()
    assert len(set(start)) // 2 <= len(visited) < WALK_LIMIT  # every kind of page reached, none cut off
    assert problems == [], "\n".join(problems)


def test_the_login_error_and_api_docs_pages_keep_the_csp(demo_site, browser):
    page = phone_page(browser)
    problems = watch(page)
    page.goto(f"{demo_site.url}/login")
    page.wait_for_load_state("networkidle")
    page.goto(f"{demo_site.url}/no-such-page")
    page.wait_for_load_state("networkidle")
    assert "未找到" in page.content()
    problems = [
        p for p in problems if "404 for " + f"{demo_site.url}/no-such-page" not in p and "404 (NOT FOUND)" not in p
    ]
    page.goto(f"{demo_site.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=30_000)
    assert "Moral Bank API" in page.content()
    page.context.close()
    assert problems == [], "\n".join(problems)


def test_an_injected_inline_script_is_refused(demo_site, browser):
    """The policy itself works: an inline script (as an XSS would add) does not run."""
    page = phone_page(browser)
    problems = watch(page)
    page.goto(f"{demo_site.url}/login")
    ran = page.evaluate(
        """() => { window.injected = false;
                   const s = document.createElement('script'); s.textContent = 'window.injected = true';
                   document.body.appendChild(s); return window.injected; }"""
    )
    page.context.close()
    assert ran is False
    assert any("Content Security Policy" in p for p in problems)
