"""The county's monthly scoring of its villages (积分换项目): the village accounts of a
region's ``village`` scheme, one township at a time, and one tap per indicator and month.

Reads and the tap itself; the entry is the ordinary ledger's (``points.record_entry``),
so caps, closed months, hash chains and totals are those of every other account."""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from app.clock import month_of, parse_period, quarter_of, year_of
from app.errors import BadReference, NotFound, ValidationFailed
from app.households.models import Household
from app.points import services as points
from app.points.models import APPROVED, KIND_RULE, PENDING, Entry, Period, Rule
from app.regions.models import Region
from app.regions.services import can_see_region, region_ids_below, villages_below
from app.schemes.models import Scheme
from app.schemes.services import scheme_in_scope
from app.scope import Actor, household_in_scope
from app.villages.models import Village

MONTHS_SHOWN = 12
_REVERSAL = aliased(Entry)


class NotVillageScheme(NotFound):
    """A scheme in the actor's sight whose accounts are not villages: its own pages show it."""

    def __init__(self, scheme: Scheme):
        super().__init__()
        self.scheme = scheme


def village_scheme(session: Session, actor: Actor, scheme_id) -> Scheme:
    """A region's scheme whose accounts are villages, if the actor may see it; else 404
    (``NotVillageScheme`` for another scheme the actor sees)."""
    scheme = scheme_in_scope(session, actor, scheme_id)
    if scheme.account_kind != "village" or scheme.region_id is None:
        raise NotVillageScheme(scheme)
    return scheme


def _village_schemes(session: Session, user):
    """The select of the village schemes in the user's scope (None: none can be)."""
    stmt = select(Scheme).where(Scheme.account_kind == "village", Scheme.region_id.is_not(None))
    if user.is_admin:
        return stmt
    if user.region_id is None:
        return None
    return stmt.where(Scheme.region_id.in_(sorted(region_ids_below(session, user.region_id))))


def village_schemes(session: Session, user) -> list[Scheme]:
    """The village schemes a region's official (or the administrator) may open: its
    region's and those below it, not a region's above it."""
    stmt = _village_schemes(session, user)
    return [] if stmt is None else list(session.scalars(stmt.order_by(Scheme.id)))


def runs_village_scheme(session: Session, user) -> bool:
    """Whether the user has a village scheme to open (its menu item and landing page)."""
    stmt = _village_schemes(session, user)
    return stmt is not None and session.scalar(select(stmt.with_only_columns(Scheme.id).limit(1).exists())) is True


def townships(session: Session, user, scheme: Scheme) -> list[Region]:
    """The townships below the scheme's region that the user sees (the region itself
    when it is a township)."""
    below = region_ids_below(session, scheme.region_id)
    rows = session.scalars(
        select(Region).where(Region.id.in_(sorted(below)), Region.level == "township").order_by(Region.code)
    )
    return [r for r in rows if can_see_region(session, user, r.id)]


def township_of(session: Session, user, scheme: Scheme, township_id) -> Region:
    """The township asked for (or the first one), below the scheme's region and in the
    user's sight; 404 for any other."""
    choices = townships(session, user, scheme)
    if township_id is None:
        if not choices:
            raise NotFound()
        return choices[0]
    for region in choices:
        if region.id == township_id:
            return region
    raise NotFound()


def month_choices(today: date, count: int = MONTHS_SHOWN) -> list[str]:
    """This month and the months before it, newest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def check_month(text, today: date) -> str:
    """``2026-03``: a month that has begun; ValidationFailed otherwise."""
    text = str(text or "")
    try:
        start, _end = parse_period(text)
    except ValueError:
        start = None
    if start is None or len(text) != 7 or text[4] != "-":
        raise ValidationFailed({"month": [str(_l("月份格式须为 YYYY-MM"))]})
    if start > today:
        raise ValidationFailed({"month": [str(_l("不能为以后的月份记分"))]})
    return text


def scoring_day(month: str, today: date) -> date:
    """The day a tap is dated: today in this month, the month's last day before it."""
    return today if month_of(today) == month else parse_period(month)[1]


def indicators(session: Session, scheme: Scheme) -> list[Rule]:
    """The scheme's active rules, in the order of its categories, gains before deductions."""
    rules = session.scalars(select(Rule).where(Rule.scheme_id == scheme.id, Rule.active.is_(True))).all()
    order = {c: i for i, c in enumerate(scheme.categories or [])}
    return sorted(rules, key=lambda r: (r.points < 0, order.get(r.category, len(order)), r.code))


