"""/rules, /entries, approvals, reversals, evidence and Idempotency-Key through HTTP.

The API's "today" is the real clock in Asia/Shanghai, so entries here are dated today.
"""

import io
import json
import struct
import zlib
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.clock import local_today, quarter_of, year_of
from app.errors import CapReached
from app.points import services
from app.points.models import Entry, Rule
from tests import factories

TODAY = local_today("Asia/Shanghai")


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["details"], dict)
    assert body["error"]["code"] == code, body
    return body["error"]


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    return out.getvalue()


def entries_in_db(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Entry.id)))


def entry_body(household, rule, **extra):
    return {"household_id": household.id, "rule_id": rule.id, "occurred_on": TODAY.isoformat(), **extra}


def account(api, household):
    r = api.as_("admin").get(f"/households/{household.id}")
    assert r.status_code == 200
    return r.get_json()


RULE = {
    "code": "NEW-RULE",
    "name": "参加义诊",
    "category": "志愿服务",
    "points": 4,
    "cap_period": "week",
    "cap_count": 2,
    "veto": False,
    "requires_evidence": False,
}


def test_create_rule(world, api):
    r = api.as_("tj_village_admin").post("/rules", json=RULE | {"village_id": world.a.id})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["id"] > 0 and body["active"] is True and body["village_id"] == world.a.id
    assert {k: body[k] for k in RULE} == RULE


