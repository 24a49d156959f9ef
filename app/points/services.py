"""Rules, entries, approvals and reversals: the domain operations of the points ledger.

Functions take the session, the acting user (``Actor``), ids and the time; they flush
but never commit (the request boundary commits), and raise ``app.errors`` exceptions.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, bindparam, cast, exists, func, select
from sqlalchemy.orm import Session, aliased, joinedload

from app.auth.models import User
from app.clock import cap_window, month_of, quarter_of, year_of
from app.errors import (
    BadReference,
    CapReached,
    EvidenceRequired,
    HouseholdMovedOut,
    NotFound,
    PeriodClosed,
    RuleInactive,
    ValidationFailed,
)
from app.households import services as households
from app.households.models import Household
from app.points import rules as rulebook
from app.points.evidence import usable_evidence
from app.points.ledger import LedgerWriter, lock_households
from app.points.models import (
    APPROVED,
    KIND_OPENING,
    KIND_REVERSAL,
    KIND_RULE,
    PENDING,
    Entry,
    Period,
    Rule,
)
from app.schemes import services as schemes
from app.scope import Actor, in_villages, require_role
from app.villages.models import Village

MAX_QUANTITY = 100
MAX_BATCH = 2000
EARLIEST_DATE = date(2000, 1, 1)
RECORDERS = ("recorder",)
REVIEWERS = ("reviewer",)
OPENING_TITLE = "开户基础分"  # stored data, like a rule's name

# One alias for every query: ``aliased()`` adapts every column when built.
_REVERSAL = aliased(Entry)


def _check_quantity_and_date(quantity, occurred_on, today: date) -> None:
    errors = {}
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = [str(_l("数量须为 1 到 %(n)s 的整数", n=MAX_QUANTITY))]
    if not isinstance(occurred_on, date):
        errors["occurred_on"] = [str(_l("日期格式须为 YYYY-MM-DD"))]
    elif occurred_on > today:
        errors["occurred_on"] = [str(_l("日期不能晚于今天"))]
    elif occurred_on < EARLIEST_DATE:
        errors["occurred_on"] = [str(_l("日期太早"))]
    if errors:
        raise ValidationFailed(errors)


def _cap_used(session: Session, household_ids: list[int], rule: Rule, occurred_on: date) -> dict[int, int]:
    """Units of ``rule`` per household in the cap window: approved and pending, not reversed."""
    start, end = cap_window(occurred_on, rule.cap_period)
    reversal = _REVERSAL
    rows = session.execute(
        select(Entry.household_id, func.sum(Entry.quantity))
        .where(
            Entry.household_id.in_(household_ids),
            Entry.rule_id == rule.id,
            Entry.kind == KIND_RULE,
            Entry.status.in_((PENDING, APPROVED)),
            Entry.occurred_on.between(start, end),
            ~exists().where(reversal.reverses_id == Entry.id),
        )
        .group_by(Entry.household_id)
    )
    return {hid: int(used or 0) for hid, used in rows}


def _usable_rule(
    session: Session, actor: Actor, rule_id, home_village_id: int | None, scheme_id: int, evidence_id
) -> tuple[Rule, str | None]:
    rule = rulebook.get_rule(session, actor, rule_id, field="rule_id")
    if rule.scheme_id != scheme_id:  # a rule of the account's scheme
        raise BadReference(field="rule_id")
    if not rule.active:
        raise RuleInactive()
    if evidence_id:
        return rule, usable_evidence(session, actor, evidence_id, rule.scheme, home_village_id)
    if rule.requires_evidence:
        raise EvidenceRequired()
    return rule, None


def _rule_entry(
    writer: LedgerWriter,
    household: Household,
    rule: Rule,
    actor: Actor,
    *,
    quantity: int,
    occurred_on: date,
    note: str,
    member_name: str,
    evidence: str | None,
) -> Entry:
    status = PENDING if rule.scheme.approval_required else APPROVED  # the household's scheme too
    return writer.append(
        household,
        kind=KIND_RULE,
        rule=rule,
        title=rule.name,
        category=rule.category,
        quantity=quantity,
        points=rule.points * quantity,
        ranked=True,
        veto=rule.veto,
        occurred_on=occurred_on,
        status=status,
        recorded_by_id=actor.id,
        approved_by_id=None,
        note=(note or "").strip()[:500],
        member_name=(member_name or "").strip()[:50],
        evidence=evidence,
    )


def closed_period(scheme_id, quarter, year, month, *, allow_notice: bool = False):
    """A scalar subquery: the scheme's closed ``quarter``, ``year`` or ``month`` (values,
    columns or bound parameters), or NULL. Only a monthly scheme has month rows, so a
    quarterly scheme's month never matches. ``allow_notice`` lets a period still in its
    notice window count as open."""
    stmt = select(Period.period).where(Period.scheme_id == scheme_id, Period.period.in_([quarter, year, month]))
    if allow_notice:
        stmt = stmt.where(Period.status != "notice")
    return stmt.limit(1).scalar_subquery()


# What recording an entry reads, in one round trip: the household (locked, with its
# scheme), the rule, and the scheme's closed quarter, year or month the day falls in (or NULL).
_ENTRY_CONTEXT = (
    select(
        Household,
        Rule,
        closed_period(Household.scheme_id, bindparam("quarter"), bindparam("year"), bindparam("month")),
    )
    .outerjoin(Rule, Rule.id == bindparam("rule_id"))
    .where(Household.id == bindparam("household_id"))
    .with_for_update(of=Household)
    .execution_options(populate_existing=True)
)


def record_entry(
    session: Session,
    actor: Actor,
    *,
    household_id,
    rule_id,
    quantity=1,
    occurred_on,
    today: date,
    now: datetime,
    note: str = "",
    member_name: str = "",
    evidence_id: str | None = None,
) -> Entry:
    """Record points for one household under a rule, within its cap."""
    require_role(actor, *RECORDERS)
    _check_quantity_and_date(quantity, occurred_on, today)
    found = (
        session.execute(
            _ENTRY_CONTEXT,
            {
                "household_id": household_id,
                "rule_id": rule_id if isinstance(rule_id, int) else None,
                "quarter": quarter_of(occurred_on),
                "year": year_of(occurred_on),
                "month": month_of(occurred_on),
            },
        ).first()
        if isinstance(household_id, int)
        else None
    )
    if found is None or not actor.user.can_see_household(found[0]):
        raise BadReference(field="household_id")
    household, closed = found[0], found[2]
    rule, evidence = _usable_rule(
        session, actor, rule_id, household.home_village_id, household.scheme_id, evidence_id
    )  # the rule: from the identity map
    if closed is not None:
        raise PeriodClosed(period=closed)
    if household.moved_out_on is not None:
        raise HouseholdMovedOut.of(household)
    if rule.cap_period:
        used = _cap_used(session, [household.id], rule, occurred_on).get(household.id, 0)
        if used + quantity > rule.cap_count:
            raise CapReached(cap_count=rule.cap_count, used=used)
    writer = LedgerWriter(session, now)
    entry = _rule_entry(
        writer,
        household,
        rule,
        actor,
        quantity=quantity,
        occurred_on=occurred_on,
        note=note,
        member_name=member_name,
        evidence=evidence,
    )
    session.flush()
    return entry


def record_batch(
    session: Session,
    actor: Actor,
    *,
    rule_id,
    household_ids: list,
    occurred_on,
    today: date,
    now: datetime,
    note: str = "",
    evidence_id: str | None = None,
) -> tuple[list[Entry], list[dict]]:
    """One rule for many households (an event): all created rows commit together.

    Households that cannot take the entry are skipped with a reason rather than
    failing the event: ``cap_reached``, ``moved_out``, ``not_found``, ``duplicate``.
    """
    require_role(actor, *RECORDERS)
    if not isinstance(household_ids, list) or not household_ids:
        raise ValidationFailed({"household_ids": [str(_l("请至少选择一户"))]})
    if len(household_ids) > MAX_BATCH:
        raise ValidationFailed({"household_ids": [str(_l("一次最多 %(n)s 户", n=MAX_BATCH))]})
    _check_quantity_and_date(1, occurred_on, today)
    rule = rulebook.get_rule(session, actor, rule_id, field="rule_id")
    if not schemes.can_see_scheme(session, actor.user, rule.scheme):  # not a resident's to use
        raise BadReference(field="rule_id")
    rule, evidence = _usable_rule(session, actor, rule_id, None, rule.scheme_id, evidence_id)
    check_period_open(session, rule.scheme_id, occurred_on)

    households = lock_households(session, household_ids, with_scheme=False)
    used = _cap_used(session, list(households), rule, occurred_on) if rule.cap_period else {}
    writer = LedgerWriter(session, now)
    created, skipped, seen = [], [], set()
    for hid in household_ids:
        household = households.get(hid)
        if hid in seen:
            skipped.append({"household_id": hid, "reason": "duplicate"})
            continue
        seen.add(hid)
        if household is None or household.scheme_id != rule.scheme_id:
            skipped.append({"household_id": hid, "reason": "not_found"})
        elif household.moved_out_on is not None:
            skipped.append({"household_id": hid, "reason": "moved_out"})
        elif rule.cap_period and used.get(hid, 0) + 1 > rule.cap_count:
            skipped.append({"household_id": hid, "reason": "cap_reached"})
        else:
            created.append(
                _rule_entry(
                    writer,
                    household,
                    rule,
                    actor,
                    quantity=1,
                    occurred_on=occurred_on,
                    note=note,
                    member_name="",
                    evidence=evidence,
                )
            )
    session.flush()
    return created, skipped


def check_period_open(session: Session, scheme_id: int, day: date, *, allow_notice: bool = False) -> None:
    """Refuse a change dated inside the scheme's closed quarter, year or month (``period_closed``)."""
    closed = closed_period(scheme_id, quarter_of(day), year_of(day), month_of(day), allow_notice=allow_notice)
    period = session.scalar(select(closed))
    if period is not None:
        raise PeriodClosed(period=period)


