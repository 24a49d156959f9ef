"""The 爱心超市 in real Chromium: a volunteer's card read by the fake camera is redeemed
at the volunteer scheme's price (1 point = 2 yuan); a household's card of the village's
other scheme, shown to the same counter, is refused and nothing moves."""

import io
import shutil
import subprocess
from contextlib import contextmanager

import pytest
from PIL import Image

from app.clock import local_today, utcnow
from app.households.models import Household
from app.points import rules as rulebook
from app.points import services as points
from app.redemption import qr, services
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, login
from tests.factories import PASSWORD
from tests.volunteers import person, volunteer_scheme

pytestmark = pytest.mark.browser
SECRET = "test-secret"  # the app fixture's SECRET_KEY


@pytest.fixture
def app(app):
    """CSRF on, as in production: the page's script must send the token it was given."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def love_shop(world, session):
    """团结村's 志愿积分 with 李志愿 (30 points), its 爱心超市 selling 保温杯 at 15 points,
    and tj_clerk working there."""
    admin = world.actor("tj_village_admin")
    scheme = volunteer_scheme(session, world)
    volunteer = person(session, world, scheme, "ZY-001", "李志愿", linked=world.households["tj1"])
    rule = rulebook.create_rule(
        session,
        admin,
        None,
        {"code": "V-1", "name": "防汛值守", "category": "志愿服务", "points": 30},
        scheme_id=scheme.id,
    )
    today = local_today("Asia/Shanghai")
    points.record_entry(
        session, world.actor("tj_recorder"), household_id=volunteer.id, rule_id=rule.id, occurred_on=today,
        today=today, now=utcnow(),
    )  # fmt: skip
    shop = shop_services.create_shop(session, admin, world.a.id, "爱心超市", scheme_id=scheme.id)
    cup = shop_services.create_item(
        session, admin, shop.id, {"name": "保温杯", "unit": "个", "price_points": 15, "stock": 5}, now=utcnow()
    )
    world.users["tj_clerk"].shop_id = shop.id
    session.commit()
    facts = {
        "cup_id": cup.id,
        "volunteer_id": volunteer.id,
        "household_id": world.households["tj1"].id,
        "volunteer_card": services.card_token(SECRET, volunteer),
        "household_card": services.card_token(SECRET, world.households["tj1"]),
    }
    session.rollback()  # outside a request SQLite reads begin IMMEDIATE: let the server write
    return facts


def card_video(token: str, path) -> str:
    """A card as the camera sees it: its QR code on a white 640×480 frame, three seconds
    of it as a .y4m video for Chromium's fake capture device."""
    code = Image.open(io.BytesIO(qr.png(token))).convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    frame.save(path.with_suffix(".png"))
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", str(path.with_suffix(".png")), "-t", "3"]
        + ["-r", "10", "-pix_fmt", "yuv420p", str(path)],
        check=True,
        timeout=120,
    )
    return str(path)


@pytest.fixture
def camera(browser, live_server, tmp_path):
    """``with camera(token) as (page, errors)``: a tablet-sized page of a Chromium whose
    camera films that card, logged in as the 爱心超市's clerk."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed (apt-get install ffmpeg): cannot make the fake camera's video")

    @contextmanager
    def filming(token: str, name: str):
        video = card_video(token, tmp_path / f"{name}.y4m")
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        context = chromium.new_context(viewport={"width": 800, "height": 1100}, locale="zh-CN")
        context.grant_permissions(["camera"], origin=live_server)
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            login(page, live_server, "tj_clerk", PASSWORD)
            page.goto(f"{live_server}/shop/counter")
            yield page, errors
        finally:
            context.close()
            chromium.close()

    return filming


def test_a_volunteer_redeems_by_card_at_the_love_shop(camera, love_shop, session):
    from playwright.sync_api import expect

    with camera(love_shop["volunteer_card"], "volunteer") as (page, script_errors):
        expect(page.locator("h1")).to_contain_text("爱心超市")
        page.click("#scan-start")
        expect(page.locator("#who-name")).to_have_text("李志愿")
        expect(page.locator("#who-number")).to_have_text("ZY-001")
        expect(page.locator("#who-redeemable")).to_have_text("30")
        page.locator(f'tr[data-item-id="{love_shop["cup_id"]}"] .plus').click()
        expect(page.locator("#cart-total")).to_have_text("15")
        page.click("#cart-next")
        expect(page.locator("#confirm-yuan")).to_have_text("30.00")  # 15 points at 2 yuan
        expect(page.locator("#confirm-balance")).to_have_text("15")
        page.click("#confirm-go")
        page.wait_for_url("**/shop/redemptions/*/receipt")
        receipt = page.locator(".receipt")
        expect(receipt).to_contain_text("志愿积分")
        expect(receipt).to_contain_text("李志愿")
        expect(receipt).to_contain_text("¥30.00")
        assert script_errors == []

    session.expire_all()
    assert session.get(Household, love_shop["volunteer_id"]).balance == 15
    assert session.get(Item, love_shop["cup_id"]).stock == 4
    sale = session.query(Redemption).one()
    assert (sale.household_id, sale.total_points, sale.yuan_value) == (love_shop["volunteer_id"], 15, 30.0)


def test_a_household_card_is_refused_at_the_love_shop(camera, love_shop, session):
    from playwright.sync_api import expect

    balance = session.get(Household, love_shop["household_id"]).balance
    with camera(love_shop["household_card"], "household") as (page, script_errors):
        page.click("#scan-start")
        expect(page.locator("#scan-status")).to_have_text("这张积分卡不属于本店的积分方案，请到发卡方案的兑换点使用")
        expect(page.locator("#step-cart")).to_be_hidden()
        assert script_errors == []

    session.expire_all()
    assert session.get(Household, love_shop["household_id"]).balance == balance
    assert session.query(Redemption).count() == 0
