"""/households: registration, lists, the account view and the passbook."""

from datetime import timedelta

import pytest

from app.audit.models import AuditLog
from app.clock import local_today, quarter_of, year_of
from app.households.models import Household
from app.points.models import Entry

TODAY = local_today("Asia/Shanghai")


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def count(session, model):
    session.expire_all()
    return session.query(model).count()


def record(api, household, rule, day=TODAY, quantity=1):
    r = api.post(
        "/entries",
        json={"household_id": household.id, "rule_id": rule.id, "occurred_on": day.isoformat(), "quantity": quantity},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_create_household_opens_its_account(world, session, api):
    body = {
        "village_id": world.a.id,
        "number": "TJ-050",
        "head_name": "李秀英",
        "address": "团结村东组 3 号",
        "phone": "13812345678",
        "members": [{"name": "王小明", "relation": "子"}, {"name": "王小红", "relation": "女"}],
    }
    r = api.as_("tj_village_admin").post("/households", json=body)
    assert r.status_code == 201, r.get_json()
    h = r.get_json()
    assert h["village_id"] == world.a.id
    assert h["number"] == "TJ-050" and h["head_name"] == "李秀英" and h["phone"] == "13812345678"
    assert h["balance"] == 100
    assert h["redeemable"] == 0
    assert h["period_points"] == {"quarter": 0, "year": 0}
    assert h["members"] == body["members"]
    entries = session.query(Entry).filter_by(household_id=h["id"]).all()
    assert [(e.kind, e.points, e.status, e.ranked) for e in entries] == [("opening", 100, "approved", False)]


def test_admin_creates_households_in_any_village(world, api):
    r = api.as_("admin").post("/households", json={"village_id": world.b.id, "number": "XF-050", "head_name": "赵"})
    assert r.status_code == 201
    assert r.get_json()["village_id"] == world.b.id


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"number": "TJ-001"}, "number"),
        ({"number": ""}, "number"),
        ({"number": "户 1"}, "number"),
        ({"number": "1" * 21}, "number"),
        ({"head_name": ""}, "head_name"),
        ({"head_name": "   "}, "head_name"),
        ({"head_name": "名" * 51}, "head_name"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"address": "路" * 201}, "address"),
        ({"members": [{"name": ""}]}, "members"),
        ({"members": [{"relation": "子"}]}, "members"),
        ({"members": "王小明"}, "members"),
        ({"number": 17}, "number"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_household_is_422(world, session, api, changes, field):
    before = count(session, Household)
    body = {"village_id": world.a.id, "number": "TJ-050", "head_name": "李秀英"} | changes
    err = assert_error(api.as_("tj_village_admin").post("/households", json=body), 422, "validation_error")
    assert field in err["details"]
    assert count(session, Household) == before


def test_missing_head_name_is_422(world, api):
    err = assert_error(
        api.as_("tj_village_admin").post("/households", json={"village_id": world.a.id, "number": "TJ-050"}),
        422,
        "validation_error",
    )
    assert "head_name" in err["details"]


def test_a_village_out_of_scope_is_a_bad_reference(world, session, api):
    before = count(session, Household)
    body = {"number": "X-1", "head_name": "某"}
    err = assert_error(
        api.as_("tj_village_admin").post("/households", json=body | {"village_id": world.b.id}), 400, "not_found"
    )
    assert err["details"] == {"field": "village_id"}
    assert_error(api.as_("admin").post("/households", json=body | {"village_id": 999999}), 400, "not_found")
    assert count(session, Household) == before


@pytest.mark.parametrize("username", ["tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_only_village_admins_register_households(world, api, username):
    r = api.as_(username).post("/households", json={"village_id": world.a.id, "number": "TJ-050", "head_name": "某"})
    assert_error(r, 403, "forbidden")


def test_list_is_the_callers_village(world, api):
    r = api.as_("tj_recorder").get("/households")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 3
    assert [h["number"] for h in body["items"]] == ["TJ-001", "TJ-002", "TJ-003"]
    # Another village is not the caller's to list: 404, not its own village instead.
    r = api.as_("tj_recorder").get(f"/households?village_id={world.b.id}")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_admin_lists_all_or_one_village(world, api):
    admin = api.as_("admin")
    assert admin.get("/households").get_json()["total"] == 6
    r = admin.get(f"/households?village_id={world.b.id}")
    assert [h["number"] for h in r.get_json()["items"]] == ["XF-001", "XF-002", "XF-003"]


def test_search_by_number_name_or_phone(world, session, api):
    world.households["tj3"].phone = "13900001111"
    session.commit()
    me = api.as_("tj_recorder")
    assert [h["number"] for h in me.get("/households?q=TJ-002").get_json()["items"]] == ["TJ-002"]
    assert [h["number"] for h in me.get("/households?q=户主tj3").get_json()["items"]] == ["TJ-003"]
    assert [h["number"] for h in me.get("/households?q=0000111").get_json()["items"]] == ["TJ-003"]
    assert me.get("/households?q=nobody").get_json() == {"items": [], "total": 0}
    # A LIKE wildcard in the query is not a wildcard for the user.
    assert me.get("/households?q=%25").get_json()["total"] == 0


def test_resident_lists_only_its_own_household(world, api):
    r = api.as_("tj_resident").get("/households")
    assert r.get_json()["total"] == 1
    assert r.get_json()["items"][0]["id"] == world.households["tj1"].id


def test_pagination(world, api):
    admin = api.as_("admin")
    r = admin.get("/households?per_page=4&page=2")
    assert r.status_code == 200
    assert r.get_json()["total"] == 6
    assert [h["number"] for h in r.get_json()["items"]] == ["XF-002", "XF-003"]
    assert admin.get("/households?per_page=500").status_code == 200
    for bad in ("per_page=501", "per_page=0", "page=0", "page=x", "per_page=-1"):
        err = assert_error(admin.get(f"/households?{bad}"), 422, "validation_error")
        assert set(err["details"]) <= {"page", "per_page"} and err["details"]


def test_account_view(world, session, api):
    h = world.households["tj1"]
    recorder = api.as_("tj_recorder")
    record(recorder, h, world.rules["tj_school"], quantity=4)  # +12
    r = api.as_("tj_village_admin").get(f"/households/{h.id}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == h.id and body["village_id"] == world.a.id
    assert body["number"] == "TJ-001" and body["head_name"] == "户主tj1"
    assert body["balance"] == 112
    assert body["redeemable"] == 12
    assert body["period_points"] == {"quarter": 12, "year": 12}
    assert body["periods"] == {"quarter": quarter_of(TODAY), "year": year_of(TODAY)}
    assert body["members"] == []
    assert body["rank"]["quarter"] == 1
    assert body["eligible"] == {"quarter": True, "year": True}


def test_redeemable_never_goes_below_zero(world, session, api):
    world.a.redeem_floor = 500
    session.commit()
    body = api.as_("tj_recorder").get(f"/households/{world.households['tj1'].id}").get_json()
    assert body["balance"] == 100 and body["redeemable"] == 0


def test_another_villages_household_is_404(world, api):
    xf1 = world.households["xf1"].id
    for username in ("tj_recorder", "tj_village_admin", "tj_reviewer"):
        assert_error(api.as_(username).get(f"/households/{xf1}"), 404, "not_found")
        assert_error(api.as_(username).get(f"/households/{xf1}/entries"), 404, "not_found")
    # The same answer as for an id that does not exist at all.
    missing = api.as_("tj_recorder").get("/households/999999")
    assert missing.get_json() == api.as_("tj_recorder").get(f"/households/{xf1}").get_json()


def test_resident_sees_only_its_household(world, api):
    me = api.as_("tj_resident")
    assert me.get(f"/households/{world.households['tj1'].id}").status_code == 200
    assert me.get(f"/households/{world.households['tj1'].id}/entries").status_code == 200
    assert_error(me.get(f"/households/{world.households['tj2'].id}"), 404, "not_found")
    assert_error(me.get(f"/households/{world.households['tj2'].id}/entries"), 404, "not_found")


def test_entries_newest_first(world, api):
    h = world.households["tj1"]
    recorder = api.as_("tj_recorder")
    first = record(recorder, h, world.rules["tj_school"])
    second = record(recorder, h, world.rules["tj_labour"])
    r = recorder.get(f"/households/{h.id}/entries")
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [e["id"] for e in items[:2]] == [second["id"], first["id"]]
    assert [e["kind"] for e in items] == ["rule", "rule", "opening"]
    assert [e["points"] for e in items] == [5, 3, 100]
    assert r.get_json()["total"] == 3


def test_entries_filtered_by_period(world, api):
    h = world.households["tj1"]
    recorder = api.as_("tj_recorder")
    this_quarter = record(recorder, h, world.rules["tj_school"])
    earlier = TODAY.replace(month=1, day=15) if TODAY.month > 3 else TODAY.replace(year=TODAY.year - 1, month=12)
    old = record(recorder, h, world.rules["tj_school"], day=earlier)
    quarter, year = quarter_of(TODAY), year_of(TODAY)

    items = recorder.get(f"/households/{h.id}/entries?period={quarter}").get_json()["items"]
    assert this_quarter["id"] in [e["id"] for e in items]
    assert old["id"] not in [e["id"] for e in items]
    assert all(e["period"] == quarter for e in items)

    items = recorder.get(f"/households/{h.id}/entries?period={quarter_of(earlier)}").get_json()["items"]
    ids = [e["id"] for e in items]  # the world's own entries (2026-11-20) share 2026Q4 in January
    assert old["id"] in ids and this_quarter["id"] not in ids
    assert all(e["period"] == quarter_of(earlier) for e in items)

    items = recorder.get(f"/households/{h.id}/entries?period={year}").get_json()["items"]
    assert {e["period"][:4] for e in items} == {year}
    assert this_quarter["id"] in [e["id"] for e in items]
    # Lower-case is understood.
    assert recorder.get(f"/households/{h.id}/entries?period={quarter.lower()}").status_code == 200


def test_entries_of_fixed_periods(world, session, api):
    """2026Q4 and 2026 with service-recorded entries on fixed dates."""
    from datetime import date

    from app.points import services
    from tests.factories import NOW

    h = world.households["tj2"]
    for day in (date(2026, 3, 1), date(2026, 10, 1), date(2026, 11, 2)):
        services.record_entry(
            session,
            world.actor("tj_recorder"),
            household_id=h.id,
            rule_id=world.rules["tj_school"].id,
            occurred_on=day,
            today=date(2026, 11, 20),
            now=NOW,
        )
    session.commit()
    me = api.as_("tj_recorder")
    q4 = me.get(f"/households/{h.id}/entries?period=2026Q4").get_json()
    # Newest first is the passbook's order: the latest written line on top.
    assert [(e["kind"], e["occurred_on"]) for e in q4["items"]] == [
        ("rule", "2026-11-02"),
        ("rule", "2026-10-01"),
        ("opening", "2026-11-20"),
    ]
    assert q4["total"] == 3
    year = me.get(f"/households/{h.id}/entries?period=2026").get_json()
    assert year["total"] == 4
    assert me.get(f"/households/{h.id}/entries?period=2025").get_json() == {"items": [], "total": 0}
    paged = me.get(f"/households/{h.id}/entries?period=2026&per_page=2&page=2").get_json()
    assert [e["occurred_on"] for e in paged["items"]] == ["2026-03-01", "2026-11-20"]


@pytest.mark.parametrize("period", ["2026Q5", "Q3", "2026-Q3", "26Q1", "1999", "abc", "2026Q"])
def test_bad_period_is_422(world, api, period):
    r = api.as_("tj_recorder").get(f"/households/{world.households['tj1'].id}/entries?period={period}")
    err = assert_error(r, 422, "validation_error")
    assert "period" in err["details"]


def test_entries_pagination_limit(world, api):
    me = api.as_("tj_recorder")
    hid = world.households["tj1"].id
    assert_error(me.get(f"/households/{hid}/entries?per_page=501"), 422, "validation_error")
    assert me.get(f"/households/{hid}/entries?per_page=500").status_code == 200


def test_entry_fields(world, api):
    h = world.households["tj1"]
    e = record(api.as_("tj_recorder"), h, world.rules["tj_school"], day=TODAY - timedelta(days=1), quantity=2)
    assert e["household_id"] == h.id
    assert e["rule_id"] == world.rules["tj_school"].id
    assert e["kind"] == "rule"
    assert e["points"] == 6
    assert e["quantity"] == 2
    assert e["status"] == "approved"
    assert e["occurred_on"] == (TODAY - timedelta(days=1)).isoformat()
    assert e["period"] == quarter_of(TODAY - timedelta(days=1))
    assert e["recorded_by"] == world.users["tj_recorder"].id


def test_patch_changes_only_the_fields_sent_and_is_audited(world, session, api):
    h = world.households["tj1"]
    admin = api.as_("tj_village_admin")
    r = admin.patch(
        f"/households/{h.id}", json={"phone": "13900001111", "members": [{"name": "王小明", "relation": "子"}]}
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["number"], body["phone"], body["members"]) == (
        h.number,
        "13900001111",
        [{"name": "王小明", "relation": "子"}],
    )
    assert body["balance"] == 100  # the ledger is not touched
    session.expire_all()
    row = session.query(AuditLog).filter_by(action="household.update", target_id=h.id).one()
    assert "phone" in row.changes and "members" in row.changes


def test_patch_refuses_a_taken_number_a_bad_phone_and_other_villages(world, session, api):
    h = world.households["tj1"]
    admin = api.as_("tj_village_admin")
    err = assert_error(
        admin.patch(f"/households/{h.id}", json={"number": world.households["tj2"].number}), 422, "validation_error"
    )
    assert "number" in err["details"]
    assert (
        "phone"
        in assert_error(admin.patch(f"/households/{h.id}", json={"phone": "12"}), 422, "validation_error")["details"]
    )
    assert_error(
        admin.patch(f"/households/{world.households['xf1'].id}", json={"phone": "13900001111"}), 404, "not_found"
    )
    assert_error(api.as_("tj_recorder").patch(f"/households/{h.id}", json={"phone": "13900001111"}), 403, "forbidden")
    session.expire_all()
    assert session.get(Household, h.id).phone != "13900001111"


def test_move_out_keeps_the_history_and_leaves_the_standings(world, session, api):
    h = world.households["tj1"]
    record(api.as_("tj_recorder"), h, world.rules["tj_school"])
    r = api.as_("tj_village_admin").post(f"/households/{h.id}/move-out")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["moved_out_on"] == TODAY.isoformat()
    standings = (
        api.as_("tj_recorder").get(f"/leaderboards?period={quarter_of(TODAY)}&village_id={world.a.id}").get_json()
    )
    assert h.id not in [s["household_id"] for s in standings["items"]]
    assert len(api.as_("tj_recorder").get(f"/households/{h.id}/entries").get_json()["items"]) == 2  # opening + rule
    assert_error(
        api.as_("tj_recorder").post(
            "/entries",
            json={"household_id": h.id, "rule_id": world.rules["tj_school"].id, "occurred_on": TODAY.isoformat()},
        ),
        409,
        "household_moved_out",
    )
    # Moving out again changes nothing: the first date stands, one audit row.
    again = api.as_("tj_village_admin").post(f"/households/{h.id}/move-out")
    assert again.status_code == 200 and again.get_json()["moved_out_on"] == TODAY.isoformat()
    session.expire_all()
    assert session.query(AuditLog).filter_by(action="household.move_out", target_id=h.id).count() == 1
