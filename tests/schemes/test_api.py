"""Schemes (积分方案): every village's household scheme, and the schemes villages and
regions add; rules belong to a scheme and take its categories."""

import pytest

from app.schemes.models import STANDARD_CATEGORIES, Scheme
from tests.conftest import TODAY

SETTINGS = {
    "base_points": 0,
    "redeem_floor": 0,
    "yuan_per_point": 2.0,
    "approval_required": False,
    "notice_days": 7,
    "annual_reset": False,
}
VOLUNTEERS = {"name": "志愿积分", "account_kind": "person", "cadence": "quarter", **SETTINGS}


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def household_scheme(session, village) -> Scheme:
    return session.query(Scheme).filter_by(village_id=village.id, account_kind="household").one()


# --- POST /schemes --------------------------------------------------------------------


def test_a_village_admin_adds_a_volunteer_scheme(world, api):
    r = api.as_("tj_village_admin").post("/schemes", json=VOLUNTEERS | {"village_id": world.a.id})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["account_kind"] == "person" and body["village_id"] == world.a.id and body["region_id"] is None
    assert body["categories"] == list(STANDARD_CATEGORIES) and body["yuan_per_point"] == 2.0
    assert api.as_("tj_village_admin").get(f"/schemes/{body['id']}").get_json() == body


def test_a_county_adds_a_monthly_village_scheme(county, api):
    body = VOLUNTEERS | {
        "name": "积分换项目",
        "account_kind": "village",
        "cadence": "month",
        "region_id": county.county.id,
        "categories": ["零事故", "零非访", "零发案", "零违建", "零污染", "零疫情"],
    }
    r = api.as_("dk_admin").post("/schemes", json=body)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["cadence"] == "month" and r.get_json()["categories"][0] == "零事故"
    scheme_id = r.get_json()["id"]
    assert api.as_("cg_reviewer").get(f"/schemes/{scheme_id}").status_code == 404  # the county's, not the township's
    assert api.as_("dk_reviewer").get(f"/schemes/{scheme_id}").status_code == 200
    assert_error(api.as_("tj_village_admin").get(f"/schemes/{scheme_id}"), 404, "not_found")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"account_kind": "family"}, "account_kind"),
        ({"account_kind": "household"}, "account_kind"),  # the village has its one already
        ({"account_kind": "village"}, "account_kind"),  # a region's, not a village's
        ({"cadence": "week"}, "cadence"),
        ({"categories": []}, "categories"),
        ({"categories": ["志愿服务", "志愿服务"]}, "categories"),
        ({"categories": ["x" * 21]}, "categories"),
        ({"categories": [""]}, "categories"),
        ({"categories": ["志愿\t服务"]}, "categories"),  # a control character: a tab,
        ({"categories": ["志愿\n服务"]}, "categories"),  # a newline,
        ({"categories": ["志愿\x85服务"]}, "categories"),  # a C1 control,
        ({"categories": ["志愿\x7f服务"]}, "categories"),  # DEL
        ({"name": ""}, "name"),
        ({"base_points": -1}, "base_points"),
        ({"yuan_per_point": 0}, "yuan_per_point"),
        ({"notice_days": None}, "notice_days"),
        ({"village_id": None}, "village_id"),  # neither a village nor a region
    ],
)
def test_invalid_schemes_are_422(world, session, api, changes, field):
    before = session.query(Scheme).count()
    r = api.as_("tj_village_admin").post("/schemes", json=VOLUNTEERS | {"village_id": world.a.id} | changes)
    err = assert_error(r, 422, "validation_error")
    assert field in err["details"]
    assert session.query(Scheme).count() == before


def test_scheme_owners_out_of_reach_are_bad_references(county, world, api):
    body = VOLUNTEERS | {"village_id": world.b.id}
    assert assert_error(api.as_("tj_village_admin").post("/schemes", json=body), 400, "not_found")["details"] == {
        "field": "village_id"
    }
    body = VOLUNTEERS | {"region_id": county.county.id, "account_kind": "village"}
    assert_error(api.as_("cg_admin").post("/schemes", json=body), 400, "not_found")
    assert_error(api.as_("admin").post("/schemes", json=body | {"region_id": 9999}), 400, "not_found")
    assert_error(api.as_("admin").post("/schemes", json=body | {"village_id": world.a.id}), 422, "validation_error")


def test_only_admins_make_schemes(county, world, api):
    assert_error(
        api.as_("tj_recorder").post("/schemes", json=VOLUNTEERS | {"village_id": world.a.id}), 403, "forbidden"
    )
    body = VOLUNTEERS | {"region_id": county.cg.id, "account_kind": "village"}
    assert_error(api.as_("cg_reviewer").post("/schemes", json=body), 403, "forbidden")
    r = api.client.post("/api/v1/schemes", json=VOLUNTEERS | {"village_id": world.a.id})
    assert_error(r, 401, "unauthorized")


