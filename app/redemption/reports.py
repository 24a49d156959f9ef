"""The shop's reports: monthly totals, top items and the settlement workbook, and the
proof that stock and redemptions add up."""

from dataclasses import dataclass
from datetime import UTC, date
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.points.proof import Problem
from app.redemption.models import CANCELLED, COMPLETED, Item, Redemption, RedemptionLine, Shop, StockMovement
from app.redemption.services import redemptions
from app.schemes.models import Scheme
from app.schemes.services import account_headings
from app.scope import in_villages
from app.spreadsheet import xlsx_bytes
from app.villages.models import Village


@dataclass
class MonthRow:
    shop_id: int
    shop_name: str
    month: str
    redemptions: int
    points: int
    yuan: float


def monthly_report(
    session: Session, village_id, *, scheme_id: int | None = None, shop_id: int | None = None
) -> list[MonthRow]:
    """Completed redemptions per shop and (local) month, with points and yuan value: of
    the shops of a village (a set of them, or all: ``in_villages``), of a scheme or of
    one shop.

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
    if scheme_id is not None:
        stmt = stmt.where(Shop.scheme_id == scheme_id)
    if shop_id is not None:
        stmt = stmt.where(Redemption.shop_id == shop_id)
    rows: dict[tuple[int, str], MonthRow] = {}
    for shop_id, name, day, count, pts, yuan in session.execute(stmt):
        month = f"{day:%Y-%m}"
        row = rows.setdefault((shop_id, month), MonthRow(shop_id, name, month, 0, 0, 0.0))
        row.redemptions += int(count)
        row.points += int(pts or 0)
        row.yuan = round(row.yuan + float(yuan or 0), 2)
    return sorted(rows.values(), key=lambda r: (r.month, r.shop_id), reverse=True)


def yuan_by_month(
    session: Session,
    year: int,
    *,
    village_id: int | frozenset[int] | None = None,
    township: str | None = None,
    scheme_id: int | None = None,
) -> dict[int, float]:
    """The yuan value of completed redemptions in each month (1…12) of ``year``: of a
    village (or a set of them), a township or a scheme's shops."""
    if township:
        ids = session.scalars(select(Village.id).where(Village.township == township)).all()
        report = [row for vid in ids for row in monthly_report(session, vid)]
    else:
        report = monthly_report(session, village_id, scheme_id=scheme_id)
    yuan = dict.fromkeys(range(1, 13), 0.0)
    for row in report:
        if row.month.startswith(f"{year}-"):
            yuan[int(row.month[5:7])] += row.yuan
    return yuan


def top_items(
    session: Session, village_id: int | frozenset[int] | None, limit: int = 10, *, shop_id: int | None = None
):
    stmt = (
        select(RedemptionLine.name, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(Redemption.status == COMPLETED)
        .group_by(RedemptionLine.name)
        .order_by(func.sum(RedemptionLine.points).desc())
        .limit(limit)
    )
    stmt = stmt.where(in_villages(Redemption.village_id, village_id))
    if shop_id is not None:
        stmt = stmt.where(Redemption.shop_id == shop_id)
    return session.execute(stmt).all()


def settlement_xlsx(
    session: Session,
    village_id: int | frozenset[int] | None,
    tz: str,
    month: str | None = None,
    shop_id: int | None = None,
) -> bytes:
    """The shop report for settling with whoever funds the goods (the village; for a
    爱心超市, often another budget: hence one shop alone): monthly totals, top items
    and every redemption (cancelled ones marked)."""
    summary = [
        [row.month, row.shop_name, row.redemptions, row.points, row.yuan]
        for row in monthly_report(session, village_id, shop_id=shop_id)
        if month is None or row.month == month
    ]
    top = [
        [name, int(quantity or 0), int(points or 0)]
        for name, quantity, points in top_items(session, village_id, 100, shop_id=shop_id)
    ]
    return xlsx_bytes(
        (str(_l("月度汇总")), [_l("月份"), _l("超市"), _l("兑换笔数"), _l("积分"), _l("折合金额（元）")], summary),
        (str(_l("商品排行")), [_l("商品"), _l("数量"), _l("积分")], top),
        (
            str(_l("兑换明细")),
            detail_headers(session, village_id, shop_id),
            _detail_rows(session, village_id, tz, month, shop_id),
        ),
    )


def detail_headers(session: Session, village_id: int | frozenset[int] | None, shop_id: int | None = None) -> list:
    """The detail sheet's headings: the account's number and name headed by the kind of
    account its shops serve (户号/户主 for households, 编号/姓名 for a 爱心超市's
    volunteers, …; 编号/名称 where the shops serve more than one kind)."""
    stmt = select(Scheme.account_kind).join(Shop, Shop.scheme_id == Scheme.id)
    stmt = stmt.where(in_villages(Shop.village_id, village_id))
    if shop_id is not None:
        stmt = stmt.where(Shop.id == shop_id)
    kinds = session.scalars(stmt).all()
    number, name = account_headings(*(kinds or ["household"]))
    return [
        _l("单号"),
        _l("时间"),
        _l("超市"),
        number,
        name,
        _l("商品"),
        _l("积分"),
        _l("折合金额（元）"),
        _l("状态"),
        _l("店员"),
    ]


def _detail_rows(
    session: Session, village_id: int | frozenset[int] | None, tz: str, month: str | None, shop_id: int | None
):
    stmt = redemptions(village_id=village_id, shop_id=shop_id).options(
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
        yield [
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
