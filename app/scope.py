"""Who may do what, where: checked inside services so pages and API agree."""

from dataclasses import dataclass

from sqlalchemy import true
from sqlalchemy.orm import Session

from app.errors import BadReference, Forbidden, NotFound
from app.households.models import Household
from app.villages.models import Village

# Roles that act for a whole village, and so need one.
OFFICIAL_ROLES = ("village_admin", "recorder", "reviewer", "clerk")


@dataclass(frozen=True)
class Actor:
    """Who does something, from where: passed to services instead of ``current_user``."""

    user: object | None
    ip: str = ""

    @property
    def id(self) -> int | None:
        return getattr(self.user, "id", None)

    @property
    def username(self) -> str:
        return getattr(self.user, "username", "") or "system"


def require_role(actor: Actor, *roles: str) -> None:
    user = actor.user
    if user is None or not user.has_role(*roles):
        raise Forbidden()


def village_in_scope(session: Session, actor: Actor, village_id, *, field: str | None = None):
    """The village if the actor may act in it; else NotFound (or BadReference for a body field)."""
    village = session.get(Village, village_id) if isinstance(village_id, int) else None
    if village is None or not actor.user.can_see_village(village.id):
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return village


def household_in_scope(
    session: Session, actor: Actor, household_id, *, field: str | None = None, lock: bool = False, options=()
) -> Household:
    household = None
    if isinstance(household_id, int):
        lock_of = {"of": Household} if lock else None
        household = session.get(Household, household_id, with_for_update=lock_of, options=options)
    if household is None or not actor.user.can_see_household(household):
        if field:
            raise BadReference(field=field)
        raise NotFound()
    return household


def acting_village_id(actor: Actor, requested: int | None, *, residents: bool = False) -> int | frozenset[int] | None:
    """The village a list is filtered to: the one asked for, if it exists and is the
    caller's to see (``residents``: a resident's own village counts, for the lists open to
    residents), else NotFound, never quietly the caller's own (API.md Conventions); none
    asked for, an official's own (an admin's: all, None; a region official's: every
    village below its region, a set). Lists filter with ``in_villages``."""
    user = actor.user
    if requested is not None:
        village = existing_village(requested)
        if not (user.can_see_village(village.id) or (residents and user.village_id == village.id)):
            raise NotFound()
        return village.id
    if user.is_admin:
        return None
    if user.region_id is not None:
        return user.region_village_ids()
    return user.village_id


def in_villages(column, villages: int | frozenset[int] | None):
    """The condition of a list filtered by ``acting_village_id``'s answer (None: all)."""
    if villages is None:
        return true()
    if isinstance(villages, (set, frozenset)):
        return column.in_(sorted(villages))
    return column == villages


def existing_village(village_id) -> Village:
    """A village named by a filter of a list open to every village (the leaderboards):
    NotFound if there is none."""
    # The request's session: a filter is read in a view, which passes no session on.
    from app.extensions import db

    village = (
        db.session.get(Village, village_id) if isinstance(village_id, int) and 0 < village_id <= 2**31 - 1 else None
    )
    if village is None:
        raise NotFound()
    return village
