"""The counter journey in real Chromium: the scanner reads the household's card from a
fake camera (a video of the printed QR code), the clerk adds an item, confirms with a
double tap, and the receipt shows the new balance; the database moved exactly once."""

import io
import shutil
import subprocess

import pytest
from PIL import Image

from app.clock import local_today, utcnow
from app.households.models import Household
from app.points import services as points
from app.redemption import qr, services
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, StockMovement
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, login
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
SECRET = "test-secret"  # the app fixture's SECRET_KEY


@pytest.fixture
def app(app):
    """CSRF on, as in production: the page's script must send the token it was given."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def counter_shop(world, session):
    """团结村's shop with rice; the clerk works there; household tj1 has 60 points to spend."""
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "村委会积分超市")
    rice = shop_services.create_item(
        session, admin, shop.id, {"name": "大米", "unit": "袋", "price_points": 50, "stock": 10}, now=utcnow()
    )
    world.users["tj_clerk"].shop_id = shop.id
    today = local_today("Asia/Shanghai")
    points.record_entry(
        session,
        world.actor("tj_recorder"),
        household_id=world.households["tj1"].id,
        rule_id=world.rules["tj_school"].id,
        quantity=20,
        occurred_on=today,
        today=today,
        now=utcnow(),
    )
    session.commit()
    tj1 = world.households["tj1"]
    facts = {"rice_id": rice.id, "household_id": tj1.id, "token": services.card_token(SECRET, tj1)}
    session.rollback()  # outside a request SQLite reads begin IMMEDIATE: let the server write
    return facts


@pytest.fixture
def card_video(counter_shop, tmp_path):
    """The household's card as the camera sees it: its QR code centred on a white 640×480
    frame, three seconds of it as a .y4m video for Chromium's fake capture device."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed (apt-get install ffmpeg): cannot make the fake camera's video")
    code = Image.open(io.BytesIO(qr.png(counter_shop["token"]))).convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    frame.save(tmp_path / "card.png")
    video = tmp_path / "card.y4m"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(tmp_path / "card.png"), "-t", "3", "-r", "10"]
        + ["-pix_fmt", "yuv420p", str(video)],
        check=True,
        timeout=120,
    )
    return video


@pytest.fixture
def camera_page(browser, card_video, live_server):
    """A tablet-sized page in a second Chromium whose camera films the card. It is
    launched from the session's Playwright (one Playwright may drive several browsers)."""
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={card_video}",
        ],
    )
    context = camera_browser.new_context(viewport={"width": 800, "height": 1100}, locale="zh-CN")
    context.grant_permissions(["camera"], origin=live_server)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, errors
    context.close()
    camera_browser.close()


def test_counter_scans_the_card_from_the_camera_and_redeems_once(camera_page, counter_shop, live_server, session):
    from playwright.sync_api import expect

    page, script_errors = camera_page
    login(page, live_server, "tj_clerk", PASSWORD)
    page.goto(f"{live_server}/shop/counter")
    expect(page.locator("h1")).to_contain_text("村委会积分超市")
    expect(page.locator("#step-cart")).to_be_hidden()

    page.click("#scan-start")
    # Nobody typed anything: the camera read the card and the counter found the household.
    expect(page.locator("#who-name")).to_have_text("户主tj1")
    expect(page.locator("#who-number")).to_have_text("TJ-001")
    expect(page.locator("#who-redeemable")).to_have_text("60")
    assert page.input_value("#lookup-form input[name=card]") == ""
    expect(page.locator("#scanner")).to_be_hidden()  # the camera is released after a read

    rice = page.locator(f'tr[data-item-id="{counter_shop["rice_id"]}"]')
    rice.locator(".plus").click()
    expect(page.locator("#cart-total")).to_have_text("50")
    expect(page.locator("#cart-remain")).to_have_text("10")
    rice.locator(".plus").click()  # 100 points: more than the household may spend
    expect(page.locator("#cart-short")).to_have_text("可兑换积分不足，还差 40 分")
    expect(page.locator("#cart-remain-line")).to_be_hidden()  # not "剩 0 分" beside "还差 40 分"
    expect(page.locator("#cart-next")).to_be_disabled()
    rice.locator(".minus").click()
    expect(page.locator("#cart-short")).to_be_hidden()
    expect(page.locator("#cart-remain-line")).to_be_visible()

    page.click("#cart-next")
    expect(page.locator("#step-confirm")).to_be_visible()
    expect(page.locator("#confirm-lines")).to_contain_text("大米 × 1袋 = 50 分")
    expect(page.locator("#confirm-balance")).to_have_text("110")
    page.locator("#confirm-go").dblclick()  # a double tap

    page.wait_for_url("**/shop/redemptions/*/receipt")
    receipt = page.locator(".receipt")
    expect(receipt).to_contain_text("TJ-001")
    expect(receipt).to_contain_text("大米")
    expect(receipt).to_contain_text("兑换后余额")
    expect(receipt).to_contain_text("110 分")
    assert script_errors == []

    session.expire_all()
    assert session.get(Household, counter_shop["household_id"]).balance == 110
    assert session.get(Item, counter_shop["rice_id"]).stock == 9
    assert session.query(Redemption).count() == 1
    assert session.query(StockMovement).filter_by(reason="redemption").count() == 1
