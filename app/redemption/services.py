"""The points shop: shops, items, stock movements, QR cards, redemption and cancellation.

A redemption locks the household row, checks the floor, takes stock with conditional
UPDATEs (``stock = stock - q WHERE stock >= q``) and appends the ledger entry, all in
one transaction: no interleaving can overspend a household or oversell a shelf.
"""

import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from app.audit import services as audit
from app.clock import local_today
from app.errors import (
    AlreadyCancelled,
    BadReference,
    Forbidden,
    HouseholdMovedOut,
    InsufficientPoints,
    InvalidQR,
    NotFound,
    OutOfStock,
    QRRevoked,
    ValidationFailed,
)
from app.households import services as households
from app.households.models import Household
from app.points.ledger import LedgerWriter, Problem, lock_households
from app.redemption import qr
from app.redemption.models import (
    ADJUSTMENT,
    CANCELLED,
    COMPLETED,
    LOSS,
    RECEIPT,
    RETURN,
    SALE,
    Item,
    Redemption,
    RedemptionLine,
    Shop,
    StockMovement,
)
from app.scope import Actor, household_in_scope, in_villages, require_role, village_in_scope

MAX_LINES = 50
MAX_LINE_QUANTITY = 100
MAX_PRICE = 100_000
MAX_STOCK = 1_000_000


# --- shops and items -------------------------------------------------------------------


