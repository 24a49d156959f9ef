"""Household standings, read from the maintained period totals (never the ledger).

Ranking is standard competition ranking (1, 2, 2, 4); inside a tie rows are ordered by
village code, then household number. ``limit`` keeps every row whose rank is within
the limit, so a tie at the cut stays whole. Moved-out households take no part.
"""

from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import Integer, and_, bindparam, exists, func, select, union_all
from sqlalchemy.orm import Session, aliased

from app.households.models import Household
from app.points.models import APPROVED, KIND_RULE, Entry, PeriodTotal
from app.regions.services import villages_below
from app.villages.models import Village

# One alias for every query: ``aliased()`` adapts every column when built.
_REVERSAL = aliased(Entry)


@dataclass
class Standing:
    rank: int
    household_id: int
    number: str
    head_name: str
    village_id: int | None  # the account's village (none for a person without one)
    village_code: str | None
    village_name: str | None
    points: int
    eligible: bool

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "household_id": self.household_id,
            "account_id": self.household_id,
            "number": self.number,
            "head_name": self.head_name,
            "village_id": self.village_id,
            "village_name": self.village_name,
            "points": self.points,
            "eligible": self.eligible,
        }


def _scope(
    stmt, village_id: int | None, township: str | None, region_id: int | None = None, scheme_id: int | None = None
):
    stmt = stmt.where(Household.moved_out_on.is_(None))
    if scheme_id is not None:
        stmt = stmt.where(Household.scheme_id == scheme_id)
    else:  # households: the accounts of other kinds rank in their own scheme only
        stmt = stmt.where(Household.village_id.is_not(None))
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    if township:
        stmt = stmt.where(Village.township == township)
    if region_id is not None:
        stmt = stmt.where(Household.village_id.in_(villages_below(region_id)))
    return stmt


_COLUMNS = (
    Household.id,
    Household.number,
    Household.head_name,
    Village.id,
    Village.code,
    Village.name,
)


# Inside a tie: by village code (an account's own village: a village account's is its
# code; a person without a village sorts first on both engines), then number.
_ORDER = (func.coalesce(Village.code, ""), Household.number)
# Any account's village: a household's own, a person's, the village a village account is.
_VILLAGE_OF_ACCOUNT = Village.id == Household.home_village_id


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
    region_id: int | None = None,
    scheme_id: int | None = None,
    limit: int | None = None,
) -> list[Standing]:
    """The accounts in scope ranked by their points of ``period``: the households of a
    village, township or region, or every account of a scheme (``scheme_id``)."""
    if limit is not None:
        # Fast path: the top of the period_totals index. Every household outside it has
        # fewer points, so the ranks are exact once ``limit`` positive rows are found.
        given = {
            "village_id": village_id,
            "township": township or None,
            "region_id": region_id,
            "scheme_id": scheme_id,
        }
        params = {"period": period} | {k: v for k, v in given.items() if v is not None}
        top = _top(session, tuple(k for k in _FILTERS if k in params), params, limit)
        if top is not None:
            return _ranked(top, limit)
    return _ranked(session.execute(_every_account(period, village_id, township, region_id, scheme_id)).all(), limit)


def _every_account(period: str, *scope):
    """Every account in scope with its points of ``period`` (0 where it has no total
    yet), best first: the full path of the standings and the export's stream."""
    points = func.coalesce(PeriodTotal.points, 0)
    return _scope(
        select(*_COLUMNS, points, PeriodTotal.veto_count)
        .select_from(Household)
        .outerjoin(Village, _VILLAGE_OF_ACCOUNT)
        .outerjoin(
            PeriodTotal,
            and_(PeriodTotal.household_id == Household.id, PeriodTotal.period == period),
        ),
        *scope,
    ).order_by(points.desc(), *_ORDER)


def _top_statement(*scope):
    """The top ``fetch`` positive totals of ``period`` in the scope, joined afterwards to
    their households and villages; the parameters are bound at each run."""
    top = (
        select(PeriodTotal.household_id, PeriodTotal.points, PeriodTotal.veto_count)
        .where(PeriodTotal.period == bindparam("period"), *scope, PeriodTotal.points > 0)
        .order_by(PeriodTotal.points.desc())
        .limit(bindparam("fetch", type_=Integer))
        .subquery()
    )
    return (
        select(*_COLUMNS, top.c.points, top.c.veto_count, Household.moved_out_on)
        .select_from(top)
        .join(Household, Household.id == top.c.household_id)
        .outerjoin(Village, _VILLAGE_OF_ACCOUNT)
        .order_by(top.c.points.desc(), *_ORDER)
    )


# A township's villages as a subquery of the same statement: no round trip of its own;
# both engines still walk the top of the period_totals index.
_TOWNSHIP_VILLAGES = select(Village.id).where(Village.township == bindparam("township")).scalar_subquery()

