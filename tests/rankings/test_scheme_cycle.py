"""A scheme's own cycle over HTTP: a county's monthly village scheme (洞口县 积分换项目)
scores its villages in March and April, closes March (公示), refuses a March entry,
keeps April open, finalises and grants its fund; standings, periods, objections and
awards by ``scheme_id``."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.households.models import Household
from app.points.proof import verify
from app.rankings.models import Award
from tests.conftest import TODAY
from tests.rankings.test_cycle_api import assert_error, ledger_ok

MARCH, APRIL = "2026-03", "2026-04"
SETTINGS = {
    "base_points": 0,
    "redeem_floor": 0,
    "yuan_per_point": 1.0,
    "approval_required": False,
    "notice_days": 7,
    "annual_reset": False,
}


@pytest.fixture
def as_(api):
    cache = {}

    def get(username):
        if username not in cache:
            cache[username] = api.as_(username)
        return cache[username]

    return get


@pytest.fixture
def monthly(county, world, session, as_):
    """The county's monthly village scheme, a rule of it, and its two village accounts."""
    body = {"name": "积分换项目", "region_id": county.county.id, "account_kind": "village", "cadence": "month"}
    r = as_("dk_admin").post("/schemes", json=body | SETTINGS | {"categories": ["零事故", "零违建"]})
    assert r.status_code == 201, r.get_json()
    scheme_id = r.get_json()["id"]
    rule = {"scheme_id": scheme_id, "code": "ZERO-ACC", "name": "零事故", "category": "零事故", "points": 10}
    r = as_("dk_admin").post("/rules", json=rule | {"cap_period": "month", "cap_count": 1})
    assert r.status_code == 201, r.get_json()
    accounts = {a.number: a.id for a in session.scalars(select(Household).where(Household.scheme_id == scheme_id))}
    return {"scheme_id": scheme_id, "rule_id": r.get_json()["id"], "accounts": accounts}


def record(as_, monthly, number, day, who="dk_recorder"):
    body = {"household_id": monthly["accounts"][number], "rule_id": monthly["rule_id"], "occurred_on": day}
    return as_(who).post("/entries", json=body)


def board(as_, monthly, period, who="dk_reviewer"):
    r = as_(who).get("/leaderboards", query_string={"period": period, "scheme_id": monthly["scheme_id"]})
    assert r.status_code == 200, r.get_json()
    return [(s["rank"], s["number"], s["points"], s["account_id"]) for s in r.get_json()["items"]]


