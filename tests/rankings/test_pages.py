"""The standings page: ties, the veto marker, periods and scopes."""

import re

import pytest

from app.clock import local_today, quarter_of, utcnow
from app.points import services as points
from app.rankings import views


def text(response) -> str:
    return response.get_data(as_text=True)


def ranks(page: str) -> list[tuple[int, str]]:
    """(rank, head name) of each row of the standings table."""
    rows = re.findall(r'class="rank">(\d+)</td>.*?data-label="户主">([^<]+)<', page, re.S)
    return [(int(r), name.strip()) for r, name in rows]


def today():
    return local_today("Asia/Shanghai")


def score(session, world, household, rule, quantity=1):
    points.record_entry(
        session,
        world.actor("tj_recorder" if household.startswith("tj") else "xf_recorder"),
        household_id=world.households[household].id,
        rule_id=world.rules[rule].id,
        quantity=quantity,
        occurred_on=today(),
        today=today(),
        now=utcnow(),
    )


@pytest.fixture
def login(auth):
    def as_(username):
        auth.logout()
        assert auth.login(username).status_code == 302
        return auth.client

    return as_


@pytest.fixture
def scored(world, session):
    """团结村 this quarter: tj1 and tj2 tie on 5; tj3 has 3 − 20 and a veto."""
    score(session, world, "tj1", "tj_labour")
    score(session, world, "tj2", "tj_labour")
    score(session, world, "tj3", "tj_school")
    score(session, world, "tj3", "tj_gamble")
    session.commit()
    return world


def test_standings_show_tied_ranks_and_the_veto_marker(scored, login):
    page = text(login("tj_recorder").get("/standings"))
    assert ranks(page) == [(1, "户主tj1"), (1, "户主tj2"), (3, "户主tj3")]
    assert page.count("一票否决</span>") == 1
    veto_row = page.split("户主tj3")[1].split("</tr>")[0]
    assert "一票否决" in veto_row
    assert "团结村" in page and "幸福村" not in page.split("<table")[1]  # own village by default
    assert f'<option value="{quarter_of(today())}" selected>' in page


def test_residents_see_the_rankings_too(scored, login):
    page = text(login("tj_resident").get("/standings"))
    assert ranks(page)[0] == (1, "户主tj1")
    assert "我家" in page


def test_choose_another_village_or_the_township(scored, world, login):
    client = login("tj_resident")
    page = text(client.get(f"/standings?scope=village:{world.b.id}"))
    assert [name for _rank, name in ranks(page)] == ["户主xf1", "户主xf2", "户主xf3"]
    assert [rank for rank, _name in ranks(page)] == [1, 1, 1]  # nobody scored: all tie
    page = text(client.get("/standings?township=上木拉乡"))
    assert len(ranks(page)) == 6
    assert ranks(page)[:2] == [(1, "户主tj1"), (1, "户主tj2")]


def test_admin_sees_every_village_by_default(scored, login):
    page = text(login("admin").get("/standings"))
    assert len(ranks(page)) == 6
    assert "全部村" in page


def test_period_picker(scored, login):
    client = login("tj_recorder")
    page = text(client.get(f"/standings?period={today().year}"))
    assert ranks(page) == [(1, "户主tj1"), (1, "户主tj2"), (3, "户主tj3")]
    assert f"{today().year} 年度" in page
    page = text(client.get("/standings?period=2020Q1"))
    assert [rank for rank, _name in ranks(page)] == [1, 1, 1]
    assert "一票否决</span>" not in page
    page = text(client.get("/standings?period=soon"))
    assert "期间格式须为 2026Q3 或 2026" in page
    assert ranks(page)[0] == (1, "户主tj1")


def test_long_standings_are_paginated(scored, login, monkeypatch):
    monkeypatch.setattr(views, "PER_PAGE", 2)
    client = login("tj_recorder")
    page = text(client.get("/standings"))
    assert len(ranks(page)) == 2 and "1 / 2" in page
    page = text(client.get("/standings?page=2"))
    assert ranks(page) == [(3, "户主tj3")]


def test_logged_out_users_go_to_login(world, client):
    r = client.get("/standings")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
