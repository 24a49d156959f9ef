from app.points.proof import verify


def test_world_builds_with_opening_balances(world, session):
    h = world.households["tj1"]
    assert h.balance == 100
    assert h.entry_count == 1
    assert verify(session) == []


def test_api_token_and_household(world, api):
    r = api.as_("tj_recorder").get(f"/households/{world.households['tj1'].id}")
    assert r.status_code == 200
    assert r.get_json()["balance"] == 100
