"""The points shop's services: shops, items and their stock movements, QR cards,
redemption within the floor and the shelf, cancellation, and the stock proof."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app.errors import (
    AlreadyCancelled,
    BadReference,
    Forbidden,
    InsufficientPoints,
    InvalidQR,
    NotFound,
    OutOfStock,
    QRRevoked,
    ValidationFailed,
)
from app.households.models import Household
from app.points.ledger import LedgerWriter
from app.points.models import Entry
from app.points.proof import verify
from app.redemption import qr, reports, services
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, StockMovement
from tests.conftest import TODAY
from tests.factories import NOW

SECRET = "test-secret"
TZ = "Asia/Shanghai"


def give_points(session, world, household, points: int) -> None:
    """An award entry (never ranked) that tops up a household's balance; committed."""
    h = session.get(Household, household.id)
    session.refresh(h)
    LedgerWriter(session, NOW).append(
        h,
        kind="award",
        title="测试奖励",
        points=points,
        occurred_on=TODAY,
        recorded_by_id=world.admin.id,
        approved_by_id=world.admin.id,
    )
    session.commit()


def build_shop(session, world, village=None, name="团结村积分超市"):
    village = village or world.a
    admin = world.actor("tj_village_admin" if village.id == world.a.id else "xf_village_admin")
    shop = shop_services.create_shop(session, admin, village.id, name)
    rice = shop_services.create_item(
        session, admin, shop.id, {"name": "大米", "price_points": 30, "stock": 10}, now=NOW
    )
    oil = shop_services.create_item(
        session, admin, shop.id, {"name": "食用油", "price_points": 50, "stock": 3}, now=NOW
    )
    soap = shop_services.create_item(session, admin, shop.id, {"name": "肥皂", "price_points": 5, "stock": 20}, now=NOW)
    session.commit()
    return shop, rice, oil, soap


def snapshot(session) -> dict:
    """Everything a refused redemption must leave untouched."""
    session.expire_all()
    return {
        "balances": dict(session.execute(select(Household.id, Household.balance)).all()),
        "stocks": dict(session.execute(select(Item.id, Item.stock)).all()),
        "entries": session.scalar(select(func.count(Entry.id))),
        "movements": session.scalar(select(func.count(StockMovement.id))),
        "redemptions": session.scalar(select(func.count(Redemption.id))),
    }


def movement_rows(session, item_id):
    session.expire_all()
    return [
        (m.reason, m.delta, m.redemption_id)
        for m in session.scalars(
            select(StockMovement).where(StockMovement.item_id == item_id).order_by(StockMovement.id)
        )
    ]


@pytest.fixture
def shop(world, session):
    """团结村's shop with 大米 (30 分, 10), 食用油 (50 分, 3), 肥皂 (5 分, 20);
    tj1 has 300 points (200 redeemable over the floor of 100), tj2 the opening 100."""
    s = build_shop(session, world)
    give_points(session, world, world.households["tj1"], 200)
    return s


def sell(session, world, shop, lines, *, household="tj1", clerk="tj_clerk", now=NOW, **kw):
    if "qr_token" not in kw:
        kw["household_id"] = world.households[household].id
    r = services.redeem(
        session, world.actor(clerk), shop_id=shop.id, lines=lines, now=now, today=TODAY, secret=SECRET, **kw
    )
    session.commit()
    return r


def test_create_shop_in_own_village(world, session):
    s = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "  团结村积分超市 ")
    session.commit()
    assert (s.village_id, s.name, s.active) == (world.a.id, "团结村积分超市", True)


@pytest.mark.parametrize("username", ["tj_recorder", "tj_reviewer", "tj_clerk", "tj_resident"])
def test_only_village_admins_open_shops(world, session, username):
    with pytest.raises(Forbidden):
        shop_services.create_shop(session, world.actor(username), world.a.id, "超市")


def test_shop_of_another_village_is_a_bad_reference(world, session):
    with pytest.raises(BadReference) as exc:
        shop_services.create_shop(session, world.actor("tj_village_admin"), world.b.id, "超市")
    assert exc.value.details == {"field": "village_id"}


@pytest.mark.parametrize("name", ["", "   ", None, "店" * 101])
def test_shop_needs_a_name(world, session, name):
    with pytest.raises(ValidationFailed) as exc:
        shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, name)
    assert set(exc.value.details) == {"name"}


