"""Awards (评优) of a final period, and a fund shared among the winners (积分换项目:
洞口县 gives its best villages project funds). Money is Decimal to the fen, never float.
"""

from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import ValidationFailed
from app.points.ledger import LedgerWriter, lock_households
from app.rankings.models import AWARD_TITLES, Award
from app.rankings.periods import FINAL, PeriodNotFinal, latest_publication, named_scheme, period_row, scheme_period
from app.scope import Actor, require_role

ALLOCATIONS = ("equal", "proportional")
FEN = Decimal("0.01")
MAX_FUND = Decimal("999999999999.99")  # Numeric(14, 2)


def split_fund(fund: Decimal, points: list[int], allocation: str) -> list[Decimal]:
    """``fund`` shared among winners in rank order (best first), to the fen: ``equal``
    alike, or ``proportional`` to their points, where an account without positive points
    gets 0. The amounts add up to ``fund`` exactly: the fen that rounding down leaves
    over go one each to the best-ranked (with positive points, in ``proportional``), so
    that winners with equal points never differ by more than one fen."""
    if allocation not in ALLOCATIONS:
        raise ValueError(allocation)
    if not points:
        return []
    fen = int((fund / FEN).to_integral_value())
    weights = [1] * len(points) if allocation == "equal" else [max(p, 0) for p in points]
    total = sum(weights)
    if total == 0:
        raise ValueError("no positive points to share in proportion to")
    shares = [fen * w // total for w in weights]
    # Fewer fen are left than there are rows with a weight: each floor lost under one.
    left = fen - sum(shares)
    for i in (i for i, w in enumerate(weights) if w > 0):
        if not left:
            break
        shares[i] += 1
        left -= 1
    return [Decimal(s) * FEN for s in shares]


def parse_fund(fund_yuan, allocation) -> tuple[Decimal | None, str | None]:
    """The fund and its split as given (both or neither); 422 naming the field else."""
    if fund_yuan is None:
        if allocation is not None:
            raise ValidationFailed({"fund_yuan": [str(_l("指定了分配方式，请同时填写奖励资金"))]})
        return None, None
    errors = {}
    try:
        fund = fund_yuan if isinstance(fund_yuan, Decimal) else Decimal(str(fund_yuan).strip())
    except (InvalidOperation, ValueError):
        fund = None
    if (
        isinstance(fund_yuan, bool)
        or fund is None
        or not fund.is_finite()
        or not FEN <= fund <= MAX_FUND
        or fund != fund.quantize(FEN, rounding=ROUND_DOWN)
    ):
        errors["fund_yuan"] = [str(_l("奖励资金须为 0.01 到 999999999999.99 元，最多两位小数"))]
    if allocation not in ALLOCATIONS:
        errors["allocation"] = [str(_l("分配方式须为 equal（平均）或 proportional（按积分）"))]
    if errors:
        raise ValidationFailed(errors)
    return fund.quantize(FEN), allocation


def _check(scheme, title: str, top_n, bonus_points) -> None:
    errors = {}
    if not title or len(title) > 50:
        if scheme.account_kind == "village":  # a village scheme's award funds a project
            errors["title"] = [str(_l("请填写项目名称（50 字以内），如 积分换项目"))]
        else:
            errors["title"] = [str(_l("请填写称号（50 字以内），如 %(t)s", t="、".join(AWARD_TITLES)))]
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 1000:
        errors["top_n"] = [str(_l("名额须为 1 到 1000 的整数"))]
    if not isinstance(bonus_points, int) or isinstance(bonus_points, bool) or not 0 <= bonus_points <= 10_000:
        errors["bonus_points"] = [str(_l("奖励积分须为 0 到 10000 的整数"))]
    if errors:
        raise ValidationFailed(errors)


def grant_awards(
    session: Session,
    actor: Actor,
    *,
    period,
    village_id=None,
    scheme_id=None,
    title: str,
    top_n,
    bonus_points=0,
    fund_yuan=None,
    allocation=None,
    now: datetime,
    today: date,
) -> list[Award]:
    """Name the top ``top_n`` eligible accounts of the final standings (ties at the cut
    all included). A bonus is an ``award`` entry: balance only, never a ranking. A fund
    is shared among them (``split_fund``)."""
    require_role(actor, "reviewer")
    scheme = named_scheme(session, actor, village_id, scheme_id)
    period = scheme_period(scheme, period)
    title = (title or "").strip()
    _check(scheme, title, top_n, bonus_points)
    fund, allocation = parse_fund(fund_yuan, allocation)
    row = period_row(session, scheme.id, period)
    if row is None or row.status != FINAL:
        raise PeriodNotFinal(period=period)
    taken = select(Award.id).where(Award.scheme_id == scheme.id, Award.period == period, Award.title == title)
    if session.scalar(taken):
        raise ValidationFailed({"title": [str(_l("本期已评选过“%(t)s”", t=title))]})
    winners = _top_eligible(latest_publication(session, row).standings, top_n)
    amounts = split_fund(fund, [w["points"] for w in winners], allocation) if fund is not None else []
    households = lock_households(session, [w["household_id"] for w in winners]) if bonus_points else {}
    writer = LedgerWriter(session, now)
    awards = []
    for i, w in enumerate(winners):
        award = Award(
            scheme_id=scheme.id,
            village_id=scheme.village_id,
            period=period,
            title=title,
            household_id=w["household_id"],
            rank=w["rank"],
            points=w["points"],
            bonus_points=bonus_points,
            fund_yuan=fund,
            allocation=allocation,
            amount_yuan=amounts[i] if amounts else None,
            granted_by_id=actor.id,
            granted_at=now,
        )
        household = households.get(w["household_id"])
        if bonus_points and household is not None and household.moved_out_on is None:
            entry = writer.append(
                household,
                kind="award",
                title=f"{period} {title}",
                points=bonus_points,
                occurred_on=today,
                recorded_by_id=actor.id,
                approved_by_id=actor.id,
            )
            session.flush()
            award.bonus_entry_id = entry.id
        session.add(award)
        awards.append(award)
    try:
        session.flush()
    except IntegrityError as exc:  # the same title granted at the same moment
        raise ValidationFailed({"title": [str(_l("本期已评选过“%(t)s”", t=title))]}) from exc
    summary = f"{period} {title}: {len(awards)} 户" + (f"，各奖 {bonus_points} 分" if bonus_points else "")
    if fund is not None:
        summary += f"，奖金 {fund} 元（{'平均' if allocation == 'equal' else '按积分'}分配）"
    audit.record(session, actor, "award.grant", village_id=scheme.village_id, summary=summary[:300])
    return awards


def _top_eligible(standings: list[dict], top_n: int) -> list[dict]:
    chosen: list[dict] = []
    for row in standings:
        if not row.get("eligible", True) or row["points"] <= 0:
            continue  # vetoed, or nothing earned: no honour for standing still
        if len(chosen) >= top_n and row["rank"] != chosen[-1]["rank"]:
            break
        chosen.append(row)
    return chosen


def list_awards(scheme_id: int | None, period: str | None = None):
    """The awards of a scheme (None: of every scheme), newest period first."""
    stmt = select(Award).order_by(Award.period.desc(), Award.title, Award.rank, Award.id)
    if scheme_id is not None:
        stmt = stmt.where(Award.scheme_id == scheme_id)
    if period:
        stmt = stmt.where(Award.period == period)
    return stmt
