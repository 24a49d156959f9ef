"""``scheme_id`` in place of ``village_id`` (which names the village's household scheme):
naming both gets one answer on every endpoint that takes them so, 422 on ``scheme_id``
("二选一") unless the village's household scheme is that scheme, which is then taken."""

import pytest

from tests.accounts.conftest import volunteers  # noqa: F401
from tests.rankings.test_village_standings import assert_error

RULE = {"code": "BOTH-1", "name": "两者", "category": "志愿服务", "points": 3}


def calls(world, scheme_id):
    """(who, method, path, query or body) of each endpoint, naming 团结村 and ``scheme_id``."""
    both = {"village_id": world.a.id, "scheme_id": scheme_id}
    return {
        "get period": ("tj_reviewer", "GET", "/periods/2026Q3", both),
        "close": ("tj_reviewer", "POST", "/periods/2026Q3/close", both),
        "finalize": ("admin", "POST", "/periods/2026Q3/finalize", both),
        "file objection": ("tj_resident", "POST", "/objections", both | {"period": "2026Q4", "reason": "有误"}),
        "list objections": ("tj_reviewer", "GET", "/objections", both),
        "grant awards": ("tj_reviewer", "POST", "/awards", both | {"period": "2026Q3", "title": "文明户", "top_n": 1}),
        "list awards": ("tj_resident", "GET", "/awards", both | {"period": "2026Q3"}),
        "standings": ("tj_resident", "GET", "/leaderboards", both | {"period": "2026Q4"}),
        "create rule": ("tj_village_admin", "POST", "/rules", both | RULE),
        "list rules": ("tj_village_admin", "GET", "/rules", both),
    }


def send(api, who, method, path, data):
    caller = api.as_(who)
    if method == "GET":
        return caller.get(path, query_string=data)
    return caller.post(path, json=data)


NAMES = [
    "get period",
    "close",
    "finalize",
    "file objection",
    "list objections",
    "grant awards",
    "list awards",
    "standings",
    "create rule",
    "list rules",
]


@pytest.mark.parametrize("name", NAMES)
def test_both_naming_different_schemes_is_422_on_scheme_id(world, volunteers, api, name):  # noqa: F811
    for other in (volunteers.scheme.id, world.b.household_scheme.id, 999_999):
        r = send(api, *calls(world, other)[name])
        err = assert_error(r, 422, "validation_error")
        assert list(err["details"]) == ["scheme_id"], (name, err)
        assert "二选一" in err["details"]["scheme_id"][0]


def test_both_naming_the_household_scheme_is_taken(world, api):
    """Each in turn, as a reviewer would: the same answers as with village_id alone."""
    named = calls(world, world.a.household_scheme.id)
    alone = {n: (who, m, p, {k: v for k, v in d.items() if k != "scheme_id"}) for n, (who, m, p, d) in named.items()}
    expected = {"close": 200, "finalize": 200, "file objection": 201, "grant awards": 201, "create rule": 201}
    for name in NAMES:
        r = send(api, *named[name])
        assert r.status_code == expected.get(name, 200), (name, r.get_json())
        if name in ("get period", "list objections", "list awards", "standings", "list rules"):
            assert r.get_json() == send(api, *alone[name]).get_json(), name
    body = send(api, *named["get period"]).get_json()
    assert (body["status"], body["scheme_id"], body["village_id"]) == ("final", world.a.household_scheme.id, world.a.id)


def test_a_shop_names_its_village_and_the_scheme_it_serves(world, volunteers, api):  # noqa: F811
    """Not "in place of": a shop stands in its village and takes one scheme's cards, so
    POST /shops takes both (another village's household scheme is refused as before)."""
    admin = api.as_("admin")
    for scheme in (world.a.household_scheme, volunteers.scheme):
        r = admin.post("/shops", json={"village_id": world.a.id, "scheme_id": scheme.id, "name": f"店{scheme.id}"})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["scheme_id"] == scheme.id
    r = admin.post("/shops", json={"village_id": world.a.id, "scheme_id": world.b.household_scheme.id, "name": "x"})
    assert list(assert_error(r, 422, "validation_error")["details"]) == ["scheme_id"]
