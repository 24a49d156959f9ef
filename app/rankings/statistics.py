"""The statistics of a year: points per month and category, and each village's
participation per quarter (the page adds the shops' money from ``redemption``)."""

from datetime import date

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from app.points.models import APPROVED, CATEGORIES, KIND_RULE, Entry
from app.rankings.services import village_standings
from app.villages.models import Village


def points_by_category_month(
    session: Session,
    year: int,
    *,
    village_id: int | frozenset[int] | None = None,
    township: str | None = None,
    scheme_id: int | None = None,
) -> dict[tuple[int, str], int]:
    """Ranking points of approved rule entries (net of reversals) dated in ``year``,
    per (month, category): of a village (or a set of villages: a region's), a township,
    or one scheme."""
    month = extract("month", Entry.occurred_on)
    stmt = (
        select(month, Entry.category, func.sum(Entry.points))
        .where(
            Entry.ranked.is_(True),
            Entry.status == APPROVED,
            Entry.occurred_on.between(date(year, 1, 1), date(year, 12, 31)),
        )
        .group_by(month, Entry.category)
    )
    if isinstance(village_id, frozenset):
        stmt = stmt.where(Entry.village_id.in_(sorted(village_id)))
    elif village_id is not None:
        stmt = stmt.where(Entry.village_id == village_id)
    if scheme_id is not None:
        stmt = stmt.where(Entry.scheme_id == scheme_id)
    if township:
        stmt = stmt.join(Village, Village.id == Entry.village_id).where(Village.township == township)
    return {(int(m), category or ""): int(pts or 0) for m, category, pts in session.execute(stmt)}


def category_series(
    session: Session,
    year: int,
    *,
    village_id: int | frozenset[int] | None = None,
    township: str | None = None,
    scheme_id: int | None = None,
    categories=CATEGORIES,
) -> list[tuple[str, list[int]]]:
    """``(category, points of each month 1…12)``: the scheme's ``categories`` first, in
    their order, then any other category an entry carries ("" for none)."""
    by_cat = points_by_category_month(session, year, village_id=village_id, township=township, scheme_id=scheme_id)
    present = {c for _m, c in by_cat}
    categories = [c for c in categories if c in present] + sorted(present - set(categories))
    return [(c, [by_cat.get((m, c), 0) for m in range(1, 13)]) for c in categories]


def participation_by_quarter(
    session: Session,
    year: int,
    *,
    village_id: int | None = None,
    township: str | None = None,
    region_id: int | None = None,
) -> tuple[list[str], list[dict]]:
    """The year's quarters, and per village (in code order) ``{"name", "code", "rates"}``
    with its participation rate in percent for each quarter it took part in."""
    quarters = [f"{year}Q{q}" for q in range(1, 5)]
    villages: dict[int, dict] = {}
    for quarter in quarters:
        for row in village_standings(session, quarter, township=township, region_id=region_id):
            if village_id is not None and row.village_id != village_id:
                continue
            item = villages.setdefault(row.village_id, {"name": row.name, "code": row.code, "rates": {}})
            item["rates"][quarter] = round(row.participation_rate * 100, 1)
    return quarters, sorted(villages.values(), key=lambda r: r["code"])


def entries_by_period(session: Session, scheme_id: int, statuses: tuple) -> dict[str, int]:
    """The scheme's rule entries in ``statuses`` per period they count in: quarter, month
    and year. What a reviewer clears (pending) or checks (any recorded) before publishing.
    Opening balances are left out: they do not rank, so a period of enrolments alone
    would publish an empty ranking."""
    year, month = extract("year", Entry.occurred_on), extract("month", Entry.occurred_on)
    rows = session.execute(
        select(Entry.period, year, month, func.count(Entry.id))
        .where(Entry.scheme_id == scheme_id, Entry.kind == KIND_RULE, Entry.status.in_(statuses))
        .group_by(Entry.period, year, month)
    )
    counts: dict[str, int] = {}
    for quarter, y, m, n in rows:
        for name in (quarter, quarter[:4], f"{int(y)}-{int(m):02d}"):
            counts[name] = counts.get(name, 0) + int(n)
    return counts