def test_create_rule_defaults(world, api):
    body = {"village_id": world.a.id, "code": "MIN", "name": "最简", "category": "邻里和睦", "points": -3}
    r = api.as_("admin").post("/rules", json=body)
    assert r.status_code == 201
    got = r.get_json()
    assert (got["cap_period"], got["cap_count"], got["veto"], got["requires_evidence"]) == (None, None, False, False)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"category": "唱歌跳舞"}, "category"),
        ({"points": 0}, "points"),
        ({"points": "4"}, "points"),
        ({"points": 4.5}, "points"),
        ({"points": 5000}, "points"),
        ({"cap_count": None}, "cap_count"),
        ({"cap_period": None}, "cap_count"),
        ({"cap_period": "fortnight"}, "cap_period"),
        ({"cap_count": 0}, "cap_count"),
        ({"cap_count": "2"}, "cap_count"),
        ({"veto": "false"}, "veto"),
        ({"veto": 0}, "veto"),
        ({"code": "VOL-LABOUR"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "C" * 31}, "code"),
        ({"name": "N" * 101}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rule_is_422(world, session, api, changes, field):
    before = session.query(Rule).count()
    r = api.as_("tj_village_admin").post("/rules", json=RULE | {"village_id": world.a.id} | changes)
    err = assert_error(r, 422, "validation_error")
    assert field in err["details"]
    assert session.query(Rule).count() == before


def test_rule_missing_fields_are_named(world, api):
    err = assert_error(api.as_("admin").post("/rules", json={}), 422, "validation_error")
    assert {"village_id", "code", "name", "category", "points"} <= set(err["details"])


def test_rule_for_a_village_out_of_scope_is_a_bad_reference(world, api):
    err = assert_error(
        api.as_("tj_village_admin").post("/rules", json=RULE | {"village_id": world.b.id}), 400, "not_found"
    )
    assert err["details"] == {"field": "village_id"}


@pytest.mark.parametrize("username", ["tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_only_village_admins_write_rules(world, api, username):
    me = api.as_(username)
    assert_error(me.post("/rules", json=RULE | {"village_id": world.a.id}), 403, "forbidden")
    assert_error(me.patch(f"/rules/{world.rules['tj_school'].id}", json={"active": False}), 403, "forbidden")


def test_list_rules(world, api):
    r = api.as_("tj_recorder").get("/rules")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 4
    assert {x["code"] for x in body["items"]} == {"VOL-LABOUR", "WORK-SCHOOL", "LAW-GAMBLE", "CLEAN-COURTYARD"}
    assert {x["village_id"] for x in body["items"]} == {world.a.id}
    # Another village's list is 404 for an official, not its own instead.
    assert_error(api.as_("tj_recorder").get(f"/rules?village_id={world.b.id}"), 404, "not_found")
    r = api.as_("tj_recorder").get(f"/rules?village_id={world.a.id}")
    assert {x["village_id"] for x in r.get_json()["items"]} == {world.a.id}
    # The admin names the village.
    assert api.as_("admin").get("/rules").get_json()["total"] == 8  # every village's
    r = api.as_("admin").get(f"/rules?village_id={world.b.id}")
    assert {x["village_id"] for x in r.get_json()["items"]} == {world.b.id}


def test_patch_rule_inactive_then_recording_is_409(world, session, api):
    rule = world.rules["tj_school"]
    r = api.as_("tj_village_admin").patch(f"/rules/{rule.id}", json={"active": False})
    assert r.status_code == 200
    assert r.get_json()["active"] is False
    before = entries_in_db(session)
    r = api.as_("tj_recorder").post("/entries", json=entry_body(world.households["tj1"], rule))
    assert_error(r, 409, "rule_inactive")
    assert entries_in_db(session) == before
    assert account(api, world.households["tj1"])["balance"] == 100


def test_active_filter(world, api):
    api.as_("tj_village_admin").patch(f"/rules/{world.rules['tj_school'].id}", json={"active": False})
    codes = {x["code"] for x in api.as_("tj_recorder").get("/rules?active=true").get_json()["items"]}
    assert codes == {"VOL-LABOUR", "LAW-GAMBLE", "CLEAN-COURTYARD"}
    assert api.as_("tj_recorder").get("/rules").get_json()["total"] == 4


def test_changing_a_rules_points_leaves_recorded_entries_alone(world, session, api):
    rule, h = world.rules["tj_school"], world.households["tj1"]
    first = api.as_("tj_recorder").post("/entries", json=entry_body(h, rule)).get_json()
    r = api.as_("tj_village_admin").patch(f"/rules/{rule.id}", json={"points": 10, "name": "参加夜校（新）"})
    assert r.status_code == 200 and r.get_json()["points"] == 10
    second = api.as_("tj_recorder").post("/entries", json=entry_body(h, rule)).get_json()
    items = api.as_("tj_recorder").get(f"/households/{h.id}/entries").get_json()["items"]
    by_id = {e["id"]: e for e in items}
    assert (by_id[first["id"]]["points"], by_id[first["id"]]["title"]) == (3, "参加夜校")
    assert (by_id[second["id"]]["points"], by_id[second["id"]]["title"]) == (10, "参加夜校（新）")
    assert account(api, h)["balance"] == 113


@pytest.mark.parametrize(
    "patch, field",
    [({"points": 0}, "points"), ({"active": "no"}, "active"), ({"cap_period": None}, "cap_count"), ({"x": 1}, "x")],
)
def test_bad_rule_patch_is_422(world, api, patch, field):
    r = api.as_("tj_village_admin").patch(f"/rules/{world.rules['tj_labour'].id}", json=patch)
    assert field in assert_error(r, 422, "validation_error")["details"]


def test_another_villages_rule_is_404(world, api):
    rid = world.rules["xf_school"].id
    assert_error(api.as_("tj_village_admin").patch(f"/rules/{rid}", json={"active": False}), 404, "not_found")
    assert_error(api.as_("tj_recorder").get(f"/rules/{rid}"), 404, "not_found")
    assert api.as_("xf_recorder").get(f"/rules/{rid}").get_json()["code"] == "WORK-SCHOOL"


def test_record_entry(world, session, api):
    h, rule = world.households["tj1"], world.rules["tj_school"]
    r = api.as_("tj_recorder").post("/entries", json=entry_body(h, rule, quantity=2, note="夜校", member_name="王一"))
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert e["id"] > 0
    assert (e["household_id"], e["rule_id"], e["kind"], e["points"], e["status"]) == (
        h.id,
        rule.id,
        "rule",
        6,
        "approved",
    )
    assert (e["occurred_on"], e["period"]) == (TODAY.isoformat(), quarter_of(TODAY))
    assert e["recorded_by"] == world.users["tj_recorder"].id
    assert (e["note"], e["member_name"], e["quantity"]) == ("夜校", "王一", 2)
    acc = account(api, h)
    assert acc["balance"] == 106
    assert acc["period_points"] == {"quarter": 6, "year": 6}


def test_entry_in_approval_village_is_pending(world, api):
    h = world.households["xf1"]
    r = api.as_("xf_recorder").post("/entries", json=entry_body(h, world.rules["xf_school"]))
    assert r.status_code == 201
    assert r.get_json()["status"] == "pending"
    acc = account(api, h)
    assert acc["balance"] == 100 and acc["period_points"] == {"quarter": 0, "year": 0}
    queue = api.as_("xf_reviewer").get("/entries?status=pending").get_json()
    assert [e["id"] for e in queue["items"]] == [r.get_json()["id"]]


def test_cap_reached(world, session, api):
    h, rule = world.households["tj1"], world.rules["tj_labour"]  # once a day
    me = api.as_("tj_recorder")
    assert me.post("/entries", json=entry_body(h, rule)).status_code == 201
    err = assert_error(me.post("/entries", json=entry_body(h, rule)), 409, "cap_reached")
    assert err["details"] == {"cap_count": 1, "used": 1}
    assert account(api, h)["balance"] == 105


def test_cap_counts_pending_units_but_not_reversed_ones(world, session, api):
    rule = factories.rule(session, world.admin, world.b, "CAP-3", 1, cap_period="day", cap_count=3)
    session.commit()
    h = world.households["xf1"]
    me = api.as_("xf_recorder")
    pending = me.post("/entries", json=entry_body(h, rule, quantity=2)).get_json()
    assert pending["status"] == "pending"
    err = assert_error(me.post("/entries", json=entry_body(h, rule, quantity=2)), 409, "cap_reached")
    assert err["details"] == {"cap_count": 3, "used": 2}
    assert api.as_("xf_reviewer").post(f"/entries/{pending['id']}/approve").status_code == 200
    r = api.as_("xf_reviewer").post(f"/entries/{pending['id']}/reverse", json={"reason": "记错"})
    assert r.status_code == 201
    again = me.post("/entries", json=entry_body(h, rule, quantity=3))
    assert again.status_code == 201, again.get_json()


def test_evidence_required_then_uploaded(world, api):
    h, rule = world.households["tj1"], world.rules["tj_photo"]
    me = api.as_("tj_recorder")
    assert_error(me.post("/entries", json=entry_body(h, rule)), 409, "evidence_required")
    r = me.post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(png_bytes()), "yard.png")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()
    assert ev["content_type"] == "image/png" and ev["size"] > 0
    e = me.post("/entries", json=entry_body(h, rule, evidence_id=ev["id"]))
    assert e.status_code == 201, e.get_json()
    assert e.get_json()["evidence_id"] == ev["id"] and e.get_json()["points"] == 15
    photo = me.get(f"/evidence/{ev['id']}")
    assert photo.status_code == 200 and photo.mimetype == "image/png" and len(photo.data) == ev["size"]
    assert Image.open(io.BytesIO(photo.data)).tobytes() == Image.open(io.BytesIO(png_bytes())).tobytes()
    # Another village's official never sees it.
    assert_error(api.as_("xf_recorder").get(f"/evidence/{ev['id']}"), 404, "not_found")


@pytest.mark.parametrize(
    "upload",
    [(b"%PDF-1.4 not a photo", "doc.pdf"), (b"hello", "photo.png"), (b"", "empty.jpg")],
)
def test_non_image_upload_is_422(world, api, upload):
    data, name = upload
    r = api.as_("tj_recorder").post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert "evidence" in assert_error(r, 422, "validation_error")["details"]


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (CRC kept valid)."""
    data = bytearray(png_bytes())
    struct.pack_into(">II", data, 16, width, height)  # IHDR's data follows the signature, length and type
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_decompression_bomb_upload_is_422(world, session, api):
    """A few bytes that claim 400 million pixels: Pillow refuses to open them, which is a
    422 like any other photo it cannot read, not a 500."""
    from app.points.models import Evidence

    r = api.as_("tj_recorder").post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(png_claiming(20_000, 20_000)), "a.png")},
        content_type="multipart/form-data",
    )
    assert "evidence" in assert_error(r, 422, "validation_error")["details"]
    assert session.query(Evidence).count() == 0


def test_evidence_upload_needs_a_village(world, api):
    me = api.as_("tj_recorder")
    r = me.post("/evidence", data={"file": (io.BytesIO(png_bytes()), "a.png")}, content_type="multipart/form-data")
    assert "village_id" in assert_error(r, 422, "validation_error")["details"]
    r = me.post(
        "/evidence",
        data={"village_id": str(world.b.id), "file": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert_error(r, 400, "not_found")


def test_unknown_evidence_is_a_bad_reference(world, api):
    r = api.as_("tj_recorder").post(
        "/entries", json=entry_body(world.households["tj1"], world.rules["tj_photo"], evidence_id="nope")
    )
    assert assert_error(r, 400, "not_found")["details"] == {"field": "evidence_id"}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -2}, "quantity"),
        ({"quantity": 10**9}, "quantity"),
        ({"quantity": "1"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"occurred_on": "2026-02-30"}, "occurred_on"),
        ({"occurred_on": "20261120"}, "occurred_on"),
        ({"occurred_on": "2026-11-20T08:00:00"}, "occurred_on"),
        ({"occurred_on": (TODAY + timedelta(days=1)).isoformat()}, "occurred_on"),
        ({"occurred_on": "1999-12-31"}, "occurred_on"),
        ({"occurred_on": None}, "occurred_on"),
        ({"household_id": "1"}, "household_id"),
        ({"rule_id": None}, "rule_id"),
        ({"note": ["a"]}, "note"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_entry_is_422(world, session, api, changes, field):
    before = entries_in_db(session)
    r = api.as_("tj_recorder").post(
        "/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]) | changes
    )
    assert field in assert_error(r, 422, "validation_error")["details"]
    assert entries_in_db(session) == before


def test_missing_entry_fields_are_named(world, api):
    err = assert_error(api.as_("tj_recorder").post("/entries", json={}), 422, "validation_error")
    assert {"household_id", "rule_id", "occurred_on"} <= set(err["details"])


@pytest.mark.parametrize(
    "data, content_type",
    [
        ('{"household_id": 1,', "application/json"),
        ("[1, 2]", "application/json"),
        ('"just a string"', "application/json"),
        ("null", "application/json"),
        ("\xff\xfe", "application/json"),
    ],
)
def test_malformed_body_is_400(world, session, api, data, content_type):
    before = entries_in_db(session)
    r = api.as_("tj_recorder").post("/entries", data=data, content_type=content_type)
    assert_error(r, 400, "validation_error")
    assert entries_in_db(session) == before


def test_references_to_another_village_are_400_and_write_nothing(world, session, api):
    before = entries_in_db(session)
    me = api.as_("tj_recorder")
    err = assert_error(
        me.post("/entries", json=entry_body(world.households["xf1"], world.rules["tj_school"])), 400, "not_found"
    )
    assert err["details"] == {"field": "household_id"}
    err = assert_error(
        me.post("/entries", json=entry_body(world.households["tj1"], world.rules["xf_school"])), 400, "not_found"
    )
    assert err["details"] == {"field": "rule_id"}
    body = {"household_id": 999999, "rule_id": world.rules["tj_school"].id, "occurred_on": TODAY.isoformat()}
    assert_error(me.post("/entries", json=body), 400, "not_found")
    assert entries_in_db(session) == before
    assert account(api, world.households["xf1"])["balance"] == 100


@pytest.mark.parametrize("username", ["tj_resident", "tj_clerk", "tj_village_admin", "tj_reviewer"])
def test_only_recorders_record(world, session, api, username):
    before = entries_in_db(session)
    r = api.as_(username).post("/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]))
    assert_error(r, 403, "forbidden")
    assert entries_in_db(session) == before


def test_batch_creates_and_skips(world, session, api):
    from app.households.services import move_out

    rule = world.rules["tj_labour"]
    tj1, tj2, tj3 = (world.households[k] for k in ("tj1", "tj2", "tj3"))
    move_out(session, world.actor("tj_village_admin"), tj3.id, TODAY)
    session.commit()
    me = api.as_("tj_recorder")
    assert me.post("/entries", json=entry_body(tj2, rule)).status_code == 201
    body = {
        "rule_id": rule.id,
        "household_ids": [tj1.id, tj2.id, tj3.id, world.households["xf1"].id, 999999, tj1.id],
        "occurred_on": TODAY.isoformat(),
        "note": "清扫河道",
    }
    r = me.post("/entries/batch", json=body)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert [(e["household_id"], e["points"], e["status"], e["note"]) for e in out["created"]] == [
        (tj1.id, 5, "approved", "清扫河道")
    ]
    assert out["skipped"] == [
        {"household_id": hid, "account_id": hid, "reason": reason}
        for hid, reason in (
            (tj2.id, "cap_reached"),
            (tj3.id, "moved_out"),
            (world.households["xf1"].id, "not_found"),
            (999999, "not_found"),
            (tj1.id, "duplicate"),
        )
    ]
    assert account(api, tj1)["balance"] == 105
    assert account(api, world.households["xf1"])["balance"] == 100


def test_batch_is_all_or_nothing(world, session, api, monkeypatch):
    """A failure after some rows were written leaves none of them."""
    real = services._rule_entry
    calls = []

    def fail_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise CapReached(cap_count=1, used=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_rule_entry", fail_on_third)
    before = entries_in_db(session)
    ids = [world.households[k].id for k in ("tj1", "tj2", "tj3")]
    body = {"rule_id": world.rules["tj_school"].id, "household_ids": ids, "occurred_on": TODAY.isoformat()}
    assert_error(api.as_("tj_recorder").post("/entries/batch", json=body), 409, "cap_reached")
    assert len(calls) == 3
    assert entries_in_db(session) == before
    assert [account(api, world.households[k])["balance"] for k in ("tj1", "tj2", "tj3")] == [100, 100, 100]


@pytest.mark.parametrize(
    "changes, status, code",
    [
        ({"household_ids": []}, 422, "validation_error"),
        ({"household_ids": ["1"]}, 422, "validation_error"),
        ({"household_ids": None}, 422, "validation_error"),
        ({"household_ids": 5}, 422, "validation_error"),
        ({"household_ids": list(range(1, 2002))}, 422, "validation_error"),
        ({"occurred_on": "2026-13-01"}, 422, "validation_error"),
        ({"quantity": 2}, 422, "validation_error"),
        ({"rule_id": 999999}, 400, "not_found"),
    ],
)
def test_bad_batch(world, session, api, changes, status, code):
    before = entries_in_db(session)
    body = {
        "rule_id": world.rules["tj_school"].id,
        "household_ids": [world.households["tj1"].id],
        "occurred_on": TODAY.isoformat(),
    }
    assert_error(api.as_("tj_recorder").post("/entries/batch", json=body | changes), status, code)
    assert entries_in_db(session) == before


def test_batch_with_another_villages_rule_is_400(world, api):
    body = {
        "rule_id": world.rules["xf_school"].id,
        "household_ids": [world.households["tj1"].id],
        "occurred_on": TODAY.isoformat(),
    }
    assert_error(api.as_("tj_recorder").post("/entries/batch", json=body), 400, "not_found")
    assert_error(api.as_("tj_clerk").post("/entries/batch", json=body), 403, "forbidden")


def pending_entry(api, world, key="xf1", rule="xf_school", who="xf_recorder"):
    r = api.as_(who).post("/entries", json=entry_body(world.households[key], world.rules[rule]))
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    return r.get_json()


def test_approve(world, api):
    e = pending_entry(api, world)
    r = api.as_("xf_reviewer").post(f"/entries/{e['id']}/approve")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["id"], body["status"], body["approved_by"]) == (e["id"], "approved", world.users["xf_reviewer"].id)
    assert body["decided_at"]
    acc = account(api, world.households["xf1"])
    assert acc["balance"] == 103 and acc["period_points"] == {"quarter": 3, "year": 3}
    assert_error(api.as_("xf_reviewer2").post(f"/entries/{e['id']}/approve"), 409, "not_pending")
    assert account(api, world.households["xf1"])["balance"] == 103


def test_self_approval_is_409(world, session, api):
    factories.user(session, "xf_both", ["recorder", "reviewer"], world.b)
    session.commit()
    e = pending_entry(api, world, who="xf_both")
    assert_error(api.as_("xf_both").post(f"/entries/{e['id']}/approve"), 409, "self_approval")
    assert_error(api.as_("xf_both").post(f"/entries/{e['id']}/reject", json={"reason": "x"}), 409, "self_approval")
    assert account(api, world.households["xf1"])["balance"] == 100
    # The admin is a recorder and a reviewer too, and may not approve its own either.
    mine = pending_entry(api, world, key="xf2", who="admin")
    assert_error(api.as_("admin").post(f"/entries/{mine['id']}/approve"), 409, "self_approval")


@pytest.mark.parametrize("username", ["xf_recorder", "xf_village_admin", "xf_clerk", "xf_resident"])
def test_only_reviewers_decide(world, api, username):
    e = pending_entry(api, world)
    assert_error(api.as_(username).post(f"/entries/{e['id']}/approve"), 403, "forbidden")
    assert_error(api.as_(username).post(f"/entries/{e['id']}/reject", json={"reason": "x"}), 403, "forbidden")
    assert_error(api.as_(username).post(f"/entries/{e['id']}/reverse", json={"reason": "x"}), 403, "forbidden")


def test_another_villages_reviewer_gets_404(world, api):
    e = pending_entry(api, world)
    assert_error(api.as_("tj_reviewer").post(f"/entries/{e['id']}/approve"), 404, "not_found")
    assert_error(api.as_("tj_reviewer").get(f"/entries/{e['id']}"), 404, "not_found")
    assert_error(api.as_("xf_reviewer").post("/entries/999999/approve"), 404, "not_found")


def test_reject_needs_a_reason_then_approve_is_not_pending(world, api):
    e = pending_entry(api, world)
    reviewer = api.as_("xf_reviewer")
    assert (
        "reason"
        in assert_error(reviewer.post(f"/entries/{e['id']}/reject", json={}), 422, "validation_error")["details"]
    )
    assert (
        "reason"
        in assert_error(reviewer.post(f"/entries/{e['id']}/reject", json={"reason": "  "}), 422, "validation_error")[
            "details"
        ]
    )
    r = reviewer.post(f"/entries/{e['id']}/reject", json={"reason": "当天没有活动"})
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["reject_reason"]) == ("rejected", "当天没有活动")
    assert_error(api.as_("xf_reviewer2").post(f"/entries/{e['id']}/approve"), 409, "not_pending")
    assert_error(reviewer.post(f"/entries/{e['id']}/reject", json={"reason": "again"}), 409, "not_pending")
    assert account(api, world.households["xf1"])["balance"] == 100


def test_approving_an_immediate_entry_is_not_pending(world, api):
    e = api.as_("tj_recorder").post("/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]))
    assert_error(api.as_("tj_reviewer").post(f"/entries/{e.get_json()['id']}/approve"), 409, "not_pending")


def test_reverse(world, session, api):
    h = world.households["tj1"]
    e = api.as_("tj_recorder").post("/entries", json=entry_body(h, world.rules["tj_school"], quantity=3)).get_json()
    assert account(api, h)["period_points"] == {"quarter": 9, "year": 9}
    before = entries_in_db(session)
    r = api.as_("tj_reviewer").post(f"/entries/{e['id']}/reverse", json={"reason": "记错户了"})
    assert r.status_code == 201, r.get_json()
    rev = r.get_json()
    assert rev["kind"] == "reversal"
    assert rev["points"] == -9
    assert rev["reverses_id"] == e["id"]
    assert rev["household_id"] == h.id and rev["status"] == "approved"
    assert rev["occurred_on"] == e["occurred_on"]
    assert entries_in_db(session) == before + 1
    acc = account(api, h)
    assert acc["balance"] == 100 and acc["period_points"] == {"quarter": 0, "year": 0}
    original = api.as_("tj_reviewer").get(f"/entries/{e['id']}").get_json()
    assert (original["points"], original["status"], original["reversed_by_id"]) == (9, "approved", rev["id"])
    assert_error(
        api.as_("tj_reviewer2").post(f"/entries/{e['id']}/reverse", json={"reason": "再来"}), 409, "already_reversed"
    )
    assert_error(
        api.as_("tj_reviewer").post(f"/entries/{rev['id']}/reverse", json={"reason": "撤销冲正"}),
        409,
        "already_reversed",
    )
    assert entries_in_db(session) == before + 1
    assert account(api, h)["balance"] == 100


def test_reversing_a_pending_entry_is_refused(world, session, api):
    e = pending_entry(api, world)
    before = entries_in_db(session)
    err = assert_error(
        api.as_("xf_reviewer").post(f"/entries/{e['id']}/reverse", json={"reason": "x"}), 409, "not_approved"
    )
    assert err["message"]
    assert entries_in_db(session) == before


def test_reverse_needs_a_reason(world, api):
    e = api.as_("tj_recorder").post("/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]))
    r = api.as_("tj_reviewer").post(f"/entries/{e.get_json()['id']}/reverse", json={"reason": ""})
    assert "reason" in assert_error(r, 422, "validation_error")["details"]


def leaderboard_row(api, world, household, period):
    r = api.as_("tj_resident").get(f"/leaderboards?period={period}&village_id={world.a.id}")
    assert r.status_code == 200
    return next(row for row in r.get_json()["items"] if row["household_id"] == household.id)


def test_veto_makes_a_household_ineligible_until_reversed(world, api):
    h = world.households["tj2"]
    for period in (quarter_of(TODAY), year_of(TODAY)):
        assert leaderboard_row(api, world, h, period)["eligible"] is True
    api.as_("tj_recorder").post("/entries", json=entry_body(h, world.rules["tj_school"]))
    veto = api.as_("tj_recorder").post("/entries", json=entry_body(h, world.rules["tj_gamble"])).get_json()
    for period in (quarter_of(TODAY), year_of(TODAY)):
        row = leaderboard_row(api, world, h, period)
        assert (row["eligible"], row["points"]) == (False, -17)
    assert account(api, h)["eligible"] == {"quarter": False, "year": False}
    r = api.as_("tj_reviewer").post(f"/entries/{veto['id']}/reverse", json={"reason": "查无实据"})
    assert r.status_code == 201
    for period in (quarter_of(TODAY), year_of(TODAY)):
        row = leaderboard_row(api, world, h, period)
        assert (row["eligible"], row["points"]) == (True, 3)


def test_pending_veto_does_not_count(world, api):
    h = world.households["xf2"]
    api.as_("xf_recorder").post("/entries", json=entry_body(h, world.rules["xf_gamble"]))
    r = api.as_("xf_resident").get(f"/leaderboards?period={quarter_of(TODAY)}&village_id={world.b.id}")
    row = next(x for x in r.get_json()["items"] if x["household_id"] == h.id)
    assert (row["eligible"], row["points"]) == (True, 0)


def test_same_key_same_body_replays_the_first_answer(world, session, api):
    me = api.as_("tj_recorder")
    body = entry_body(world.households["tj1"], world.rules["tj_school"])
    headers = {"Idempotency-Key": "entry-0001"}
    first = me.post("/entries", json=body, headers=headers)
    assert first.status_code == 201
    before = entries_in_db(session)
    # The same JSON with keys in another order is the same body.
    second = me.post(
        "/entries", data=json.dumps(dict(reversed(body.items()))), content_type="application/json", headers=headers
    )
    assert second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert entries_in_db(session) == before
    assert account(api, world.households["tj1"])["balance"] == 103


def test_same_key_different_body_is_409(world, session, api):
    me = api.as_("tj_recorder")
    headers = {"Idempotency-Key": "k-1"}
    assert (
        me.post(
            "/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]), headers=headers
        ).status_code
        == 201
    )
    before = entries_in_db(session)
    r = me.post("/entries", json=entry_body(world.households["tj2"], world.rules["tj_school"]), headers=headers)
    assert_error(r, 409, "idempotency_conflict")
    # Another endpoint with the same key is a different request too.
    r = me.post(
        "/entries/batch",
        json={
            "rule_id": world.rules["tj_school"].id,
            "household_ids": [world.households["tj2"].id],
            "occurred_on": TODAY.isoformat(),
        },
        headers=headers,
    )
    assert_error(r, 409, "idempotency_conflict")
    assert entries_in_db(session) == before
    assert account(api, world.households["tj2"])["balance"] == 100


@pytest.mark.parametrize("key, status", [("k" * 255, 201), ("k" * 256, 422), ("", 422)])
def test_key_length(world, session, api, key, status):
    before = entries_in_db(session)
    r = api.as_("tj_recorder").post(
        "/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"]), headers={"Idempotency-Key": key}
    )
    if status == 422:
        assert "Idempotency-Key" in assert_error(r, 422, "validation_error")["details"]
        assert entries_in_db(session) == before
    else:
        assert r.status_code == 201
        assert entries_in_db(session) == before + 1


def test_keys_are_per_user(world, session, api):
    headers = {"Idempotency-Key": "shared-key"}
    body = entry_body(world.households["tj1"], world.rules["tj_school"])
    a = api.as_("tj_recorder").post("/entries", json=body, headers=headers)
    b = api.as_("admin").post("/entries", json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]
    assert b.get_json()["recorded_by"] == world.users["admin"].id
    assert account(api, world.households["tj1"])["balance"] == 106


def test_a_refused_request_does_not_burn_its_key(world, session, api):
    me = api.as_("tj_recorder")
    headers = {"Idempotency-Key": "retry-me"}
    rule = world.rules["tj_school"]
    api.as_("tj_village_admin").patch(f"/rules/{rule.id}", json={"active": False})
    body = entry_body(world.households["tj1"], rule)
    assert_error(me.post("/entries", json=body, headers=headers), 409, "rule_inactive")
    api.as_("tj_village_admin").patch(f"/rules/{rule.id}", json={"active": True})
    assert me.post("/entries", json=body, headers=headers).status_code == 201
    assert me.post("/entries", json=body, headers=headers).headers.get("Idempotent-Replayed") == "true"
    assert account(api, world.households["tj1"])["balance"] == 103


def test_created_entries_answer_exactly_what_their_documented_schema_would(world, session, api):
    """POST /entries and /entries/batch answer ``prebuilt`` bodies dumped through EntryOut:
    each must equal what GET /entries/<id> (flask-smorest's own dump) answers."""
    from app.points.schemas import EntryOut

    me = api.as_("tj_recorder")
    one = me.post("/entries", json=entry_body(world.households["tj1"], world.rules["tj_school"], note="夜校"))
    assert one.status_code == 201
    body = one.get_json()
    assert body["occurred_on"] == TODAY.isoformat()
    assert body == me.get(f"/entries/{body['id']}").get_json()
    assert set(body) == set(EntryOut().fields)
    ids = [world.households["tj1"].id, world.households["tj2"].id, 999_999]
    batch = me.post(
        "/entries/batch",
        json={"rule_id": world.rules["tj_school"].id, "household_ids": ids, "occurred_on": TODAY.isoformat()},
    ).get_json()
    assert [s["reason"] for s in batch["skipped"]] == ["not_found"]
    assert batch["skipped"] == [{"household_id": 999_999, "account_id": 999_999, "reason": "not_found"}]
    assert batch["created"] and all(e == me.get(f"/entries/{e['id']}").get_json() for e in batch["created"])


def test_a_retry_the_cap_would_now_refuse_still_replays(world, session, api):
    """The first attempt used the day's cap: the retry's own work is refused, yet the
    client gets the first answer (and a different body under the key is a conflict)."""
    me = api.as_("tj_recorder")
    body = entry_body(world.households["tj1"], world.rules["tj_labour"])  # once a day
    first = me.post("/entries", json=body, headers={"Idempotency-Key": "labour-1"})
    assert first.status_code == 201
    again = me.post("/entries", json=body, headers={"Idempotency-Key": "labour-1"})
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = dict(body, note="另一次")
    assert_error(me.post("/entries", json=other, headers={"Idempotency-Key": "labour-1"}), 409, "idempotency_conflict")
    assert_error(me.post("/entries", json=body, headers={"Idempotency-Key": "labour-2"}), 409, "cap_reached")
    assert account(api, world.households["tj1"])["balance"] == 105


def test_idempotent_batch_and_reversal(world, session, api):
    ids = [world.households["tj1"].id, world.households["tj2"].id]
    body = {"rule_id": world.rules["tj_school"].id, "household_ids": ids, "occurred_on": TODAY.isoformat()}
    me = api.as_("tj_recorder")
    first = me.post("/entries/batch", json=body, headers={"Idempotency-Key": "b1"})
    second = me.post("/entries/batch", json=body, headers={"Idempotency-Key": "b1"})
    assert first.status_code == second.status_code == 201
    assert [e["id"] for e in first.get_json()["created"]] == [e["id"] for e in second.get_json()["created"]]
    assert account(api, world.households["tj1"])["balance"] == 103

    eid = first.get_json()["created"][0]["id"]
    reviewer = api.as_("tj_reviewer")
    r1 = reviewer.post(f"/entries/{eid}/reverse", json={"reason": "x"}, headers={"Idempotency-Key": "r1"})
    r2 = reviewer.post(f"/entries/{eid}/reverse", json={"reason": "x"}, headers={"Idempotency-Key": "r1"})
    assert r1.status_code == r2.status_code == 201
    assert r1.get_json()["id"] == r2.get_json()["id"]
    assert account(api, world.households["tj1"])["balance"] == 100


GARBAGE = [None, [], {}, [{}], "", "x" * 100_000, "a\x00b", -1, 0, 2**31, 10**30, 1.5, True, {"$gt": 1}]
HUGE_BODY = {"k" * 1000: "v" * 100_000}


def valid_bodies(world) -> dict[str, dict]:
    return {
        "/auth/token": {"username": "admin", "password": factories.PASSWORD},
        "/villages": {"name": "新村", "code": "NEW", "township": "上木拉乡"},
        "/users": {"username": "garbage", "password": "long-enough", "roles": ["recorder"], "village_id": world.a.id},
        "/households": {
            "village_id": world.a.id,
            "number": "G-1",
            "head_name": "某",
            "members": [{"name": "甲", "relation": "子"}],
        },
        "/rules": RULE | {"village_id": world.a.id},
        "/entries": entry_body(world.households["tj1"], world.rules["tj_school"]),
        "/entries/batch": {
            "rule_id": world.rules["tj_school"].id,
            "household_ids": [world.households["tj1"].id],
            "occurred_on": TODAY.isoformat(),
        },
        "/entries/{entry}/reject": {"reason": "x"},
        "/entries/{entry}/reverse": {"reason": "x"},
        "/entries/{entry}/approve": {},
        "/villages/{village}/scheme": {
            "base_points": 1,
            "redeem_floor": 1,
            "yuan_per_point": 1.0,
            "approval_required": False,
            "notice_days": 1,
            "annual_reset": False,
        },
        "/rules/{rule}": {"active": True},
        "/households/{household}": {"head_name": "某"},
    }


def methods_for(path: str) -> str:
    return {"/villages/{village}/scheme": "PUT", "/rules/{rule}": "PATCH", "/households/{household}": "PATCH"}.get(
        path, "POST"
    )


def check_answer(r, path):
    assert r.status_code != 500 and r.status_code < 500, (path, r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:
        body = r.get_json()
        assert body is not None and set(body) == {"error"}, (path, r.get_data(as_text=True)[:300])
        assert set(body["error"]) == {"code", "message", "details"}
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["details"], dict)


@pytest.mark.parametrize(
    "path",
    [
        "/auth/token",
        "/villages",
        "/users",
        "/households",
        "/rules",
        "/entries",
        "/entries/batch",
        "/entries/{entry}/approve",
        "/entries/{entry}/reject",
        "/entries/{entry}/reverse",
        "/villages/{village}/scheme",
        "/rules/{rule}",
        "/households/{household}",
    ],
)
def test_garbage_input_never_500(world, session, app, api, path):
    entry = services.record_entry(
        session,
        world.actor("xf_recorder"),
        household_id=world.households["xf2"].id,
        rule_id=world.rules["xf_school"].id,
        occurred_on=date(2026, 11, 1),
        today=date(2026, 11, 20),
        now=factories.NOW,
    )
    session.commit()
    ids = {
        "entry": entry.id,
        "village": world.a.id,
        "rule": world.rules["tj_labour"].id,
        "household": world.households["tj3"].id,
    }
    url = path.format(**ids)
    method = methods_for(path)
    valid = valid_bodies(world)[path]
    me = api.as_("admin")
    if path == "/auth/token":
        me = api  # no token needed; failures may end in 429, which is fine
    bodies = [None, [], "text", 17, [valid], HUGE_BODY, {}]
    for field in valid:
        for value in GARBAGE:
            bodies.append(valid | {field: value})
    for body in bodies:
        r = me._call(method, url, data=json.dumps(body), content_type="application/json")
        check_answer(r, (url, body if len(json.dumps(body)) < 200 else "big"))
    for raw in (b"{", b"\x00", b'{"a": NaN}', b'{"quantity": Infinity}', b"\xff" * 10):
        r = me._call(method, url, data=raw, content_type="application/json")
        check_answer(r, (url, raw))
    r = me._call(method, url, data="a=1", content_type="application/x-www-form-urlencoded")
    check_answer(r, (url, "form"))
    from app.points.proof import verify

    session.rollback()
    assert verify(session) == []


@pytest.mark.parametrize(
    "url",
    [
        "/households?village_id={big}",
        "/households?q=%00",
        "/households?page={big}",
        "/households/{big}",
        "/households/{big}/entries",
        "/households/1/entries?period=%00",
        "/rules?village_id={big}",
        "/rules/{big}",
        "/entries/{big}",
        "/users?village_id={big}",
        "/villages?township=%00",
        "/leaderboards?period=2026Q4&village_id={big}",
        "/leaderboards?period=2026Q4&township=%00",
        "/leaderboards?period=2026Q4&limit={big}",
        "/evidence/{big}",
    ],
)
def test_garbage_query_never_500(world, api, url):
    r = api.as_("admin").get(url.format(big=10**30))
    check_answer(r, url)


@pytest.mark.parametrize("url", ["/entries/{big}/approve", "/entries/{big}/reverse", "/entries/{big}/reject"])
def test_huge_path_ids_are_404(world, api, url):
    r = api.as_("admin").post(url.format(big=10**30), json={"reason": "x"})
    assert_error(r, 404, "not_found")


def test_huge_evidence_village_is_not_500(world, api):
    r = api.as_("admin").post(
        "/evidence",
        data={"village_id": str(10**30), "file": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert "village_id" in assert_error(r, 422, "validation_error")["details"]


# Half a UTF-16 pair: JSON's "\\ud800" escape parses to it, and no UTF-8 driver stores it.
LONE_SURROGATE = "\ud800"


@pytest.mark.parametrize(
    "path, changes, field",
    [
        ("/villages", {"name": LONE_SURROGATE}, "name"),
        ("/rules", {"name": "义诊" + LONE_SURROGATE}, "name"),
        ("/rules/{rule}", {"name": LONE_SURROGATE}, "name"),
        ("/households", {"members": [{"name": LONE_SURROGATE, "relation": "子"}]}, "members"),
        ("/households", {"members": [{LONE_SURROGATE: "甲"}]}, "members"),
        ("/entries", {"note": LONE_SURROGATE}, "note"),
        ("/entries", {"evidence_id": LONE_SURROGATE}, "evidence_id"),
        ("/entries/batch", {"note": LONE_SURROGATE}, "note"),
        ("/users", {"display_name": LONE_SURROGATE}, "display_name"),
    ],
)
def test_lone_surrogate_is_422_and_writes_nothing(world, session, api, path, changes, field):
    url = path.format(rule=world.rules["tj_labour"].id)
    body = valid_bodies(world)[path] | changes
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape "\ud800"
    assert "\\ud8" in raw
    before = (entries_in_db(session), session.scalar(select(func.count(Rule.id))))
    r = api.as_("admin")._call(methods_for(path), url, data=raw, content_type="application/json")
    assert field in assert_error(r, 422, "validation_error")["details"]
    assert (entries_in_db(session), session.scalar(select(func.count(Rule.id)))) == before
    assert session.get(Rule, world.rules["tj_labour"].id).name != LONE_SURROGATE


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_too_deep_is_refused_not_500(world, session, api):
    """Python's parser gives up (a RecursionError) near a thousand levels; the API answers
    400 for a body it cannot parse and 422 for a field nested past any body it takes."""
    me = api.as_("admin")
    before = entries_in_db(session)
    body = entry_body(world.households["tj1"], world.rules["tj_school"])
    for raw in (nested(100_000), '{"note": ' * 50_000 + "1" + "}" * 50_000, nested(100)):
        assert_error(me.post("/entries", data=raw, content_type="application/json"), 400, "validation_error")
    deep_field = json.dumps(body)[:-1] + ', "note": ' + nested(600) + "}"
    r = me.post("/entries", data=deep_field, content_type="application/json")
    assert "note" in assert_error(r, 422, "validation_error")["details"]
    # The login's rate limit reads the username before anything else does.
    assert_error(
        api.post("/auth/token", data=nested(100_000), content_type="application/json"), 400, "validation_error"
    )
    # A body that is not JSON by its type is hashed as bytes under an Idempotency-Key.
    r = me.post("/entries", data=nested(100_000), content_type="text/plain", headers={"Idempotency-Key": "deep"})
    assert_error(r, 422, "validation_error")
    assert entries_in_db(session) == before


def test_idempotent_evidence_upload(world, session, api):
    from app.points.models import Evidence

    me = api.as_("tj_recorder")

    def upload():
        return me.post(
            "/evidence",
            data={"village_id": str(world.a.id), "file": (io.BytesIO(png_bytes()), "a.png")},
            content_type="multipart/form-data",
            headers={"Idempotency-Key": "photo-1"},
        )

    first, second = upload(), upload()
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    other = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(other, "PNG")
    r = me.post(
        "/evidence",
        data={"village_id": str(world.a.id), "file": (io.BytesIO(other.getvalue()), "a.png")},
        content_type="multipart/form-data",
        headers={"Idempotency-Key": "photo-1"},
    )
    assert_error(r, 409, "idempotency_conflict")
    assert session.query(Evidence).count() == 1