def create_shop(session: Session, actor: Actor, village_id, name: str) -> Shop:
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id, field="village_id")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed({"name": [str(_l("请填写超市名称（100 字以内）"))]})
    shop = Shop(village_id=village.id, name=name)
    session.add(shop)
    session.flush()
    audit.record(session, actor, "shop.create", village_id=village.id, target=shop, summary=name)
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
    stmt = select(Shop).order_by(Shop.village_id, Shop.id)
    return stmt.where(in_villages(Shop.village_id, village_id))


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
        _move(session, item, stock, RECEIPT, actor, now, note=str(_l("期初库存")))
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
        locked = _lock_item(session, item.id)
        if new_stock != locked.stock:
            changes["stock"] = [locked.stock, new_stock]
            _move(
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
    locked = _lock_item(session, item.id)
    delta = quantity if reason == RECEIPT else -quantity
    if locked.stock + delta < 0:
        raise OutOfStock(item_id=locked.id, stock=locked.stock, name=locked.name)
    if locked.stock + delta > MAX_STOCK:  # the bound an edit keeps; receipts must too (the column is 32-bit)
        raise ValidationFailed({"quantity": [str(_l("入库后库存不能超过 %(n)s", n=MAX_STOCK))]})
    _move(session, locked, delta, reason, actor, now, note=note)
    session.flush()
    return locked


def _lock_item(session: Session, item_id: int) -> Item:
    return session.scalars(
        select(Item).where(Item.id == item_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def _move(
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


# --- QR cards ------------------------------------------------------------------------------


def card_token(secret: str, household: Household) -> str:
    return qr.make_token(secret, household.id, household.qr_version)


def revoke_card(session: Session, actor: Actor, household_id, secret: str) -> str:
    """Issue a new card version; the old card is refused from now on."""
    require_role(actor, "village_admin")
    household = household_in_scope(session, actor, household_id)
    household = lock_households(session, [household.id])[household.id]
    household.qr_version += 1
    audit.record(
        session,
        actor,
        "household.qr_revoke",
        village_id=household.village_id,
        target=household,
        summary=f"{household.number} card v{household.qr_version}",
    )
    session.flush()
    return card_token(secret, household)


def household_from_token(session: Session, actor: Actor, token: str, secret: str, *, lock: bool = False) -> Household:
    """The household of a scanned card, in the actor's scope; else invalid_qr / qr_revoked."""
    parsed = qr.read_token(secret, token)
    if parsed is None:
        raise InvalidQR()
    household = session.get(Household, parsed[0], with_for_update={"of": Household} if lock else None)
    if household is None or not actor.user.can_see_village(household.village_id):
        raise InvalidQR()
    if parsed[1] != household.qr_version:
        raise QRRevoked()
    return household


# --- the counter and the cards ------------------------------------------------------------


def counter_shop(session: Session, actor: Actor, shop_id) -> Shop:
    """The shop the actor may sell at (a clerk bound to a shop sells only there)."""
    shop = shop_in_scope(session, actor, shop_id)
    _may_sell(actor, shop)
    return shop


def household_at_counter(session: Session, actor: Actor, shop: Shop, card: str, secret: str) -> Household:
    """The household of a scanned card token or a typed household number, in the shop's village."""
    card = (card or "").strip()
    if not card:
        raise ValidationFailed({"card": [str(_l("请扫积分卡或输入户号"))]})
    if card.startswith(qr.PREFIX + "."):
        household = household_from_token(session, actor, card, secret)
        if household.village_id != shop.village_id:
            raise InvalidQR()
    else:
        household = households.find_by_number(session, shop.village_id, card)
        if household is None:
            raise NotFound(_l("本村没有户号为 %(number)s 的农户"), number=card[:20])
    if household.moved_out_on is not None:
        raise HouseholdMovedOut(_l("该户已迁出，不能兑换"))
    return household


def card_households(village_id: int):
    """The households that get a card: those still in the village, by number."""
    return (
        select(Household)
        .where(Household.village_id == village_id, Household.moved_out_on.is_(None))
        .order_by(Household.number, Household.id)
    )


# --- redemption ------------------------------------------------------------------------------


def _clean_lines(lines) -> list[tuple[int, int]]:
    if not isinstance(lines, list) or not lines:
        raise ValidationFailed({"lines": [str(_l("请至少选择一件商品"))]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed({"lines": [str(_l("一次最多 %(n)s 种商品", n=MAX_LINES))]})
    wanted: Counter[int] = Counter()
    for line in lines:
        item_id = line.get("item_id") if isinstance(line, dict) else None
        quantity = line.get("quantity", 1) if isinstance(line, dict) else None
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            raise ValidationFailed({"lines": [str(_l("商品编号须为整数"))]})
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_LINE_QUANTITY:
            raise ValidationFailed({"lines": [str(_l("数量须为 1 到 %(n)s 的整数", n=MAX_LINE_QUANTITY))]})
        wanted[item_id] += quantity
    return sorted(wanted.items())  # item order: a fixed lock order


def _may_sell(actor: Actor, shop: Shop) -> None:
    """Clerks sell at their own shop (any shop of the village if none is set)."""
    require_role(actor, "clerk")
    user = actor.user
    if not user.is_admin and user.shop_id is not None and user.shop_id != shop.id:
        raise Forbidden()


def redeem(
    session: Session,
    actor: Actor,
    *,
    shop_id,
    lines,
    now: datetime,
    today: date,
    secret: str,
    qr_token: str | None = None,
    household_id=None,
) -> Redemption:
    """Exchange points for goods: balance, ledger entry, stock and movements in one go."""
    require_role(actor, "clerk")  # a resident or recorder is 403, whatever the shop_id
    shop = shop_in_scope(session, actor, shop_id, field="shop_id")
    _may_sell(actor, shop)
    wanted = _clean_lines(lines)
    # The household row is locked from here to the commit: one balance, one spender.
    if qr_token:
        household = household_from_token(session, actor, qr_token, secret, lock=True)
    elif household_id is not None:
        household = household_in_scope(session, actor, household_id, field="household_id", lock=True)
    else:
        raise ValidationFailed({"qr_token": [str(_l("请扫积分卡或输入户号"))]})
    if household.village_id != shop.village_id:
        raise BadReference(field="household_id")
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_([i for i, _ in wanted])))}
    for item_id, _ in wanted:
        item = items.get(item_id)
        if item is None or item.shop_id != shop.id or not item.active:
            raise BadReference(field="item_id", item_id=item_id)
    total = sum(items[i].price_points * q for i, q in wanted)
    if household.moved_out_on is not None:
        raise HouseholdMovedOut()
    floor = household.scheme.redeem_floor
    if household.balance - total < floor:
        redeemable = max(0, household.balance - floor)
        raise InsufficientPoints(redeemable=redeemable, needed=total, short=total - redeemable)
    entry = LedgerWriter(session, now).append(
        household,
        kind="redemption",
        title=str(shop.name),
        points=-total,
        occurred_on=today,
        recorded_by_id=actor.id,
        approved_by_id=actor.id,
        note="、".join(f"{items[i].name}×{q}" for i, q in wanted)[:500],
    )
    # Linked by relationships, so one flush writes the entry, the redemption, its lines
    # and the stock movements in dependency order.
    redemption = Redemption(
        shop_id=shop.id,
        village_id=shop.village_id,
        household_id=household.id,
        total_points=total,
        yuan_value=round(total * float(household.scheme.yuan_per_point), 2),
        balance_after=household.balance,
        status=COMPLETED,
        entry=entry,
        clerk_id=actor.id,
        created_at=now,
        business_day=today,
        lines=[
            RedemptionLine(
                item_id=i,
                name=items[i].name,
                unit=items[i].unit,
                quantity=q,
                price_points=items[i].price_points,
                points=items[i].price_points * q,
            )
            for i, q in wanted
        ],
    )
    session.add(redemption)
    for item_id, quantity in wanted:
        _move(session, items[item_id], -quantity, SALE, actor, now, redemption=redemption, adjust_cache=False)
    session.flush()
    # The stock last. An item's row is what every sale of it waits for, so it is locked
    # for as short a time as possible: this statement and the commit, not the writes
    # above. Out of stock, the whole transaction (entry and redemption too) rolls back.
    for item_id, quantity in wanted:
        taken = session.execute(
            update(Item)
            .where(Item.id == item_id, Item.stock >= quantity, Item.active.is_(True))
            .values(stock=Item.stock - quantity)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            stock = session.scalar(select(Item.stock).where(Item.id == item_id))
            raise OutOfStock(item_id=item_id, stock=stock, name=items[item_id].name)
    return redemption


def redemption_in_scope(session: Session, actor: Actor, redemption_id) -> Redemption:
    r = session.get(Redemption, redemption_id) if isinstance(redemption_id, int) else None
    if r is None or not (actor.user.can_see_village(r.village_id) or actor.user.household_id == r.household_id):
        raise NotFound()
    return r


def cancel_redemption(
    session: Session, actor: Actor, redemption_id, *, reason: str, now: datetime, tz: str
) -> Redemption:
    """Give points and goods back: a clerk on the same day, a reviewer or admin any time."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [str(_l("请填写撤销原因"))]})
    r = redemption_in_scope(session, actor, redemption_id)
    user = actor.user
    if not user.can_see_village(r.village_id):
        raise NotFound()
    same_day = local_today(tz, r.created_at) == local_today(tz, now)
    own_shop = user.shop_id is None or user.shop_id == r.shop_id
    if not (user.has_role("reviewer") or (user.has_role("clerk") and same_day and own_shop)):
        raise Forbidden(str(_l("店员只能撤销本店当天的兑换；其他请找评议员")))
    household = lock_households(session, [r.household_id])[r.household_id]
    session.refresh(r)
    if r.status == CANCELLED:
        raise AlreadyCancelled()
    refund = LedgerWriter(session, now).append(
        household,
        kind="refund",
        title=str(r.shop.name),
        points=r.total_points,
        occurred_on=local_today(tz, now),
        recorded_by_id=actor.id,
        approved_by_id=actor.id,
        note=reason[:500],
    )
    session.flush()
    for line in sorted(r.lines, key=lambda ln: ln.item_id):
        item = _lock_item(session, line.item_id)
        _move(session, item, line.quantity, RETURN, actor, now, redemption=r, note=reason)
    r.status = CANCELLED
    r.refund_entry_id = refund.id
    r.cancelled_at = now
    r.cancelled_by_id = actor.id
    r.cancel_reason = reason[:300]
    audit.record(
        session,
        actor,
        "redemption.cancel",
        village_id=r.village_id,
        target=r,
        summary=f"{r.number} {r.total_points}分: {reason}"[:300],
    )
    session.flush()
    return r


def redemptions(
    *,
    shop_id: int | None = None,
    household_id: int | None = None,
    village_id: int | None = None,
    day: date | None = None,
):
    stmt = select(Redemption).options(selectinload(Redemption.lines)).order_by(Redemption.id.desc())
    if shop_id is not None:
        stmt = stmt.where(Redemption.shop_id == shop_id)
    if household_id is not None:
        stmt = stmt.where(Redemption.household_id == household_id)
    stmt = stmt.where(in_villages(Redemption.village_id, village_id))
    if day is not None:
        stmt = stmt.where(Redemption.business_day == day)
    return stmt


# --- reports and proof --------------------------------------------------------------------------


@dataclass
class MonthRow:
    shop_id: int
    shop_name: str
    month: str
    redemptions: int
    points: int
    yuan: float


def monthly_report(session: Session, village_id: int | None) -> list[MonthRow]:
    """Completed redemptions per shop and (local) month, with points and yuan value.

    The database sums per day; days fold into months here, which every engine agrees on.
    """
    stmt = (
        select(
            Redemption.shop_id,
            Shop.name,
            Redemption.business_day,
            func.count(Redemption.id),
            func.sum(Redemption.total_points),
            func.sum(Redemption.yuan_value),
        )
        .join(Shop, Shop.id == Redemption.shop_id)
        .where(Redemption.status == COMPLETED)
        .group_by(Redemption.shop_id, Shop.name, Redemption.business_day)
    )
    stmt = stmt.where(in_villages(Redemption.village_id, village_id))
    rows: dict[tuple[int, str], MonthRow] = {}
    for shop_id, name, day, count, pts, yuan in session.execute(stmt):
        month = f"{day:%Y-%m}"
        row = rows.setdefault((shop_id, month), MonthRow(shop_id, name, month, 0, 0, 0.0))
        row.redemptions += int(count)
        row.points += int(pts or 0)
        row.yuan = round(row.yuan + float(yuan or 0), 2)
    return sorted(rows.values(), key=lambda r: (r.month, r.shop_id), reverse=True)


def top_items(session: Session, village_id: int | None, limit: int = 10):
    stmt = (
        select(RedemptionLine.name, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(Redemption.status == COMPLETED)
        .group_by(RedemptionLine.name)
        .order_by(func.sum(RedemptionLine.points).desc())
        .limit(limit)
    )
    stmt = stmt.where(in_villages(Redemption.village_id, village_id))
    return session.execute(stmt).all()


def settlement_xlsx(session: Session, village_id: int | None, tz: str, month: str | None = None) -> bytes:
    """The shop report for settling with the village that funds the goods: monthly totals,
    top items and every redemption (cancelled ones marked), as a write-only workbook."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet(str(_l("月度汇总")))
    summary.append([str(h) for h in (_l("月份"), _l("超市"), _l("兑换笔数"), _l("积分"), _l("折合金额（元）"))])
    for row in monthly_report(session, village_id):
        if month is None or row.month == month:
            summary.append([row.month, row.shop_name, row.redemptions, row.points, row.yuan])
    top = wb.create_sheet(str(_l("商品排行")))
    top.append([str(h) for h in (_l("商品"), _l("数量"), _l("积分"))])
    for name, quantity, points in top_items(session, village_id, limit=100):
        top.append([name, int(quantity or 0), int(points or 0)])
    detail = wb.create_sheet(str(_l("兑换明细")))
    detail.append(
        [
            str(h)
            for h in (
                _l("单号"),
                _l("时间"),
                _l("超市"),
                _l("户号"),
                _l("户主"),
                _l("商品"),
                _l("积分"),
                _l("折合金额（元）"),
                _l("状态"),
                _l("店员"),
            )
        ]
    )
    stmt = redemptions(village_id=village_id).options(
        selectinload(Redemption.shop), selectinload(Redemption.household), selectinload(Redemption.clerk)
    )
    if month is not None:
        year, mon = int(month[:4]), int(month[5:7])
        stmt = stmt.where(
            Redemption.business_day >= date(year, mon, 1),
            Redemption.business_day < (date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)),
        )
    zone = ZoneInfo(tz)
    for r in session.scalars(stmt.execution_options(yield_per=1000)):
        detail.append(
            [
                r.number,
                r.created_at.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                r.shop.name,
                r.household.number,
                r.household.head_name,
                "、".join(f"{ln.name}×{ln.quantity}" for ln in r.lines),
                r.total_points,
                float(r.yuan_value),
                str(_l("已撤销")) if r.status == CANCELLED else str(_l("已完成")),
                (r.clerk.display_name or r.clerk.username) if r.clerk else "",
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def verify_stock(session: Session) -> list[Problem]:
    """Each item's stock equals the sum of its movements; each redemption's lines add up."""
    problems = []
    sums = dict(
        session.execute(
            select(StockMovement.item_id, func.sum(StockMovement.delta)).group_by(StockMovement.item_id)
        ).all()
    )
    for item_id, stock in session.execute(select(Item.id, Item.stock)):
        expected = int(sums.get(item_id) or 0)
        if stock != expected:
            problems.append(Problem(f"item {item_id}: stock {stock} but movements say {expected}"))
    line_sums = dict(
        session.execute(
            select(RedemptionLine.redemption_id, func.sum(RedemptionLine.points)).group_by(RedemptionLine.redemption_id)
        ).all()
    )
    for rid, total, status, refund_id in session.execute(
        select(Redemption.id, Redemption.total_points, Redemption.status, Redemption.refund_entry_id)
    ):
        if int(line_sums.get(rid) or 0) != total:
            problems.append(Problem(f"redemption {rid}: lines add up to {line_sums.get(rid)}, total says {total}"))
        if (status == CANCELLED) != (refund_id is not None):
            problems.append(Problem(f"redemption {rid}: status {status} disagrees with its refund entry"))
    return problems
