"""GET /leaderboards."""

import json
from datetime import date

import pytest

from app.households.services import move_out
from app.points import decisions
from app.points import services as points
from tests import factories
from tests.factories import NOW

TODAY = date(2026, 11, 20)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def give(session, world, household, rule, quantity=1):
    who = "tj_recorder" if household.village_id == world.a.id else "xf_recorder"
    e = points.record_entry(
        session,
        world.actor(who),
        household_id=household.id,
        rule_id=rule.id,
        quantity=quantity,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    if e.status == "pending":
        decisions.approve_entry(session, world.actor("xf_reviewer"), e.id, now=NOW)
    return e


@pytest.fixture
def league(world, session):
    """2026Q4: TJ-001=9, TJ-002=3, TJ-003=3, XF-001=3, XF-002=-20 (veto), XF-003 moved out with 30."""
    h = world.households
    give(session, world, h["tj1"], world.rules["tj_school"], 3)
    give(session, world, h["tj2"], world.rules["tj_school"])
    give(session, world, h["tj3"], world.rules["tj_school"])
    give(session, world, h["xf1"], world.rules["xf_school"])
    give(session, world, h["xf2"], world.rules["xf_gamble"])
    give(session, world, h["xf3"], world.rules["xf_school"], 10)
    move_out(session, world.actor("admin"), h["xf3"].id, TODAY)
    session.commit()
    return h


def board(api, query, who="tj_resident"):
    r = api.as_(who).get(f"/leaderboards?{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_leaderboard_items_have_the_contract_fields(world, api, league):
    body = board(api, f"period=2026Q4&village_id={world.a.id}")
    assert body["period"] == "2026Q4"
    first = body["items"][0]
    assert {"rank", "household_id", "number", "head_name", "points", "eligible"} <= set(first)
    assert (first["rank"], first["household_id"], first["number"], first["head_name"], first["points"]) == (
        1,
        league["tj1"].id,
        "TJ-001",
        "户主tj1",
        9,
    )


@pytest.mark.parametrize("path", ["/leaderboards?period=2026Q4&limit=3", "/leaderboards/villages?period=2026Q4"])
def test_standings_answer_exactly_what_their_documented_schema_would(world, api, league, path):
    """The standings skip flask-smorest's schema dump (``prebuilt``): the body must be
    what that dump would have produced, so the OpenAPI document stays true."""
    from app.rankings.api import LeaderboardOut, VillageBoardOut

    body = api.as_("admin").get(path).get_json()
    assert body["items"]
    schema = VillageBoardOut() if "villages" in path else LeaderboardOut()
    assert json.loads(json.dumps(schema.dump(body))) == body
    assert all(set(item) == set(schema.fields["items"].inner.schema.fields) for item in body["items"])


def test_village_board_ties_share_a_rank(world, api, league):
    items = board(api, f"period=2026Q4&village_id={world.a.id}")["items"]
    assert [(i["rank"], i["number"], i["points"]) for i in items] == [
        (1, "TJ-001", 9),
        (2, "TJ-002", 3),
        (2, "TJ-003", 3),
    ]


def test_township_board_spans_villages(world, api, league):
    items = board(api, "period=2026Q4&township=上木拉乡", who="xf_resident")["items"]
    assert [(i["rank"], i["number"], i["points"], i["eligible"]) for i in items] == [
        (1, "TJ-001", 9, True),
        (2, "TJ-002", 3, True),
        (2, "TJ-003", 3, True),
        (2, "XF-001", 3, True),
        (5, "XF-002", -20, False),
    ]
    assert "XF-003" not in [i["number"] for i in items]


@pytest.mark.parametrize("limit, count", [(1, 1), (2, 4), (4, 4), (5, 5), (50, 5)])
def test_limit_keeps_the_tie_whole(world, api, league, limit, count):
    items = board(api, f"period=2026Q4&township=上木拉乡&limit={limit}")["items"]
    assert len(items) == count
    assert all(i["rank"] <= limit for i in items)


def test_year_board_and_lower_case_period(world, api, league):
    body = board(api, f"period=2026&village_id={world.b.id}")
    assert body["period"] == "2026"
    assert [(i["number"], i["points"], i["eligible"]) for i in body["items"]] == [
        ("XF-001", 3, True),
        ("XF-002", -20, False),
    ]
    assert board(api, f"period=2026q4&village_id={world.b.id}")["period"] == "2026Q4"


def test_opening_balances_never_count(world, session, api, league):
    """Opening balances (100 each) leave only rule points."""
    tj1 = league["tj1"]
    assert tj1.balance == 109
    items = board(api, f"period=2026Q4&village_id={world.a.id}")["items"]
    assert items[0]["points"] == 9


def test_empty_period(world, api, league):
    items = board(api, f"period=2025Q1&village_id={world.a.id}")["items"]
    assert [(i["rank"], i["points"]) for i in items] == [(1, 0), (1, 0), (1, 0)]


def test_negative_points_rank_below_households_with_none(world, session, api):
    factories.household(session, world.admin, world.b, "XF-009", "新户")
    give(session, world, world.households["xf1"], world.rules["xf_gamble"])
    session.commit()
    items = board(api, f"period=2026Q4&village_id={world.b.id}")["items"]
    assert [(i["rank"], i["number"], i["points"]) for i in items] == [
        (1, "XF-002", 0),
        (1, "XF-003", 0),
        (1, "XF-009", 0),
        (4, "XF-001", -20),
    ]


@pytest.mark.parametrize(
    "query, field",
    [
        ("", "period"),
        ("period=2026Q5", "period"),
        ("period=Q3", "period"),
        ("period=2026&limit=0", "limit"),
        ("period=2026&limit=x", "limit"),
        ("period=2026&village_id=x", "village_id"),
    ],
)
def test_bad_query_is_422(world, api, query, field):
    err = assert_error(api.as_("tj_resident").get(f"/leaderboards?{query}"), 422, "validation_error")
    assert field in err["details"]


def test_leaderboard_needs_a_login(world, client):
    assert_error(client.get("/api/v1/leaderboards?period=2026"), 401, "unauthorized")