def test_opening_stock_is_a_receipt_movement(world, session, shop):
    _, rice, oil, _ = shop
    assert movement_rows(session, rice.id) == [("receipt", 10, None)]
    assert movement_rows(session, oil.id) == [("receipt", 3, None)]
    empty = shop_services.create_item(
        session, world.actor("tj_clerk"), shop[0].id, {"name": "毛巾", "price_points": 8}, now=NOW
    )
    session.commit()
    assert empty.stock == 0
    assert movement_rows(session, empty.id) == []


@pytest.mark.parametrize(
    "values, field",
    [
        ({"name": "毛巾", "price_points": 0}, "price_points"),
        ({"name": "毛巾", "price_points": -5}, "price_points"),
        ({"name": "毛巾", "price_points": "8"}, "price_points"),
        ({"name": "毛巾", "price_points": True}, "price_points"),
        ({"name": "毛巾", "price_points": 8, "stock": -1}, "stock"),
        ({"name": "", "price_points": 8}, "name"),
        ({"name": "毛巾"}, "price_points"),
    ],
)
def test_bad_items_are_refused(world, session, shop, values, field):
    with pytest.raises(ValidationFailed) as exc:
        shop_services.create_item(session, world.actor("tj_village_admin"), shop[0].id, values, now=NOW)
    assert field in exc.value.details


def test_stock_change_is_an_adjustment(world, session, shop):
    _, rice, _, _ = shop
    shop_services.update_item(session, world.actor("tj_clerk"), rice.id, {"stock": 7}, now=NOW)
    session.commit()
    shop_services.update_item(session, world.actor("tj_clerk"), rice.id, {"stock": 7, "price_points": 25}, now=NOW)
    session.commit()
    session.expire_all()
    assert (rice.stock, rice.price_points) == (7, 25)
    assert movement_rows(session, rice.id) == [("receipt", 10, None), ("adjustment", -3, None)]


def test_receipt_and_loss(world, session, shop):
    _, _, oil, _ = shop
    shop_services.receive_stock(session, world.actor("tj_clerk"), oil.id, 4, now=NOW)
    shop_services.receive_stock(session, world.actor("tj_clerk"), oil.id, 2, reason="loss", note="漏油", now=NOW)
    session.commit()
    session.expire_all()
    assert oil.stock == 5
    assert movement_rows(session, oil.id) == [("receipt", 3, None), ("receipt", 4, None), ("loss", -2, None)]
    before = snapshot(session)
    with pytest.raises(OutOfStock) as exc:
        shop_services.receive_stock(session, world.actor("tj_clerk"), oil.id, 6, reason="loss", now=NOW)
    assert exc.value.details["item_id"] == oil.id and exc.value.details["stock"] == 5
    session.rollback()
    assert snapshot(session) == before
    for bad in (0, -1, "3", None):
        with pytest.raises(ValidationFailed):
            shop_services.receive_stock(session, world.actor("tj_clerk"), oil.id, bad, now=NOW)
    with pytest.raises(ValidationFailed):
        shop_services.receive_stock(session, world.actor("tj_clerk"), oil.id, 1, reason="redemption", now=NOW)


def test_items_of_another_village_are_not_found(world, session, shop):
    with pytest.raises(NotFound):
        shop_services.update_item(session, world.actor("xf_clerk"), shop[1].id, {"stock": 1}, now=NOW)
    with pytest.raises(NotFound):
        shop_services.receive_stock(session, world.actor("xf_village_admin"), shop[1].id, 1, now=NOW)
    with pytest.raises(BadReference):
        shop_services.create_item(
            session, world.actor("xf_village_admin"), shop[0].id, {"name": "x", "price_points": 1}, now=NOW
        )


def test_redemption_moves_balance_ledger_and_stock_together(world, session, shop):
    s, rice, _, soap = shop
    h = world.households["tj1"]
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 2}, {"item_id": soap.id, "quantity": 3}])
    session.expire_all()
    assert (r.status, r.total_points, r.balance_after, r.household_id) == ("completed", 75, 225, h.id)
    assert r.yuan_value == 75.0
    assert [(ln.item_id, ln.quantity, ln.price_points, ln.points) for ln in r.lines] == [
        (rice.id, 2, 30, 60),
        (soap.id, 3, 5, 15),
    ]
    assert h.balance == 225
    entry = session.get(Entry, r.entry_id)
    assert (entry.kind, entry.points, entry.ranked, entry.status, entry.household_id) == (
        "redemption",
        -75,
        False,
        "approved",
        h.id,
    )
    assert (rice.stock, soap.stock) == (8, 17)
    assert movement_rows(session, rice.id)[-1] == ("redemption", -2, r.id)
    assert movement_rows(session, soap.id)[-1] == ("redemption", -3, r.id)
    assert verify(session) == [] and reports.verify_stock(session) == []


