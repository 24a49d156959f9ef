"""A person's or a village's rank among the active accounts of its scheme (a
household ranks in its village: ``services.household_standing``)."""

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.households.models import Household
from app.points.models import PeriodTotal


def scheme_ranks(session: Session, account: Household, points: dict[str, int]) -> dict[str, tuple[int | None, int]]:
    """``{period: (rank, accounts)}``: the account's rank in its scheme for each period
    of ``points`` (its own points there) by the contract's tie rule (one more than the
    active accounts with more points, 0 where they have no total), and how many active
    accounts the scheme has. The rank is None once the account left."""
    active = and_(Household.scheme_id == account.scheme_id, Household.moved_out_on.is_(None))
    total = session.scalar(select(func.count(Household.id)).where(active)) or 0
    out: dict[str, tuple[int | None, int]] = {}
    for period, mine in points.items():
        if account.moved_out_on is not None:
            out[period] = (None, total)
            continue
        above = session.scalar(
            select(func.count(Household.id))
            .select_from(Household)
            .outerjoin(PeriodTotal, and_(PeriodTotal.household_id == Household.id, PeriodTotal.period == period))
            .where(active, func.coalesce(PeriodTotal.points, 0) > mine)
        )
        out[period] = ((above or 0) + 1, total)
    return out
