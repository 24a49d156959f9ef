"""POST/GET /villages and PUT /villages/{id}/scheme."""

import pytest

from app.villages.models import Village

SCHEME = {
    "base_points": 50,
    "redeem_floor": 20,
    "yuan_per_point": 0.5,
    "approval_required": True,
    "notice_days": 5,
    "annual_reset": True,
}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def test_admin_creates_a_village(world, session, api):
    r = api.as_("admin").post("/villages", json={"name": "和平村", "code": "HP", "township": "上木拉乡"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "name", "code", "township", "region_id"}  # region_id: added in 2026-12
    assert body["name"] == "和平村" and body["code"] == "HP" and body["township"] == "上木拉乡"
    village = session.get(Village, body["id"])
    assert village.base_points == 100 and village.redeem_floor == 100 and village.approval_required is False


@pytest.mark.parametrize("username", ["tj_village_admin", "tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_only_an_admin_creates_villages(world, session, api, username):
    r = api.as_(username).post("/villages", json={"name": "和平村", "code": "HP", "township": "上木拉乡"})
    assert_error(r, 403, "forbidden")
    assert session.query(Village).filter_by(code="HP").count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "和平村", "code": "TJ", "township": "上木拉乡"}, "code"),
        ({"name": "和平村", "code": "tj", "township": "上木拉乡"}, "code"),  # taken, ignoring case
        ({"name": "和平村", "code": "H P", "township": "上木拉乡"}, "code"),
        ({"name": "和平村", "code": "", "township": "上木拉乡"}, "code"),
        ({"name": "和平村", "code": "X" * 31, "township": "上木拉乡"}, "code"),
        ({"name": "", "code": "HP", "township": "上木拉乡"}, "name"),
        ({"name": "村" * 101, "code": "HP", "township": "上木拉乡"}, "name"),
        ({"name": "和平村", "code": "HP", "township": ""}, "township"),
        ({"name": "和平村", "code": "HP"}, "township"),
        ({"name": "和平村", "code": 7, "township": "上木拉乡"}, "code"),
        ({"name": "和平村", "code": "HP", "township": "上木拉乡", "mayor": "x"}, "mayor"),
    ],
)
def test_bad_village_is_422(world, session, api, body, field):
    count = session.query(Village).count()
    err = assert_error(api.as_("admin").post("/villages", json=body), 422, "validation_error")
    assert field in err["details"]
    assert session.query(Village).count() == count


def test_list_villages(world, api):
    r = api.as_("tj_resident").get("/villages")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 2
    assert [v["code"] for v in body["items"]] == ["TJ", "XF"]
    assert set(body["items"][0]) == {"id", "name", "code", "township", "region_id"}
    r = api.as_("admin").get("/villages?township=别的乡")
    assert r.get_json() == {"items": [], "total": 0}


def test_put_scheme_answers_the_contract_fields(world, session, api):
    r = api.as_("tj_village_admin").put(f"/villages/{world.a.id}/scheme", json=SCHEME)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == SCHEME
    session.expire_all()
    assert session.get(Village, world.a.id).scheme() == SCHEME
    assert api.as_("admin").get(f"/villages/{world.a.id}/scheme").get_json() == SCHEME


def test_base_points_apply_to_households_created_afterwards(world, session, api):
    admin = api.as_("admin")
    assert admin.put(f"/villages/{world.a.id}/scheme", json=SCHEME | {"approval_required": False}).status_code == 200
    r = admin.post("/households", json={"village_id": world.a.id, "number": "TJ-100", "head_name": "新户"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["balance"] == 50
    assert r.get_json()["redeemable"] == 30
    # Existing balances are not touched by a scheme change.
    assert admin.get(f"/households/{world.households['tj1'].id}").get_json()["balance"] == 100


def test_zero_base_points_opens_no_entry(world, api):
    admin = api.as_("admin")
    admin.put(f"/villages/{world.a.id}/scheme", json=SCHEME | {"base_points": 0})
    r = admin.post("/households", json={"village_id": world.a.id, "number": "TJ-101", "head_name": "新户"})
    assert r.get_json()["balance"] == 0
    entries = admin.get(f"/households/{r.get_json()['id']}/entries").get_json()
    assert entries == {"items": [], "total": 0}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"base_points": "100"}, "base_points"),
        ({"base_points": -1}, "base_points"),
        ({"base_points": 1.5}, "base_points"),
        ({"base_points": None}, "base_points"),
        ({"base_points": True}, "base_points"),
        ({"base_points": 100_001}, "base_points"),
        ({"redeem_floor": -5}, "redeem_floor"),
        ({"redeem_floor": "0"}, "redeem_floor"),
        ({"yuan_per_point": 0}, "yuan_per_point"),
        ({"yuan_per_point": -1.0}, "yuan_per_point"),
        ({"yuan_per_point": "1.0"}, "yuan_per_point"),
        ({"yuan_per_point": 5000}, "yuan_per_point"),
        ({"yuan_per_point": 0.004}, "yuan_per_point"),  # kept to the fen: it would be stored as 0
        ({"approval_required": "yes"}, "approval_required"),
        ({"approval_required": 1}, "approval_required"),
        ({"annual_reset": None}, "annual_reset"),
        ({"notice_days": 91}, "notice_days"),
        ({"notice_days": -1}, "notice_days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_scheme_is_422(world, session, api, changes, field):
    r = api.as_("admin").put(f"/villages/{world.a.id}/scheme", json=SCHEME | changes)
    err = assert_error(r, 422, "validation_error")
    assert field in err["details"]
    session.expire_all()
    assert session.get(Village, world.a.id).base_points == 100


def test_scheme_needs_every_field(world, api):
    partial = {k: v for k, v in SCHEME.items() if k != "notice_days"}
    err = assert_error(api.as_("admin").put(f"/villages/{world.a.id}/scheme", json=partial), 422, "validation_error")
    assert "notice_days" in err["details"]


def test_another_villages_official_gets_404(world, session, api):
    r = api.as_("xf_village_admin").put(f"/villages/{world.a.id}/scheme", json=SCHEME)
    assert_error(r, 404, "not_found")
    assert_error(api.as_("xf_village_admin").get(f"/villages/{world.a.id}/scheme"), 404, "not_found")
    assert_error(api.as_("admin").put("/villages/999999/scheme", json=SCHEME), 404, "not_found")
    session.expire_all()
    assert session.get(Village, world.a.id).base_points == 100


@pytest.mark.parametrize("username", ["tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_only_village_admins_change_the_scheme(world, api, username):
    assert_error(api.as_(username).put(f"/villages/{world.a.id}/scheme", json=SCHEME), 403, "forbidden")


def test_scheme_change_is_audited(world, session, api):
    from app.audit.models import AuditLog

    api.as_("tj_village_admin").put(f"/villages/{world.a.id}/scheme", json=SCHEME)
    row = session.query(AuditLog).filter_by(action="village.scheme").one()
    assert row.changes["base_points"] == [100, 50]
    assert row.village_id == world.a.id