def test_same_item_on_two_lines_is_one_line(world, session, shop):
    s, _, oil, _ = shop
    lines = [{"item_id": oil.id, "quantity": 2}, {"item_id": oil.id, "quantity": 2}]
    before = snapshot(session)
    with pytest.raises(OutOfStock):  # 4 wanted, 3 on the shelf
        sell(session, world, s, lines)
    session.rollback()
    assert snapshot(session) == before
    r = sell(session, world, s, [{"item_id": oil.id, "quantity": 1}, {"item_id": oil.id, "quantity": 2}])
    assert [(ln.item_id, ln.quantity, ln.points) for ln in r.lines] == [(oil.id, 3, 150)]
    assert r.balance_after == 150


def test_floor_is_reachable_but_not_crossable(world, session, shop):
    s, rice, oil, soap = shop
    # 300 points, floor 100: 200 redeemable.
    with pytest.raises(InsufficientPoints) as exc:
        sell(session, world, s, [{"item_id": rice.id, "quantity": 5}, {"item_id": soap.id, "quantity": 11}])
    assert exc.value.details["redeemable"] == 200 and exc.value.details["needed"] == 205
    session.rollback()
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 5}, {"item_id": soap.id, "quantity": 10}])
    assert r.balance_after == 100
    before = snapshot(session)
    with pytest.raises(InsufficientPoints) as exc:
        sell(session, world, s, [{"item_id": soap.id, "quantity": 1}])
    assert exc.value.details["redeemable"] == 0 and exc.value.details["needed"] == 5
    session.rollback()
    assert snapshot(session) == before


def test_second_line_short_takes_nothing(world, session, shop):
    s, rice, oil, _ = shop
    give_points(session, world, world.households["tj1"], 500)  # points are not what stops it
    before = snapshot(session)
    with pytest.raises(OutOfStock) as exc:
        sell(session, world, s, [{"item_id": rice.id, "quantity": 1}, {"item_id": oil.id, "quantity": 4}])
    assert exc.value.details["item_id"] == oil.id and exc.value.details["stock"] == 3
    session.rollback()
    assert snapshot(session) == before
    assert before["stocks"][rice.id] == 10


def test_inactive_or_foreign_items_are_bad_references(world, session, shop):
    s, rice, _, _ = shop
    _, xf_rice, _, _ = build_shop(session, world, world.b, "幸福村超市")
    with pytest.raises(BadReference):
        sell(session, world, s, [{"item_id": xf_rice.id, "quantity": 1}])
    session.rollback()
    shop_services.update_item(session, world.actor("tj_village_admin"), rice.id, {"active": False}, now=NOW)
    session.commit()
    with pytest.raises(BadReference) as exc:
        sell(session, world, s, [{"item_id": rice.id, "quantity": 1}])
    assert exc.value.details["item_id"] == rice.id


def test_yuan_value_follows_the_scheme(world, session, shop):
    world.a.yuan_per_point = 2.0
    session.commit()
    s, rice, _, soap = shop
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 1}, {"item_id": soap.id, "quantity": 1}])
    session.expire_all()
    assert r.total_points == 35 and r.yuan_value == 70.0


def test_clerk_bound_to_another_shop_is_forbidden(world, session, shop):
    s = shop[0]
    second = shop_services.create_shop(session, world.actor("tj_village_admin"), world.a.id, "二号店")
    world.users["tj_clerk"].shop_id = second.id
    session.commit()
    with pytest.raises(Forbidden):
        sell(session, world, s, [{"item_id": shop[1].id, "quantity": 1}])


def test_card_token_finds_the_household_until_revoked(world, session, shop):
    s, rice, _, _ = shop
    h = world.households["tj1"]
    old = services.card_token(SECRET, h)
    assert services.household_from_token(session, world.actor("tj_clerk"), old, SECRET).id == h.id
    new = services.revoke_card(session, world.actor("tj_village_admin"), h.id, SECRET)
    session.commit()
    assert new != old
    assert qr.read_token(SECRET, new) == (h.id, 2)
    with pytest.raises(QRRevoked):
        services.household_from_token(session, world.actor("tj_clerk"), old, SECRET)
    with pytest.raises(InvalidQR):  # a village official of 幸福村 does not know this card
        services.household_from_token(session, world.actor("xf_clerk"), new, SECRET)
    with pytest.raises(InvalidQR):
        services.household_from_token(session, world.actor("tj_clerk"), qr.make_token("other", h.id, 2), SECRET)
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 1}], qr_token=new)
    assert r.household_id == h.id and r.balance_after == 270