def test_a_monthly_scheme_runs_its_cycle_per_month(monthly, county, world, session, as_, runner):
    hp, qf, scheme_id = monthly["accounts"]["HP"], monthly["accounts"]["QF"], monthly["scheme_id"]
    for number, day in (("HP", "2026-03-05"), ("QF", "2026-03-06"), ("HP", "2026-04-02")):
        assert record(as_, monthly, number, day).status_code == 201
    assert_error(record(as_, monthly, "HP", "2026-03-20"), 409, "cap_reached")  # once a month
    assert board(as_, monthly, MARCH) == [(1, "HP", 10, hp), (1, "QF", 10, qf)]  # a tie: by code
    assert board(as_, monthly, APRIL) == [(1, "HP", 10, hp), (2, "QF", 0, qf)]
    assert board(as_, monthly, "2026Q1") == [(1, "HP", 10, hp), (1, "QF", 10, qf)]
    assert board(as_, monthly, "2026")[0][:3] == (1, "HP", 20)

    r = as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["period"], body["scheme_id"], body["village_id"], body["status"]) == (MARCH, scheme_id, None, "notice")
    assert [(s["rank"], s["number"], s["account_id"]) for s in body["standings"]] == [(1, "HP", hp), (1, "QF", qf)]
    assert_error(
        as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id}), 409, "period_closed"
    )

    err = assert_error(record(as_, monthly, "QF", "2026-03-25"), 409, "period_closed")  # the closed month
    assert err["details"] == {"period": MARCH}
    assert record(as_, monthly, "QF", "2026-04-25").status_code == 201  # April is still open
    # the households' quarter of the same days is not the county's business
    r = as_("tj_recorder").post(
        "/entries",
        json={
            "household_id": world.households["tj2"].id,
            "rule_id": world.rules["tj_school"].id,
            "occurred_on": "2026-03-25",
        },
    )
    assert r.status_code == 201, r.get_json()

    r = as_("dk_reviewer").get(f"/periods/{APRIL}", query_string={"scheme_id": scheme_id})
    assert (r.status_code, r.get_json()["status"]) == (200, "open")
    assert_error(
        as_("dk_reviewer").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id}), 409, "notice_running"
    )
    assert_error(
        as_("dk_reviewer").post(
            "/awards", json={"period": MARCH, "scheme_id": scheme_id, "title": "积分换项目", "top_n": 2}
        ),
        409,
        "period_not_final",
    )
    r = as_("admin").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id})
    assert (r.status_code, r.get_json()["status"]) == (200, "final")

    grant = {"period": MARCH, "scheme_id": scheme_id, "title": "积分换项目", "top_n": 2}
    r = as_("dk_reviewer").post("/awards", json=grant | {"fund_yuan": "100000.01", "allocation": "equal"})
    assert r.status_code == 201, r.get_json()
    items = r.get_json()["items"]
    assert [(a["account_id"], a["rank"], a["amount_yuan"], a["fund_yuan"], a["allocation"]) for a in items] == [
        (hp, 1, "50000.01", "100000.01", "equal"),  # the fen left over: to the best-ranked
        (qf, 1, "50000.00", "100000.01", "equal"),
    ]
    listed = as_("dk_reviewer").get("/awards", query_string={"scheme_id": scheme_id}).get_json()["items"]
    assert sorted(a["amount_yuan"] for a in listed) == ["50000.00", "50000.01"]
    # a region's scheme is read by its officials and its villages' users, as its pages are
    assert_error(as_("tj_resident").get("/awards", query_string={"scheme_id": scheme_id}), 404, "not_found")
    assert as_("tj_resident").get("/awards", query_string={"village_id": world.a.id}).get_json()["items"] == []
    stored = session.scalars(select(Award.amount_yuan).where(Award.scheme_id == scheme_id)).all()
    assert sum(stored) == Decimal("100000.01")
    assert verify(session) == []
    ledger_ok(runner)


def test_months_belong_to_monthly_schemes_only(monthly, world, as_):
    scheme_id = monthly["scheme_id"]
    err = assert_error(
        as_("tj_reviewer").post(f"/periods/{MARCH}/close", json={"village_id": world.a.id}), 422, "validation_error"
    )
    assert "period" in err["details"]  # a quarterly scheme has no months
    r = as_("tj_resident").get("/leaderboards", query_string={"period": MARCH, "village_id": world.a.id})
    assert "period" in assert_error(r, 422, "validation_error")["details"]
    r = as_("tj_resident").get("/leaderboards/villages", query_string={"period": MARCH})
    assert "period" in assert_error(r, 422, "validation_error")["details"]
    for text in ("2026-13", "2026-00", "2026-3"):
        r = as_("dk_reviewer").post(f"/periods/{text}/close", json={"scheme_id": scheme_id})
        assert "period" in assert_error(r, 422, "validation_error")["details"]
    # a monthly scheme closes its quarters and years too
    r = as_("dk_reviewer").post("/periods/2026Q1/close", json={"scheme_id": scheme_id})
    assert r.status_code == 200, r.get_json()
    assert_error(record(as_, monthly, "HP", "2026-02-10"), 409, "period_closed")


