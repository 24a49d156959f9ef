"""The cycle of a scheme's periods: close and publish (公示), objections (异议),
finalise. "一季度一公示、一季度一兑现"; a monthly scheme also runs it per month
("一月一汇总、一月一通报"). Awards are in ``app.rankings.awards``.

Closing freezes the standings of the scheme's accounts as a ``Publication``; an upheld
objection against an entry reverses it and publishes a new version; a final period
changes no more. A call names the scheme by ``scheme_id``, or by ``village_id`` for the
village's household scheme.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.clock import month_of, normalize_period, parse_period, quarter_of, year_of
from app.clock import periods_of as periods_of_day
from app.errors import (
    BadReference,
    DomainError,
    Forbidden,
    NotFound,
    NotPending,
    PeriodClosed,
    ValidationFailed,
)
from app.points import decisions
from app.points.models import KIND_RULE, Entry, Period
from app.rankings.models import DISMISSED, OPEN, UPHELD, Objection, Publication
from app.rankings.services import household_standings
from app.regions.services import village_ids_below
from app.schemes.models import Scheme
from app.schemes.services import PICK_ONE, can_see_scheme, scheme_in_scope, village_or_scheme
from app.scope import Actor, household_in_scope, in_villages, require_role, village_in_scope
from app.villages.models import Village

NOTICE, FINAL = "notice", "final"


class NoticeRunning(DomainError):
    code, message = "notice_running", _l("公示期至 %(notice_ends_on)s 结束，期满后才能定稿")


class ObjectionOpen(DomainError):
    code, message = "objection_open", _l("还有 %(count)s 条异议未处理")


class PeriodNotFinal(DomainError):
    code, message = "period_not_final", _l("%(period)s 的排名尚未定稿")


class PeriodOpen(DomainError):
    code, message = "period_open", _l("%(period)s 尚未公示")


class ObjectionWindowClosed(DomainError):
    code, message = "objection_window_closed", _l("%(period)s 已定稿，不再受理异议")


@dataclass
class PeriodView:
    scheme_id: int
    village_id: int | None  # the scheme's village (None for a region's scheme)
    period: str
    status: str
    notice_ends_on: date | None
    publication: Publication | None
    row: Period | None

    @property
    def standings(self) -> list[dict]:
        return self.publication.standings if self.publication else []


def _period_text(period) -> str:
    try:
        return normalize_period(period)
    except (ValueError, AttributeError) as exc:
        raise ValidationFailed({"period": [str(_l("期间格式须为 2026Q3、2026 或月份 2026-03"))]}) from exc


def is_month(period: str) -> bool:
    return len(period) == 7 and period[4] == "-"


def scheme_period(scheme: Scheme, period) -> str:
    """``period`` as written, if the scheme has it: a month only in a monthly scheme."""
    text = _period_text(period)
    if is_month(text) and scheme.cadence != "month":
        raise ValidationFailed({"period": [str(_l("该方案按季度考核，没有月度期间"))]})
    return text


def named_scheme(session: Session, actor: Actor, village_id, scheme_id, *, field: bool = True) -> Scheme:
    """The scheme a call names, in the actor's scope: ``scheme_id``, or the household
    scheme of ``village_id`` (one of the two, or both naming it: ``village_or_scheme``)."""
    village_id, scheme_id = village_or_scheme(session, village_id, scheme_id)
    if village_id is None and scheme_id is None:
        raise ValidationFailed({"village_id": [str(PICK_ONE)]})
    if scheme_id is not None:
        return scheme_in_scope(session, actor, scheme_id, field="scheme_id" if field else None)
    return village_in_scope(session, actor, village_id, field="village_id" if field else None).household_scheme


def readable_scheme(session: Session, actor: Actor, village_id=None, scheme_id=None) -> Scheme:
    """The scheme whose published standings the actor may read: its officials', and every
    user's of its village (or of a village below its region), residents included. An
    official of a region below a region's scheme (a township's, of its county's scheme)
    is not its official: 404, as for anything outside its region."""
    user = actor.user
    village_id, scheme_id = village_or_scheme(session, village_id, scheme_id)
    if village_id is None and scheme_id is None:
        raise NotFound()
    if scheme_id is not None:
        scheme = session.get(Scheme, scheme_id) if isinstance(scheme_id, int) else None
    else:
        village = session.get(Village, village_id) if isinstance(village_id, int) else None
        scheme = village.household_scheme if village is not None else None
    if scheme is None or user is None:
        raise NotFound()
    if can_see_scheme(session, user, scheme):
        return scheme
    if user.village_id is not None and (
        user.village_id == scheme.village_id
        or (scheme.region_id is not None and user.village_id in village_ids_below(session, scheme.region_id))
    ):
        return scheme
    raise NotFound()


def period_row(session: Session, scheme_id: int, period: str, *, lock: bool = False) -> Period | None:
    stmt = select(Period).where(Period.scheme_id == scheme_id, Period.period == period)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def latest_publication(session: Session, row: Period) -> Publication | None:
    return session.scalar(
        select(Publication).where(Publication.period_id == row.id).order_by(Publication.version.desc())
    )


def view_period(session: Session, scheme: Scheme, period: str) -> PeriodView:
    """The period of the scheme (``scheme``: a Scheme, or a village's household scheme
    named by its Village)."""
    if isinstance(scheme, Village):
        scheme = scheme.household_scheme
    row = period_row(session, scheme.id, period)
    if row is None:
        return PeriodView(scheme.id, scheme.village_id, period, "open", None, None, None)
    publication = latest_publication(session, row)
    return PeriodView(scheme.id, scheme.village_id, period, row.status, row.notice_ends_on, publication, row)


def get_period(session: Session, actor: Actor, village_id, period, *, scheme_id=None) -> PeriodView:
    """Anyone of the scheme's village or region (residents included) may read its
    published standings."""
    scheme = readable_scheme(session, actor, village_id, scheme_id)
    return view_period(session, scheme, scheme_period(scheme, period))


def _publish(session: Session, row: Period, actor: Actor, now: datetime, reason: str) -> Publication:
    current = latest_publication(session, row)
    standings = [s.to_dict() for s in household_standings(session, row.period, scheme_id=row.scheme_id)]
    publication = Publication(
        period_id=row.id,
        version=(current.version + 1) if current else 1,
        published_at=now,
        published_by_id=actor.id,
        reason=reason[:300],
        standings=standings,
    )
    session.add(publication)
    session.flush()
    return publication


def close_period(
    session: Session, actor: Actor, village_id, period, *, now: datetime, today: date, scheme_id=None
) -> PeriodView:
    """Freeze and publish the standings; open the notice window of ``notice_days``."""
    require_role(actor, "reviewer")
    scheme = named_scheme(session, actor, village_id, scheme_id)
    period = scheme_period(scheme, period)
    if parse_period(period)[0] > today:
        raise ValidationFailed({"period": [str(_l("该期间尚未开始"))]})
    if period_row(session, scheme.id, period) is not None:
        raise PeriodClosed(period=period)
    row = Period(
        scheme_id=scheme.id,
        village_id=scheme.village_id,
        period=period,
        status=NOTICE,
        closed_at=now,
        closed_by_id=actor.id,
        notice_ends_on=today + timedelta(days=scheme.notice_days),
    )
    try:
        with session.begin_nested():  # a second reviewer closing at the same moment
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise PeriodClosed(period=period) from exc
    _publish(session, row, actor, now, str(_l("公示")))
    audit.record(session, actor, "period.close", village_id=scheme.village_id, target=row, summary=f"{period} 公示")
    return view_period(session, scheme, period)


def finalize_period(
    session: Session, actor: Actor, village_id, period, *, now: datetime, today: date, scheme_id=None
) -> PeriodView:
    """After the notice window with no open objection (an admin may finalise early: the
    deployment's, or a region's admin in its scope)."""
    require_role(actor, "reviewer")
    scheme = named_scheme(session, actor, village_id, scheme_id)
    period = scheme_period(scheme, period)
    row = period_row(session, scheme.id, period, lock=True)
    if row is None:
        raise PeriodOpen(period=period)
    if row.status == FINAL:
        raise PeriodClosed(period=period)
    if today <= row.notice_ends_on and "admin" not in actor.user.roles:
        raise NoticeRunning(notice_ends_on=row.notice_ends_on.isoformat())
    open_count = len(_open_objections(session, scheme.id, period))
    if open_count:
        raise ObjectionOpen(count=open_count)
    row.status = FINAL
    row.finalized_at = now
    row.finalized_by_id = actor.id
    audit.record(session, actor, "period.finalize", village_id=scheme.village_id, target=row, summary=f"{period} 定稿")
    session.flush()
    return view_period(session, scheme, period)


def _overlap(a: str, b: str) -> bool:
    (a0, a1), (b0, b1) = parse_period(a), parse_period(b)
    return a0 <= b1 and b0 <= a1


def _open_objections(session: Session, scheme_id: int, period: str) -> list[Objection]:
    """The scheme's open objections bearing on ``period``: those of a period overlapping
    it (a year includes its quarters and months, a quarter its months and its year)."""
    stmt = select(Objection).where(
        Objection.scheme_id == scheme_id, Objection.status == OPEN, Objection.period.like(f"{period[:4]}%")
    )
    return [o for o in session.scalars(stmt) if _overlap(o.period, period)]


def _window_open(session: Session, scheme_id: int, periods) -> None:
    for p in periods:
        row = period_row(session, scheme_id, p)
        if row is not None and row.status == FINAL:
            raise ObjectionWindowClosed(period=p)


NOT_CONTESTABLE = _l("只能对按规则记的分提出异议；开户底分、兑换、退还、清零、奖励和冲正记录不受理异议")


def contestable(entry: Entry) -> bool:
    """Only a rule entry (kind ``rule``) is a judgement the committee can be asked to
    revisit: the base points of enrolment, redemptions, refunds, expiry, awards and
    reversals are not, and an upheld objection never reverses them."""
    return entry.kind == KIND_RULE


def _objected_entry(session: Session, user, entry_id, household_id):
    """The scheme, account, periods and period of an objection to an entry: its own
    household's (or a linked person's), or for a reviewer any in scope; ``household_id``,
    where given, must be the entry's account."""
    entry = session.get(Entry, entry_id) if isinstance(entry_id, int) else None
    account = entry.household if entry is not None else None
    mine = user.household_id
    own = account is not None and mine is not None and mine in (account.id, account.linked_household_id)
    if entry is None or not (own or (user.has_role("reviewer") and user.can_see_household(account))):
        raise BadReference(field="entry_id")
    if not contestable(entry):
        raise ValidationFailed({"entry_id": [str(NOT_CONTESTABLE)]})
    if household_id is not None and household_id != entry.household_id:
        raise ValidationFailed({"household_id": [str(_l("与所异议记录的账户不一致"))]})
    scheme = account.scheme
    periods = periods_of_day(entry.occurred_on, scheme.cadence)
    period_text = periods[-1] if scheme.cadence == "month" else entry.period  # the month, else the quarter
    return scheme, entry.household_id, periods, period_text


