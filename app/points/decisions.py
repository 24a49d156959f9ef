"""A reviewer's decisions on the ledger: approving or rejecting a pending entry (one by
one or in bulk) and reversing an approved one with a new, opposite entry."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.errors import AlreadyReversed, DomainError, NotApproved, NotFound, NotPending, SelfApproval, ValidationFailed
from app.households.models import Household
from app.points.ledger import LedgerWriter, lock_households
from app.points.models import APPROVED, KIND_OPENING, KIND_REVERSAL, KIND_RULE, PENDING, REJECTED, Entry
from app.points.services import REVIEWERS, check_period_open, get_entry
from app.schemes.services import can_see_scheme
from app.scope import Actor, require_role

REVERSIBLE_KINDS = (KIND_OPENING, KIND_RULE, "award")


def _locked_entry(session: Session, actor: Actor, entry_id) -> tuple[Household, Entry]:
    entry = get_entry(session, actor, entry_id)
    if not can_see_scheme(session, actor.user, entry.household.scheme):  # its scheme's officials
        raise NotFound()
    household = lock_households(session, [entry.household_id])[entry.household_id]
    session.refresh(entry)
    return household, entry


def approve_entry(session: Session, actor: Actor, entry_id, *, now: datetime) -> Entry:
    """A second person approves a pending entry; only then does it count."""
    require_role(actor, *REVIEWERS)
    household, entry = _locked_entry(session, actor, entry_id)
    if entry.status != PENDING:
        raise NotPending()
    if entry.recorded_by_id == actor.id:
        raise SelfApproval()
    check_period_open(session, entry.scheme_id, entry.occurred_on)
    LedgerWriter(session, now).decide(household, entry, APPROVED, actor.id)
    audit.record(
        session,
        actor,
        "entry.approve",
        village_id=entry.village_id,
        target=entry,
        summary=f"{household.number} {entry.title} {entry.points:+d}",
    )
    session.flush()
    return entry


def reject_entry(session: Session, actor: Actor, entry_id, *, reason: str, now: datetime) -> Entry:
    require_role(actor, *REVIEWERS)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [str(_l("请填写驳回理由"))]})
    household, entry = _locked_entry(session, actor, entry_id)
    if entry.status != PENDING:
        raise NotPending()
    if entry.recorded_by_id == actor.id:
        raise SelfApproval()
    LedgerWriter(session, now).decide(household, entry, REJECTED, actor.id, reason[:500])
    audit.record(
        session,
        actor,
        "entry.reject",
        village_id=entry.village_id,
        target=entry,
        summary=f"{household.number} {entry.title}: {reason}"[:300],
    )
    session.flush()
    return entry


def sees_as_official(session: Session, user, entry: Entry) -> bool:
    """Whether the user sees the entry as one of its officials (not as the resident of its
    household): of its village, or of its scheme for an account of no village (a region's
    village accounts)."""
    if entry.village_id is not None:
        return user.can_see_village(entry.village_id)
    return can_see_scheme(session, user, entry.household.scheme)


def reverse_entry(
    session: Session, actor: Actor, entry_id, *, reason: str, now: datetime, during_notice: bool = False
) -> Entry:
    """Correct an approved entry by appending its opposite; once only.

    Inside a closed period only an upheld objection may reverse (``during_notice``),
    and only while the period is in notice; a final period changes no more.
    """
    require_role(actor, *REVIEWERS)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [str(_l("请填写冲正理由"))]})
    household, entry = _locked_entry(session, actor, entry_id)
    if entry.kind == KIND_REVERSAL or session.scalar(select(Entry.id).where(Entry.reverses_id == entry.id)):
        raise AlreadyReversed()
    if entry.status != APPROVED or entry.kind not in REVERSIBLE_KINDS:
        raise NotApproved()
    if entry.ranked or entry.veto:
        check_period_open(session, entry.scheme_id, entry.occurred_on, allow_notice=during_notice)
    reversal = LedgerWriter(session, now).append_opposite(household, entry, by_id=actor.id, note=reason)
    session.flush()
    audit.record(
        session,
        actor,
        "entry.reverse",
        village_id=entry.village_id,
        target=entry,
        summary=f"{household.number} {entry.title} {entry.points:+d}: {reason}"[:300],
    )
    return reversal


def approve_entries(
    session: Session, actor: Actor, entry_ids: list, *, now: datetime
) -> tuple[list[Entry], list[tuple[int, DomainError]]]:
    """Approve several pending entries in one transaction; the ones that cannot be
    approved (someone's own, already decided, out of scope) are returned with why."""
    require_role(actor, *REVIEWERS)
    return _decide_each(session, entry_ids, lambda entry_id: approve_entry(session, actor, entry_id, now=now))


def reject_entries(
    session: Session, actor: Actor, entry_ids: list, *, reason: str, now: datetime
) -> tuple[list[Entry], list[tuple[int, DomainError]]]:
    """Reject several pending entries with one reason (a duplicated event, a rule that
    did not apply that day), as ``approve_entries`` approves them. Without a reason
    nothing is rejected."""
    require_role(actor, *REVIEWERS)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": [str(_l("请填写驳回理由"))]})
    return _decide_each(
        session, entry_ids, lambda entry_id: reject_entry(session, actor, entry_id, reason=reason, now=now)
    )


def _decide_each(session: Session, entry_ids: list, decide) -> tuple[list[Entry], list[tuple[int, DomainError]]]:
    """``decide`` each entry in a savepoint of its own: one that cannot be decided
    (someone's own, already decided, out of scope) is returned with why, the others
    stay decided."""
    decided: list[Entry] = []
    refused: list[tuple[int, DomainError]] = []
    for entry_id in dict.fromkeys(entry_ids):
        try:
            with session.begin_nested():
                decided.append(decide(entry_id))
        except DomainError as exc:
            refused.append((entry_id, exc))
    return decided, refused
