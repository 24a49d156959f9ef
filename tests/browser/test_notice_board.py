"""The notice board and the objection journey in real Chromium: the 公示栏 printed to an A4
PDF (its text read back with pdftotext) shows the village, the period and the top
household but no phone number; a resident on a 360 px phone objects to an entry of its
passbook and finds the objection waiting (待处理)."""

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import local_today, parse_period, quarter_of, utcnow
from app.points import services as points
from app.rankings import periods
from app.rankings.models import Objection
from app.rankings.views import period_title
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

TODAY = local_today("Asia/Shanghai")
LAST_Q = quarter_of(parse_period(quarter_of(TODAY))[0] - timedelta(days=1))
DAY = parse_period(LAST_Q)[0] + timedelta(days=14)
PHONE = "13912345678"


@pytest.fixture
def app(app):
    """CSRF on, as in production: the forms must carry the token they were given."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def published(world, session):
    """团结村 last quarter, published: tj1 leads with 8 and has a phone number."""
    world.households["tj1"].phone = PHONE
    world.households["tj2"].phone = "13800000002"

    def score(key, rule, quantity=1):
        return points.record_entry(
            session,
            world.actor("tj_recorder"),
            household_id=world.households[key].id,
            rule_id=world.rules[f"tj_{rule}"].id,
            quantity=quantity,
            occurred_on=DAY,
            today=TODAY,
            now=utcnow(),
        )

    labour = score("tj1", "labour")
    score("tj1", "school")
    score("tj2", "school")
    score("tj3", "gamble")
    periods.close_period(session, world.actor("tj_reviewer"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    facts = {"household_id": world.households["tj1"].id, "entry_id": labour.id, "village_id": world.a.id}
    session.rollback()  # outside a request SQLite reads begin IMMEDIATE: let the server write
    return facts


def test_notice_board_prints_to_an_a4_pdf_without_phone_numbers(browser, live_server, published, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        login(page, live_server, "tj_reviewer", PASSWORD)
        page.goto(f"{live_server}/notice/{LAST_Q}")
        assert page.locator("h1").inner_text().startswith("团结村")
        pdf = tmp_path / "notice.pdf"
        pdf.write_bytes(page.pdf(format="A4"))
    finally:
        context.close()

    words = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "团结村" in words
    assert period_title(LAST_Q) in words
    first = next(line for line in words.splitlines() if re.match(r"\s*1\s+TJ-", line))
    assert "户主tj1" in first and "8" in first
    assert "一票否决" in words and "如有异议" in words
    assert PHONE not in words and "13800000002" not in words
    assert not re.search(r"1[3-9]\d{9}", words)  # no mobile number at all
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "(A4)" in info


def test_resident_objects_from_the_passbook_on_a_phone(phone, live_server, published, session):
    login(phone, live_server, "tj_resident", PASSWORD)
    phone.goto(f"{live_server}/passbook/{published['household_id']}/{DAY.year}")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.click(f"a[href='/objections/new?entry_id={published['entry_id']}']")
    assert "义务投工投劳" in phone.locator("form.card").inner_text()
    phone.fill("textarea[name=reason]", "那天我家没人出工，记错了")
    phone.click("button[type=submit]:has-text('提交异议')")
    phone.wait_for_url("**/objections/mine")
    phone.wait_for_load_state("networkidle")

    card = phone.locator("section.objection").first
    assert "待处理" in card.inner_text()
    assert "那天我家没人出工，记错了" in card.inner_text()
    assert "异议已提交" in phone.locator(".flash").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    objection = session.scalar(select(Objection))
    assert (objection.entry_id, objection.status, objection.village_id) == (
        published["entry_id"],
        "open",
        published["village_id"],
    )
    session.rollback()