def _entry_in_scope(session: Session, actor: Actor, entry_id) -> Entry:
    entry = session.get(Entry, entry_id) if isinstance(entry_id, int) else None
    if entry is None or not actor.user.can_see_household(entry.household):
        raise NotFound()
    return entry


def get_entry(session: Session, actor: Actor, entry_id) -> Entry:
    return _entry_in_scope(session, actor, entry_id)


def open_account(session: Session, household: Household, actor: Actor, *, today: date, now: datetime) -> Entry | None:
    """A new household's opening entry of the scheme's ``base_points``."""
    base = household.scheme.base_points
    household.entry_count = household.entry_count or 0
    household.balance = household.balance or 0
    if not base:
        return None
    return LedgerWriter(session, now).append(
        household,
        kind=KIND_OPENING,
        title=OPENING_TITLE,
        points=base,
        occurred_on=today,
        recorded_by_id=actor.id,
        approved_by_id=actor.id,
    )


# What a passbook row shows besides itself (author, approver, the entry a reversal undoes,
# the reversal that undid it): all to-one, so joined into the page's own query.
PASSBOOK_ROW_LOADS = (
    joinedload(Entry.recorded_by).load_only(User.id, User.username, User.display_name),
    joinedload(Entry.approved_by).load_only(User.id, User.username, User.display_name),
    joinedload(Entry.reverses).load_only(Entry.id, Entry.seq),
    joinedload(Entry.reversed_by).load_only(Entry.id, Entry.seq),
)


