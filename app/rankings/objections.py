"""Objections (异议) to an entry or to published standings, while a period is open or
on notice; an upheld objection against an entry reverses it and publishes the standings
again. The cycle itself is in ``app.rankings.periods``."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.clock import month_of
from app.clock import periods_of as periods_of_day
from app.errors import BadReference, DomainError, Forbidden, NotFound, NotPending, ValidationFailed
from app.points import decisions
from app.points.models import KIND_RULE, Entry, Period
from app.rankings.models import DISMISSED, OPEN, UPHELD, Objection
from app.rankings.periods import FINAL, NOTICE, period_row, publish, readable_scheme, scheme_period
from app.schemes.models import Scheme
from app.schemes.services import can_see_scheme, village_or_scheme
from app.scope import Actor, household_in_scope, in_villages, require_role


class ObjectionWindowClosed(DomainError):
    code, message = "objection_window_closed", _l("%(period)s 已定稿，不再受理异议")


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
            publish(session, row, actor, now, str(_l("异议 #%(id)s 成立后重新公示", id=objection.id)))
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
