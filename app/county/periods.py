"""A village scheme's periods as its pages read them: the period's state, its standings
(the publication once published, live before), its awards with their amounts; and the
cycle's acts, which are the ordinary cycle's (``app.rankings.periods``) by scheme."""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.rankings import awards
from app.rankings import periods as cycle
from app.rankings.models import Award
from app.rankings.services import household_standings
from app.regions.models import Region
from app.schemes.models import Scheme
from app.scope import Actor
from app.villages.models import Village


def scheme_period(session: Session, scheme: Scheme, period: str) -> cycle.PeriodView:
    """The period's state (``open`` until closed), its row and latest publication."""
    return cycle.view_period(session, scheme, cycle.scheme_period(scheme, period))


def township_names(session: Session, village_ids) -> dict[int, str]:
    """The township of each village, by village id."""
    ids = sorted({i for i in village_ids if i is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(Village.id, Region.name).join(Region, Region.id == Village.region_id).where(Village.id.in_(ids))
    )
    return dict(rows.all())


def period_standings(session: Session, scheme: Scheme, period: str, view: cycle.PeriodView) -> list[dict]:
    """The ranked village accounts: as published once the period is closed, live before;
    each with its township."""
    if view.publication is not None:
        rows = [dict(r) for r in view.publication.standings]
    else:
        rows = [s.to_dict() for s in household_standings(session, period, scheme_id=scheme.id)]
    townships = township_names(session, [r.get("village_id") for r in rows])
    for r in rows:
        r["township"] = townships.get(r.get("village_id"), "")
    return rows


def awards_of(session: Session, scheme: Scheme, period: str) -> list[Award]:
    return list(session.scalars(awards.list_awards(scheme.id, period).options(joinedload(Award.household))))


def close_period(session: Session, actor: Actor, scheme: Scheme, period: str, *, now: datetime, today: date):
    return cycle.close_period(session, actor, None, period, scheme_id=scheme.id, now=now, today=today)


def finalize_period(session: Session, actor: Actor, scheme: Scheme, period: str, *, now: datetime, today: date):
    return cycle.finalize_period(session, actor, None, period, scheme_id=scheme.id, now=now, today=today)


def grant_fund(
    session: Session, actor: Actor, scheme: Scheme, period: str, values: dict, *, now: datetime, today: date
) -> list[Award]:
    """The top ``top_n`` villages of the final standings, ``fund_yuan`` split among them."""
    return awards.grant_awards(
        session,
        actor,
        period=period,
        scheme_id=scheme.id,
        title=values["title"],
        top_n=values["top_n"],
        fund_yuan=values["fund_yuan"],
        allocation=values["allocation"],
        now=now,
        today=today,
    )
