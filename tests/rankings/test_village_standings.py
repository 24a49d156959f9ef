"""Standings: households across a township (GET /leaderboards) and villages against each
other (GET /leaderboards/villages), read from the maintained period totals."""

from datetime import date

import pytest

from app.households import services as households
from app.points import decisions
from app.points import services as points
from app.points import year as ledger_year
from app.rankings import awards as prizes
from app.rankings import periods
from app.rankings.services import household_standings, village_standings
from app.redemption import services as redemption_services
from app.redemption import shops as shop_services
from tests import factories
from tests.rankings.test_periods import NOW, Q3_DAY, Q4_DAY, TODAY, add_household, score

TOWNSHIP = "上木拉乡"


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    return response.get_json()["error"]


def board(api, who="tj_resident", **query):
    r = api.as_(who).get("/leaderboards", query_string=query)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["period"] == query["period"].upper()
    return [(i["rank"], i["number"], i["points"], i["eligible"]) for i in body["items"]]


def villages(api, who="tj_resident", **query):
    r = api.as_(who).get("/leaderboards/villages", query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


@pytest.fixture
def township(world, session):
    """Both villages of 上木拉乡 in 2026Q4 (and one 2026Q3 entry):

    XF-001 12 · TJ-002 6, AA-9 (幸福村) 6 · TJ-000 5, TJ-001 5 · XF-002 3 · TJ-003 0, XF-003 0;
    a pending entry of XF-003 counts nowhere; TJ-003 has 15 in 2026Q3.
    """
    add_household(session, world, "tj0", "TJ-000")  # created last, numbered first
    add_household(session, world, "xfA", "AA-9")  # 幸福村, a number that sorts before "TJ-"
    score(session, world, "xf1", "school", quantity=4)
    score(session, world, "tj2", "school", quantity=2)
    score(session, world, "xfA", "school", quantity=2)
    score(session, world, "tj0", "labour")
    score(session, world, "tj1", "labour")
    score(session, world, "xf2", "school")
    score(session, world, "tj3", "school", Q3_DAY, quantity=5)
    pending = points.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf3"].id,
        rule_id=world.rules["xf_school"].id,
        quantity=10,
        occurred_on=Q4_DAY,
        today=TODAY,
        now=NOW,
    )
    assert pending.status == "pending"
    session.commit()
    return world


Q4_TOWNSHIP = [
    (1, "XF-001", 12, True),
    (2, "TJ-002", 6, True),
    (2, "AA-9", 6, True),
    (4, "TJ-000", 5, True),
    (4, "TJ-001", 5, True),
    (6, "XF-002", 3, True),
    (7, "TJ-003", 0, True),
    (7, "XF-003", 0, True),
]


def test_township_standings_share_ranks_and_order_ties_by_village_code_then_number(township, api):
    assert board(api, period="2026Q4", township=TOWNSHIP) == Q4_TOWNSHIP
    assert board(api, period="2026q4", township=TOWNSHIP) == Q4_TOWNSHIP
    assert board(api, period="2026Q4") == Q4_TOWNSHIP  # no filter: every village (the same two here)
    r = api.as_("tj_resident").get("/leaderboards", query_string={"period": "2026Q4", "township": TOWNSHIP})
    first = r.get_json()["items"][0]
    assert first == {
        "rank": 1,
        "household_id": township.households["xf1"].id,
        "account_id": township.households["xf1"].id,
        "number": "XF-001",
        "head_name": "户主xf1",
        "village_id": township.b.id,
        "village_name": "幸福村",
        "points": 12,
        "eligible": True,
    }
    assert board(api, period="2026Q4", village_id=township.b.id) == [
        (1, "XF-001", 12, True),
        (2, "AA-9", 6, True),
        (3, "XF-002", 3, True),
        (4, "XF-003", 0, True),
    ]
    assert board(api, period="2026Q4", township="洞口乡") == []


@pytest.mark.parametrize(
    "limit, size",
    [(1, 1), (2, 3), (3, 3), (4, 5), (5, 5), (6, 6), (7, 8), (8, 8), (500, 8)],
)
def test_limit_keeps_a_tie_at_the_cut_whole(township, api, limit, size):
    assert board(api, period="2026Q4", township=TOWNSHIP, limit=limit) == Q4_TOWNSHIP[:size]