def household_entries(household_id: int, period: str | None = None):
    """A household's passbook, newest first (add ``PASSBOOK_ROW_LOADS`` to show it)."""
    stmt = select(Entry).where(Entry.household_id == household_id).order_by(Entry.seq.desc())
    if period:
        if len(period) == 4:
            stmt = stmt.where(Entry.period.like(f"{period}Q%"))
        else:
            stmt = stmt.where(Entry.period == period)
    return stmt


def pending_entries(village_id: int | None):
    return select(Entry).where(Entry.status == PENDING, in_villages(Entry.village_id, village_id)).order_by(Entry.id)


def village_of(session: Session, village_id: int) -> Village | None:
    return session.get(Village, village_id)


def enroll_household(
    session: Session,
    actor: Actor,
    village_id,
    values: dict,
    *,
    today: date,
    now: datetime,
    field_name: str = "village_id",
) -> Household:
    """Register a household and open its account with the scheme's base points."""
    household = households.create_household(session, actor, village_id, values, field_name=field_name)
    open_account(session, household, actor, today=today, now=now)
    session.flush()
    return household


def entries_recorded_on(village_id: int, day: date, tz_name: str):
    """Rule entries and reversals of the village written on ``day`` (local), newest first."""
    zone = ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return (
        select(Entry)
        .where(
            Entry.village_id == village_id,
            Entry.kind.in_((KIND_RULE, KIND_REVERSAL)),
            Entry.created_at >= start,
            Entry.created_at < end,
        )
        .options(joinedload(Entry.household), joinedload(Entry.recorded_by))
        .order_by(Entry.created_at.desc(), Entry.id.desc())
    )