def test_scheme_and_village_are_one_of_two_and_in_scope(monthly, county, world, as_):
    scheme_id = monthly["scheme_id"]
    for body in ({}, {"scheme_id": scheme_id, "village_id": world.a.id}):
        assert_error(as_("dk_reviewer").post(f"/periods/{MARCH}/close", json=body), 422, "validation_error")
    # a scheme out of the caller's reach: the township's official, another village's
    for who in ("cg_reviewer", "tj_reviewer"):
        r = as_(who).post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id})
        assert_error(r, 400, "not_found")
    assert_error(as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": 99999}), 400, "not_found")
    assert_error(as_("dk_recorder").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id}), 403, "forbidden")
    # reading: the county's officials, and anyone of a village below it; not 团结村's resident
    # (nor a township's official: test_a_township_official_gets_404_for_its_countys_scheme)
    assert as_("dk_reviewer").get(f"/periods/{MARCH}", query_string={"scheme_id": scheme_id}).status_code == 200
    assert_error(as_("tj_resident").get(f"/periods/{MARCH}", query_string={"scheme_id": scheme_id}), 404, "not_found")
    assert_error(as_("dk_reviewer").get(f"/periods/{MARCH}"), 422, "validation_error")
    assert_error(
        as_("dk_reviewer").get("/leaderboards", query_string={"period": MARCH, "scheme_id": 99999}), 404, "not_found"
    )
    assert_error(as_("dk_reviewer").get("/awards", query_string={"scheme_id": 99999}), 404, "not_found")


def test_an_objection_to_a_scheme_holds_its_month_open(monthly, county, as_):
    scheme_id = monthly["scheme_id"]
    assert record(as_, monthly, "HP", "2026-03-05").status_code == 201
    entry_id = record(as_, monthly, "QF", "2026-03-06").get_json()["id"]
    assert as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id}).status_code == 200
    r = as_("dk_reviewer").post("/objections", json={"period": MARCH, "scheme_id": scheme_id, "reason": "清风村有事故"})
    assert r.status_code == 201, r.get_json()
    standings_objection = r.get_json()
    assert (standings_objection["scheme_id"], standings_objection["village_id"]) == (scheme_id, None)
    r = as_("dk_reviewer").post("/objections", json={"entry_id": entry_id, "reason": "记错了"})
    assert (r.status_code, r.get_json()["period"]) == (201, MARCH)  # the entry's month
    entry_objection = r.get_json()
    assert_error(as_("admin").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id}), 409, "objection_open")
    r = as_("dk_reviewer").post(f"/objections/{entry_objection['id']}/decide", json={"upheld": True, "note": "核实"})
    assert r.status_code == 200 and r.get_json()["reversal_entry_id"], r.get_json()
    r = as_("dk_reviewer").get(f"/periods/{MARCH}", query_string={"scheme_id": scheme_id}).get_json()
    assert (r["version"], [(s["number"], s["points"]) for s in r["standings"]]) == (2, [("HP", 10), ("QF", 0)])
    r = as_("dk_reviewer").post(
        f"/objections/{standings_objection['id']}/decide", json={"upheld": False, "note": "不成立"}
    )
    assert r.status_code == 200
    assert as_("admin").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id}).status_code == 200
    assert_error(
        as_("dk_reviewer").post("/objections", json={"period": MARCH, "scheme_id": scheme_id, "reason": "再议"}),
        409,
        "objection_window_closed",
    )
    assert_error(
        as_("tj_resident").post("/objections", json={"period": MARCH, "scheme_id": scheme_id, "reason": "x"}),
        400,
        "not_found",
    )


def test_a_proportional_fund_follows_the_points(monthly, county, as_):
    scheme_id = monthly["scheme_id"]
    for number in ("HP", "QF"):
        assert record(as_, monthly, number, "2026-03-05").status_code == 201
    r = as_("dk_admin").post(
        "/rules",
        json={"scheme_id": scheme_id, "code": "ZERO-ILL", "name": "零违建", "category": "零违建", "points": 20},
    )
    body = {"household_id": monthly["accounts"]["HP"], "rule_id": r.get_json()["id"], "occurred_on": "2026-03-07"}
    assert as_("dk_recorder").post("/entries", json=body).status_code == 201  # HP 30, QF 10
    as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id})
    as_("admin").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id})
    grant = {"period": MARCH, "scheme_id": scheme_id, "title": "积分换项目", "top_n": 5}
    for bad, field in (
        ({"fund_yuan": 100}, "allocation"),  # neither alone
        ({"allocation": "equal"}, "fund_yuan"),
        ({"fund_yuan": 100, "allocation": "lottery"}, "allocation"),
        ({"fund_yuan": "0.001", "allocation": "equal"}, "fund_yuan"),
        ({"fund_yuan": -5, "allocation": "equal"}, "fund_yuan"),
        ({"fund_yuan": "much", "allocation": "equal"}, "fund_yuan"),
        ({"fund_yuan": True, "allocation": "equal"}, "fund_yuan"),
        ({"fund_yuan": "1000000000000", "allocation": "equal"}, "fund_yuan"),
    ):
        err = assert_error(as_("dk_reviewer").post("/awards", json=grant | bad), 422, "validation_error")
        assert field in err["details"], (bad, err)
    r = as_("dk_reviewer").post("/awards", json=grant | {"fund_yuan": 1000, "allocation": "proportional"})
    assert r.status_code == 201, r.get_json()
    assert [(a["rank"], a["points"], a["amount_yuan"]) for a in r.get_json()["items"]] == [
        (1, 30, "750.00"),
        (2, 10, "250.00"),
    ]


