"""The points shop: shops, items, stock movements, QR cards, redemption and cancellation.

A redemption locks the household row, checks the floor, takes stock with conditional
UPDATEs (``stock = stock - q WHERE stock >= q``) and appends the ledger entry, all in
one transaction: no interleaving can overspend a household or oversell a shelf.
"""

from collections import Counter
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

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
from app.points.ledger import LedgerWriter, lock_households
from app.redemption import qr
from app.redemption import shops as shop_services
from app.redemption.models import (
    CANCELLED,
    COMPLETED,
    RETURN,
    SALE,
    Item,
    Redemption,
    RedemptionLine,
    Shop,
)
from app.scope import Actor, household_in_scope, in_villages, require_role

MAX_LINES = 50
MAX_LINE_QUANTITY = 100


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
        village_id=household.scheme.village_id,  # the village whose officials run the card
        target=household,
        summary=f"{household.number} 积分卡第 {household.qr_version} 版",
    )
    session.flush()
    return card_token(secret, household)


def household_from_token(session: Session, actor: Actor, token: str, secret: str, *, lock: bool = False) -> Household:
    """The account of a scanned card, in the actor's scope; else invalid_qr / qr_revoked."""
    parsed = qr.read_token(secret, token)
    if parsed is None:
        raise InvalidQR()
    household = session.get(Household, parsed[0], with_for_update={"of": Household} if lock else None)
    if household is None or not actor.user.can_see_household(household):
        raise InvalidQR()
    if parsed[1] != household.qr_version:
        raise QRRevoked()
    return household


def account_at_shop(
    session: Session,
    shop: Shop,
    *,
    token: str | None = None,
    account_id=None,
    field: str = "household_id",
    secret: str = "",
    lock: bool = False,
) -> Household:
    """The account a shop's counter serves: one of the shop's scheme, named by a scanned
    card (another scheme's card is invalid_qr) or by its id (a bad reference otherwise).
    Whoever may sell at the shop may serve its scheme's accounts, a region's scheme too."""
    lock_of = {"of": Household} if lock else None
    if token is not None:
        parsed = qr.read_token(secret, token)
        account = session.get(Household, parsed[0], with_for_update=lock_of) if parsed else None
        if account is None:
            raise InvalidQR()
        if account.scheme_id != shop.scheme_id:
            if account.home_village_id == shop.village_id:
                # The village's own card of another scheme (a household's at its 爱心超市):
                # say why. Another village's card stays unrecognised, as a forged one.
                raise InvalidQR(_l("这张积分卡不属于本店的积分方案，请到发卡方案的兑换点使用"))
            raise InvalidQR()
        if parsed[1] != account.qr_version:
            raise QRRevoked()
        return account
    account = session.get(Household, account_id, with_for_update=lock_of) if isinstance(account_id, int) else None
    if account is None or account.scheme_id != shop.scheme_id:
        raise BadReference(field=field)
    return account


def counter_shop(session: Session, actor: Actor, shop_id) -> Shop:
    """The shop the actor may sell at (a clerk bound to a shop sells only there)."""
    shop = shop_services.shop_in_scope(session, actor, shop_id)
    _may_sell(actor, shop)
    return shop


def household_at_counter(session: Session, actor: Actor, shop: Shop, card: str, secret: str) -> Household:
    """The account of a scanned card token or a typed number, of the shop's scheme."""
    card = (card or "").strip()
    if not card:
        typed = _l("请扫积分卡或输入户号") if shop.scheme.account_kind == "household" else _l("请扫积分卡或输入编号")
        raise ValidationFailed({"card": [str(typed)]})
    if card.startswith(qr.PREFIX + "."):
        household = account_at_shop(session, shop, token=card, secret=secret)
    else:
        household = households.find_by_number(session, None, card, scheme_id=shop.scheme_id)
        if household is None:
            loose = households.find_by_loose_number(session, None, card, scheme_id=shop.scheme_id)
            household = loose[0] if len(loose) == 1 else None
        if household is None:
            _refuse_account_elsewhere(session, shop, card)
            if shop.scheme.account_kind == "household":
                raise NotFound(_l("本村没有户号为 %(number)s 的农户"), number=card[:20])
            raise NotFound(_l("%(scheme)s没有编号为 %(number)s 的账户"), scheme=shop.scheme.name, number=card[:20])
    if household.moved_out_on is not None:
        raise HouseholdMovedOut.of(household, _l("该户已迁出，不能兑换"))
    return household