def _objected_standings(session: Session, actor: Actor, period, village_id, scheme_id, account):
    """The scheme and period of an objection to published standings: the scheme named,
    else the account's, else the user's village's household scheme."""
    if period is None:
        raise ValidationFailed({"period": [str(_l("请指明对哪一期的排名有异议"))]})
    if village_id is None and scheme_id is None:
        village_id, scheme_id = (None, account.scheme_id) if account is not None else (actor.user.village_id, None)
    field = "scheme_id" if scheme_id is not None else "village_id"
    try:
        scheme = readable_scheme(session, actor, village_id, scheme_id)
    except NotFound as exc:
        raise BadReference(field=field) from exc
    if account is not None and account.scheme_id != scheme.id:
        raise ValidationFailed({"household_id": [str(_l("该账户不属于所异议的积分方案"))]})
    return scheme, scheme_period(scheme, period)


def file_objection(
    session: Session,
    actor: Actor,
    *,
    reason: str,
    now: datetime,
    entry_id=None,
    period=None,
    village_id=None,
    scheme_id=None,
    household_id=None,
) -> Objection:
    """A resident objects to its own household's entry (or a linked person's) or to the
    standings of its village's scheme (``village_id``: its household scheme, or
    ``scheme_id``); reviewers may file too. Only while the period is open or in notice.
    ``household_id`` (``account_id``) names the account it is for (its own household, a
    linked person's account, or for a reviewer any in scope): an entry's own account,
    and of the named scheme; without a scheme named, it names the account's."""
    user = actor.user
    if user is None or not (user.has_role("reviewer") or user.household_id):
        raise Forbidden()
    village_id, scheme_id = village_or_scheme(session, village_id, scheme_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [str(_l("请写明异议理由"))]})
    if len(reason) > 1000:
        raise ValidationFailed({"reason": [str(_l("理由请控制在 1000 字以内"))]})
    account = None
    if household_id is not None:
        account = household_in_scope(session, actor, household_id, field="household_id")
    if entry_id is not None:
        scheme, household_id, periods, period_text = _objected_entry(session, user, entry_id, household_id)
    else:
        scheme, period_text = _objected_standings(session, actor, period, village_id, scheme_id, account)
        household_id = account.id if account is not None else user.household_id
        periods = (period_text,)
    _window_open(session, scheme.id, periods)
    village = scheme.village_id
    objection = Objection(
        scheme_id=scheme.id,
        village_id=village,
        period=period_text,
        entry_id=entry_id,
        household_id=household_id,
        reason=reason,
        status=OPEN,
        filed_by_id=actor.id,
        filed_at=now,
    )
    session.add(objection)
    session.flush()
    audit.record(
        session, actor, "objection.file", village_id=village, target=objection, summary=f"{period_text}: {reason}"[:300]
    )
    return objection