def test_limit_inside_one_village(township, session):
    got = household_standings(session, "2026Q4", village_id=township.a.id, limit=2)
    assert [(s.rank, s.number, s.points) for s in got] == [(1, "TJ-002", 6), (2, "TJ-000", 5), (2, "TJ-001", 5)]


def test_the_year_sums_its_quarters(township, api):
    assert board(api, period="2026Q3", township=TOWNSHIP) == [
        (1, "TJ-003", 15, True),
        (2, "TJ-000", 0, True),
        (2, "TJ-001", 0, True),
        (2, "TJ-002", 0, True),
        (2, "AA-9", 0, True),
        (2, "XF-001", 0, True),
        (2, "XF-002", 0, True),
        (2, "XF-003", 0, True),
    ]
    assert board(api, period="2026", township=TOWNSHIP) == [
        (1, "TJ-003", 15, True),
        (2, "XF-001", 12, True),
        (3, "TJ-002", 6, True),
        (3, "AA-9", 6, True),
        (5, "TJ-000", 5, True),
        (5, "TJ-001", 5, True),
        (7, "XF-002", 3, True),
        (8, "XF-003", 0, True),
    ]
    assert board(api, period="2026", township=TOWNSHIP, limit=3) == [
        (1, "TJ-003", 15, True),
        (2, "XF-001", 12, True),
        (3, "TJ-002", 6, True),
        (3, "AA-9", 6, True),
    ]


def test_moved_out_households_take_no_part(township, session, api):
    households.move_out(session, township.actor("xf_village_admin"), township.households["xf1"].id, TODAY)
    session.commit()
    expected = [
        (1, "TJ-002", 6, True),
        (1, "AA-9", 6, True),
        (3, "TJ-000", 5, True),
        (3, "TJ-001", 5, True),
        (5, "XF-002", 3, True),
        (6, "TJ-003", 0, True),
        (6, "XF-003", 0, True),
    ]
    assert board(api, period="2026Q4", township=TOWNSHIP) == expected
    assert board(api, period="2026Q4", township=TOWNSHIP, limit=1) == expected[:2]
    assert board(api, period="2026", township=TOWNSHIP, limit=1) == [(1, "TJ-003", 15, True)]


def test_a_veto_makes_a_household_ineligible_in_its_quarter_and_year(world, session, api):
    score(session, world, "tj1", "school", quantity=10)  # 30
    gamble = score(session, world, "tj1", "gamble")  # −20, veto, in 2026Q4
    score(session, world, "tj2", "school", quantity=2)  # 6
    score(session, world, "tj2", "gamble", Q3_DAY)  # −20, veto, in 2026Q3
    score(session, world, "tj3", "labour")  # 5
    session.commit()
    a = world.a.id
    assert board(api, period="2026Q4", village_id=a) == [
        (1, "TJ-001", 10, False),
        (2, "TJ-002", 6, True),
        (3, "TJ-003", 5, True),
    ]
    assert board(api, period="2026Q3", village_id=a) == [
        (1, "TJ-001", 0, True),
        (1, "TJ-003", 0, True),
        (3, "TJ-002", -20, False),
    ]
    assert board(api, period="2026", village_id=a) == [
        (1, "TJ-001", 10, False),
        (2, "TJ-003", 5, True),
        (3, "TJ-002", -14, False),
    ]
    assert board(api, period="2026", village_id=a, limit=1) == [(1, "TJ-001", 10, False)]
    r = api.as_("tj_reviewer").post(f"/entries/{gamble.id}/reverse", json={"reason": "认定有误"})
    assert r.status_code == 201, r.get_json()
    assert board(api, period="2026Q4", village_id=a) == [
        (1, "TJ-001", 30, True),
        (2, "TJ-002", 6, True),
        (3, "TJ-003", 5, True),
    ]
    assert board(api, period="2026", village_id=a) == [
        (1, "TJ-001", 30, True),
        (2, "TJ-003", 5, True),
        (3, "TJ-002", -14, False),
    ]


