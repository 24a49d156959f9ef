"""POST/GET /accounts, an account's QR card, and ``account_id`` where ``household_id``
is taken: each endpoint with each of its error codes."""

import pytest

from app.clock import local_today
from app.redemption import qr
from tests.accounts.conftest import person_scheme
from tests.points.test_api import assert_error

TODAY = local_today("Asia/Shanghai")  # the API's today


def new_person(volunteers, **extra):
    return {"scheme_id": volunteers.scheme.id, "number": "V-003", "name": "孙志愿", **extra}


# POST /accounts


def test_a_village_admin_opens_a_persons_account(volunteers, world, api):
    r = api.as_("tj_village_admin").post(
        "/accounts", json=new_person(volunteers, phone="139 0000 0003", household_id=world.households["tj2"].id)
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body == {
        "id": body["id"],
        "scheme_id": volunteers.scheme.id,
        "kind": "person",
        "number": "V-003",
        "name": "孙志愿",
        "village_id": world.a.id,
        "household_id": world.households["tj2"].id,
        "phone": "13900000003",
        "balance": 10,
        "redeemable": 10,
        "period_points": {"quarter": 0, "year": 0},
    }
    assert api.as_("tj_village_admin").get(f"/accounts/{body['id']}").get_json() == body


def test_opening_an_account_needs_a_login_and_the_schemes_admin(volunteers, world, api):
    assert_error(api.post("/accounts", json=new_person(volunteers)), 401, "unauthorized")
    for username in ("tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"):
        assert_error(api.as_(username).post("/accounts", json=new_person(volunteers)), 403, "forbidden")


def test_references_to_nothing_visible_are_400_not_found(volunteers, world, api):
    me = api.as_("tj_village_admin")
    for extra, field in (
        ({"scheme_id": 999_999}, "scheme_id"),
        ({"village_id": world.b.id}, "village_id"),
        ({"village_id": 999_999}, "village_id"),
        ({"household_id": world.households["xf1"].id}, "household_id"),
        ({"household_id": 999_999}, "household_id"),
    ):
        err = assert_error(me.post("/accounts", json=new_person(volunteers, **extra)), 400, "not_found")
        assert err["details"] == {"field": field}
    err = assert_error(api.as_("xf_village_admin").post("/accounts", json=new_person(volunteers)), 400, "not_found")
    assert err["details"] == {"field": "scheme_id"}


def test_fields_are_422_each_by_name(volunteers, world, session, api):
    me = api.as_("tj_village_admin")
    cases = (
        ({"number": "v-001"}, "number"),  # taken, ignoring case
        ({"number": "V 1"}, "number"),
        ({"name": " "}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"scheme_id": "3"}, "scheme_id"),
        ({"village_id": True}, "village_id"),
        ({"household_id": volunteers.zhao.id}, "household_id"),  # a person, not a household
    )
    for extra, field in cases:
        err = assert_error(me.post("/accounts", json=new_person(volunteers, **extra)), 422, "validation_error")
        assert field in err["details"], (extra, err)
    err = assert_error(me.post("/accounts", json={}), 422, "validation_error")
    assert {"scheme_id", "number", "name"} <= set(err["details"])
    household_scheme = world.households["tj1"].scheme_id
    err = assert_error(
        me.post("/accounts", json=new_person(volunteers, scheme_id=household_scheme)), 422, "validation_error"
    )
    assert set(err["details"]) == {"scheme_id"}


def test_a_region_admin_opens_accounts_in_its_regions_scheme(world, session, api, county):
    from app.scope import Actor

    grid = person_scheme(session, Actor(county.users["dk_admin"]), {"region_id": county.county.id}, "网格员积分")
    session.commit()
    body = {"scheme_id": grid.id, "number": "G-1", "name": "网格员甲", "village_id": county.hp.id}
    r = api.as_("dk_admin").post("/accounts", json=body)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["village_id"], r.get_json()["balance"]) == (county.hp.id, 10)
    assert_error(api.as_("cg_admin").post("/accounts", json={**body, "number": "G-2"}), 400, "not_found")
    assert_error(api.as_("dk_recorder").post("/accounts", json={**body, "number": "G-2"}), 403, "forbidden")
    err = assert_error(
        api.as_("admin").post("/accounts", json={**body, "number": "G-2", "village_id": world.a.id}),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"village_id"}


