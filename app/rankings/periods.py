"""The cycle of a scheme's periods: close and publish (公示), objections (异议),
finalise. "一季度一公示、一季度一兑现"; a monthly scheme also runs it per month
("一月一汇总、一月一通报"). Objections are in ``app.rankings.objections``, awards in
``app.rankings.awards``.

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
from app.clock import normalize_period, parse_period, quarter_of, year_of
from app.errors import (
    DomainError,
    NotFound,
    PeriodClosed,
    ValidationFailed,
)
from app.points.models import Period
from app.rankings.models import OPEN, Objection, Publication
from app.rankings.services import household_standings
from app.regions.services import village_ids_below
from app.schemes.models import Scheme
from app.schemes.services import PICK_ONE, can_see_scheme, scheme_in_scope, village_or_scheme
from app.scope import Actor, require_role, village_in_scope
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


def publish(session: Session, row: Period, actor: Actor, now: datetime, reason: str) -> Publication:
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
    publish(session, row, actor, now, str(_l("公示")))
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
