"""Household standings from the period totals: ties, cuts, scope, eligibility."""

from datetime import date

import pytest

from app.households.models import Household
from app.households.services import move_out
from app.points import decisions
from app.points import services as points
from app.rankings.services import household_rank, household_standings
from app.redemption import shops as shop_services
from tests import factories
from tests.factories import NOW

TODAY = date(2026, 11, 20)
Q4 = "2026Q4"


def give(session, world, household, rule, quantity=1, day=TODAY, who=None):
    village = household.village
    who = who or ("tj_recorder" if village.code == "TJ" else "xf_recorder")
    entry = points.record_entry(
        session,
        world.actor(who),
        household_id=household.id,
        rule_id=rule.id,
        quantity=quantity,
        occurred_on=day,
        today=TODAY,
        now=NOW,
    )
    if entry.status == "pending":
        reviewer = "tj_reviewer" if village.code == "TJ" else "xf_reviewer"
        decisions.approve_entry(session, world.actor(reviewer), entry.id, now=NOW)
    return entry


@pytest.fixture
def league(world, session):
    """TJ: 001=10, 002=6, 003=6, 004=3, 005=-20 (veto), 006=0; XF: 001=6, 002=50 (moved out), 003=0."""
    h = world.households
    for number in ("TJ-004", "TJ-005", "TJ-006"):
        h[number] = factories.household(session, world.admin, world.a, number, f"户主{number}")
    ten = factories.rule(session, world.admin, world.a, "TEN", 10)
    school, gamble = world.rules["tj_school"], world.rules["tj_gamble"]
    give(session, world, h["tj1"], ten)
    give(session, world, h["tj2"], school, 2)
    give(session, world, h["tj3"], school, 2)
    give(session, world, h["TJ-004"], school)
    give(session, world, h["TJ-005"], gamble)
    give(session, world, h["xf1"], world.rules["xf_school"], 2)
    fifty = factories.rule(session, world.admin, world.b, "FIFTY", 50)
    give(session, world, h["xf2"], fifty)
    move_out(session, world.actor("admin"), h["xf2"].id, TODAY)
    # Another period does not leak into this one.
    give(session, world, h["TJ-006"], ten, day=date(2026, 9, 30))
    session.commit()
    return h


def table(rows):
    return [(r.rank, r.number, r.points, r.eligible) for r in rows]


def test_village_standings(world, session, league):
    assert table(household_standings(session, Q4, village_id=world.a.id)) == [
        (1, "TJ-001", 10, True),
        (2, "TJ-002", 6, True),
        (2, "TJ-003", 6, True),
        (4, "TJ-004", 3, True),
        (5, "TJ-006", 0, True),
        (6, "TJ-005", -20, False),
    ]


def test_township_standings_order_a_tie_by_village_code_then_number(world, session, league):
    rows = household_standings(session, Q4, township="上木拉乡")
    assert table(rows) == [
        (1, "TJ-001", 10, True),
        (2, "TJ-002", 6, True),
        (2, "TJ-003", 6, True),
        (2, "XF-001", 6, True),
        (5, "TJ-004", 3, True),
        (6, "TJ-006", 0, True),
        (6, "XF-003", 0, True),
        (8, "TJ-005", -20, False),
    ]
    assert "XF-002" not in [r.number for r in rows]  # moved out
    assert household_standings(session, Q4, township="别的乡") == []
    assert table(household_standings(session, Q4)) == table(rows)


@pytest.mark.parametrize("limit", [None, 1])
def test_a_village_and_a_township_together_narrow_to_the_village(world, session, league, limit):
    """The top-N path and the full path agree on both filters at once."""
    inside = household_standings(session, Q4, village_id=world.b.id, township="上木拉乡", limit=limit)
    assert [r.number for r in inside] == ["XF-001", "XF-003"][: limit or 2]
    assert household_standings(session, Q4, village_id=world.b.id, township="别的乡", limit=limit) == []