# A region's villages the same way (at most three levels: three joins of small tables).
_FILTERS = {
    "village_id": PeriodTotal.village_id == bindparam("village_id"),
    "township": PeriodTotal.village_id.in_(_TOWNSHIP_VILLAGES),
    "region_id": PeriodTotal.village_id.in_(villages_below(bindparam("region_id"))),
    "scheme_id": PeriodTotal.scheme_id == bindparam("scheme_id"),  # ix_period_totals_scheme_rank
}
# Built once for each combination of the filters: building this statement took longer
# (0.3 ms) than running it.
_HOUSEHOLDS = PeriodTotal.village_id.is_not(None)  # without a scheme: households only, as in ``_scope``
_TOP = {
    key: _top_statement(*(_FILTERS[k] for k in key), *(() if "scheme_id" in key else (_HOUSEHOLDS,)))
    for n in range(len(_FILTERS) + 1)
    for key in combinations(_FILTERS, n)
}


def _top(session: Session, scope: tuple, params: dict, limit: int) -> list | None:
    """The rows of the ``limit`` best active households with positive points, ties at
    the cut whole, in ranking order; None if fewer than ``limit`` have positive points.

    One query: the top of the period_totals index alone (a little more than ``limit``
    rows), then only those rows are joined to their households and villages. Joining
    first made PostgreSQL hash-join every household of the village (6 ms for 3,000).
    Read further only when moved-out households or a tie run past what was read."""
    fetch = limit + 16
    while True:
        rows = session.execute(_TOP[scope], {**params, "fetch": fetch}).all()
        complete = len(rows) < fetch  # every positive row of the scope was read
        active = [row[:-1] for row in rows if row[-1] is None]
        if len(active) >= limit:
            cut = active[limit - 1][6]
            if complete or rows[-1][6] < cut:  # the tie at the cut is whole
                return active
        elif complete:
            return None
        fetch *= 4


def household_period_points(session: Session, household_id: int, periods) -> dict[str, tuple[int, int]]:
    """``{period: (points, veto_count)}`` for the given periods (0, 0 where none)."""
    rows = session.execute(
        select(PeriodTotal.period, PeriodTotal.points, PeriodTotal.veto_count).where(
            PeriodTotal.household_id == household_id, PeriodTotal.period.in_(list(periods))
        )
    )
    found = {p: (pts, veto) for p, pts, veto in rows}
    return {p: found.get(p, (0, 0)) for p in periods}


@dataclass
class PeriodStanding:
    points: int
    vetoes: int
    rank: int | None  # None once the household moved out
    accounts: int | None = None  # how many rank beside it (a person's or village's scheme)

    @property
    def eligible(self) -> bool:
        return self.vetoes == 0


# Built once: a fresh ``aliased()`` per call adapts every column again.
_OTHER_TOTAL, _NEIGHBOUR = aliased(PeriodTotal), aliased(Household)


def _standing_statement():
    """A household's own total rows for some periods, each with a correlated count of the
    active households of its village above it; built once, its parameters bound per call."""
    other, neighbour = _OTHER_TOTAL, _NEIGHBOUR
    above = (
        select(func.count())
        .select_from(other)
        .join(neighbour, and_(neighbour.id == other.household_id, neighbour.moved_out_on.is_(None)))
        .where(
            other.village_id == PeriodTotal.village_id,
            other.period == PeriodTotal.period,
            other.points > PeriodTotal.points,
        )
        .scalar_subquery()
    )
    return select(PeriodTotal.period, PeriodTotal.points, PeriodTotal.veto_count, above).where(
        PeriodTotal.household_id == bindparam("household_id"),
        PeriodTotal.period.in_(bindparam("periods", expanding=True)),
    )


_STANDING = _standing_statement()


def household_standing(session: Session, household: Household, periods) -> dict[str, PeriodStanding]:
    """The household's points, vetoes and village rank for each period, usually in one
    query (``_STANDING``: one index range per period). A period without a row (0 points)
    or with negative points takes ``household_ranks``' extra counts."""
    periods = list(periods)
    rows = session.execute(_STANDING, {"household_id": household.id, "periods": periods}).all()
    found = {period: (points, vetoes, count) for period, points, vetoes, count in rows}
    out = {p: PeriodStanding(found.get(p, (0, 0))[0], found.get(p, (0, 0))[1], None) for p in periods}
    if household.moved_out_on is not None:
        return out
    unusual = {p: out[p].points for p in periods if p not in found or out[p].points < 0}
    ranks = household_ranks(session, household, unusual) if unusual else {}
    for p in periods:
        out[p].rank = ranks[p] if p in ranks else found[p][2] + 1
    return out


def household_rank(session: Session, household: Household, period: str) -> int | None:
    """The household's rank in its village for ``period`` (None once it moved out)."""
    mine = household_period_points(session, household.id, [period])[period][0]
    return household_ranks(session, household, {period: mine})[period]