def test_the_same_idempotency_key_opens_one_account(volunteers, world, api):
    me = api.as_("tj_village_admin")
    headers = {"Idempotency-Key": "open-v3"}
    first = me.post("/accounts", json=new_person(volunteers), headers=headers)
    again = me.post("/accounts", json=new_person(volunteers), headers=headers)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    other = me.post("/accounts", json=new_person(volunteers, name="别人"), headers=headers)
    assert_error(other, 409, "idempotency_conflict")
    assert me.get(f"/accounts?scheme_id={volunteers.scheme.id}").get_json()["total"] == 3


# GET /accounts and /accounts/{id}


def test_the_list_of_a_scheme(volunteers, world, api):
    me = api.as_("tj_village_admin")
    body = me.get(f"/accounts?scheme_id={volunteers.scheme.id}").get_json()
    assert body["total"] == 2 and [a["number"] for a in body["items"]] == ["V-001", "V-002"]
    assert set(body["items"][0]) == {
        "id",
        "scheme_id",
        "kind",
        "number",
        "name",
        "village_id",
        "household_id",
        "phone",
        "balance",
        "redeemable",
    }
    assert [a["name"] for a in me.get(f"/accounts?scheme_id={volunteers.scheme.id}&q=赵").get_json()["items"]] == [
        "赵志愿"
    ]
    page = me.get(f"/accounts?scheme_id={volunteers.scheme.id}&per_page=1&page=2").get_json()
    assert page["total"] == 2 and [a["number"] for a in page["items"]] == ["V-002"]
    households = me.get(f"/accounts?scheme_id={world.households['tj1'].scheme_id}").get_json()
    assert [(a["id"], a["kind"]) for a in households["items"]] == [
        (world.households[k].id, "household") for k in ("tj1", "tj2", "tj3")
    ]


def test_list_errors(volunteers, world, api):
    assert_error(api.get("/accounts"), 401, "unauthorized")
    assert_error(api.as_("xf_village_admin").get(f"/accounts?scheme_id={volunteers.scheme.id}"), 404, "not_found")
    assert_error(api.as_("xf_resident").get(f"/accounts?scheme_id={volunteers.scheme.id}"), 404, "not_found")
    assert_error(api.as_("tj_village_admin").get("/accounts?scheme_id=999999"), 404, "not_found")
    assert_error(api.as_("tj_village_admin").get("/accounts?scheme_id=abc"), 422, "validation_error")
    assert_error(api.as_("tj_village_admin").get("/accounts?per_page=501"), 422, "validation_error")


def test_a_resident_sees_its_household_and_the_persons_linked_to_it(volunteers, world, api):
    me = api.as_("tj_resident")
    mine = me.get("/accounts").get_json()
    assert [(a["id"], a["kind"]) for a in mine["items"]] == [
        (world.households["tj1"].id, "household"),
        (volunteers.li.id, "person"),
    ]
    assert me.get(f"/accounts?scheme_id={volunteers.scheme.id}").get_json()["total"] == 1
    li = me.get(f"/accounts/{volunteers.li.id}")
    assert li.status_code == 200 and li.get_json()["name"] == "李志愿"
    assert me.get(f"/accounts/{world.households['tj1'].id}").get_json()["kind"] == "household"
    assert me.get(f"/accounts/{volunteers.li.id}/qr").status_code == 200
    for other in (volunteers.zhao.id, world.households["tj2"].id, world.households["xf1"].id):
        assert_error(me.get(f"/accounts/{other}"), 404, "not_found")
        assert_error(me.get(f"/accounts/{other}/qr"), 404, "not_found")
    assert_error(api.as_("xf_resident").get(f"/accounts/{volunteers.li.id}"), 404, "not_found")


def test_any_account_by_id(volunteers, world, api):
    me = api.as_("tj_village_admin")
    tj1 = me.get(f"/accounts/{world.households['tj1'].id}").get_json()
    household = me.get(f"/households/{world.households['tj1'].id}").get_json()
    assert (tj1["kind"], tj1["name"], tj1["village_id"], tj1["balance"]) == (
        "household",
        household["head_name"],
        household["village_id"],
        household["balance"],
    )
    assert tj1["period_points"] == household["period_points"]
    assert_error(api.get(f"/accounts/{volunteers.li.id}"), 401, "unauthorized")
    assert_error(api.as_("xf_village_admin").get(f"/accounts/{volunteers.li.id}"), 404, "not_found")
    assert_error(me.get("/accounts/999999"), 404, "not_found")