def test_only_ranked_entries_move_a_rank(world, session, api):
    """Opening balances, redemptions, refunds, awards and expiry change balances only."""
    score(session, world, "tj1", "school", Q3_DAY, quantity=20)  # 60 in 2026Q3
    score(session, world, "tj2", "school", Q4_DAY, quantity=2)  # 6 in 2026Q4
    score(session, world, "tj3", "labour", Q4_DAY)  # 5 in 2026Q4
    session.commit()
    before = {p: board(api, period=p, village_id=world.a.id) for p in ("2026Q3", "2026Q4", "2026")}
    assert before["2026Q4"] == [(1, "TJ-002", 6, True), (2, "TJ-003", 5, True), (3, "TJ-001", 0, True)]

    # redemption and refund (today, in 2026Q4)
    admin = world.actor("tj_village_admin")
    shop = shop_services.create_shop(session, admin, world.a.id, "团结村积分超市")
    oil = shop_services.create_item(
        session, admin, shop.id, {"name": "食用油", "price_points": 50, "stock": 5}, now=NOW
    )
    clerk = world.actor("tj_clerk")
    line = [{"item_id": oil.id, "quantity": 1}]
    tj1 = world.households["tj1"].id
    sale = redemption_services.redeem(
        session, clerk, shop_id=shop.id, lines=line, now=NOW, today=TODAY, secret="s", household_id=tj1
    )
    redemption_services.cancel_redemption(
        session, world.actor("tj_reviewer"), sale.id, reason="退货", now=NOW, tz="Asia/Shanghai"
    )
    redemption_services.redeem(
        session, clerk, shop_id=shop.id, lines=line, now=NOW, today=TODAY, secret="s", household_id=tj1
    )
    # an award with a bonus (dated today) for the final 2026Q3
    periods.close_period(session, world.actor("tj_reviewer"), world.a.id, "2026Q3", now=NOW, today=TODAY)
    periods.finalize_period(session, world.actor("admin"), world.a.id, "2026Q3", now=NOW, today=TODAY)
    prizes.grant_awards(
        session,
        world.actor("tj_reviewer"),
        period="2026Q3",
        village_id=world.a.id,
        title="季度道德冠军",
        top_n=1,
        bonus_points=40,
        now=NOW,
        today=TODAY,
    )
    # a new household's opening entry, and expiry at year end
    add_household(session, world, "tj4", "TJ-004")
    world.a.annual_reset = True
    assert ledger_year.roll_year(session, 2026, now=NOW, today=date(2027, 1, 1)) == 3
    session.commit()

    kinds = {e.kind for e in session.scalars(points.household_entries(world.households["tj1"].id))}
    assert kinds == {"opening", "rule", "redemption", "refund", "award", "expiry"}
    assert [world.households[k].balance for k in ("tj1", "tj2", "tj3", "tj4")] == [100, 100, 100, 100]
    after = {p: board(api, period=p, village_id=world.a.id) for p in before}
    for p, rows_before in before.items():
        assert [r for r in after[p] if r[1] != "TJ-004"] == rows_before, p
    assert after["2026Q4"][-1] == (3, "TJ-004", 0, True)  # ties with TJ-001, after it by number


def test_leaderboard_arguments(world, api):
    resident = api.as_("tj_resident")
    assert_error(resident.get("/leaderboards"), 422, "validation_error")
    for bad in ("2026Q5", "26Q1", "2026-Q1"):
        err = assert_error(resident.get("/leaderboards", query_string={"period": bad}), 422, "validation_error")
        assert "period" in err["details"]
    assert_error(resident.get("/leaderboards", query_string={"period": "2026Q4", "limit": 0}), 422, "validation_error")
    assert_error(resident.get("/leaderboards/villages"), 422, "validation_error")
    assert_error(api.get("/leaderboards", query_string={"period": "2026Q4"}), 401, "unauthorized")


