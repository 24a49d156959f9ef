"""/api/v1 shop, item, redemption and QR-card endpoints: every answer of the contract."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.clock import local_today, quarter_of, utcnow
from app.points.models import Entry
from app.redemption import qr, reports, services
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, Shop, StockMovement
from tests.redemption.test_services import build_shop, give_points, movement_rows, snapshot

TZ = "Asia/Shanghai"
TODAY = local_today(TZ)


@pytest.fixture
def shop(world, session):
    """团结村's shop: 大米 30 分 ×10, 食用油 50 分 ×3, 肥皂 5 分 ×20; tj1 has 300 points
    (200 redeemable over the floor of 100), tj2 only its opening 100."""
    s = build_shop(session, world)
    give_points(session, world, world.households["tj1"], 200)
    return s


@pytest.fixture
def users(api):
    """Logged-in API clients, one login per user and test."""
    cache = {}

    def get(username):
        if username not in cache:
            cache[username] = api.as_(username)
        return cache[username]

    return get


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.get_json())
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


def balance(session, household):
    session.expire_all()
    return session.get(type(household), household.id).balance


def redeem_body(shop, lines, household=None, token=None):
    body = {"shop_id": shop.id, "lines": [{"item_id": i.id, "quantity": q} for i, q in lines]}
    if household is not None:
        body["household_id"] = household.id
    if token is not None:
        body["qr_token"] = token
    return body


def test_create_shop(world, session, users):
    r = users("tj_village_admin").post("/shops", json={"village_id": world.a.id, "name": "团结村积分超市"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["village_id"] == world.a.id and body["name"] == "团结村积分超市" and body["active"] is True
    assert session.get(Shop, body["id"]).village_id == world.a.id
    r = users("admin").post("/shops", json={"village_id": world.b.id, "name": "幸福村超市"})
    assert r.status_code == 201 and r.get_json()["village_id"] == world.b.id


@pytest.mark.parametrize("username", ["tj_recorder", "tj_resident", "tj_clerk", "tj_reviewer"])
def test_only_village_admins_create_shops(world, session, users, username):
    r = users(username).post("/shops", json={"village_id": world.a.id, "name": "超市"})
    assert_error(r, 403, "forbidden")
    assert session.scalar(select(func.count(Shop.id))) == 0


def test_shop_in_another_village_is_a_bad_reference(world, session, users):
    err = assert_error(
        users("tj_village_admin").post("/shops", json={"village_id": world.b.id, "name": "超市"}), 400, "not_found"
    )
    assert err["details"] == {"field": "village_id"}
    assert_error(users("admin").post("/shops", json={"village_id": 999999, "name": "超市"}), 400, "not_found")
    assert session.scalar(select(func.count(Shop.id))) == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "店" * 101}, "name"),
        ({"name": 7}, "name"),
        ({}, "name"),
        ({"name": "超市", "village_id": "1"}, "village_id"),
    ],
)
def test_bad_shop_is_422(world, session, users, body, field):
    body = {"village_id": world.a.id} | body
    err = assert_error(users("tj_village_admin").post("/shops", json=body), 422, "validation_error")
    assert field in err["details"]
    assert session.scalar(select(func.count(Shop.id))) == 0


def test_create_item_with_opening_stock(world, session, users, shop):
    s = shop[0]
    r = users("tj_clerk").post("/items", json={"shop_id": s.id, "name": "毛巾", "price_points": 8, "stock": 12})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert {k: body[k] for k in ("shop_id", "name", "price_points", "stock", "active")} == {
        "shop_id": s.id,
        "name": "毛巾",
        "price_points": 8,
        "stock": 12,
        "active": True,
    }
    assert movement_rows(session, body["id"]) == [("receipt", 12, None)]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"price_points": 0}, "price_points"),
        ({"price_points": -3}, "price_points"),
        ({"price_points": "8"}, "price_points"),
        ({"price_points": 8.5}, "price_points"),
        ({"price_points": None}, "price_points"),
        ({"stock": -1}, "stock"),
        ({"stock": "12"}, "stock"),
        ({"stock": True}, "stock"),
        ({"name": ""}, "name"),
        ({"name": ["毛巾"]}, "name"),
        ({"shop_id": "1"}, "shop_id"),
    ],
)
def test_bad_item_is_422(world, session, users, shop, changes, field):
    before = snapshot(session)
    body = {"shop_id": shop[0].id, "name": "毛巾", "price_points": 8, "stock": 12} | changes
    err = assert_error(users("tj_village_admin").post("/items", json=body), 422, "validation_error")
    assert field in err["details"]
    assert snapshot(session) == before


def test_items_in_another_village(world, session, users, shop):
    body = {"shop_id": shop[0].id, "name": "毛巾", "price_points": 8}
    err = assert_error(users("xf_village_admin").post("/items", json=body), 400, "not_found")
    assert err["details"] == {"field": "shop_id"}
    assert_error(users("tj_recorder").post("/items", json=body), 403, "forbidden")
    assert_error(users("tj_resident").post("/items", json=body), 403, "forbidden")


@pytest.mark.parametrize(
    "username", ["tj_village_admin", "tj_clerk", "tj_recorder", "tj_reviewer", "tj_resident", "admin"]
)
def test_catalogue_is_for_the_village(world, users, shop, username):
    s, rice, oil, soap = shop
    r = users(username).get(f"/items?shop_id={s.id}")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 3
    assert [(i["id"], i["name"], i["price_points"], i["stock"]) for i in body["items"]] == sorted(
        [(rice.id, "大米", 30, 10), (oil.id, "食用油", 50, 3), (soap.id, "肥皂", 5, 20)], key=lambda t: t[1]
    )


@pytest.mark.parametrize("username", ["xf_village_admin", "xf_clerk", "xf_resident"])
def test_catalogue_of_another_village_is_404(world, users, shop, username):
    assert_error(users(username).get(f"/items?shop_id={shop[0].id}"), 404, "not_found")


def test_catalogue_needs_a_shop(world, users, shop):
    err = assert_error(users("tj_clerk").get("/items"), 422, "validation_error")
    assert "shop_id" in err["details"]
    assert_error(users("tj_clerk").get("/items?shop_id=999999"), 404, "not_found")


def test_patch_stock_is_an_adjustment(world, session, users, shop):
    rice = shop[1]
    r = users("tj_clerk").patch(f"/items/{rice.id}", json={"stock": 6})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stock"] == 6
    r = users("tj_clerk").patch(f"/items/{rice.id}", json={"stock": 15})
    assert r.get_json()["stock"] == 15
    assert movement_rows(session, rice.id) == [("receipt", 10, None), ("adjustment", -4, None), ("adjustment", 9, None)]
    assert reports.verify_stock(session) == []


def test_patch_price_changes_later_sales_only(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    first = users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], h)).get_json()
    r = users("tj_village_admin").patch(f"/items/{rice.id}", json={"price_points": 40})
    assert r.status_code == 200 and r.get_json()["price_points"] == 40 and r.get_json()["stock"] == 9
    second = users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], h)).get_json()
    assert (first["total_points"], second["total_points"]) == (30, 40)
    assert users("tj_clerk").get(f"/redemptions/{first['id']}").get_json()["lines"][0]["price_points"] == 30
    assert movement_rows(session, rice.id) == [
        ("receipt", 10, None),
        ("redemption", -1, first["id"]),
        ("redemption", -1, second["id"]),
    ]


def test_inactive_item_cannot_be_redeemed(world, session, users, shop):
    s, rice, _, _ = shop
    r = users("tj_village_admin").patch(f"/items/{rice.id}", json={"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    before = snapshot(session)
    err = assert_error(
        users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], world.households["tj1"])),
        400,
        "not_found",
    )
    assert err["details"]["item_id"] == rice.id
    assert snapshot(session) == before


@pytest.mark.parametrize(
    "body, field",
    [
        ({"price_points": 0}, "price_points"),
        ({"stock": -1}, "stock"),
        ({"stock": "5"}, "stock"),
        ({"active": "no"}, "active"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_patch_is_422(world, session, users, shop, body, field):
    before = snapshot(session)
    err = assert_error(users("tj_clerk").patch(f"/items/{shop[1].id}", json=body), 422, "validation_error")
    assert field in err["details"]
    assert snapshot(session) == before


def test_patch_out_of_scope(world, users, shop):
    assert_error(users("xf_clerk").patch(f"/items/{shop[1].id}", json={"stock": 1}), 404, "not_found")
    assert_error(users("tj_recorder").patch(f"/items/{shop[1].id}", json={"stock": 1}), 403, "forbidden")
    assert_error(users("tj_clerk").patch("/items/999999", json={"stock": 1}), 404, "not_found")


def test_receipt_and_loss(world, session, users, shop):
    oil = shop[2]
    r = users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 7, "note": "乡里配送"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["stock"] == 10
    r = users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 2, "reason": "loss", "note": "漏油"})
    assert r.status_code == 201 and r.get_json()["stock"] == 8
    before = snapshot(session)
    err = assert_error(
        users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 9, "reason": "loss"}), 409, "out_of_stock"
    )
    assert err["details"]["item_id"] == oil.id and err["details"]["stock"] == 8
    assert snapshot(session) == before
    assert movement_rows(session, oil.id) == [("receipt", 3, None), ("receipt", 7, None), ("loss", -2, None)]
    for body, field in (
        ({"quantity": 0}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 1, "reason": "gift"}, "reason"),
    ):
        err = assert_error(users("tj_clerk").post(f"/items/{oil.id}/receipts", json=body), 422, "validation_error")
        assert field in err["details"]
    assert_error(users("xf_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 1}), 404, "not_found")
    assert snapshot(session) == before


def test_receipts_keep_stock_within_the_bound_an_edit_keeps(world, session, users, shop):
    """Receipts may not push stock past what PATCH allows: enough of them would run past
    the 32-bit column (a 500 on PostgreSQL)."""
    oil = shop[2]  # 3 in stock
    r = users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": shop_services.MAX_STOCK - 3})
    assert r.status_code == 201 and r.get_json()["stock"] == shop_services.MAX_STOCK
    before = snapshot(session)
    err = assert_error(
        users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 1}), 422, "validation_error"
    )
    assert "quantity" in err["details"]
    assert snapshot(session) == before
    r = users("tj_clerk").post(f"/items/{oil.id}/receipts", json={"quantity": 1, "reason": "loss"})
    assert r.status_code == 201 and r.get_json()["stock"] == shop_services.MAX_STOCK - 1


def leaderboard(users, world):
    r = users("tj_resident").get(f"/leaderboards?period={quarter_of(TODAY)}&village_id={world.a.id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


@pytest.mark.parametrize("by", ["household_id", "qr_token"])
def test_redeem(world, session, users, shop, by):
    s, rice, _, soap = shop
    h = world.households["tj1"]
    r = users("tj_recorder").post(
        "/entries",
        json={"household_id": h.id, "rule_id": world.rules["tj_school"].id, "occurred_on": TODAY.isoformat()},
    )
    assert r.status_code == 201, r.get_json()
    board = leaderboard(users, world)
    assert [(row["household_id"], row["points"], row["rank"]) for row in board][:1] == [(h.id, 3, 1)]
    entries_before = session.scalar(select(func.count(Entry.id)))

    token = users("tj_clerk").get(f"/households/{h.id}/qr").get_json()["token"]
    body = redeem_body(
        s,
        [(rice, 2), (soap, 4)],
        household=h if by == "household_id" else None,
        token=token if by == "qr_token" else None,
    )
    r = users("tj_clerk").post("/redemptions", json=body)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["household_id"] == h.id
    assert out["total_points"] == 80
    assert out["balance_after"] == 223  # 300 + 3 - 80
    assert out["status"] == "completed"
    assert out["yuan_value"] == 80.0
    assert [(ln["item_id"], ln["quantity"], ln["price_points"], ln["points"]) for ln in out["lines"]] == [
        (rice.id, 2, 30, 60),
        (soap.id, 4, 5, 20),
    ]
    assert balance(session, h) == 223
    assert users("tj_clerk").get(f"/households/{h.id}").get_json()["redeemable"] == 123
    entry = session.get(Entry, out["entry_id"])
    assert (entry.kind, entry.points, entry.ranked, entry.status) == ("redemption", -80, False, "approved")
    assert session.scalar(select(func.count(Entry.id))) == entries_before + 1
    assert (session.get(Item, rice.id).stock, session.get(Item, soap.id).stock) == (8, 16)
    assert movement_rows(session, rice.id)[-1] == ("redemption", -2, out["id"])
    assert movement_rows(session, soap.id)[-1] == ("redemption", -4, out["id"])
    assert leaderboard(users, world) == board  # a redemption never moves a rank
    passbook = users("tj_resident").get(f"/households/{h.id}/entries").get_json()["items"]
    assert (passbook[0]["kind"], passbook[0]["points"]) == ("redemption", -80)


def test_redeem_down_to_the_floor_and_no_further(world, session, users, shop):
    s, rice, oil, soap = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    before = snapshot(session)
    err = assert_error(
        clerk.post("/redemptions", json=redeem_body(s, [(rice, 5), (soap, 11)], h)), 409, "insufficient_points"
    )
    assert err["details"]["redeemable"] == 200 and err["details"]["needed"] == 205
    assert snapshot(session) == before
    r = clerk.post("/redemptions", json=redeem_body(s, [(rice, 5), (soap, 10)], h))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["balance_after"] == 100
    before = snapshot(session)
    err = assert_error(clerk.post("/redemptions", json=redeem_body(s, [(soap, 1)], h)), 409, "insufficient_points")
    assert err["details"]["redeemable"] == 0 and err["details"]["needed"] == 5
    # tj2 has only its opening balance, which is the floor
    err = assert_error(
        clerk.post("/redemptions", json=redeem_body(s, [(soap, 1)], world.households["tj2"])),
        409,
        "insufficient_points",
    )
    assert err["details"]["redeemable"] == 0 and err["details"]["needed"] == 5
    assert snapshot(session) == before


def test_out_of_stock_changes_nothing(world, session, users, shop):
    s, rice, oil, _ = shop
    h = world.households["tj1"]
    give_points(session, world, h, 1000)
    before = snapshot(session)
    err = assert_error(users("tj_clerk").post("/redemptions", json=redeem_body(s, [(oil, 4)], h)), 409, "out_of_stock")
    assert err["details"]["item_id"] == oil.id and err["details"]["stock"] == 3
    assert snapshot(session) == before
    # the first line is on the shelf, the second is not: neither leaves it
    err = assert_error(
        users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 2), (oil, 5)], h)), 409, "out_of_stock"
    )
    assert err["details"]["item_id"] == oil.id and err["details"]["stock"] == 3
    assert snapshot(session) == before
    assert before["stocks"][rice.id] == 10 and before["balances"][h.id] == 1300


def test_invalid_cards(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    token = clerk.get(f"/households/{h.id}/qr").get_json()["token"]
    body, _, signature = token.rpartition(".")
    tampered_sig = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other_household = qr.make_token("test-secret", world.households["tj2"].id, 1)
    forged_id = other_household.split(".")
    forged_id = ".".join([forged_id[0], str(h.id), forged_id[2], forged_id[3]])
    before = snapshot(session)
    for bad in (
        "garbage",
        "MB1.1.1",
        tampered_sig,
        forged_id,  # tj2's signature on tj1's id
        qr.make_token("another-secret", h.id, 1),
        token + "x",
        "x" * 300,
    ):
        err = assert_error(clerk.post("/redemptions", json=redeem_body(s, [(rice, 1)], token=bad)), 400, "invalid_qr")
        assert err["details"] == {}
    assert snapshot(session) == before


def test_revoked_card(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    old = clerk.get(f"/households/{h.id}/qr").get_json()["token"]
    assert_error(users("tj_clerk").post(f"/households/{h.id}/qr/revoke"), 403, "forbidden")
    assert_error(users("xf_village_admin").post(f"/households/{h.id}/qr/revoke"), 404, "not_found")
    r = users("tj_village_admin").post(f"/households/{h.id}/qr/revoke")
    assert r.status_code == 200, r.get_json()
    new = r.get_json()["token"]
    assert new != old
    assert clerk.get(f"/households/{h.id}/qr").get_json() == {"token": new}
    before = snapshot(session)
    assert_error(clerk.post("/redemptions", json=redeem_body(s, [(rice, 1)], token=old)), 400, "qr_revoked")
    assert snapshot(session) == before
    r = clerk.post("/redemptions", json=redeem_body(s, [(rice, 1)], token=new))
    assert r.status_code == 201 and r.get_json()["household_id"] == h.id and r.get_json()["balance_after"] == 270


def test_card_of_another_village_is_invalid(world, session, users, shop):
    s, rice, _, _ = shop
    xf = world.households["xf1"]
    give_points(session, world, xf, 500)
    xf_token = users("xf_clerk").get(f"/households/{xf.id}/qr").get_json()["token"]
    before = snapshot(session)
    err = assert_error(
        users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], token=xf_token)), 400, "invalid_qr"
    )
    assert err["details"] == {}
    err = assert_error(users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], xf)), 400, "not_found")
    assert err["details"] == {"field": "household_id"}
    assert snapshot(session) == before


def test_who_may_redeem(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    body = redeem_body(s, [(rice, 1)], h)
    before = snapshot(session)
    for username in ("tj_resident", "tj_recorder", "tj_village_admin", "xf_resident"):
        assert_error(users(username).post("/redemptions", json=body), 403, "forbidden")
    err = assert_error(users("xf_clerk").post("/redemptions", json=body), 400, "not_found")
    assert err["details"] == {"field": "shop_id"}
    second = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "二号店")
    world.users["tj_clerk"].shop_id = second.id
    session.commit()
    assert_error(users("tj_clerk").post("/redemptions", json=body), 403, "forbidden")
    assert snapshot(session) == before
    world.users["tj_clerk"].shop_id = s.id
    session.commit()
    r = users("tj_clerk").post("/redemptions", json=body)
    assert r.status_code == 201 and r.get_json()["balance_after"] == 270
    r = users("admin").post("/redemptions", json=body)
    assert r.status_code == 201 and r.get_json()["balance_after"] == 240


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda rice: {"lines": []}, "lines"),
        (lambda rice: {"lines": [{"item_id": rice.id, "quantity": 0}]}, "lines"),
        (lambda rice: {"lines": [{"quantity": 1}]}, "lines"),
        (lambda rice: {"lines": [{"item_id": str(rice.id), "quantity": 1}]}, "lines"),
        (lambda rice: {"lines": "大米"}, "lines"),
        (lambda rice: {"lines": None}, "lines"),
        (lambda rice: {"shop_id": "1"}, "shop_id"),
        (lambda rice: {"household_id": None}, "qr_token"),
        (lambda rice: {"household_id": "1"}, "household_id"),
    ],
)
def test_bad_redemption_is_422(world, session, users, shop, change, field):
    s, rice, _, _ = shop
    body = redeem_body(s, [(rice, 1)], world.households["tj1"]) | change(rice)
    before = snapshot(session)
    err = assert_error(users("tj_clerk").post("/redemptions", json=body), 422, "validation_error")
    assert field in err["details"], err
    assert snapshot(session) == before


@pytest.mark.parametrize("quantity", [0, -1, 101, "1", 1.5, True])
def test_bad_quantity_is_422(world, session, users, shop, quantity):
    s, rice, _, _ = shop
    body = {
        "shop_id": s.id,
        "household_id": world.households["tj1"].id,
        "lines": [{"item_id": rice.id, "quantity": quantity}],
    }
    before = snapshot(session)
    err = assert_error(users("tj_clerk").post("/redemptions", json=body), 422, "validation_error")
    assert "lines" in err["details"]
    assert snapshot(session) == before


def test_neither_card_nor_household_is_422(world, session, users, shop):
    s, rice, _, _ = shop
    before = snapshot(session)
    for extra in ({}, {"qr_token": ""}, {"qr_token": None, "household_id": None}):
        body = {"shop_id": s.id, "lines": [{"item_id": rice.id, "quantity": 1}]} | extra
        err = assert_error(users("tj_clerk").post("/redemptions", json=body), 422, "validation_error")
        assert "qr_token" in err["details"]
    assert snapshot(session) == before


def test_idempotency_key(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    body = redeem_body(s, [(rice, 2)], h)
    first = clerk.post("/redemptions", json=body, headers={"Idempotency-Key": "till-1-0001"})
    assert first.status_code == 201, first.get_json()
    again = clerk.post("/redemptions", json=body, headers={"Idempotency-Key": "till-1-0001"})
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert balance(session, h) == 240  # charged once
    assert session.get(Item, rice.id).stock == 8
    assert session.scalar(select(func.count(Redemption.id))) == 1
    before = snapshot(session)
    assert_error(
        clerk.post("/redemptions", json=redeem_body(s, [(rice, 3)], h), headers={"Idempotency-Key": "till-1-0001"}),
        409,
        "idempotency_conflict",
    )
    assert snapshot(session) == before
    # a new key is a new sale
    r = clerk.post("/redemptions", json=body, headers={"Idempotency-Key": "till-1-0002"})
    assert r.status_code == 201 and r.get_json()["id"] != first.get_json()["id"]
    assert r.get_json()["balance_after"] == 180
    assert_error(clerk.post("/redemptions", json=body, headers={"Idempotency-Key": "k" * 256}), 422, "validation_error")


def test_refused_sale_does_not_burn_its_key(world, session, users, shop):
    s, _, oil, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    key = {"Idempotency-Key": "till-1-0003"}
    assert_error(clerk.post("/redemptions", json=redeem_body(s, [(oil, 4)], h), headers=key), 409, "out_of_stock")
    r = clerk.post("/redemptions", json=redeem_body(s, [(oil, 2)], h), headers=key)
    assert r.status_code == 201 and r.get_json()["balance_after"] == 200


def test_yuan_value_follows_the_scheme(world, session, users, shop):
    r = users("admin").put(
        f"/villages/{world.a.id}/scheme",
        json={
            "base_points": 100,
            "redeem_floor": 100,
            "yuan_per_point": 2.0,
            "approval_required": False,
            "notice_days": 7,
            "annual_reset": False,
        },
    )
    assert r.status_code == 200, r.get_json()
    s, rice, _, soap = shop
    r = users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1), (soap, 3)], world.households["tj1"]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total_points"] == 45 and r.get_json()["yuan_value"] == 90.0
    session.expire_all()
    assert session.get(Redemption, r.get_json()["id"]).yuan_value == 90.0


def test_cancel(world, session, users, shop):
    s, rice, oil, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    sale = clerk.post("/redemptions", json=redeem_body(s, [(rice, 2), (oil, 1)], h)).get_json()
    assert sale["balance_after"] == 190
    r = clerk.post(f"/redemptions/{sale['id']}/cancel", json={"reason": "拿错了商品"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["id"] == sale["id"] and out["status"] == "cancelled" and out["cancel_reason"] == "拿错了商品"
    assert balance(session, h) == 300
    refund = session.get(Entry, out["refund_entry_id"])
    assert (refund.kind, refund.points, refund.ranked, refund.status) == ("refund", 110, False, "approved")
    assert (session.get(Item, rice.id).stock, session.get(Item, oil.id).stock) == (10, 3)
    assert movement_rows(session, rice.id) == [
        ("receipt", 10, None),
        ("redemption", -2, sale["id"]),
        ("cancellation", 2, sale["id"]),
    ]
    assert movement_rows(session, oil.id)[-1] == ("cancellation", 1, sale["id"])
    before = snapshot(session)
    assert_error(clerk.post(f"/redemptions/{sale['id']}/cancel", json={"reason": "再来"}), 409, "already_cancelled")
    assert_error(
        users("tj_reviewer").post(f"/redemptions/{sale['id']}/cancel", json={"reason": "再来"}),
        409,
        "already_cancelled",
    )
    assert snapshot(session) == before
    assert reports.verify_stock(session) == []


def test_cancel_is_idempotent_with_a_key(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    clerk = users("tj_clerk")
    sale = clerk.post("/redemptions", json=redeem_body(s, [(rice, 1)], h)).get_json()
    key = {"Idempotency-Key": "cancel-1"}
    first = clerk.post(f"/redemptions/{sale['id']}/cancel", json={"reason": "退"}, headers=key)
    again = clerk.post(f"/redemptions/{sale['id']}/cancel", json={"reason": "退"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert balance(session, h) == 300
    assert session.scalar(select(func.count(Entry.id)).where(Entry.kind == "refund")) == 1


def test_clerk_cancels_same_day_only_reviewer_any_time(world, session, users, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    two_days_ago = utcnow() - timedelta(days=2)
    old = services.redeem(
        session,
        world.actor("tj_clerk"),
        shop_id=s.id,
        household_id=h.id,
        lines=[{"item_id": rice.id, "quantity": 1}],
        now=two_days_ago,
        today=local_today(TZ, two_days_ago),
        secret="test-secret",
    )
    session.commit()
    before = snapshot(session)
    assert_error(users("tj_clerk").post(f"/redemptions/{old.id}/cancel", json={"reason": "退货"}), 403, "forbidden")
    assert_error(users("tj_recorder").post(f"/redemptions/{old.id}/cancel", json={"reason": "退货"}), 403, "forbidden")
    assert_error(users("xf_reviewer").post(f"/redemptions/{old.id}/cancel", json={"reason": "退货"}), 404, "not_found")
    assert_error(users("tj_resident").post(f"/redemptions/{old.id}/cancel", json={"reason": "退货"}), 404, "not_found")
    assert snapshot(session) == before
    r = users("tj_reviewer").post(f"/redemptions/{old.id}/cancel", json={"reason": "退货"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled"
    assert balance(session, h) == 300
    assert session.get(Item, rice.id).stock == 10


def test_cancel_needs_a_reason(world, session, users, shop):
    s, rice, _, _ = shop
    sale = users("tj_clerk").post("/redemptions", json=redeem_body(s, [(rice, 1)], world.households["tj1"])).get_json()
    before = snapshot(session)
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 5}):
        err = assert_error(
            users("tj_clerk").post(f"/redemptions/{sale['id']}/cancel", json=body), 422, "validation_error"
        )
        assert "reason" in err["details"]
    assert_error(users("tj_reviewer").post("/redemptions/999999/cancel", json={"reason": "x"}), 404, "not_found")
    assert snapshot(session) == before


def test_card_token_and_images(world, users):
    h = world.households["tj1"]
    for username in ("tj_clerk", "tj_village_admin", "tj_resident", "admin"):
        r = users(username).get(f"/households/{h.id}/qr")
        assert r.status_code == 200, (username, r.get_json())
        assert qr.read_token("test-secret", r.get_json()["token"]) == (h.id, 1)
        png = users(username).get(f"/households/{h.id}/qr.png")
        assert png.status_code == 200 and png.mimetype == "image/png"
        assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
        svg = users(username).get(f"/households/{h.id}/qr.svg")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert b"<svg" in svg.data[:300] and svg.data.rstrip().endswith(b"</svg>")


def test_cards_out_of_scope_are_404(world, users):
    tj2, xf1 = world.households["tj2"], world.households["xf1"]
    for username, h in (("tj_resident", tj2), ("tj_resident", xf1), ("xf_clerk", tj2), ("xf_village_admin", tj2)):
        for suffix in ("qr", "qr.png", "qr.svg"):
            assert_error(users(username).get(f"/households/{h.id}/{suffix}"), 404, "not_found")
    assert_error(users("tj_clerk").get("/households/999999/qr"), 404, "not_found")
    assert_error(users("tj_resident").post(f"/households/{world.households['tj1'].id}/qr/revoke"), 403, "forbidden")


def test_card_endpoints_need_a_login(world, client):
    h = world.households["tj1"]
    for suffix in ("qr", "qr.png", "qr.svg"):
        r = client.get(f"/api/v1/households/{h.id}/{suffix}")
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.post("/api/v1/redemptions", json={})
    assert r.status_code == 401


def test_ledger_verify_after_a_day_at_the_shop(world, session, users, shop, runner):
    s, rice, oil, soap = shop
    clerk = users("tj_clerk")
    h = world.households["tj1"]
    one = clerk.post("/redemptions", json=redeem_body(s, [(rice, 1), (oil, 1)], h)).get_json()
    clerk.post("/redemptions", json=redeem_body(s, [(soap, 2)], h))
    clerk.post(f"/redemptions/{one['id']}/cancel", json={"reason": "退货"})
    clerk.post(f"/items/{oil.id}/receipts", json={"quantity": 5})
    clerk.post(f"/items/{oil.id}/receipts", json={"quantity": 1, "reason": "loss"})
    clerk.patch(f"/items/{soap.id}", json={"stock": 25})
    session.expire_all()
    assert reports.verify_stock(session) == []
    assert [(m.reason, m.delta) for m in session.scalars(select(StockMovement).order_by(StockMovement.id))][3:] == [
        ("redemption", -1),
        ("redemption", -1),
        ("redemption", -2),
        ("cancellation", 1),
        ("cancellation", 1),
        ("receipt", 5),
        ("loss", -1),
        ("adjustment", 7),
    ]
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output

    session.execute(text("UPDATE items SET stock = 3 WHERE id = :id"), {"id": oil.id})
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"item {oil.id}: stock 3 but movements say 7" in result.output
    assert "1 problem(s) found" in result.output
