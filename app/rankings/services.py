"""Household standings, read from the maintained period totals (never the ledger).

Ranking is standard competition ranking (1, 2, 2, 4); inside a tie rows are ordered by
village code, then household number. ``limit`` keeps every row whose rank is within
the limit, so a tie at the cut stays whole. Moved-out households take no part.
"""

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.households.models import Household
from app.points.models import PeriodTotal
from app.villages.models import Village


@dataclass
class Standing:
    rank: int
    household_id: int
    number: str
    head_name: str
    village_id: int
    village_code: str
    village_name: str
    points: int
    eligible: bool

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "household_id": self.household_id,
            "number": self.number,
            "head_name": self.head_name,
            "village_id": self.village_id,
            "village_name": self.village_name,
            "points": self.points,
            "eligible": self.eligible,
        }


def _scope(stmt, village_id: int | None, township: str | None):
    stmt = stmt.where(Household.moved_out_on.is_(None))
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    if township:
        stmt = stmt.where(Village.township == township)
    return stmt


_COLUMNS = (
    Household.id,
    Household.number,
    Household.head_name,
    Village.id,
    Village.code,
    Village.name,
)


def _ranked(rows, limit: int | None) -> list[Standing]:
    out: list[Standing] = []
    previous_points, rank = None, 0
    for position, (hid, number, head, vid, code, vname, points, vetoes) in enumerate(rows, start=1):
        points = int(points or 0)
        if points != previous_points:
            rank, previous_points = position, points
        if limit is not None and rank > limit:
            break
        out.append(Standing(rank, hid, number, head, vid, code, vname, points, not (vetoes or 0)))
    return out


def household_standings(
    session: Session,
    period: str,
    *,
    village_id: int | None = None,
    township: str | None = None,
    limit: int | None = None,
) -> list[Standing]:
    order = (Village.code, Household.number)
    if limit is not None:
        # Fast path: the top of the period_totals index. Every household outside it has
        # fewer points, so the ranks are exact once ``limit`` positive rows are found.
        base = _scope(
            select(*_COLUMNS, PeriodTotal.points, PeriodTotal.veto_count)
            .join(Household, Household.id == PeriodTotal.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(PeriodTotal.period == period, PeriodTotal.points > 0),
            village_id,
            township,
        )
        if village_id is not None:
            base = base.where(PeriodTotal.village_id == village_id)
        cut = session.execute(
            base.with_only_columns(PeriodTotal.points).order_by(PeriodTotal.points.desc()).offset(limit - 1).limit(1)
        ).scalar()
        if cut is not None:
            rows = session.execute(
                base.where(PeriodTotal.points >= cut).order_by(PeriodTotal.points.desc(), *order)
            ).all()
            return _ranked(rows, limit)
    # Full path: every household in scope, with 0 where it has no total yet.
    points = func.coalesce(PeriodTotal.points, 0)
    stmt = _scope(
        select(*_COLUMNS, points, PeriodTotal.veto_count)
        .select_from(Household)
        .join(Village, Village.id == Household.village_id)
        .outerjoin(
            PeriodTotal,
            and_(PeriodTotal.household_id == Household.id, PeriodTotal.period == period),
        ),
        village_id,
        township,
    ).order_by(points.desc(), *order)
    return _ranked(session.execute(stmt).all(), limit)


def household_period_points(session: Session, household_id: int, periods) -> dict[str, tuple[int, int]]:
    """``{period: (points, veto_count)}`` for the given periods (0, 0 where none)."""
    rows = session.execute(
        select(PeriodTotal.period, PeriodTotal.points, PeriodTotal.veto_count).where(
            PeriodTotal.household_id == household_id, PeriodTotal.period.in_(list(periods))
        )
    )
    found = {p: (pts, veto) for p, pts, veto in rows}
    return {p: found.get(p, (0, 0)) for p in periods}


def household_rank(session: Session, household: Household, period: str) -> int | None:
    """The household's rank in its village for ``period`` (None once it moved out)."""
    if household.moved_out_on is not None:
        return None
    mine = household_period_points(session, household.id, [period])[period][0]
    active = and_(
        Household.id == PeriodTotal.household_id,
        Household.moved_out_on.is_(None),
        Household.village_id == household.village_id,
    )
    above = session.scalar(
        select(func.count())
        .select_from(PeriodTotal)
        .join(Household, active)
        .where(
            PeriodTotal.village_id == household.village_id,
            PeriodTotal.period == period,
            PeriodTotal.points > mine,
        )
    )
    if mine < 0:
        # Households without a total row have 0 points, which is more than ours.
        with_row = session.scalar(
            select(func.count())
            .select_from(PeriodTotal)
            .join(Household, active)
            .where(PeriodTotal.village_id == household.village_id, PeriodTotal.period == period)
        )
        all_active = session.scalar(
            select(func.count(Household.id)).where(
                Household.village_id == household.village_id, Household.moved_out_on.is_(None)
            )
        )
        above += all_active - with_row
    return above + 1


@dataclass
class VillageStanding:
    rank: int
    village_id: int
    code: str
    name: str
    township: str
    households: int
    points: int
    participants: int

    @property
    def points_per_household(self) -> float:
        return round(self.points / self.households, 2) if self.households else 0.0

    @property
    def participation_rate(self) -> float:
        return round(self.participants / self.households, 4) if self.households else 0.0

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "village_id": self.village_id,
            "name": self.name,
            "code": self.code,
            "township": self.township,
            "households": self.households,
            "points": self.points,
            "points_per_household": self.points_per_household,
            "participation_rate": self.participation_rate,
        }


def village_standings(session: Session, period: str, *, township: str | None = None) -> list[VillageStanding]:
    """Villages ranked by points per active household (洞口县's 积分换项目);
    participation is the share of households with a positive entry in the period."""
    stmt = (
        select(
            Village.id,
            Village.code,
            Village.name,
            Village.township,
            func.count(Household.id),
            func.coalesce(func.sum(PeriodTotal.points), 0),
            func.count(PeriodTotal.id).filter(PeriodTotal.positive_count > 0),
        )
        .select_from(Village)
        .join(Household, and_(Household.village_id == Village.id, Household.moved_out_on.is_(None)))
        .outerjoin(PeriodTotal, and_(PeriodTotal.household_id == Household.id, PeriodTotal.period == period))
        .group_by(Village.id, Village.code, Village.name, Village.township)
    )
    if township:
        stmt = stmt.where(Village.township == township)
    rows = [
        VillageStanding(0, vid, code, name, town, n, int(pts), int(part))
        for vid, code, name, town, n, pts, part in session.execute(stmt)
    ]
    rows.sort(key=lambda r: (-r.points_per_household, r.code))
    previous = None
    for position, row in enumerate(rows, start=1):
        row.rank = position if row.points_per_household != previous else rows[position - 2].rank
        previous = row.points_per_household
    return rows