# The card


def test_a_persons_card_is_the_households_card(volunteers, world, api, app):
    me = api.as_("tj_village_admin")
    token = me.get(f"/accounts/{volunteers.li.id}/qr").get_json()["token"]
    assert qr.read_token(app.config["SECRET_KEY"], token) == (volunteers.li.id, 1)
    assert me.get(f"/households/{volunteers.li.id}/qr").get_json()["token"] == token
    png = me.get(f"/accounts/{volunteers.li.id}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    svg = me.get(f"/accounts/{volunteers.li.id}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    tj1 = world.households["tj1"].id
    assert me.get(f"/accounts/{tj1}/qr").get_json() == me.get(f"/households/{tj1}/qr").get_json()


def test_revoking_a_persons_card(volunteers, world, api):
    me = api.as_("tj_village_admin")
    old = me.get(f"/accounts/{volunteers.li.id}/qr").get_json()["token"]
    r = me.post(f"/accounts/{volunteers.li.id}/qr/revoke")
    assert r.status_code == 200
    new = r.get_json()["token"]
    assert new != old and me.get(f"/accounts/{volunteers.li.id}/qr").get_json()["token"] == new
    sale = {"shop_id": volunteers.shop.id, "lines": [{"item_id": volunteers.item.id, "quantity": 1}]}
    clerk = api.as_("tj_clerk")
    assert_error(clerk.post("/redemptions", json={**sale, "qr_token": old}), 400, "qr_revoked")
    assert_error(api.post(f"/accounts/{volunteers.li.id}/qr/revoke"), 401, "unauthorized")
    assert_error(api.as_("tj_resident").post(f"/accounts/{volunteers.li.id}/qr/revoke"), 403, "forbidden")
    assert_error(api.as_("xf_village_admin").post(f"/accounts/{volunteers.li.id}/qr/revoke"), 404, "not_found")


@pytest.mark.parametrize("suffix", ["qr", "qr.png", "qr.svg"])
def test_card_errors(volunteers, world, api, suffix):
    assert_error(api.get(f"/accounts/{volunteers.li.id}/{suffix}"), 401, "unauthorized")
    assert_error(api.as_("xf_village_admin").get(f"/accounts/{volunteers.li.id}/{suffix}"), 404, "not_found")
    assert_error(api.as_("tj_village_admin").get(f"/accounts/999999/{suffix}"), 404, "not_found")


def test_the_openapi_document_describes_the_accounts(client):
    from tests.test_openapi import normalise

    spec = client.get("/api/v1/openapi.json").get_json()
    paths = {normalise(p): ops for p, ops in spec["paths"].items()}
    assert {"post", "get"} <= set(paths["/accounts"]) and "get" in paths["/accounts/{id}"]
    assert "get" in paths["/accounts/{id}/qr"] and "post" in paths["/accounts/{id}/qr/revoke"]
    assert set(paths["/accounts/{id}/qr.png"]["get"]["responses"]["200"]["content"]) == {"image/png"}
    assert set(paths["/accounts/{id}/qr.svg"]["get"]["responses"]["200"]["content"]) == {"image/svg+xml"}
    schemas = spec["components"]["schemas"]
    assert {"scheme_id", "number", "name", "phone", "village_id", "household_id"} == set(
        schemas["AccountIn"]["properties"]
    )
    assert {"id", "scheme_id", "kind", "number", "name", "village_id", "balance", "redeemable", "period_points"} <= set(
        schemas["AccountDetail"]["properties"]
    )
    query = {p["name"] for p in paths["/accounts"]["get"]["parameters"] if p["in"] == "query"}
    assert {"scheme_id", "q"} <= query
    for name, field in (("EntryIn", "account_id"), ("BatchIn", "account_ids"), ("RedemptionIn", "account_id")):
        assert field in schemas[name]["properties"]
    assert "account_id" in schemas["EntryOut"]["properties"]