@dataclass
class QueueFilter:
    """The reviewer's narrowing of the queue: a household's number or head's name (part
    of), who recorded, which rule, the day of the deed from / to."""

    household: str = ""
    recorder_id: int | None = None
    rule_id: int | None = None
    since: date | None = None
    until: date | None = None


# An entry's month (``2026-03``) from its date's ISO text, on SQLite and PostgreSQL alike.
_ENTRY_MONTH = func.substr(cast(Entry.occurred_on, String), 1, 7)


def _published():
    """An entry's quarter, year or (only a monthly scheme has month rows) month is on
    notice or final in its scheme: it can be approved no more."""
    return exists().where(
        Period.scheme_id == Entry.scheme_id,
        Period.status.in_(("notice", "final")),
        Period.period.in_([Entry.period, func.substr(Entry.period, 1, 4), _ENTRY_MONTH]),
    )


def approval_queue(village_id: int | None, filters: QueueFilter | None = None, *, published: bool | None = None):
    """Pending entries, newest first, with what the queue shows loaded up front;
    ``published`` True keeps only those of a period already published (公示) or final
    (they can only be rejected), False only the others."""
    stmt = (
        pending_entries(village_id)
        .options(joinedload(Entry.household), joinedload(Entry.recorded_by))
        .order_by(None)
        .order_by(Entry.created_at.desc(), Entry.id.desc())
    )
    if village_id is not None:
        stmt = stmt.where(*_published_or_not(published))
    f = filters or QueueFilter()
    if f.household.strip():
        q = f.household.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            Entry.household_id.in_(
                select(Household.id).where(
                    func.upper(Household.number).like(f"%{q.upper()}%", escape="\\")
                    | Household.head_name.like(f"%{q}%", escape="\\")
                )
            )
        )
    if f.recorder_id:
        stmt = stmt.where(Entry.recorded_by_id == f.recorder_id)
    if f.rule_id:
        stmt = stmt.where(Entry.rule_id == f.rule_id)
    if f.since:
        stmt = stmt.where(Entry.occurred_on >= f.since)
    if f.until:
        stmt = stmt.where(Entry.occurred_on <= f.until)
    return stmt


def _published_or_not(published: bool | None) -> tuple:
    """The condition of ``approval_queue``'s ``published``: none for None."""
    return () if published is None else (_published() if published else ~_published(),)


def pending_by_village(session: Session, village_ids, *, published: bool | None = None) -> dict[int, int]:
    """``{village_id: pending entries}`` for the given villages (a region's overview);
    ``published`` as in ``approval_queue``: False counts those that can be approved."""
    rows = session.execute(
        select(Entry.village_id, func.count(Entry.id))
        .where(Entry.status == PENDING, Entry.village_id.in_(sorted(village_ids)), *_published_or_not(published))
        .group_by(Entry.village_id)
    )
    return {vid: int(n) for vid, n in rows}


def count_pending(session: Session, village_id: int | None, *, published: bool | None = None) -> int:
    """Pending entries of the village(s); ``published`` as in ``approval_queue``."""
    stmt = select(func.count(Entry.id)).where(
        Entry.status == PENDING, in_villages(Entry.village_id, village_id), *_published_or_not(published)
    )
    return int(session.scalar(stmt) or 0)


def batch_entries(session: Session, actor: Actor, rule_id: int, created_at: datetime) -> list[Entry]:
    """The entries one ``record_batch`` call of the actor wrote (they share ``created_at``)."""
    return list(
        session.scalars(
            select(Entry)
            .where(
                Entry.recorded_by_id == actor.id,
                Entry.rule_id == rule_id,
                Entry.kind == KIND_RULE,
                Entry.created_at == created_at,
            )
            .options(joinedload(Entry.household))
            .order_by(Entry.id)
        )
    )


def queue_recorders(session: Session, village_id: int) -> list[User]:
    """Who recorded the village's pending entries: the queue's recorder filter."""
    recorded = select(Entry.recorded_by_id).where(Entry.village_id == village_id, Entry.status == PENDING)
    return list(session.scalars(select(User).where(User.id.in_(recorded)).order_by(User.username)))