@pytest.fixture
def contest(world, session):
    """2026Q4 in 上木拉乡 (and one village of 洞口乡):

    团结村 3 active households: TJ-001 +6 and −20 (took part, though its total is negative);
      TJ-002 only a deduction (−20); TJ-003 +5 reversed; TJ-004 +3 then moved out (counts
      nowhere). Points −34, per household −11.33, 1 of 3 took part. In 2026Q3 TJ-003 has +3.
    幸福村 3: XF-001 +3, XF-002 +3, XF-003 a pending +30. Points 6, per household 2.0, 2 of 3.
    和谐村 2: HX-001 +4, HX-002 nothing. Points 4, per household 2.0, 1 of 2.
    洞口村 (洞口乡) 1: DK-001 +10.
    """
    admin = world.admin
    hx = factories.village(session, admin, "HX", "和谐村")
    dk = factories.village(session, admin, "DK", "洞口村", township="洞口乡")
    world.households["hx1"] = factories.household(session, admin, hx, "HX-001", "户主hx1")
    world.households["hx2"] = factories.household(session, admin, hx, "HX-002", "户主hx2")
    world.households["dk1"] = factories.household(session, admin, dk, "DK-001", "户主dk1")
    world.rules["hx_help"] = factories.rule(session, admin, hx, "HELP", 4, name="邻里互助")
    world.rules["dk_help"] = factories.rule(session, admin, dk, "HELP", 10, name="邻里互助")
    for key in ("hx1", "dk1"):
        points.record_entry(
            session,
            world.actor("admin"),
            household_id=world.households[key].id,
            rule_id=world.rules[f"{key[:2]}_help"].id,
            occurred_on=Q4_DAY,
            today=TODAY,
            now=NOW,
        )
    add_household(session, world, "tj4", "TJ-004")
    score(session, world, "tj1", "school", quantity=2)
    score(session, world, "tj1", "gamble")
    score(session, world, "tj2", "gamble")
    reversed_ = score(session, world, "tj3", "labour")
    decisions.reverse_entry(session, world.actor("tj_reviewer"), reversed_.id, reason="未出工", now=NOW)
    score(session, world, "tj3", "school", Q3_DAY)
    score(session, world, "tj4", "school")
    households.move_out(session, world.actor("tj_village_admin"), world.households["tj4"].id, TODAY)
    score(session, world, "xf1", "school")
    score(session, world, "xf2", "school")
    points.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf3"].id,
        rule_id=world.rules["xf_school"].id,
        quantity=10,
        occurred_on=Q4_DAY,
        today=TODAY,
        now=NOW,
    )
    session.commit()
    world.hx, world.dk = hx, dk
    return world


def village_row(item):
    return (
        item["rank"],
        item["name"],
        item["households"],
        item["points"],
        item["points_per_household"],
        item["participation_rate"],
    )


def test_villages_ranked_by_points_per_household(contest, api):
    items = villages(api, period="2026Q4", township=TOWNSHIP)
    assert [village_row(i) for i in items] == [
        (1, "和谐村", 2, 4, 2.0, 0.5),
        (1, "幸福村", 3, 6, 2.0, 0.6667),
        (3, "团结村", 3, -34, -11.33, 0.3333),
    ]
    assert [i["village_id"] for i in items] == [contest.hx.id, contest.b.id, contest.a.id]
    assert [village_row(i) for i in villages(api, period="2026Q4")] == [
        (1, "洞口村", 1, 10, 10.0, 1.0),
        (2, "和谐村", 2, 4, 2.0, 0.5),
        (2, "幸福村", 3, 6, 2.0, 0.6667),
        (4, "团结村", 3, -34, -11.33, 0.3333),
    ]
    assert [village_row(i) for i in villages(api, who="xf_reviewer", period="2026Q4", township="洞口乡")] == [
        (1, "洞口村", 1, 10, 10.0, 1.0),
    ]


def test_village_year_and_quarter_figures(contest, api):
    # 2026: 团结村 gains TJ-003's +3 of 2026Q3; TJ-003 took part in the year after all
    assert [village_row(i) for i in villages(api, period="2026", township=TOWNSHIP)] == [
        (1, "和谐村", 2, 4, 2.0, 0.5),
        (1, "幸福村", 3, 6, 2.0, 0.6667),
        (3, "团结村", 3, -31, -10.33, 0.6667),
    ]
    assert [village_row(i) for i in villages(api, period="2026Q3", township=TOWNSHIP)] == [
        (1, "团结村", 3, 3, 1.0, 0.3333),
        (2, "和谐村", 2, 0, 0.0, 0.0),
        (2, "幸福村", 3, 0, 0.0, 0.0),
    ]


def test_participation_follows_approvals_and_reversals(contest, session):
    def tj():
        return next(v for v in village_standings(session, "2026Q4", township=TOWNSHIP) if v.code == "TJ")

    assert (tj().participants, tj().households) == (1, 3)
    # approving XF-003's pending entry makes 幸福村 3 of 3 and lifts it to the top alone
    pending = next(e for e in session.scalars(points.pending_entries(contest.b.id)))
    decisions.approve_entry(session, contest.actor("xf_reviewer"), pending.id, now=NOW)
    xf = next(v for v in village_standings(session, "2026Q4", township=TOWNSHIP) if v.code == "XF")
    assert (xf.rank, xf.points, xf.participation_rate, xf.points_per_household) == (1, 36, 1.0, 12.0)
    # the only positive entry of TJ-001 reversed: nobody in 团结村 took part
    first = next(
        e
        for e in session.scalars(points.household_entries(contest.households["tj1"].id))
        if e.kind == "rule" and e.points > 0
    )
    decisions.reverse_entry(session, contest.actor("tj_reviewer"), first.id, reason="重复", now=NOW)
    assert (tj().participants, tj().points, tj().participation_rate) == (0, -40, 0.0)
    # a moved-out village member leaves the count
    households.move_out(session, contest.actor("tj_village_admin"), contest.households["tj3"].id, date(2026, 11, 20))
    assert (tj().households, tj().points, tj().points_per_household) == (2, -40, -20.0)


