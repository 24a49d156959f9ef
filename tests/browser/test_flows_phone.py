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


def test_periods_page_on_a_phone_empty_period_and_a_waiting_finalise(world, session, phone, live_server):
    from datetime import timedelta

    from playwright.sync_api import expect

    from app.clock import local_today, parse_period, quarter_of, utcnow
    from app.rankings import periods
    from tests import factories

    today = local_today("Asia/Shanghai")
    last_q = quarter_of(parse_period(quarter_of(today))[0] - timedelta(days=1))
    year_before = quarter_of(parse_period(last_q)[0] - timedelta(days=1))
    factories.score(session, world, "tj1", "school", day=parse_period(last_q)[0], today=today)
    view = periods.close_period(session, world.actor("tj_reviewer"), world.a.id, last_q, now=utcnow(), today=today)
    session.commit()
    opens = (view.notice_ends_on + timedelta(days=1)).isoformat()
    problems = watch(phone)
    login(phone, live_server, "tj_reviewer", PASSWORD)
    phone.goto(f"{live_server}/periods")
    notice = phone.locator(f"#period-{last_q}")
    expect(notice.get_by_role("button", name="定稿")).to_be_disabled()
    expect(notice).to_contain_text(f"{opens} 起可定稿")

    empty = phone.locator(f"#period-{year_before}")
    expect(empty).to_contain_text("本期还没有任何记分")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()  # the reviewer changes its mind: nothing is published

    phone.on("dialog", answer)
    empty.get_by_role("button", name="公示").click()
    expect(empty).to_contain_text("本期还没有任何记分")
    assert asked and "没有任何记分" in asked[0]
    assert problems == [], problems


def test_the_queue_on_a_phone_keeps_ticks_and_names_each_result(world, session, phone, live_server):
    from playwright.sync_api import expect

    from app.clock import local_today, utcnow
    from app.points import services as points

    today = local_today("Asia/Shanghai")
    entries = [
        points.record_entry(
            session,
            world.actor("xf_recorder"),
            household_id=world.households[key].id,
            rule_id=world.rules["xf_school"].id,
            occurred_on=today,
            today=today,
            now=utcnow(),
        )
        for key in ("xf1", "xf2")
    ]
    session.commit()
    problems = watch(phone)
    login(phone, live_server, "xf_reviewer", PASSWORD)
    phone.goto(f"{live_server}/approvals")
    phone.check(f'input[name=entry_ids][value="{entries[0].id}"]')
    phone.click("#bulk-reject")  # no reason given
    expect(phone.locator("#bulk .error-text")).to_contain_text("请填写驳回理由")
    expect(phone.locator(f'input[name=entry_ids][value="{entries[0].id}"]')).to_be_checked()
    expect(phone.locator(f'input[name=entry_ids][value="{entries[1].id}"]')).not_to_be_checked()
    phone.click("#bulk-approve")
    expect(phone.locator("body")).to_contain_text("已通过 1 条：XF-001")
    assert all("422" in p for p in problems), problems  # only the refused bulk rejection


def test_a_final_periods_entry_has_no_objection_link_on_a_phone(world, session, phone, live_server):
    from datetime import timedelta

    from playwright.sync_api import expect

    from app.clock import local_today, parse_period, quarter_of, utcnow
    from app.rankings import periods
    from tests import factories

    today = local_today("Asia/Shanghai")
    last_q = quarter_of(parse_period(quarter_of(today))[0] - timedelta(days=1))
    day = parse_period(last_q)[0] + timedelta(days=3)
    factories.score(session, world, "tj1", "labour", day=day, today=today)
    periods.close_period(session, world.actor("tj_reviewer"), world.a.id, last_q, now=utcnow(), today=today)
    finalized_at = utcnow()
    periods.finalize_period(session, world.actor("admin"), world.a.id, last_q, now=finalized_at, today=today)
    session.commit()
    problems = watch(phone)
    login(phone, live_server, "tj_resident", PASSWORD)
    phone.goto(f"{live_server}/passbook/{world.households['tj1'].id}/{day.year}")
    finalized_on = local_today("Asia/Shanghai", finalized_at)  # the page dates it by the moment
    expect(phone.locator(".objection-closed").first).to_contain_text(f"已于 {finalized_on.isoformat()} 定稿，异议截止")
    expect(phone.get_by_role("link", name="提出异议")).to_have_count(0)
    phone.goto(f"{live_server}/objections/new")
    expect(phone.locator("#no-notice")).to_be_visible()
    assert problems == [], problems
