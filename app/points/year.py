"""The ledger's year: a household's yearly passbook (存折) and the annual reset, which
expires spendable points above the base with ledger entries."""

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.audit import services as audit
from app.errors import YearNotEnded
from app.households.models import Household
from app.points.ledger import LedgerWriter, lock_households
from app.points.models import APPROVED, Entry
from app.schemes.services import yearly_reset_villages
from app.scope import Actor
from app.villages.models import Village


def passbook_year(session: Session, household_id: int, year: int) -> tuple[int, list[Entry]]:
    """The opening balance on 1 January of ``year`` (approved entries dated before it) and
    the year's entries in date order; only approved entries move a balance."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    opening = session.scalar(
        select(func.coalesce(func.sum(Entry.points), 0)).where(
            Entry.household_id == household_id, Entry.status == APPROVED, Entry.occurred_on < start
        )
    )
    entries = session.scalars(
        select(Entry)
        .where(Entry.household_id == household_id, Entry.occurred_on.between(start, end))
        .order_by(Entry.occurred_on, Entry.seq)
        .options(selectinload(Entry.reversed_by), selectinload(Entry.reverses))
    ).all()
    return int(opening or 0), list(entries)


def roll_year(session: Session, year: int, *, now: datetime, today: date, actor: Actor | None = None) -> int:
    """Expire spendable points above the base at year end, in villages whose scheme says
    so (``annual_reset``). Idempotent: a household already expired for the year is skipped.
    Rankings are untouched (expiry entries are never ranked).

    ``today`` is the deployment's local date: a year that has not ended there yet is
    refused (``YearNotEnded``) before anything is written, as points earned in its last
    days would escape the reset."""
    end = date(year, 12, 31)
    if today <= end:
        raise YearNotEnded(year=year, today=today.isoformat())
    actor = actor or Actor(None)
    total = 0
    villages = session.scalars(select(Village).where(Village.id.in_(yearly_reset_villages()))).all()
    for village in villages:
        count = 0
        done = set(
            session.scalars(
                select(Entry.household_id).where(
                    Entry.village_id == village.id, Entry.kind == "expiry", Entry.occurred_on == end
                )
            )
        )
        candidates = session.scalars(
            select(Household.id).where(Household.village_id == village.id, Household.balance > village.base_points)
        ).all()
        todo = [h for h in candidates if h not in done]
        for start in range(0, len(todo), 500):
            locked = lock_households(session, todo[start : start + 500])
            writer = LedgerWriter(session, now)
            for household in locked.values():
                excess = household.balance - village.base_points
                if excess > 0:
                    writer.append(
                        household,
                        kind="expiry",
                        title=f"{year} 年度清零",
                        points=-excess,
                        occurred_on=end,
                        recorded_by_id=actor.id,
                        approved_by_id=actor.id,
                    )
                    count += 1
            session.flush()
        if count:
            audit.record(
                session,
                actor,
                "period.roll_year",
                village_id=village.id,
                summary=f"{year} 年：{count} 户超出 {village.base_points} 分的部分清零",
            )
        total += count
    return total
