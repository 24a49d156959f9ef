"""Shops, their items and the stock movements that change a shelf's count."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import BadReference, NotFound, OutOfStock, ValidationFailed
from app.redemption.models import ADJUSTMENT, LOSS, RECEIPT, Item, Redemption, Shop, StockMovement
from app.regions.services import village_ids_below
from app.schemes.models import Scheme
from app.schemes.services import scheme_in_scope
from app.scope import Actor, in_villages, require_role, village_in_scope
from app.villages.models import Village

MAX_PRICE = 100_000


MAX_STOCK = 1_000_000


def shop_scheme(session: Session, actor: Actor, village: Village, scheme_id) -> Scheme:
    """The scheme whose cards a new shop of ``village`` takes: the village's household
    scheme unless another is named, which must be in scope and run by the village or a
    region above it."""
    if scheme_id is None:
        return village.household_scheme
    scheme = scheme_in_scope(session, actor, scheme_id, field="scheme_id")
    if scheme.village_id is not None:
        above = scheme.village_id == village.id
    else:
        above = village.id in village_ids_below(session, scheme.region_id)
    if not above:
        raise ValidationFailed({"scheme_id": [str(_l("超市只能收本村或其上级区域的积分方案的卡"))]})
    return scheme


def create_shop(session: Session, actor: Actor, village_id, name: str, scheme_id=None) -> Shop:
    """A shop in a village, taking the cards of one scheme (by default the village's
    household scheme)."""
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id, field="village_id")
    errors = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [str(_l("请填写超市名称（100 字以内）"))]
    try:
        scheme = shop_scheme(session, actor, village, scheme_id)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(errors)
    shop = Shop(village_id=village.id, scheme_id=scheme.id, name=name)
    session.add(shop)
    session.flush()
    summary = name if scheme.id == village.household_scheme.id else f"{name}（{scheme.name}）"
    audit.record(session, actor, "shop.create", village_id=village.id, target=shop, summary=summary[:300])
    return shop


def shop_in_scope(
    session: Session, actor: Actor, shop_id, *, field: str | None = None, residents: bool = False
) -> Shop:
    """A shop the actor may see: officials of its village, or (for the catalogue) residents."""
    shop = session.get(Shop, shop_id) if isinstance(shop_id, int) else None
    user = actor.user
    visible = shop is not None and (
        user.can_see_village(shop.village_id) or (residents and user.village_id == shop.village_id)
    )
    if not visible:
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return shop


def list_shops(village_id: int | None):
    return select(Shop).where(in_villages(Shop.village_id, village_id)).order_by(Shop.village_id, Shop.id)


def scheme_shop_names(session: Session, scheme_id: int) -> list[str]:
    """The names of the open shops that take the scheme's cards, for its cards' footer."""
    stmt = select(Shop.name).where(Shop.scheme_id == scheme_id, Shop.active.is_(True)).order_by(Shop.id)
    return list(session.scalars(stmt))


def _check_item_values(values: dict, *, partial: bool) -> dict:
    errors: dict[str, list[str]] = {}
    out = {}
    if not partial or "name" in values:
        name = str(values.get("name") or "").strip()
        if not name or len(name) > 100:
            errors["name"] = [str(_l("请填写商品名称（100 字以内）"))]
        out["name"] = name
    if "unit" in values:
        unit = str(values.get("unit") or "").strip() or "件"
        if len(unit) > 20:
            errors["unit"] = [str(_l("单位太长"))]
        out["unit"] = unit
    for field, low, high in (("price_points", 1, MAX_PRICE), ("stock", 0, MAX_STOCK), ("low_stock", 0, MAX_STOCK)):
        if field in values or (not partial and field == "price_points"):
            v = values.get(field)
            if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
                errors[field] = [str(_l("须为 %(lo)s 到 %(hi)s 的整数", lo=low, hi=high))]
            out[field] = v
    if "active" in values:
        out["active"] = bool(values["active"])
    if errors:
        raise ValidationFailed(errors)
    return out


def create_item(session: Session, actor: Actor, shop_id, values: dict, *, now: datetime) -> Item:
    """A new item; its opening stock is the first movement (a receipt)."""
    require_role(actor, "village_admin", "clerk")
    shop = shop_in_scope(session, actor, shop_id, field="shop_id")
    values = _check_item_values(values, partial=False)
    stock = values.pop("stock", 0) or 0
    item = Item(shop_id=shop.id, stock=0, **values)
    session.add(item)
    session.flush()
    if stock:
        move_stock(session, item, stock, RECEIPT, actor, now, note=str(_l("期初库存")))
    audit.record(
        session,
        actor,
        "item.create",
        village_id=shop.village_id,
        target=item,
        summary=f"{item.name} {item.price_points}分 ×{stock}",
    )
    return item


def item_in_scope(session: Session, actor: Actor, item_id, *, residents: bool = False) -> Item:
    item = session.get(Item, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound()
    shop_in_scope(session, actor, item.shop_id, residents=residents)
    return item


def update_item(session: Session, actor: Actor, item_id, values: dict, *, now: datetime) -> Item:
    """Change price, name or availability; a new ``stock`` is recorded as an adjustment."""
    require_role(actor, "village_admin", "clerk")
    item = item_in_scope(session, actor, item_id)
    values = _check_item_values(values, partial=True)
    new_stock = values.pop("stock", None)
    changes = audit.diff(item, values)
    if new_stock is not None:
        locked = lock_item(session, item.id)
        if new_stock != locked.stock:
            changes["stock"] = [locked.stock, new_stock]
            move_stock(
                session,
                locked,
                new_stock - locked.stock,
                ADJUSTMENT,
                actor,
                now,
                note=str(values.get("note") or _l("盘点调整")),
            )
    if changes:
        audit.record(
            session,
            actor,
            "item.update",
            village_id=item.shop.village_id,
            target=item,
            summary=item.name,
            changes=changes,
        )
    session.flush()
    return item


def receive_stock(
    session: Session, actor: Actor, item_id, quantity, *, reason: str = RECEIPT, note: str = "", now: datetime
) -> Item:
    """Goods in (入库, positive) or a loss written off (报损, entered as a positive quantity)."""
    require_role(actor, "village_admin", "clerk")
    item = item_in_scope(session, actor, item_id)
    if reason not in (RECEIPT, LOSS):
        raise ValidationFailed({"reason": [str(_l("原因须为入库或报损"))]})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_STOCK:
        raise ValidationFailed({"quantity": [str(_l("数量须为正整数"))]})
    locked = lock_item(session, item.id)
    delta = quantity if reason == RECEIPT else -quantity
    if locked.stock + delta < 0:
        raise OutOfStock(item_id=locked.id, stock=locked.stock, name=locked.name)
    if locked.stock + delta > MAX_STOCK:  # the bound an edit keeps; receipts must too (the column is 32-bit)
        raise ValidationFailed({"quantity": [str(_l("入库后库存不能超过 %(n)s", n=MAX_STOCK))]})
    move_stock(session, locked, delta, reason, actor, now, note=note)
    session.flush()
    return locked


def lock_item(session: Session, item_id: int) -> Item:
    return session.scalars(
        select(Item).where(Item.id == item_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def move_stock(
    session,
    item: Item,
    delta: int,
    reason: str,
    actor: Actor,
    now: datetime,
    *,
    note: str = "",
    redemption: Redemption | None = None,
    adjust_cache: bool = True,
) -> StockMovement:
    if adjust_cache:
        item.stock += delta
    movement = StockMovement(
        item_id=item.id,
        shop_id=item.shop_id,
        delta=delta,
        reason=reason,
        redemption=redemption,
        note=(note or "")[:300],
        by_id=actor.id,
        created_at=now,
    )
    session.add(movement)
    return movement


def list_items(shop_id: int, *, active_only: bool = False):
    stmt = select(Item).where(Item.shop_id == shop_id).order_by(Item.name, Item.id)
    if active_only:
        stmt = stmt.where(Item.active.is_(True))
    return stmt


def low_stock_items(shop_id: int):
    return list_items(shop_id, active_only=True).where(Item.stock <= Item.low_stock)


def movements(item_id: int):
    return select(StockMovement).where(StockMovement.item_id == item_id).order_by(StockMovement.id.desc())