def objection_in_scope(session: Session, actor: Actor, objection_id) -> Objection:
    """Officials of its village, whoever filed it, and the household it is about (as
    ``GET /objections`` lists them)."""
    o = session.get(Objection, objection_id) if isinstance(objection_id, int) else None
    user = actor.user
    own = o is not None and user.household_id is not None and o.household_id == user.household_id
    if o is None or not (own or o.filed_by_id == user.id or _official_of(session, user, o)):
        raise NotFound()
    return o


def _official_of(session: Session, user, objection: Objection) -> bool:
    return can_see_scheme(session, user, session.get(Scheme, objection.scheme_id))


def decide_objection(
    session: Session, actor: Actor, objection_id, *, upheld: bool, note: str, now: datetime
) -> Objection:
    """Uphold (an objection against an entry reverses it and re-publishes) or dismiss."""
    require_role(actor, "reviewer")
    objection = objection_in_scope(session, actor, objection_id)
    if not _official_of(session, actor.user, objection):
        raise NotFound()
    session.refresh(objection, with_for_update=True)  # one decision, even when two reviewers race
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": [str(_l("请填写处理意见"))]})
    if objection.status != OPEN:
        raise NotPending()
    objection.status = UPHELD if upheld else DISMISSED
    objection.decided_by_id = actor.id
    objection.decided_at = now
    objection.decision_note = note[:1000]
    if upheld and objection.entry_id is not None:
        entry = session.get(Entry, objection.entry_id)
        already = session.scalar(select(Entry.id).where(Entry.reverses_id == entry.id))
        # Only a rule entry is reversed. Anything else (an opening balance, an award, a
        # reversal, redemption, refund or expiry, e.g. in an objection stored before
        # filing refused them) stays: the objection is still upheld (on record), and the
        # reviewer corrects it by other means.
        reversible = contestable(entry) and entry.status == "approved"
        if reversible and not already:
            reversal = decisions.reverse_entry(
                session, actor, entry.id, reason=f"异议成立：{note}"[:500], now=now, during_notice=True
            )
            objection.reversal_entry_id = reversal.id
        republish = periods_of_day(entry.occurred_on, entry.household.scheme.cadence)
    else:
        republish = (objection.period,) if upheld else ()
    for p in republish:
        row = period_row(session, objection.scheme_id, p)
        if row is not None and row.status == NOTICE:
            _publish(session, row, actor, now, str(_l("异议 #%(id)s 成立后重新公示", id=objection.id)))
    audit.record(
        session,
        actor,
        "objection.uphold" if upheld else "objection.dismiss",
        village_id=objection.village_id,
        target=objection,
        summary=note[:300],
    )
    session.flush()
    return objection