def test_villages_are_ranked_by_the_exact_ratio_not_its_rounding(world, session, api):
    """1 point over 14 households (0.0714) beats 1 over 15 (0.0667): both show 0.07."""
    admin = world.admin
    for code, name, size in (("AA", "甲村", 15), ("BB", "乙村", 14)):
        v = factories.village(session, admin, code, name, township="比较乡")
        rule = factories.rule(session, admin, v, "SIGN", 1, name="签到")
        for i in range(1, size + 1):
            h = factories.household(session, admin, v, f"{code}-{i:03d}", f"户主{code}{i}")
            if i == 1:
                points.record_entry(
                    session,
                    world.actor("admin"),
                    household_id=h.id,
                    rule_id=rule.id,
                    occurred_on=Q4_DAY,
                    today=TODAY,
                    now=NOW,
                )
    session.commit()
    assert [village_row(i) for i in villages(api, period="2026Q4", township="比较乡")] == [
        (1, "乙村", 14, 1, 0.07, 0.0714),
        (2, "甲村", 15, 1, 0.07, 0.0667),
    ]


def test_a_village_without_active_households_is_ranked_with_zeros(contest, session, api, login):
    """空村 never had a household; 搬迁村's only household moved out. Both stand at 0 per
    household and tie with the other villages at 0, in village-code order."""
    admin = contest.admin
    factories.village(session, admin, "KC", "空村")
    gone = factories.village(session, admin, "BY", "搬迁村")
    moved = factories.household(session, admin, gone, "BY-001", "户主by1")
    session.flush()
    households.move_out(session, contest.actor("admin"), moved.id, TODAY)
    session.commit()

    items = villages(api, period="2026Q4", township=TOWNSHIP)
    assert [village_row(i) for i in items] == [
        (1, "和谐村", 2, 4, 2.0, 0.5),
        (1, "幸福村", 3, 6, 2.0, 0.6667),
        (3, "搬迁村", 0, 0, 0.0, 0.0),
        (3, "空村", 0, 0, 0.0, 0.0),
        (5, "团结村", 3, -34, -11.33, 0.3333),
    ]
    empty = next(i for i in items if i["name"] == "空村")
    assert {k: empty[k] for k in ("households", "points", "points_per_household", "participation_rate")} == {
        "households": 0,
        "points": 0,
        "points_per_household": 0,
        "participation_rate": 0,
    }
    # at 0 per household they tie with the villages that scored nothing (by code: BY, HX, KC, XF)
    assert [village_row(i) for i in villages(api, period="2026Q3", township=TOWNSHIP)] == [
        (1, "团结村", 3, 3, 1.0, 0.3333),
        (2, "搬迁村", 0, 0, 0.0, 0.0),
        (2, "和谐村", 2, 0, 0.0, 0.0),
        (2, "空村", 0, 0, 0.0, 0.0),
        (2, "幸福村", 3, 0, 0.0, 0.0),
    ]
    assert [i["name"] for i in villages(api, period="2026Q4")] == [
        "洞口村",
        "和谐村",
        "幸福村",
        "搬迁村",
        "空村",
        "团结村",
    ]
    # the same answer every time
    first = [(v.rank, v.code) for v in village_standings(session, "2026Q3", township=TOWNSHIP)]
    assert all(
        [(v.rank, v.code) for v in village_standings(session, "2026Q3", township=TOWNSHIP)] == first for _ in range(3)
    )

    # the administrator's home page lists it in the quarter's overview too
    page = login("admin").get("/").get_data(as_text=True)
    overview = page.split("<tbody>")[-1].split("</tbody>")[0]
    row = next(r for r in overview.split("<tr>") if "空村" in r)
    assert ">0</td>" in row and ">0.00</td>" in row and ">0%</td>" in row