# --- GET /schemes ---------------------------------------------------------------------


def test_list_schemes_includes_every_village_household_scheme(county, world, api):
    made = api.as_("tj_village_admin").post("/schemes", json=VOLUNTEERS | {"village_id": world.a.id}).get_json()
    body = api.as_("tj_village_admin").get("/schemes").get_json()
    assert [(s["account_kind"], s["village_id"]) for s in body["items"]] == [
        ("household", world.a.id),
        ("person", world.a.id),
    ]
    assert body["items"][1]["id"] == made["id"]
    region_scheme = api.as_("dk_admin").post(
        "/schemes", json=VOLUNTEERS | {"region_id": county.county.id, "account_kind": "village"}
    )
    items = api.as_("dk_reviewer").get(f"/schemes?region_id={county.county.id}").get_json()["items"]
    assert {(s["region_id"], s["village_id"]) for s in items} == {
        (county.county.id, None),
        (None, county.hp.id),
        (None, county.qf.id),
    }
    assert region_scheme.get_json()["id"] in {s["id"] for s in items}
    items = api.as_("cg_recorder").get("/schemes").get_json()["items"]
    assert [(s["village_id"], s["account_kind"]) for s in items] == [(county.hp.id, "household")]
    assert_error(api.as_("tj_village_admin").get(f"/schemes?village_id={world.b.id}"), 404, "not_found")
    assert_error(api.as_("cg_recorder").get(f"/schemes?region_id={county.county.id}"), 404, "not_found")
    assert api.as_("admin").get(f"/schemes?village_id={world.b.id}").get_json()["total"] == 1


def test_list_schemes_takes_a_village_or_a_region_not_both(county, world, api):
    """``village_id=|region_id=``: one or the other, never one silently dropped."""
    admin = api.as_("admin")
    for village in (world.a, county.hp):  # a village outside the region, or below it
        query = {"village_id": village.id, "region_id": county.county.id}
        err = assert_error(admin.get("/schemes", query_string=query), 422, "validation_error")
        assert list(err["details"]) == ["region_id"]
    assert admin.get("/schemes", query_string={"village_id": county.hp.id}).get_json()["total"] == 1


def test_a_scheme_outside_the_scope_is_404(world, session, api):
    xf = household_scheme(session, world.b)
    assert_error(api.as_("tj_village_admin").get(f"/schemes/{xf.id}"), 404, "not_found")
    assert_error(api.as_("tj_resident").get(f"/schemes/{xf.id}"), 404, "not_found")
    assert_error(api.as_("admin").get("/schemes/9999"), 404, "not_found")
    assert_error(api.as_("tj_village_admin").patch(f"/schemes/{xf.id}", json={"notice_days": 3}), 404, "not_found")


# --- PATCH /schemes/{id} ----------------------------------------------------------------


def test_patch_changes_settings_and_categories_in_order(world, session, api):
    tj = household_scheme(session, world.a)
    categories = ["义务投工投劳", *STANDARD_CATEGORIES, "农牧民夜校"]
    r = api.as_("tj_village_admin").patch(f"/schemes/{tj.id}", json={"categories": categories, "notice_days": 3})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["categories"] == categories and r.get_json()["notice_days"] == 3
    # The village's scheme is that one: the v1 answer sees the change.
    assert api.as_("tj_village_admin").get(f"/villages/{world.a.id}/scheme").get_json()["notice_days"] == 3
    # Reordered: the same names in another order.
    r = api.as_("tj_village_admin").patch(f"/schemes/{tj.id}", json={"categories": list(reversed(categories))})
    assert r.get_json()["categories"][0] == "农牧民夜校"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_kind": "person"}, "account_kind"),
        ({"village_id": 2}, "village_id"),
        ({"cadence": "year"}, "cadence"),
        ({"categories": "志愿服务"}, "categories"),
        ({"redeem_floor": -1}, "redeem_floor"),
        ({"name": " "}, "name"),
    ],
)
def test_invalid_patches_are_422(world, session, api, body, field):
    tj = household_scheme(session, world.a)
    err = assert_error(api.as_("tj_village_admin").patch(f"/schemes/{tj.id}", json=body), 422, "validation_error")
    assert field in err["details"]