def grant_march_fund(monthly, as_):
    scheme_id = monthly["scheme_id"]
    for number, day in (("HP", "2026-03-05"), ("QF", "2026-03-06")):
        assert record(as_, monthly, number, day).status_code == 201
    as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id})
    as_("admin").post(f"/periods/{MARCH}/finalize", json={"scheme_id": scheme_id})
    grant = {"period": MARCH, "scheme_id": scheme_id, "title": "积分换项目", "top_n": 2}
    r = as_("dk_reviewer").post("/awards", json=grant | {"fund_yuan": "100000.01", "allocation": "equal"})
    assert r.status_code == 201, r.get_json()


def test_the_award_list_and_its_workbook_show_the_amounts(monthly, as_, login):
    grant_march_fund(monthly, as_)
    client = login("dk_reviewer")
    page = client.get("/awards", query_string={"scheme_id": monthly["scheme_id"]})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "积分换项目" in text and "奖金（元）" in text
    assert "50000.01" in text and "50000.00" in text and "和平村" in text and "2026 年 3 月" in text
    r = client.get("/awards/export.xlsx", query_string={"scheme_id": monthly["scheme_id"], "period": MARCH})
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[0][7] == "奖金（元）" and rows[0][3:5] == ("村编号", "村名")  # a village scheme's accounts
    assert [(row[3], row[7], row[8]) for row in rows[1:]] == [("HP", 50000.01, "平均分配"), ("QF", 50000, "平均分配")]
    assert login("tj_resident").get("/awards", query_string={"scheme_id": monthly["scheme_id"]}).status_code == 404
    assert login("cg_reviewer").get("/awards", query_string={"scheme_id": monthly["scheme_id"]}).status_code == 404
    assert login("dk_admin").get("/awards", query_string={"scheme_id": monthly["scheme_id"]}).status_code == 200


def test_a_villages_awards_and_notice_show_a_funds_amounts(world, session, login):
    from app.rankings import awards, periods
    from tests.factories import NOW
    from tests.rankings.test_periods import Q3_DAY, score

    score(session, world, "tj1", "school", Q3_DAY)
    score(session, world, "tj2", "labour", Q3_DAY)
    periods.close_period(session, world.actor("tj_reviewer"), world.a.id, "2026Q3", now=NOW, today=TODAY)
    periods.finalize_period(session, world.actor("admin"), world.a.id, "2026Q3", now=NOW, today=TODAY)
    granted = awards.grant_awards(
        session,
        world.actor("tj_reviewer"),
        period="2026Q3",
        village_id=world.a.id,
        title="季度道德之星",
        top_n=2,
        fund_yuan=800,
        allocation="proportional",
        now=NOW,
        today=TODAY,
    )
    session.commit()
    assert [(a.points, a.amount_yuan) for a in granted] == [(5, Decimal("500.00")), (3, Decimal("300.00"))]
    client = login("tj_resident")
    text = client.get("/awards", query_string={"village_id": world.a.id}).get_data(as_text=True)
    assert "500.00" in text and "300.00" in text and "户号" in text
    text = client.get("/notice/2026Q3", query_string={"village_id": world.a.id}).get_data(as_text=True)
    assert "奖金 500.00 元" in text and "奖金 300.00 元" in text


