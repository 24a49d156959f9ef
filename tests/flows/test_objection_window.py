"""Objection links only where the window is open: a final period's entries say when it
closed instead; the general form offers only periods on notice."""

import re
from datetime import timedelta

import pytest

from app.clock import local_today, parse_period, quarter_of, utcnow
from app.rankings import periods
from tests import factories

TODAY = local_today("Asia/Shanghai")
THIS_Q = quarter_of(TODAY)
LAST_Q = quarter_of(parse_period(THIS_Q)[0] - timedelta(days=1))
DAY = parse_period(LAST_Q)[0] + timedelta(days=14)


@pytest.fixture
def labour(world, session):
    entry = factories.score(session, world, "tj1", "labour", day=DAY, today=TODAY, approve=True)
    session.commit()
    return entry


def close(session, world):
    periods.close_period(session, world.actor("tj_reviewer"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()


def finalize(session, world):
    view = periods.finalize_period(session, world.actor("admin"), world.a.id, LAST_Q, now=utcnow(), today=TODAY)
    session.commit()
    return view


def test_a_final_periods_entries_say_when_objections_closed(world, session, labour, login):
    close(session, world)
    view = finalize(session, world)
    tj1 = world.households["tj1"]
    client = login("tj_resident")
    closed_on = local_today("Asia/Shanghai", view.row.finalized_at).isoformat()  # the local day it was finalised
    for page in (f"/passbook/{tj1.id}/{DAY.year}", f"/households/{tj1.id}"):
        html = client.get(page).get_data(as_text=True)
        assert f"/objections/new?entry_id={labour.id}" not in html, page
        assert f"已于 {closed_on} 定稿，异议截止" in html, page
    board = client.get(f"/notice/{LAST_Q}").get_data(as_text=True)
    assert f"本期已于 {closed_on} 定稿，异议受理已截止" in board and "在手机上提交异议" not in board


def test_an_open_periods_entries_keep_their_objection_link(world, session, labour, login):
    html = login("tj_resident").get(f"/passbook/{world.households['tj1'].id}/{DAY.year}").get_data(as_text=True)
    assert f"/objections/new?entry_id={labour.id}" in html and "异议截止" not in html


def test_the_general_form_offers_only_periods_on_notice(world, session, labour, login):
    client = login("tj_resident")
    html = client.get("/objections/new").get_data(as_text=True)
    assert "目前没有公示中的排名" in html and 'name="reason"' not in html
    response = client.post("/objections/new", data={"period": THIS_Q, "village_id": str(world.a.id), "reason": "x"})
    assert response.status_code == 422 and "只能对公示中的排名提出异议" in response.get_data(as_text=True)

    close(session, world)
    html = client.get(f"/objections/new?period={THIS_Q}").get_data(as_text=True)
    assert re.findall(r'<option[^>]*value="([^"]+)"', html) == [LAST_Q]
    assert 'name="reason"' in html
