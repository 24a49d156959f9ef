"""GET /leaderboards/villages?scheme_id=: the village standings over one scheme's
accounts (the contract: "Standings and awards accept ``scheme_id=``"), each account in
its village: a household scheme's households, a person scheme's people, a village
scheme's one account per village."""

from app.households.models import Household
from tests.accounts.conftest import volunteers  # noqa: F401
from tests.rankings.test_scheme_cycle import MARCH, as_, monthly, record  # noqa: F401
from tests.rankings.test_village_standings import assert_error, township, villages  # noqa: F401

ROW = ("rank", "name", "households", "points", "points_per_household", "participation_rate")


def rows(items):
    return [tuple(i[k] for k in ROW) for i in items]


def test_a_household_scheme_is_its_village_and_households(township, session, api):  # noqa: F811
    every = villages(api, period="2026Q4")
    tj, xf = township.a.household_scheme, township.b.household_scheme
    for scheme, village in ((tj, township.a), (xf, township.b)):
        items = villages(api, period="2026Q4", scheme_id=scheme.id)
        same = next(i for i in every if i["village_id"] == village.id)
        assert items == [same | {"rank": 1}]  # the village alone, its figures as on the full board
    assert villages(api, period="2026Q3", scheme_id=tj.id)[0]["points"] == 15


def test_a_person_scheme_ranks_its_people_by_village(volunteers, world, session, api):  # noqa: F811
    v, recorder = volunteers, api.as_("tj_recorder")
    for account, rule in ((v.li, v.big), (v.zhao, v.rule)):
        body = {"account_id": account.id, "rule_id": rule.id, "occurred_on": "2026-11-19"}
        assert recorder.post("/entries", json=body).status_code == 201
    # 李志愿 lives in 团结村 (his household's); 赵志愿 names no village and has none
    assert (v.li.home_village_id, v.zhao.home_village_id) == (world.a.id, None)
    items = villages(api, period="2026Q4", scheme_id=v.scheme.id)
    assert rows(items) == [(1, "团结村", 1, 30, 30.0, 1.0)]
    # without scheme_id: the households, as before (none of them scored)
    tj = next(i for i in villages(api, period="2026Q4") if i["village_id"] == world.a.id)
    assert (tj["households"], tj["points"]) == (session.query(Household).filter_by(village_id=world.a.id).count(), 0)


def test_a_village_scheme_ranks_each_villages_account(monthly, county, world, as_):  # noqa: F811
    assert record(as_, monthly, "QF", "2026-03-05").status_code == 201
    query = {"scheme_id": monthly["scheme_id"]}
    for period in (MARCH, "2026Q1", "2026"):  # a monthly scheme's months too
        r = as_("dk_reviewer").get("/leaderboards/villages", query_string=query | {"period": period})
        assert r.status_code == 200, r.get_json()
        assert rows(r.get_json()["items"]) == [
            (1, "清风村", 1, 10, 10.0, 1.0),
            (2, "和平村", 1, 0, 0.0, 0.0),
        ]
    r = as_("dk_reviewer").get(
        "/leaderboards/villages", query_string=query | {"period": MARCH, "region_id": county.cg.id}
    )
    assert rows(r.get_json()["items"]) == [(1, "和平村", 1, 0, 0.0, 0.0)]
    # a month still needs a monthly scheme
    r = as_("tj_resident").get(
        "/leaderboards/villages", query_string={"period": MARCH, "scheme_id": world.a.household_scheme.id}
    )
    assert "period" in assert_error(r, 422, "validation_error")["details"]


def test_a_scheme_the_caller_may_not_read_is_404(monthly, world, as_):  # noqa: F811
    """As with /leaderboards?scheme_id=: a region's scheme is its officials' and its
    villages' users' (a township official below the county's is not its official)."""
    query = {"period": "2026Q1", "scheme_id": monthly["scheme_id"]}
    for who in ("tj_resident", "cg_reviewer"):
        assert_error(as_(who).get("/leaderboards", query_string=query), 404, "not_found")
        assert_error(as_(who).get("/leaderboards/villages", query_string=query), 404, "not_found")
    query["scheme_id"] = 999_999
    assert_error(as_("admin").get("/leaderboards/villages", query_string=query), 404, "not_found")
    # a village's standings are public, as with village_id=
    r = as_("tj_resident").get(
        "/leaderboards/villages", query_string={"period": "2026Q4", "scheme_id": world.b.household_scheme.id}
    )
    assert [i["name"] for i in r.get_json()["items"]] == ["幸福村"]