@pytest.mark.parametrize(
    "limit, numbers",
    [
        (1, ["TJ-001"]),
        (2, ["TJ-001", "TJ-002", "TJ-003", "XF-001"]),
        (3, ["TJ-001", "TJ-002", "TJ-003", "XF-001"]),
        (4, ["TJ-001", "TJ-002", "TJ-003", "XF-001"]),
        (5, ["TJ-001", "TJ-002", "TJ-003", "XF-001", "TJ-004"]),
        (6, ["TJ-001", "TJ-002", "TJ-003", "XF-001", "TJ-004", "TJ-006", "XF-003"]),
        (100, ["TJ-001", "TJ-002", "TJ-003", "XF-001", "TJ-004", "TJ-006", "XF-003", "TJ-005"]),
    ],
)
def test_limit_keeps_a_tie_at_the_cut_whole(world, session, league, limit, numbers):
    assert [r.number for r in household_standings(session, Q4, limit=limit)] == numbers


def test_limited_standings_equal_the_head_of_the_full_ones(world, session, league):
    for scope in ({"village_id": world.a.id}, {"village_id": world.b.id}, {"township": "上木拉乡"}, {}):
        full = table(household_standings(session, Q4, **scope))
        for limit in range(1, len(full) + 2):
            assert table(household_standings(session, Q4, limit=limit, **scope)) == [
                row for row in full if row[0] <= limit
            ], (scope, limit)


@pytest.mark.parametrize("limit", [None, 1, 3])
def test_a_township_leaves_out_the_villages_of_other_townships(world, session, league, limit):
    """The top-N path reads the township's villages in the same statement: a village of
    another township, with the county's best household, stays out of it."""
    other = factories.village(session, world.admin, "QT", "前进村", township="下木拉乡")
    best = factories.household(session, world.admin, other, "QT-001")
    admin = world.actor("admin")
    points.record_entry(
        session,
        admin,
        household_id=best.id,
        rule_id=factories.rule(session, world.admin, other, "HUNDRED", 100).id,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    session.commit()
    numbers = [r.number for r in household_standings(session, Q4, township="上木拉乡", limit=limit)]
    assert (
        numbers
        == ["TJ-001", "TJ-002", "TJ-003", "XF-001", "TJ-004", "TJ-006", "XF-003", "TJ-005"][
            : {None: 8, 1: 1, 3: 4}[limit]
        ]
    )
    assert [r.number for r in household_standings(session, Q4, township="下木拉乡", limit=limit)] == ["QT-001"]
    assert household_standings(session, Q4, limit=limit)[0].number == "QT-001"
    assert household_standings(session, Q4, township="别的乡", limit=limit) == []


def test_year_includes_every_quarter(world, session, league):
    rows = {r.number: r.points for r in household_standings(session, "2026", village_id=world.a.id)}
    assert rows["TJ-006"] == 10
    q3 = table(household_standings(session, "2026Q3", village_id=world.a.id))
    assert q3[0] == (1, "TJ-006", 10, True)
    assert [r[2] for r in q3[1:]] == [0, 0, 0, 0, 0]


def test_opening_balances_never_rank(world, session):
    rows = household_standings(session, Q4, village_id=world.a.id)
    assert [(r.rank, r.points) for r in rows] == [(1, 0), (1, 0), (1, 0)]
    assert all(h.balance == 100 for k, h in world.households.items())


def test_pending_and_rejected_entries_never_rank(world, session):
    e = points.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf1"].id,
        rule_id=world.rules["xf_school"].id,
        occurred_on=TODAY,
        today=TODAY,
        now=NOW,
    )
    assert [r.points for r in household_standings(session, Q4, village_id=world.b.id)] == [0, 0, 0]
    decisions.reject_entry(session, world.actor("xf_reviewer"), e.id, reason="无", now=NOW)
    assert [r.points for r in household_standings(session, Q4, village_id=world.b.id)] == [0, 0, 0]


def test_reversal_takes_points_back(world, session, league):
    tj1 = league["tj1"]
    entry = next(e for e in session.scalars(points.household_entries(tj1.id)) if e.kind == "rule")
    decisions.reverse_entry(session, world.actor("tj_reviewer"), entry.id, reason="记错", now=NOW)
    assert table(household_standings(session, Q4, village_id=world.a.id)) == [
        (1, "TJ-002", 6, True),
        (1, "TJ-003", 6, True),
        (3, "TJ-004", 3, True),
        (4, "TJ-001", 0, True),
        (4, "TJ-006", 0, True),
        (6, "TJ-005", -20, False),
    ]


