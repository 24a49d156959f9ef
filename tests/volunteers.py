"""Volunteers: a village's person scheme (志愿积分, 1 point = 2 yuan) and its accounts."""

from app.households.models import Household
from app.points.services import open_account
from app.schemes import services as schemes
from tests.conftest import TODAY
from tests.factories import NOW


def volunteer_scheme(session, world, village=None, *, admin="tj_village_admin", name="志愿积分"):
    village = village or world.a
    return schemes.create_scheme(
        session,
        world.actor(admin),
        {
            "name": name,
            "village_id": village.id,
            "account_kind": "person",
            "cadence": "quarter",
            "base_points": 0,
            "redeem_floor": 0,
            "yuan_per_point": 2.0,
            "approval_required": False,
            "notice_days": 7,
            "annual_reset": False,
        },
    )


def person(session, world, scheme, number, name, *, linked=None, phone=None):
    """A person's account of ``scheme`` (its village's), opened on the ledger."""
    account = Household(
        kind="person",
        scheme=scheme,
        number=number,
        head_name=name,
        phone=phone,
        home_village_id=scheme.village_id,
        linked_household_id=linked.id if linked else None,
        balance=0,
        entry_count=0,
    )
    session.add(account)
    session.flush()
    open_account(session, account, world.actor("admin"), today=TODAY, now=NOW)
    session.flush()
    return account
