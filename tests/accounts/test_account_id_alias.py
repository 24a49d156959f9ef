"""``account_id`` where ``household_id`` is taken (entries, batches, redemptions,
objections): accepted, refused where it differs from a ``household_id`` given beside it,
and a bad one reported under the name the request gave it."""

from app.clock import local_today
from tests.points.test_api import assert_error

TODAY = local_today("Asia/Shanghai")  # the API's today
QUARTER = f"{TODAY.year}Q{(TODAY.month - 1) // 3 + 1}"


def bad_reference(response, field):
    err = assert_error(response, 400, "not_found")
    assert err["details"] == {"field": field}, err
    assert field in err["message"], err
    return err


# Objections


def test_a_resident_objects_for_its_linked_persons_account(volunteers, world, api):
    me = api.as_("tj_resident")
    r = me.post("/objections", json={"period": QUARTER, "account_id": volunteers.li.id, "reason": "志愿时长少算了"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["scheme_id"], body["account_id"], body["household_id"]) == (
        volunteers.scheme.id,
        volunteers.li.id,
        volunteers.li.id,
    )
    assert me.get(f"/objections/{body['id']}").status_code == 200
    # household_id names the same account; both alike are taken
    both = {"household_id": volunteers.li.id, "account_id": volunteers.li.id, "scheme_id": volunteers.scheme.id}
    r = me.post("/objections", json={"period": QUARTER, "reason": "再议", **both})
    assert r.status_code == 201 and r.get_json()["account_id"] == volunteers.li.id


def test_an_objection_to_an_entry_names_its_own_account(volunteers, world, api):
    entry = {"account_id": volunteers.li.id, "rule_id": volunteers.rule.id, "occurred_on": TODAY.isoformat()}
    r = api.as_("tj_recorder").post("/entries", json=entry)
    assert r.status_code == 201, r.get_json()
    entry_id = r.get_json()["id"]
    me = api.as_("tj_resident")
    err = assert_error(
        me.post("/objections", json={"entry_id": entry_id, "account_id": world.households["tj1"].id, "reason": "x"}),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"account_id"}
    r = me.post("/objections", json={"entry_id": entry_id, "account_id": volunteers.li.id, "reason": "记错了"})
    assert r.status_code == 201 and r.get_json()["account_id"] == volunteers.li.id


def test_objection_account_errors(volunteers, world, api):
    me = api.as_("tj_resident")
    base = {"period": QUARTER, "reason": "x"}
    differ = {"household_id": world.households["tj1"].id, "account_id": volunteers.li.id}
    err = assert_error(me.post("/objections", json=base | differ), 422, "validation_error")
    assert set(err["details"]) == {"account_id"}
    for other in (volunteers.zhao.id, world.households["tj2"].id, world.households["xf1"].id, 999_999):
        bad_reference(me.post("/objections", json=base | {"account_id": other}), "account_id")
        bad_reference(me.post("/objections", json=base | {"household_id": other}), "household_id")
    # an account of another scheme than the one named
    err = assert_error(
        me.post("/objections", json=base | {"account_id": volunteers.li.id, "village_id": world.a.id}),
        422,
        "validation_error",
    )
    assert set(err["details"]) == {"account_id"}
    err = assert_error(me.post("/objections", json=base | {"account_id": "1"}), 422, "validation_error")
    assert set(err["details"]) == {"account_id"}


def test_the_openapi_document_takes_account_id_for_objections(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert {"household_id", "account_id"} <= set(schemas["ObjectionIn"]["properties"])


# A bad account_id is named account_id: entries, batches, redemptions


def test_a_bad_account_id_of_an_entry_is_named_account_id(volunteers, world, api):
    me = api.as_("tj_recorder")
    entry = {"rule_id": world.rules["tj_labour"].id, "occurred_on": TODAY.isoformat()}
    for other in (world.households["xf1"].id, 999_999):
        bad_reference(me.post("/entries", json=entry | {"account_id": other}), "account_id")
        bad_reference(me.post("/entries", json=entry | {"household_id": other}), "household_id")
    differ = {"household_id": world.households["tj1"].id, "account_id": world.households["tj2"].id}
    err = assert_error(me.post("/entries", json=entry | differ), 422, "validation_error")
    assert set(err["details"]) == {"account_id"}


def test_a_bad_account_ids_list_of_a_batch_is_named_account_ids(world, api):
    me = api.as_("tj_recorder")
    batch = {"rule_id": world.rules["tj_labour"].id, "occurred_on": TODAY.isoformat()}
    for ids in ([], list(range(1, 2002))):
        err = assert_error(me.post("/entries/batch", json=batch | {"account_ids": ids}), 422, "validation_error")
        assert set(err["details"]) == {"account_ids"}, err
        err = assert_error(me.post("/entries/batch", json=batch | {"household_ids": ids}), 422, "validation_error")
        assert set(err["details"]) == {"household_ids"}, err
    r = me.post("/entries/batch", json=batch | {"account_ids": [world.households["xf1"].id]})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["skipped"] == [
        {"household_id": world.households["xf1"].id, "account_id": world.households["xf1"].id, "reason": "not_found"}
    ]


def test_a_bad_account_id_of_a_redemption_is_named_account_id(volunteers, world, api):
    clerk = api.as_("tj_clerk")
    sale = {"shop_id": volunteers.shop.id, "lines": [{"item_id": volunteers.item.id, "quantity": 1}]}
    for other in (world.households["tj1"].id, world.households["xf1"].id, 999_999):  # another scheme's, none
        bad_reference(clerk.post("/redemptions", json=sale | {"account_id": other}), "account_id")
        bad_reference(clerk.post("/redemptions", json=sale | {"household_id": other}), "household_id")
    differ = {"household_id": volunteers.zhao.id, "account_id": volunteers.li.id}
    err = assert_error(clerk.post("/redemptions", json=sale | differ), 422, "validation_error")
    assert set(err["details"]) == {"account_id"}