def _refuse_account_elsewhere(session: Session, shop: Shop, number: str) -> None:
    """A number of an account of another scheme, of the shop's village (or linked to one of
    its households): say where that account is served. Others are not told of."""
    number = number.strip()[:20]
    home = aliased(Household)
    account = session.scalar(
        select(Household)
        .outerjoin(home, Household.linked_household_id == home.id)
        .where(
            Household.scheme_id != shop.scheme_id,
            func.upper(Household.number) == number.upper(),
            or_(Household.home_village_id == shop.village_id, home.village_id == shop.village_id),
        )
        .order_by(Household.id)
        .limit(1)
    )
    if account is None:
        return
    shops = shop_services.scheme_shop_names(session, account.scheme_id)
    if shops:
        raise NotFound(
            _l("%(number)s 是“%(scheme)s”的账户，请到%(shops)s兑换"),
            number=account.number,
            scheme=account.scheme.name,
            shops="、".join(shops),
        )
    raise NotFound(
        _l("%(number)s 是“%(scheme)s”的账户，不能在本店兑换"), number=account.number, scheme=account.scheme.name
    )


def counter_lookup(
    session: Session, actor: Actor, shop: Shop, text: str, secret: str
) -> tuple[Household | None, list[Household]]:
    """What the clerk scanned or typed: ``(household, [])`` when it names one account,
    ``(None, candidates)`` to pick from (a name, a phone, part of a number); a card or a
    number of no account there, with nothing else like it, is refused as before."""
    try:
        return household_at_counter(session, actor, shop, text, secret), []
    except NotFound:
        if (text or "").strip().startswith(qr.PREFIX + "."):
            raise
        candidates = households.counter_candidates(session, None, text, scheme_id=shop.scheme_id)
        if not candidates:
            raise
        return None, candidates


def card_households(village_id: int):
    """The households that get a card: those still in the village, by number."""
    return (
        select(Household)
        .where(Household.village_id == village_id, Household.moved_out_on.is_(None))
        .order_by(Household.number, Household.id)
    )


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
    shop = shop_services.shop_in_scope(session, actor, shop_id, field="shop_id")
    _may_sell(actor, shop)
    wanted = _clean_lines(lines)
    # The account's row is locked from here to the commit: one balance, one spender.
    # Only accounts of the shop's scheme are served.
    if qr_token:
        household = account_at_shop(session, shop, token=qr_token, secret=secret, lock=True)
    elif household_id is not None:
        household = account_at_shop(session, shop, account_id=household_id, lock=True)
    else:
        raise ValidationFailed({"qr_token": [str(_l("请扫积分卡或输入户号"))]})
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_([i for i, _ in wanted])))}
    for item_id, _ in wanted:
        item = items.get(item_id)
        if item is None or item.shop_id != shop.id or not item.active:
            raise BadReference(field="item_id", item_id=item_id)
    total = sum(items[i].price_points * q for i, q in wanted)
    if household.moved_out_on is not None:
        raise HouseholdMovedOut.of(household)
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
        yuan_value=round(total * float(shop.scheme.yuan_per_point), 2),
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
        shop_services.move_stock(
            session, items[item_id], -quantity, SALE, actor, now, redemption=redemption, adjust_cache=False
        )
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
    mine = actor.user.household_id  # a resident: its household's, and its linked persons'
    own = r is not None and mine is not None and mine in (r.household_id, r.household.linked_household_id)
    if r is None or not (actor.user.can_see_village(r.village_id) or own):
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
    refund = LedgerWriter(session, now).append_opposite(
        household,
        r.entry,
        by_id=actor.id,
        note=reason,
        kind="refund",
        title=str(r.shop.name),
        occurred_on=local_today(tz, now),
    )
    session.flush()
    for line in sorted(r.lines, key=lambda ln: ln.item_id):
        item = shop_services.lock_item(session, line.item_id)
        shop_services.move_stock(session, item, line.quantity, RETURN, actor, now, redemption=r, note=reason)
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
    village_id: int | frozenset[int] | None = None,
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


def _linked_accounts(household_id: int):
    """The ids of the person accounts linked to a household (its volunteers)."""
    return select(Household.id).where(Household.linked_household_id == household_id)


def household_redemptions(household_id: int):
    """A household's own redemptions and those of the person accounts linked to it
    (its volunteers' at the 爱心超市), newest first."""
    return (
        redemptions()
        .where(
            or_(Redemption.household_id == household_id, Redemption.household_id.in_(_linked_accounts(household_id)))
        )
        .options(selectinload(Redemption.shop), selectinload(Redemption.household))
    )


def household_accounts(household_id: int):
    """The accounts a household's resident spends from: its own and those of the person
    accounts linked to it, still active (a shop serves only those of its own scheme)."""
    return (
        select(Household)
        .where(
            or_(Household.id == household_id, Household.id.in_(_linked_accounts(household_id))),
            Household.moved_out_on.is_(None),
        )
        .order_by(Household.id)
    )