def household_ranks(session: Session, household: Household, points: dict[str, int]) -> dict[str, int | None]:
    """The household's rank in its village for each period of ``points`` (its own points
    in that period, as ``household_period_points`` gives them), in one query: the rank is
    one more than the active households with more points (the contract's tie rule)."""
    if household.moved_out_on is not None:
        return dict.fromkeys(points)
    active = and_(
        Household.id == PeriodTotal.household_id,
        Household.moved_out_on.is_(None),
        Household.village_id == household.village_id,
    )
    # One index range per period (village, period, points > mine), glued with UNION ALL:
    # an OR of the periods would make SQLite walk the village's whole index.
    counts = [
        select(PeriodTotal.period, func.count())
        .select_from(PeriodTotal)
        .join(Household, active)
        .where(PeriodTotal.village_id == household.village_id, PeriodTotal.period == p, PeriodTotal.points > mine)
        .group_by(PeriodTotal.period)
        for p, mine in points.items()
    ]
    above = dict(session.execute(union_all(*counts)).all()) if counts else {}
    ranks = {}
    for period, mine in points.items():
        rank = above.get(period, 0) + 1
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
            rank += all_active - with_row
        ranks[period] = rank
    return ranks


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


def village_standings(
    session: Session, period: str, *, township: str | None = None, region_id: int | None = None, scheme=None
) -> list[VillageStanding]:
    """Villages ranked by points per active household (洞口县's 积分换项目);
    participation is the share of households with a positive entry in the period.

    Every village takes part, one without active households too (0 households, 0 points,
    0 per household, participation 0): it ties with the villages at 0 per household.
    Ties share a rank and are ordered by village code.

    ``scheme`` (a Scheme): its accounts in place of the households, each in its village
    (``home_village_id``): a household scheme's village and its households, a person
    scheme's people by their village, a village scheme's one account per village. The
    villages taking part are the scheme's (its village, or every village below its
    region); "households" then counts its accounts."""
    if scheme is None:
        member = and_(Household.village_id == Village.id, Household.moved_out_on.is_(None))
    else:
        member = and_(
            Household.home_village_id == Village.id,
            Household.scheme_id == scheme.id,
            Household.moved_out_on.is_(None),
        )
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
        .outerjoin(Household, member)
        .outerjoin(PeriodTotal, and_(PeriodTotal.household_id == Household.id, PeriodTotal.period == period))
        .group_by(Village.id, Village.code, Village.name, Village.township)
    )
    if scheme is not None and scheme.village_id is not None:
        stmt = stmt.where(Village.id == scheme.village_id)
    elif scheme is not None:
        stmt = stmt.where(Village.id.in_(villages_below(scheme.region_id)))
    if township:
        stmt = stmt.where(Village.township == township)
    if region_id is not None:
        stmt = stmt.where(Village.id.in_(villages_below(region_id)))
    rows = [
        VillageStanding(0, vid, code, name, town, n, int(pts), int(part))
        for vid, code, name, town, n, pts, part in session.execute(stmt)
    ]
    from fractions import Fraction

    def exact(r: VillageStanding) -> Fraction:
        # Rank by the exact ratio: two villages whose rounded figures agree need not tie.
        return Fraction(r.points, r.households) if r.households else Fraction(0)

    rows.sort(key=lambda r: (-exact(r), r.code, r.village_id))
    previous = None
    for position, row in enumerate(rows, start=1):
        row.rank = position if exact(row) != previous else rows[position - 2].rank
        previous = exact(row)
    return rows


def iter_household_standings(
    session: Session,
    period: str,
    *,
    village_id: int | None = None,
    township: str | None = None,
    region_id: int | None = None,
    scheme_id: int | None = None,
    batch: int = 1000,
):
    """The full standings of ``household_standings`` as a stream, ``batch`` rows per fetch,
    so an export of 100,000 households holds one batch in memory, not the whole list."""
    stmt = _every_account(period, village_id, township, region_id, scheme_id)
    previous_points, rank = None, 0
    result = session.execute(stmt.execution_options(yield_per=batch))
    for position, (hid, number, head, vid, code, vname, pts, vetoes) in enumerate(result, start=1):
        pts = int(pts or 0)
        if pts != previous_points:
            rank, previous_points = position, pts
        yield Standing(rank, hid, number, head, vid, code, vname, pts, not (vetoes or 0))


def _in_period(period: str):
    """Entries dated in a quarter, or in any quarter of a year."""
    return Entry.period.like(f"{period}Q%") if len(period) == 4 else Entry.period == period


def deductions_in_period(session: Session, village_id: int, period: str) -> list[dict]:
    """Households with approved deductions (negative rule entries, not reversed) dated in
    ``period``: ``{household_id, number, head_name, entries, points}``, largest first."""
    reversal = _REVERSAL
    rows = session.execute(
        select(Household.id, Household.number, Household.head_name, func.count(Entry.id), func.sum(Entry.points))
        .join(Household, Household.id == Entry.household_id)
        .where(
            Entry.village_id == village_id,
            _in_period(period),
            Entry.kind == KIND_RULE,
            Entry.status == APPROVED,
            Entry.points < 0,
            ~exists().where(reversal.reverses_id == Entry.id),
        )
        .group_by(Household.id, Household.number, Household.head_name)
        .order_by(func.sum(Entry.points), Household.number)
    )
    return [
        {"household_id": hid, "number": number, "head_name": head, "entries": int(n), "points": int(pts)}
        for hid, number, head, n, pts in rows
    ]
