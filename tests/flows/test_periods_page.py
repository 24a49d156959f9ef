"""The 公示与评优 page: a period without entries says so before it is published, and the
定稿 button stays disabled through the notice window, naming the day it opens."""

import re
from datetime import timedelta

from app.clock import local_today, parse_period, quarter_of, utcnow
from app.points import services as points
from app.rankings import periods
from tests import factories

TODAY = local_today("Asia/Shanghai")
THIS_Q = quarter_of(TODAY)
LAST_Q = quarter_of(parse_period(THIS_Q)[0] - timedelta(days=1))
DAY = parse_period(LAST_Q)[0] + timedelta(days=14)


def card(html: str, period: str) -> str:
    start = html.index(f'id="period-{period}"')
    return html[start : html.index("</section>", start)]


def test_an_empty_period_warns_and_its_confirmation_says_so(world, session, login):
    html = login("tj_reviewer").get("/periods").get_data(as_text=True)
    empty = card(html, LAST_Q)
    assert "本期还没有任何记分" in empty
    assert re.search(r'data-confirm="[^"]*没有任何记分[^"]*确定公示？"', empty)


def test_a_period_of_enrolments_alone_still_warns(world, session, login):
    """Opening balances do not rank: a period holding only them publishes an empty ranking."""
    points.enroll_household(
        session, world.actor("admin"), world.a.id, {"number": "TJ-NEW", "head_name": "新户"}, today=DAY, now=utcnow()
    )
    session.commit()
    empty = card(login("tj_reviewer").get("/periods").get_data(as_text=True), LAST_Q)
    assert "本期还没有任何记分" in empty


def test_a_period_with_entries_asks_the_usual_question(world, session, login):
    factories.score(session, world, "tj1", "school", day=DAY, today=TODAY, approve=False)
    session.commit()
    recorded = card(login("tj_reviewer").get("/periods").get_data(as_text=True), LAST_Q)
    assert "没有任何记分" not in recorded
    assert "不能再记分，确定公示？" in recorded


def test_finalising_is_disabled_during_the_notice_showing_when_it_opens(world, session, login):
    factories.score(session, world, "tj1", "school", day=DAY, today=TODAY, approve=False)
    view = periods.close_period(session, world.actor("tj_reviewer"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    opens = (view.notice_ends_on + timedelta(days=1)).isoformat()
    notice = card(login("tj_reviewer").get("/periods").get_data(as_text=True), LAST_Q)
    assert re.search(r"<button type=\"submit\" disabled[^>]*>定稿</button>", notice)
    assert f"{opens} 起可定稿" in notice
    # an admin may finalise early (the service allows it): the button stays usable
    admin = card(login("admin").get(f"/periods?village_id={world.a.id}").get_data(as_text=True), LAST_Q)
    assert re.search(r"<button type=\"submit\">定稿</button>", admin)


def test_after_the_notice_the_finalise_button_is_enabled(world, session, login):
    factories.score(session, world, "tj1", "school", day=DAY, today=TODAY, approve=False)
    world.a.notice_days = 0
    periods.close_period(
        session, world.actor("tj_reviewer"), world.a.id, LAST_Q, now=utcnow(), today=TODAY - timedelta(days=1)
    )
    session.commit()
    notice = card(login("tj_reviewer").get("/periods").get_data(as_text=True), LAST_Q)
    assert re.search(r"<button type=\"submit\">定稿</button>", notice) and "起可定稿" not in notice