def township_accounts(session: Session, scheme: Scheme, township: Region) -> list[Household]:
    """The village accounts of the scheme for the villages of a township, by village code."""
    return list(
        session.scalars(
            select(Household)
            .join(Village, Village.id == Household.home_village_id)
            .where(
                Household.scheme_id == scheme.id,
                Household.kind == "village",
                Household.home_village_id.in_(villages_below(township.id)),
            )
            .order_by(Village.code, Household.number)
        )
    )


def _live_in_month(month: str):
    """Rule entries of the month that count (approved or pending, not reversed)."""
    start, end = parse_period(month)
    return (
        Entry.kind == KIND_RULE,
        Entry.status.in_((PENDING, APPROVED)),
        Entry.occurred_on.between(start, end),
        ~exists().where(_REVERSAL.reverses_id == Entry.id),
    )


@dataclass
class Cell:
    points: int = 0
    count: int = 0
    pending: bool = False
    entry_id: int | None = None  # the cell's latest entry: what a correction reverses


@dataclass
class Grid:
    """What is recorded in a month: ``cells[(account_id, rule_id)]`` and each account's sum."""

    cells: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)


def month_grid(session: Session, scheme: Scheme, account_ids: list[int], month: str) -> Grid:
    grid = Grid()
    if not account_ids:
        return grid
    rows = session.execute(
        select(
            Entry.household_id, Entry.rule_id, Entry.status, func.sum(Entry.points), func.count(), func.max(Entry.id)
        )
        .where(Entry.scheme_id == scheme.id, Entry.household_id.in_(account_ids), *_live_in_month(month))
        .group_by(Entry.household_id, Entry.rule_id, Entry.status)
    )
    for account_id, rule_id, status, total, count, last_id in rows:
        cell = grid.cells.setdefault((account_id, rule_id), Cell())
        cell.points += int(total or 0)
        cell.count += int(count)
        cell.pending = cell.pending or status == PENDING
        cell.entry_id = max(cell.entry_id or 0, last_id)
        grid.totals[account_id] = grid.totals.get(account_id, 0) + int(total or 0)
    return grid


@dataclass
class MonthLock:
    """Whether a month still takes taps: ``status`` ``open``, or ``notice``/``final`` of
    the closed ``period`` that holds it (the month itself, its quarter or its year)."""

    status: str = "open"
    period: str | None = None


def month_lock(session: Session, scheme: Scheme, month: str) -> MonthLock:
    """The month's own state, else its quarter's, else its year's: closing any of them
    refuses every entry dated in the month (``points.check_period_open``)."""
    start = parse_period(month)[0]
    names = [month, quarter_of(start), year_of(start)]
    rows = dict(
        session.execute(
            select(Period.period, Period.status).where(Period.scheme_id == scheme.id, Period.period.in_(names))
        ).all()
    )
    for name in names:
        if name in rows:
            return MonthLock(rows[name], name)
    return MonthLock()


def tap_target(session: Session, actor: Actor, scheme: Scheme, account_id, rule_id, *, lock: bool = False):
    """The scheme's account (in the actor's scope) and rule a tap names; BadReference else."""
    account = household_in_scope(session, actor, account_id, field="account_id", lock=lock)
    if account.scheme_id != scheme.id:
        raise BadReference(field="account_id")
    rule = session.get(Rule, rule_id) if isinstance(rule_id, int) else None
    if rule is None or rule.scheme_id != scheme.id:
        raise BadReference(field="rule_id")
    return account, rule


def tap(
    session: Session, actor: Actor, scheme: Scheme, *, account_id, rule_id, month, today: date, now: datetime
) -> tuple[Entry, bool]:
    """Record one indicator for one village account in a month, once: the account is
    locked first, so a double tap (or two officials at once) finds the first tap's entry
    and records nothing. Returns the entry and whether it is new."""
    month = check_month(month, today)
    account, rule = tap_target(session, actor, scheme, account_id, rule_id, lock=True)
    existing = session.scalar(
        select(Entry)
        .where(Entry.household_id == account.id, Entry.rule_id == rule.id, *_live_in_month(month))
        .order_by(Entry.id)
        .limit(1)
    )
    if existing is not None:
        return existing, False
    entry = points.record_entry(
        session,
        actor,
        household_id=account.id,
        rule_id=rule.id,
        quantity=1,
        occurred_on=scoring_day(month, today),
        today=today,
        now=now,
        note=f"{month} 月度考评",
    )
    return entry, True