def test_a_category_in_use_cannot_vanish(world, session, api):
    tj = household_scheme(session, world.a)
    without = [c for c in STANDARD_CATEGORIES if c != "志愿服务"]  # world's VOL-LABOUR is in it
    err = assert_error(
        api.as_("tj_village_admin").patch(f"/schemes/{tj.id}", json={"categories": without}), 422, "validation_error"
    )
    assert "志愿服务" in err["details"]["categories"][0]
    put = SETTINGS | {"categories": without}
    assert_error(api.as_("tj_village_admin").put(f"/villages/{world.a.id}/scheme", json=put), 422, "validation_error")
    session.expire_all()
    assert household_scheme(session, world.a).categories == list(STANDARD_CATEGORIES)
    # A category no rule is in may go.
    unused = [c for c in STANDARD_CATEGORIES if c != "家庭文明"]
    assert api.as_("tj_village_admin").patch(f"/schemes/{tj.id}", json={"categories": unused}).status_code == 200


def test_only_the_schemes_admins_patch_it(world, session, api):
    tj = household_scheme(session, world.a)
    assert_error(api.as_("tj_reviewer").patch(f"/schemes/{tj.id}", json={"notice_days": 3}), 403, "forbidden")


def test_put_village_scheme_takes_categories_and_answers_as_before(world, session, api):
    body = SETTINGS | {"categories": [*STANDARD_CATEGORIES, "农牧民夜校"]}
    r = api.as_("tj_village_admin").put(f"/villages/{world.a.id}/scheme", json=body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == SETTINGS
    session.expire_all()
    assert household_scheme(session, world.a).categories[-1] == "农牧民夜校"


# --- rules of a scheme -------------------------------------------------------------------

RULE = {"code": "NIGHT-SCHOOL", "name": "参加农牧民夜校", "points": 3}


def test_a_rules_category_is_one_of_its_schemes(world, session, api):
    tj = household_scheme(session, world.a)
    admin = api.as_("tj_village_admin")
    err = assert_error(
        admin.post("/rules", json=RULE | {"scheme_id": tj.id, "category": "农牧民夜校"}), 422, "validation_error"
    )
    assert "category" in err["details"]
    admin.patch(f"/schemes/{tj.id}", json={"categories": [*STANDARD_CATEGORIES, "农牧民夜校"]})
    r = admin.post("/rules", json=RULE | {"scheme_id": tj.id, "category": "农牧民夜校"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["scheme_id"] == tj.id and r.get_json()["village_id"] == world.a.id
    # The same through village_id, which names the household scheme.
    r = admin.post("/rules", json=RULE | {"code": "NS2", "village_id": world.a.id, "category": "农牧民夜校"})
    assert r.status_code == 201 and r.get_json()["scheme_id"] == tj.id
    codes = {x["code"] for x in admin.get(f"/rules?scheme_id={tj.id}").get_json()["items"]}
    assert {"NIGHT-SCHOOL", "NS2", "VOL-LABOUR"} <= codes


def test_rules_of_another_scheme_are_its_own(world, session, api):
    admin = api.as_("tj_village_admin")
    people = admin.post("/schemes", json=VOLUNTEERS | {"village_id": world.a.id}).get_json()
    r = admin.post("/rules", json=RULE | {"scheme_id": people["id"], "code": "VOL-LABOUR", "category": "志愿服务"})
    assert r.status_code == 201, r.get_json()  # the code is the household scheme's too: each sheet its own
    rule_id = r.get_json()["id"]
    assert [x["code"] for x in admin.get(f"/rules?scheme_id={people['id']}").get_json()["items"]] == ["VOL-LABOUR"]
    assert rule_id not in {x["id"] for x in admin.get(f"/rules?village_id={world.a.id}").get_json()["items"]}
    # A household is an account of the household scheme: another scheme's rule is not for it.
    body = {"household_id": world.households["tj1"].id, "rule_id": rule_id, "occurred_on": TODAY.isoformat()}
    err = assert_error(api.as_("tj_recorder").post("/entries", json=body), 400, "not_found")
    assert err["details"] == {"field": "rule_id"}


def test_rule_scheme_errors(world, session, api):
    xf = household_scheme(session, world.b)
    admin = api.as_("tj_village_admin")
    body = RULE | {"category": "志愿服务"}
    assert_error(admin.post("/rules", json=body | {"scheme_id": xf.id}), 400, "not_found")
    assert_error(admin.post("/rules", json=body | {"scheme_id": 9999}), 400, "not_found")
    err = assert_error(
        admin.post("/rules", json=body | {"scheme_id": xf.id, "village_id": world.a.id}), 422, "validation_error"
    )
    assert "scheme_id" in err["details"]
    err = assert_error(admin.post("/rules", json=body), 422, "validation_error")
    assert "village_id" in err["details"]
    assert_error(admin.get(f"/rules?scheme_id={xf.id}"), 404, "not_found")
