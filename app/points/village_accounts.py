"""Village accounts: a region's scheme of ``account_kind`` "village" (洞口县 积分换项目)
has one account per village below its region, made with the scheme and with every
village added below it later.

Schemes and villages sit below the ledger, which opens the accounts, so they call these
through their ``AFTER_CREATE`` hooks; the app factory installs them (``install``).
"""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.households.models import Household
from app.points.services import open_account
from app.regions.models import Region
from app.regions.services import villages_below
from app.schemes import services as schemes
from app.schemes.models import Scheme
from app.scope import Actor
from app.villages import services as villages
from app.villages.models import Village

KIND = "village"
# households.number and head_name: a village's code (30) and name (100) are cut to fit.
NUMBER_LENGTH, NAME_LENGTH = 20, 50


def _open(session: Session, actor: Actor, scheme: Scheme, village: Village, today: date, now: datetime) -> Household:
    account = Household(
        scheme_id=scheme.id,
        scheme=scheme,
        kind=KIND,
        village_id=None,  # households only: see Household.village_id
        home_village_id=village.id,
        number=village.code[:NUMBER_LENGTH],
        head_name=village.name[:NAME_LENGTH],
    )
    session.add(account)
    open_account(session, account, actor, today=today, now=now)
    return account


def _when(today: date | None, now: datetime | None) -> tuple[date, datetime]:
    now = now or utcnow()
    return today or now.date(), now


def open_scheme_accounts(
    session: Session, actor: Actor, scheme: Scheme, *, today: date | None = None, now: datetime | None = None
) -> list[Household]:
    """An account in ``scheme`` for every village below its region that has none yet
    (none for a scheme of another kind), each with the scheme's base points."""
    if scheme.account_kind != KIND or scheme.region_id is None:
        return []
    today, now = _when(today, now)
    have = select(Household.home_village_id).where(Household.scheme_id == scheme.id)
    missing = session.scalars(
        select(Village)
        .where(Village.id.in_(villages_below(scheme.region_id)), Village.id.not_in(have))
        .order_by(Village.code)
    ).all()
    accounts = [_open(session, actor, scheme, village, today, now) for village in missing]
    session.flush()
    return accounts


def regions_above(session: Session, village: Village) -> list[int]:
    """The village's township and the regions above it (at most city → county → township)."""
    ids, region_id = [], village.region_id
    while region_id is not None and region_id not in ids:
        ids.append(region_id)
        region_id = session.scalar(select(Region.parent_id).where(Region.id == region_id))
    return ids


def open_village_accounts(
    session: Session, actor: Actor, village: Village, *, today: date | None = None, now: datetime | None = None
) -> list[Household]:
    """The village's account in every village scheme of a region above it (a village
    added after the scheme was made)."""
    today, now = _when(today, now)
    found = session.scalars(
        select(Scheme)
        .where(Scheme.account_kind == KIND, Scheme.region_id.in_(regions_above(session, village)))
        .order_by(Scheme.id)
    ).all()
    have = set(
        session.scalars(
            select(Household.scheme_id).where(
                Household.home_village_id == village.id, Household.scheme_id.in_([s.id for s in found])
            )
        )
    )
    accounts = [_open(session, actor, s, village, today, now) for s in found if s.id not in have]
    session.flush()
    return accounts


def install() -> None:
    """Called by the app factory: open village accounts whenever a scheme or a village is made."""
    schemes.AFTER_CREATE["village_accounts"] = open_scheme_accounts
    villages.AFTER_CREATE["village_accounts"] = open_village_accounts