def test_scheme_standings_keep_the_fast_path_and_households_their_own(monthly, world, as_):
    for number, day in (("HP", "2026-03-05"), ("QF", "2026-03-06")):
        assert record(as_, monthly, number, day).status_code == 201
    query = {"period": MARCH, "scheme_id": monthly["scheme_id"]}
    full = as_("dk_reviewer").get("/leaderboards", query_string=query).get_json()["items"]
    top = as_("dk_reviewer").get("/leaderboards", query_string=query | {"limit": 1}).get_json()["items"]
    assert top == full and len(top) == 2  # the tie at the cut stays whole
    # without a scheme the standings are households' only, as before
    everyone = as_("tj_resident").get("/leaderboards", query_string={"period": "2026Q1"}).get_json()["items"]
    assert everyone and {s["number"] for s in everyone}.isdisjoint({"HP", "QF"})
    limited = as_("tj_resident").get("/leaderboards", query_string={"period": "2026Q1", "limit": 1}).get_json()["items"]
    assert {s["number"] for s in limited}.isdisjoint({"HP", "QF"})
    assert all(s["account_id"] == s["household_id"] for s in everyone)


def test_objections_list_by_scheme(monthly, as_):
    scheme_id = monthly["scheme_id"]
    assert record(as_, monthly, "HP", "2026-03-05").status_code == 201
    as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id})
    r = as_("dk_reviewer").post("/objections", json={"period": MARCH, "scheme_id": scheme_id, "reason": "请复核"})
    assert r.status_code == 201, r.get_json()
    listed = as_("dk_reviewer").get("/objections", query_string={"scheme_id": scheme_id}).get_json()
    assert [o["id"] for o in listed["items"]] == [r.get_json()["id"]]
    assert as_("dk_reviewer").get("/objections").get_json()["items"] == []  # the villages' own: none
    assert_error(as_("tj_reviewer").get("/objections", query_string={"scheme_id": scheme_id}), 404, "not_found")
    # a township's official is not the county scheme's: it neither files, lists nor decides
    body = {"period": MARCH, "scheme_id": scheme_id, "reason": "请复核"}
    assert_error(as_("cg_reviewer").post("/objections", json=body), 400, "not_found")
    assert_error(as_("cg_reviewer").get("/objections", query_string={"scheme_id": scheme_id}), 404, "not_found")
    assert_error(
        as_("cg_reviewer").post(f"/objections/{r.get_json()['id']}/decide", json={"upheld": False, "note": "x"}),
        404,
        "not_found",
    )


def test_a_township_official_gets_404_for_its_countys_scheme(monthly, county, as_):
    """API.md: a region's official acts in every village below its region and in the
    region's own schemes, 404 for anything else: a township's official (城关镇) is not an
    official of its county's scheme, though its village (和平村) has an account there."""
    scheme_id, hp = monthly["scheme_id"], monthly["accounts"]["HP"]
    r = record(as_, monthly, "HP", "2026-03-05")
    assert r.status_code == 201, r.get_json()
    entry_id = r.get_json()["id"]
    assert as_("dk_reviewer").post(f"/periods/{MARCH}/close", json={"scheme_id": scheme_id}).status_code == 200
    reads = (
        f"/schemes/{scheme_id}",
        f"/leaderboards?period={MARCH}&scheme_id={scheme_id}",
        f"/awards?scheme_id={scheme_id}",
        f"/periods/{MARCH}?scheme_id={scheme_id}",
        f"/accounts?scheme_id={scheme_id}",
        f"/accounts/{hp}",
        f"/households/{hp}/entries",
        f"/entries/{entry_id}",
        f"/rules?scheme_id={scheme_id}",
    )
    for path in reads:
        r = as_("dk_reviewer").get(path)
        assert r.status_code == 200, (path, r.get_json())
        for who in ("cg_admin", "cg_reviewer", "cg_recorder"):
            assert_error(as_(who).get(path), 404, "not_found")
    # and it writes nothing there: no entry for 和平村's account, no close of a month
    assert_error(record(as_, monthly, "HP", "2026-04-02", who="cg_recorder"), 400, "not_found")
    r = as_("cg_reviewer").post("/periods/2026-04/close", json={"scheme_id": scheme_id})
    assert_error(r, 400, "not_found")