def test_household_rank_agrees_with_the_standings(world, session, league):
    for scope_rows in (
        household_standings(session, Q4, village_id=world.a.id),
        household_standings(session, Q4, village_id=world.b.id),
    ):
        for row in scope_rows:
            assert household_rank(session, session.get(Household, row.household_id), Q4) == row.rank, row.number
    assert household_rank(session, league["xf2"], Q4) is None  # moved out


def test_household_standing_agrees_with_the_standings(world, session, league):
    """One query per household page: points, vetoes and rank for the quarter and the
    year, including a household with no total row (TJ-006 this quarter) and one below
    zero (TJ-005)."""
    from app.rankings.services import household_standing

    for village in (world.a, world.b):
        quarter = {r.household_id: r for r in household_standings(session, Q4, village_id=village.id)}
        year = {r.household_id: r for r in household_standings(session, "2026", village_id=village.id)}
        for hid, row in quarter.items():
            mine = household_standing(session, session.get(Household, hid), [Q4, "2026"])
            assert (mine[Q4].points, mine[Q4].rank, mine[Q4].eligible) == (row.points, row.rank, row.eligible)
            assert (mine["2026"].points, mine["2026"].rank) == (year[hid].points, year[hid].rank), row.number
    moved = household_standing(session, league["xf2"], [Q4])[Q4]
    assert (moved.points, moved.rank) == (50, None)


def test_redemptions_and_refunds_never_move_a_rank(world, session, league):
    from app.redemption import services as shop

    before = table(household_standings(session, Q4, township="上木拉乡"))
    admin = world.actor("admin")
    store = shop_services.create_shop(session, admin, world.a.id, "团结超市")
    soap = shop_services.create_item(
        session, admin, store.id, {"name": "肥皂", "price_points": 5, "stock": 10}, now=NOW
    )
    tj1 = league["tj1"]
    assert tj1.balance == 110
    sale = shop.redeem(
        session,
        admin,
        shop_id=store.id,
        lines=[{"item_id": soap.id, "quantity": 2}],
        now=NOW,
        today=TODAY,
        secret="s",
        household_id=tj1.id,
    )
    assert tj1.balance == 100
    assert table(household_standings(session, Q4, township="上木拉乡")) == before
    shop.cancel_redemption(session, admin, sale.id, reason="退货", now=NOW, tz="Asia/Shanghai")
    assert tj1.balance == 110
    assert table(household_standings(session, Q4, township="上木拉乡")) == before
    session.commit()
    from app.points.proof import verify

    assert verify(session) == []


def test_the_cut_looks_past_many_moved_out_leaders(world, session):
    """The fast path reads the top of the index and skips moved-out households; when
    more of them lead than it first read, it reads further instead of giving up."""
    one = factories.rule(session, world.admin, world.a, "ONE", 1)
    households = []
    for n in range(1, 41):
        h = factories.household(session, world.admin, world.a, f"TJ-{100 + n}", f"户主{n}")
        give(session, world, h, one, quantity=100 - n)  # TJ-101 leads with 99 points
        households.append(h)
    for h in households[:30]:
        move_out(session, world.actor("admin"), h.id, TODAY)
    session.commit()
    top = household_standings(session, Q4, village_id=world.a.id, limit=3)
    assert [(r.number, r.points, r.rank) for r in top] == [("TJ-131", 69, 1), ("TJ-132", 68, 2), ("TJ-133", 67, 3)]
    assert top == household_standings(session, Q4, village_id=world.a.id)[:3]


def test_a_tie_at_the_cut_longer_than_the_first_read_stays_whole(world, session):
    one = factories.rule(session, world.admin, world.a, "ONE", 1)
    leader = factories.household(session, world.admin, world.a, "TJ-100", "户主领先")
    give(session, world, leader, one, quantity=50)
    for n in range(1, 31):
        h = factories.household(session, world.admin, world.a, f"TJ-{100 + n}", f"户主{n}")
        give(session, world, h, one, quantity=20)
    session.commit()
    top = household_standings(session, Q4, village_id=world.a.id, limit=2)
    assert [(r.number, r.rank) for r in top[:2]] == [("TJ-100", 1), ("TJ-101", 2)]
    assert len(top) == 31 and {r.rank for r in top[1:]} == {2}
    assert [r.number for r in top[1:]] == sorted(r.number for r in top[1:])  # by number inside the tie
    assert top == household_standings(session, Q4, village_id=world.a.id)[:31]