def list_objections(
    village_id: int | frozenset[int] | None,
    *,
    status: str | None = None,
    filed_by_id: int | None = None,
    household_id: int | None = None,
    scheme_id: int | None = None,
):
    """Objections of the villages' schemes (``acting_village_id``'s answer), or of one
    scheme (``scheme_id``, in place of the villages)."""
    where = Objection.scheme_id == scheme_id if scheme_id is not None else in_villages(Objection.village_id, village_id)
    stmt = select(Objection).where(where).order_by(Objection.id.desc())
    if status:
        stmt = stmt.where(Objection.status == status)
    if filed_by_id is not None or household_id is not None:
        stmt = stmt.where((Objection.filed_by_id == filed_by_id) | (Objection.household_id == household_id))
    return stmt


def objections_closed_at(session: Session, scheme_id: int) -> dict[str, datetime]:
    """When each final quarter, year or month of the scheme was finalised: objections to
    it, or to its entries, are no longer taken from then on."""
    rows = session.execute(
        select(Period.period, Period.finalized_at).where(Period.scheme_id == scheme_id, Period.status == FINAL)
    )
    return {period: at for period, at in rows}


def entry_objection_closed_at(closed: dict[str, datetime], entry) -> datetime | None:
    """When objections to ``entry`` closed (its quarter, year or month finalised), else None."""
    return closed.get(entry.period) or closed.get(entry.period[:4]) or closed.get(month_of(entry.occurred_on))


def periods_in_notice(session: Session, scheme_id: int) -> list[str]:
    """The scheme's periods on notice (公示中), newest first: the only ones whose
    standings an objection may still contest."""
    return list(
        session.scalars(
            select(Period.period)
            .where(Period.scheme_id == scheme_id, Period.status == NOTICE)
            .order_by(Period.period.desc())
        )
    )


def periods_of(today: date, count: int = 6) -> list[str]:
    """This quarter and the previous ones, then this year and last: for pickers."""
    out, day = [], today
    for _ in range(count):
        q = quarter_of(day)
        out.append(q)
        day = parse_period(q)[0] - timedelta(days=1)
    return out + [year_of(today), str(today.year - 1)]


def months_of(today: date, count: int = 12) -> list[str]:
    """This month and the previous ones, newest first: a monthly scheme's pickers."""
    out, year, month = [], today.year, today.month
    for _ in range(count):
        out.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def scheme_periods(scheme: Scheme, today: date) -> list[str]:
    """The periods a scheme's pickers offer: its months first in a monthly scheme."""
    return (months_of(today) if scheme.cadence == "month" else []) + periods_of(today)
