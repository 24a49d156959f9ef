"""The quarterly cycle: close and publish (公示), objections (异议), finalise, awards,
and the annual reset. "一季度一公示、一季度一兑现".

Closing freezes the standings as a ``Publication``; an upheld objection against an
entry reverses it and publishes a new version; a final period changes no more.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import services as audit
from app.clock import normalize_period, parse_period, quarter_of, year_of
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
from app.points.ledger import LedgerWriter, lock_households
from app.points.models import KIND_RULE, Entry, Period
from app.rankings.models import AWARD_TITLES, DISMISSED, OPEN, UPHELD, Award, Objection, Publication
from app.rankings.services import household_standings
from app.scope import Actor, in_villages, require_role, village_in_scope
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
    village_id: int
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
        raise ValidationFailed({"period": [str(_l("期间格式须为 2026Q3 或 2026"))]}) from exc


def _row(session: Session, village_id: int, period: str, *, lock: bool = False) -> Period | None:
    stmt = select(Period).where(Period.village_id == village_id, Period.period == period)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def latest_publication(session: Session, period_row: Period) -> Publication | None:
    return session.scalar(
        select(Publication).where(Publication.period_id == period_row.id).order_by(Publication.version.desc())
    )


def view_period(session: Session, village_id: int, period: str) -> PeriodView:
    row = _row(session, village_id, period)
    if row is None:
        return PeriodView(village_id, period, "open", None, None, None)
    return PeriodView(village_id, period, row.status, row.notice_ends_on, latest_publication(session, row), row)


def get_period(session: Session, actor: Actor, village_id, period) -> PeriodView:
    """Anyone of the village (residents included) may read its published standings."""
    period = _period_text(period)
    village = session.get(Village, village_id) if isinstance(village_id, int) else None
    if village is None or not (actor.user.can_see_village(village.id) or actor.user.village_id == village.id):
        raise NotFound()
    return view_period(session, village.id, period)


def _publish(session: Session, row: Period, actor: Actor, now: datetime, reason: str) -> Publication:
    current = latest_publication(session, row)
    standings = [s.to_dict() for s in household_standings(session, row.period, village_id=row.village_id)]
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


def close_period(session: Session, actor: Actor, village_id, period, *, now: datetime, today: date) -> PeriodView:
    """Freeze and publish the standings; open the notice window of ``notice_days``."""
    require_role(actor, "reviewer")
    village = village_in_scope(session, actor, village_id, field="village_id")
    period = _period_text(period)
    if parse_period(period)[0] > today:
        raise ValidationFailed({"period": [str(_l("该期间尚未开始"))]})
    if _row(session, village.id, period) is not None:
        raise PeriodClosed(period=period)
    row = Period(
        village_id=village.id,
        period=period,
        status=NOTICE,
        closed_at=now,
        closed_by_id=actor.id,
        notice_ends_on=today + timedelta(days=village.notice_days),
    )
    try:
        with session.begin_nested():  # a second reviewer closing at the same moment
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise PeriodClosed(period=period) from exc
    _publish(session, row, actor, now, str(_l("公示")))
    audit.record(session, actor, "period.close", village_id=village.id, target=row, summary=f"{period} 公示")
    return view_period(session, village.id, period)


def finalize_period(session: Session, actor: Actor, village_id, period, *, now: datetime, today: date) -> PeriodView:
    """After the notice window with no open objection (an admin may finalise early)."""
    require_role(actor, "reviewer")
    village = village_in_scope(session, actor, village_id, field="village_id")
    period = _period_text(period)
    row = _row(session, village.id, period, lock=True)
    if row is None:
        raise PeriodOpen(period=period)
    if row.status == FINAL:
        raise PeriodClosed(period=period)
    if today <= row.notice_ends_on and not actor.user.is_admin:
        raise NoticeRunning(notice_ends_on=row.notice_ends_on.isoformat())
    open_count = len(_open_objections(session, village.id, period))
    if open_count:
        raise ObjectionOpen(count=open_count)
    row.status = FINAL
    row.finalized_at = now
    row.finalized_by_id = actor.id
    audit.record(session, actor, "period.finalize", village_id=village.id, target=row, summary=f"{period} 定稿")
    session.flush()
    return view_period(session, village.id, period)


def _open_objections(session: Session, village_id: int, period: str) -> list[Objection]:
    """Open objections bearing on ``period``: a year includes its quarters."""
    stmt = select(Objection).where(Objection.village_id == village_id, Objection.status == OPEN)
    if len(period) == 4:
        stmt = stmt.where(Objection.period.like(f"{period}%"))
    else:
        stmt = stmt.where(Objection.period.in_((period, period[:4])))
    return list(session.scalars(stmt))


def _window_open(session: Session, village_id: int, periods) -> None:
    for p in periods:
        row = _row(session, village_id, p)
        if row is not None and row.status == FINAL:
            raise ObjectionWindowClosed(period=p)


NOT_CONTESTABLE = _l("只能对按规则记的分提出异议；开户底分、兑换、退还、清零、奖励和冲正记录不受理异议")


def contestable(entry: Entry) -> bool:
    """Only a rule entry (kind ``rule``) is a judgement the committee can be asked to
    revisit: the base points of enrolment, redemptions, refunds, expiry, awards and
    reversals are not, and an upheld objection never reverses them."""
    return entry.kind == KIND_RULE


def file_objection(
    session: Session,
    actor: Actor,
    *,
    reason: str,
    now: datetime,
    entry_id=None,
    period=None,
    village_id=None,
) -> Objection:
    """A resident objects to its own household's entry or its village's standings;
    reviewers may file too. Only while the period is open or in notice."""
    user = actor.user
    if user is None or not (user.has_role("reviewer") or user.household_id):
        raise Forbidden()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": [str(_l("请写明异议理由"))]})
    if len(reason) > 1000:
        raise ValidationFailed({"reason": [str(_l("理由请控制在 1000 字以内"))]})
    if entry_id is not None:
        entry = session.get(Entry, entry_id) if isinstance(entry_id, int) else None
        own = entry is not None and entry.household_id == user.household_id
        if entry is None or not (own or (user.has_role("reviewer") and user.can_see_village(entry.village_id))):
            raise BadReference(field="entry_id")
        if not contestable(entry):
            raise ValidationFailed({"entry_id": [str(NOT_CONTESTABLE)]})
        village, household_id, periods = entry.village_id, entry.household_id, (entry.period, entry.period[:4])
        period_text = entry.period
    else:
        if period is None:
            raise ValidationFailed({"period": [str(_l("请指明对哪一期的排名有异议"))]})
        period_text = _period_text(period)
        if village_id is None:
            village_id = user.village_id
        if (
            not isinstance(village_id, int)
            or not (user.village_id == village_id or user.can_see_village(village_id))
            or session.get(Village, village_id) is None
        ):
            raise BadReference(field="village_id")
        village, household_id, periods = village_id, user.household_id, (period_text,)
    _window_open(session, village, periods)
    objection = Objection(
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
    if o is None or not (user.can_see_village(o.village_id) or o.filed_by_id == user.id or own):
        raise NotFound()
    return o


def decide_objection(
    session: Session, actor: Actor, objection_id, *, upheld: bool, note: str, now: datetime
) -> Objection:
    """Uphold (an objection against an entry reverses it and re-publishes) or dismiss."""
    require_role(actor, "reviewer")
    objection = objection_in_scope(session, actor, objection_id)
    if not actor.user.can_see_village(objection.village_id):
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
        republish = (entry.period, entry.period[:4])
    else:
        republish = (objection.period,) if upheld else ()
    for p in republish:
        row = _row(session, objection.village_id, p)
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
):
    stmt = select(Objection).where(in_villages(Objection.village_id, village_id)).order_by(Objection.id.desc())
    if status:
        stmt = stmt.where(Objection.status == status)
    if filed_by_id is not None or household_id is not None:
        stmt = stmt.where((Objection.filed_by_id == filed_by_id) | (Objection.household_id == household_id))
    return stmt


def grant_awards(
    session: Session,
    actor: Actor,
    *,
    period,
    village_id,
    title: str,
    top_n,
    bonus_points=0,
    now: datetime,
    today: date,
) -> list[Award]:
    """Name the top ``top_n`` eligible households of the final standings (ties at the cut
    all included). A bonus is an ``award`` entry: balance only, never a ranking."""
    require_role(actor, "reviewer")
    village = village_in_scope(session, actor, village_id, field="village_id")
    period = _period_text(period)
    title = (title or "").strip()
    errors = {}
    if not title or len(title) > 50:
        errors["title"] = [str(_l("请填写称号（50 字以内），如 %(t)s", t="、".join(AWARD_TITLES)))]
    if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 1000:
        errors["top_n"] = [str(_l("名额须为 1 到 1000 的整数"))]
    if not isinstance(bonus_points, int) or isinstance(bonus_points, bool) or not 0 <= bonus_points <= 10_000:
        errors["bonus_points"] = [str(_l("奖励积分须为 0 到 10000 的整数"))]
    if errors:
        raise ValidationFailed(errors)
    row = _row(session, village.id, period)
    if row is None or row.status != FINAL:
        raise PeriodNotFinal(period=period)
    if session.scalar(
        select(Award.id).where(Award.village_id == village.id, Award.period == period, Award.title == title)
    ):
        raise ValidationFailed({"title": [str(_l("本期已评选过“%(t)s”", t=title))]})
    winners = _top_eligible(latest_publication(session, row).standings, top_n)
    households = lock_households(session, [w["household_id"] for w in winners]) if bonus_points else {}
    writer = LedgerWriter(session, now)
    awards = []
    for w in winners:
        award = Award(
            village_id=village.id,
            period=period,
            title=title,
            household_id=w["household_id"],
            rank=w["rank"],
            points=w["points"],
            bonus_points=bonus_points,
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
    audit.record(
        session,
        actor,
        "award.grant",
        village_id=village.id,
        summary=f"{period} {title}: {len(awards)} 户" + (f"，各奖 {bonus_points} 分" if bonus_points else ""),
    )
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


def list_awards(village_id: int | None, period: str | None = None):
    stmt = select(Award).order_by(Award.period.desc(), Award.title, Award.rank, Award.id)
    if village_id is not None:
        stmt = stmt.where(Award.village_id == village_id)
    if period:
        stmt = stmt.where(Award.period == period)
    return stmt


def objections_closed_at(session: Session, village_id: int) -> dict[str, datetime]:
    """When each final quarter or year of the village was finalised: objections to it,
    or to its entries, are no longer taken from then on."""
    rows = session.execute(
        select(Period.period, Period.finalized_at).where(Period.village_id == village_id, Period.status == FINAL)
    )
    return {period: at for period, at in rows}


def entry_objection_closed_at(closed: dict[str, datetime], entry) -> datetime | None:
    """When objections to ``entry`` closed (its quarter or its year finalised), else None."""
    return closed.get(entry.period) or closed.get(entry.period[:4])


def periods_in_notice(session: Session, village_id: int) -> list[str]:
    """The village's periods on notice (公示中), newest first: the only ones whose
    standings an objection may still contest."""
    return list(
        session.scalars(
            select(Period.period)
            .where(Period.village_id == village_id, Period.status == NOTICE)
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
