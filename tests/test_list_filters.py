"""A list filter naming a village, shop or household outside the caller's scope, or one
that does not exist, is 404 ``not_found`` on every list endpoint: never quietly replaced
by the caller's own (API.md Conventions)."""

import pytest

from tests.redemption.test_services import build_shop

MISSING = 999_999


@pytest.fixture
def shops(world, session):
    return {"a": build_shop(session, world)[0], "b": build_shop(session, world, world.b, "幸福村积分超市")[0]}


def ids(world, shops) -> dict:
    return {
        "own": world.a.id,
        "other": world.b.id,
        "own_shop": shops["a"].id,
        "other_shop": shops["b"].id,
        "own_household": world.households["tj1"].id,
        "other_household": world.households["xf1"].id,
        "missing": MISSING,
    }


# (user, list, filter) for which the own value answers 200; the other's and a missing one 404.
SCOPED = [
    ("tj_village_admin", "/users", "village_id", "own"),
    ("tj_recorder", "/households", "village_id", "own"),
    ("tj_resident", "/households", "village_id", "own"),
    ("tj_recorder", "/rules", "village_id", "own"),
    ("tj_resident", "/rules", "village_id", "own"),
    ("tj_reviewer", "/entries", "village_id", "own"),
    ("tj_reviewer", "/objections", "village_id", "own"),
    ("tj_resident", "/objections", "village_id", "own"),
    ("tj_clerk", "/shops", "village_id", "own"),
    ("tj_resident", "/shops", "village_id", "own"),
    ("tj_clerk", "/redemptions", "shop_id", "own_shop"),
    ("tj_resident", "/redemptions", "shop_id", "own_shop"),
    ("tj_clerk", "/redemptions", "household_id", "own_household"),
    ("tj_resident", "/redemptions", "household_id", "own_household"),
    ("tj_clerk", "/items", "shop_id", "own_shop"),
]


@pytest.mark.parametrize("username, path, name, own", SCOPED)
def test_a_filter_outside_the_scope_is_404(world, shops, api, username, path, name, own):
    values = ids(world, shops)
    me = api.as_(username)
    r = me.get(f"{path}?{name}={values[own]}")
    assert r.status_code == 200, r.get_json()
    other = values[own.replace("own", "other")]
    for value in (other, MISSING):
        r = me.get(f"{path}?{name}={value}")
        assert r.status_code == 404, (path, name, value, r.get_json())
        assert r.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/users", "/households", "/rules", "/entries", "/objections", "/shops"])
def test_the_admin_gets_any_village_and_404_for_none(world, shops, api, path):
    admin = api.as_("admin")
    assert admin.get(f"{path}?village_id={world.b.id}").status_code == 200
    assert admin.get(f"{path}?village_id={MISSING}").get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/leaderboards?period=2026", "/awards?period=2026"])
def test_public_lists_take_any_village_but_not_a_missing_one(world, api, path):
    me = api.as_("tj_resident")
    assert me.get(f"{path}&village_id={world.b.id}").status_code == 200
    r = me.get(f"{path}&village_id={MISSING}")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