def test_only_village_admins_revoke_cards(world, session):
    with pytest.raises(Forbidden):
        services.revoke_card(session, world.actor("tj_clerk"), world.households["tj1"].id, SECRET)
    with pytest.raises(NotFound):
        services.revoke_card(session, world.actor("xf_village_admin"), world.households["tj1"].id, SECRET)


def test_cancel_gives_points_and_goods_back(world, session, shop):
    s, rice, oil, _ = shop
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 2}, {"item_id": oil.id, "quantity": 1}])
    assert r.balance_after == 190
    later = NOW + timedelta(hours=3)
    services.cancel_redemption(session, world.actor("tj_clerk"), r.id, reason="拿错了", now=later, tz=TZ)
    session.commit()
    session.expire_all()
    h = world.households["tj1"]
    assert h.balance == 300
    assert (r.status, r.cancel_reason, r.cancelled_at) == ("cancelled", "拿错了", later)
    refund = session.get(Entry, r.refund_entry_id)
    assert (refund.kind, refund.points, refund.ranked) == ("refund", 110, False)
    assert (rice.stock, oil.stock) == (10, 3)
    assert movement_rows(session, rice.id)[-2:] == [("redemption", -2, r.id), ("cancellation", 2, r.id)]
    assert movement_rows(session, oil.id)[-2:] == [("redemption", -1, r.id), ("cancellation", 1, r.id)]
    before = snapshot(session)
    with pytest.raises(AlreadyCancelled):
        services.cancel_redemption(session, world.actor("tj_reviewer"), r.id, reason="再撤", now=later, tz=TZ)
    session.rollback()
    assert snapshot(session) == before
    assert verify(session) == [] and reports.verify_stock(session) == []


def test_clerk_cancels_only_on_the_same_local_day(world, session, shop):
    s, rice, _, _ = shop
    # 01:00 on 20 Nov in Shanghai (17:00 UTC on the 19th) ... 23:00 the same local day: allowed.
    early = sell(session, world, s, [{"item_id": rice.id, "quantity": 1}], now=datetime(2026, 11, 19, 17, 0))
    services.cancel_redemption(
        session, world.actor("tj_clerk"), early.id, reason="退货", now=datetime(2026, 11, 20, 15, 0), tz=TZ
    )
    session.commit()
    # 23:30 on 20 Nov in Shanghai; half past midnight (still 20 Nov in UTC) is the next local day.
    late = sell(session, world, s, [{"item_id": rice.id, "quantity": 1}], now=datetime(2026, 11, 20, 15, 30))
    with pytest.raises(Forbidden):
        services.cancel_redemption(
            session, world.actor("tj_clerk"), late.id, reason="退货", now=datetime(2026, 11, 20, 16, 30), tz=TZ
        )
    session.rollback()
    assert session.get(Redemption, late.id).status == "completed"
    services.cancel_redemption(
        session, world.actor("tj_reviewer"), late.id, reason="退货", now=datetime(2026, 12, 30, 1, 0), tz=TZ
    )
    session.commit()
    assert session.get(Redemption, late.id).status == "cancelled"


def test_cancel_needs_a_reason_and_scope(world, session, shop):
    s, rice, _, _ = shop
    r = sell(session, world, s, [{"item_id": rice.id, "quantity": 1}])
    for reason in ("", "   ", None):
        with pytest.raises(ValidationFailed):
            services.cancel_redemption(session, world.actor("tj_clerk"), r.id, reason=reason, now=NOW, tz=TZ)
    with pytest.raises(NotFound):
        services.cancel_redemption(session, world.actor("xf_reviewer"), r.id, reason="x", now=NOW, tz=TZ)
    with pytest.raises(NotFound):  # the resident sees its redemption but cannot cancel it
        services.cancel_redemption(session, world.actor("tj_resident"), r.id, reason="x", now=NOW, tz=TZ)
    with pytest.raises(Forbidden):
        services.cancel_redemption(session, world.actor("tj_recorder"), r.id, reason="x", now=NOW, tz=TZ)


def test_verify_stock_names_a_tampered_item(world, session, shop):
    s, rice, _, _ = shop
    sell(session, world, s, [{"item_id": rice.id, "quantity": 3}])
    assert reports.verify_stock(session) == []
    session.execute(text("UPDATE items SET stock = 99 WHERE id = :id"), {"id": rice.id})
    session.commit()
    problems = [str(p) for p in reports.verify_stock(session)]
    assert problems == [f"item {rice.id}: stock 99 but movements say 7"]
