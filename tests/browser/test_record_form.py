"""The record form on a 360×740 phone: a veto rule warns when chosen; a refused form
shows every mistake atop, in view, with the first wrong field focused, and says the
chosen photo must be chosen again."""

import pytest
from PIL import Image

from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_a_refused_record_shows_its_mistakes_in_view_and_asks_for_the_photo(world, live_server, phone, tmp_path):
    photo = tmp_path / "yard.jpg"
    Image.new("RGB", (32, 24), (30, 120, 40)).save(photo, "JPEG")
    login(phone, live_server, "tj_recorder", PASSWORD)
    phone.goto(f"{live_server}/record")
    assert phone.locator("#veto-warning").is_hidden()
    phone.select_option("#rule_id", str(world.rules["tj_gamble"].id))
    assert phone.locator("#veto-warning").is_visible()
    assert "一票否决" in phone.locator("#rule_id option:checked").inner_text()

    phone.fill("#household", "TJ-001")
    phone.fill("#quantity", "0")
    phone.fill("#occurred_on", "")
    phone.set_input_files("#evidence", str(photo))
    phone.locator("form.card button[type=submit]").click()
    phone.wait_for_load_state("load")

    summary = phone.locator("[data-error-summary]")
    assert summary.is_visible()
    top = summary.evaluate("e => e.getBoundingClientRect().top")
    assert -1 <= top < 740 / 2  # brought into view, near the top of the screen
    text = summary.inner_text()
    assert "数量" in text and "日期" in text and "照片“yard.jpg”没有保存" in text
    assert phone.evaluate("document.activeElement.id") == "quantity"  # the first wrong field
    assert phone.locator(".photo-again").is_visible()
    assert phone.input_value("#household") == "TJ-001"
    summary.locator("a", has_text="日期").click()
    assert phone.evaluate("location.hash") == "#occurred_on"
