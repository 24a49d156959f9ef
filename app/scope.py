"""Who may do what, where: checked inside services so pages and API agree."""

from sqlalchemy import true
from sqlalchemy.orm import Session

from app.audit.services import Actor
from app.errors import BadReference, Forbidden, NotFound
from app.households.models import Household
from app.villages.models import Village


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


def acting_village_id(actor: Actor, requested: int | None) -> int | frozenset[int] | None:
    """The village a list is filtered to: an official's own; an admin's choice (or all,
    None); a region official's choice among its villages (404 outside them) or all of
    them (a set). Lists filter with ``in_villages``."""
    user = actor.user
    if user.is_admin:
        return requested
    if user.region_id is not None:
        if requested is None:
            return user.region_village_ids()
        if not user.can_see_village(requested):
            raise NotFound()
        return requested
    return user.village_id


def in_villages(column, villages: int | frozenset[int] | None):
    """The condition of a list filtered by ``acting_village_id``'s answer (None: all)."""
    if villages is None:
        return true()
    if isinstance(villages, (set, frozenset)):
        return column.in_(sorted(villages))
    return column == villages
