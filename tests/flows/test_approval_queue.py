"""The approval queue: newest first; entries of a published (公示) or final period apart,
saying why and what to do instead; filters by household, recorder, rule and date; the
ticks kept when a bulk rejection is refused; the reject reason's message is the app's."""

import re
from datetime import timedelta

from app.clock import local_today, parse_period, quarter_of, utcnow
from app.points import services as points
from app.rankings import periods
from tests import factories

TODAY = local_today("Asia/Shanghai")
THIS_Q = quarter_of(TODAY)
LAST_Q = quarter_of(parse_period(THIS_Q)[0] - timedelta(days=1))


def pending(session, world, key, rule="school", day=TODAY, recorder="xf_recorder"):
    entry = points.record_entry(
        session,
        world.actor(recorder),
        household_id=world.households[key].id,
        rule_id=world.rules[f"xf_{rule}"].id,
        occurred_on=day,
        today=TODAY,
        now=utcnow(),
    )
    session.commit()
    return entry


def offered(html: str) -> list[int]:
    """The entries offered for approval (ticked boxes in the main table), in order."""
    return [int(i) for i in re.findall(r'name="entry_ids" value="(\d+)"', html)]


def test_newest_first_and_a_published_periods_entries_apart(world, session, login):
    old = pending(session, world, "xf1", day=parse_period(LAST_Q)[0] + timedelta(days=3))
    first = pending(session, world, "xf2")
    second = pending(session, world, "xf3")
    periods.close_period(session, world.actor("admin"), world.b.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    html = login("xf_reviewer").get("/approvals").get_data(as_text=True)
    assert offered(html) == [second.id, first.id]
    apart = html[html.index('id="published"') :]
    assert f'id="published-{old.id}"' in apart and "不能再通过" in apart
    assert "可以驳回" in apart and "重新记录" in apart and "去处理异议" in apart
    assert f"/approvals/{old.id}/approve" not in html and f"/approvals/{old.id}/reject" in apart


def test_filters_by_household_recorder_rule_and_date(world, session, login):
    world.users["xf_recorder2"] = factories.user(session, "xf_recorder2", ["recorder"], world.b)
    session.commit()
    a = pending(session, world, "xf1")
    b = pending(session, world, "xf2", rule="labour")
    c = pending(session, world, "xf2", recorder="xf_recorder2", day=TODAY - timedelta(days=2))
    client = login("xf_reviewer")

    def ids(query):
        return set(offered(client.get(f"/approvals?{query}").get_data(as_text=True)))

    assert ids("household=xf-002") == {b.id, c.id}
    assert ids("household=户主xf1") == {a.id}
    assert ids(f"recorder_id={world.users['xf_recorder'].id}") == {a.id, b.id}
    assert ids(f"rule_id={world.rules['xf_labour'].id}") == {b.id}
    assert ids(f"until={(TODAY - timedelta(days=1)).isoformat()}") == {c.id}
    assert ids(f"since={TODAY.isoformat()}&household=xf-002") == {b.id}
    assert ids("since=not-a-date") == {a.id, b.id, c.id}
    page = client.get("/approvals").get_data(as_text=True)
    # each date field says what it bounds, on the screen and not only to a screen reader
    assert re.search(r'<label class="date-filter">从 <input type="date" name="since"', page)
    assert re.search(r'<label class="date-filter">到 <input type="date" name="until"', page)


def test_ticks_survive_a_refused_bulk_rejection(world, session, login):
    a, b = pending(session, world, "xf1"), pending(session, world, "xf2")
    r = login("xf_reviewer").post("/approvals/bulk-reject", data={"entry_ids": [a.id], "reason": ""})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert re.search(rf'value="{a.id}"[^>]*checked', html)
    assert not re.search(rf'value="{b.id}"[^>]*checked', html)


def test_the_reject_reason_is_checked_by_the_app_not_the_browser(world, session, login):
    e = pending(session, world, "xf1")
    client = login("xf_reviewer")
    html = client.get("/approvals").get_data(as_text=True)
    reason = re.search(
        rf'action="/approvals/{e.id}/reject[^"]*"[^>]*>.*?(<input type="text" name="reason"[^>]*>)', html, re.S
    )
    assert reason and " required" not in reason.group(1)
    r = client.post(f"/approvals/{e.id}/reject", data={"reason": ""})
    assert r.status_code == 422 and "请填写驳回理由" in r.get_data(as_text=True)


def test_a_monthly_schemes_published_months_entries_apart(world, session, login):
    """In a monthly scheme a month on notice sets its entries apart though its quarter
    and year are open."""
    scheme = world.b.household_scheme
    scheme.cadence = "month"
    session.commit()
    this_month = TODAY.replace(day=1)
    last_month = this_month - timedelta(days=1)
    old = pending(session, world, "xf1", day=last_month.replace(day=3))
    new = pending(session, world, "xf2", day=this_month)
    periods.close_period(
        session, world.actor("admin"), world.b.id, last_month.strftime("%Y-%m"), now=utcnow(), today=TODAY
    )
    session.commit()
    html = login("xf_reviewer").get("/approvals").get_data(as_text=True)
    assert offered(html) == [new.id]
    apart = html[html.index('id="published"') :]
    assert f'id="published-{old.id}"' in apart and f"/approvals/{old.id}/approve" not in html


def test_home_and_region_count_what_the_queue_can_approve(world, session, login):
    from app.regions import services as regions
    from app.scope import Actor
    from tests.county.conftest import region_user

    town = regions.create_region(session, Actor(world.admin), {"name": "上木拉乡", "code": "SML", "level": "township"})
    world.b.region_id = town.id
    region_user(session, "sml_reviewer", "reviewer", town)
    session.commit()
    pending(session, world, "xf1", day=parse_period(LAST_Q)[0] + timedelta(days=3))
    pending(session, world, "xf2")
    periods.close_period(session, world.actor("admin"), world.b.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()

    client = login("xf_reviewer")
    queue = client.get("/approvals").get_data(as_text=True)
    assert "幸福村 · 1 条" in queue
    home = client.get("/").get_data(as_text=True)
    assert "<h2>待审核（1）</h2>" in home and "去审核（1）" in home
    assert "另有 1 条所在期间已公示" in home
    preview = home[home.index('id="pending"') : home.index('id="today"')]
    assert world.households["xf2"].head_name in preview and world.households["xf1"].head_name not in preview

    region = login("sml_reviewer").get(f"/regions/{town.id}").get_data(as_text=True)
    assert re.search(r"<b>1</b><small>待审核</small>", region)
    assert "另有 1 条所在期间已公示" in region
    assert f'/approvals?village_id={world.b.id}">1</a>' in region
