"""Volunteers: a village's person scheme (志愿积分, 1 point = 2 yuan) and its accounts."""

from app.accounts.services import create_account
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


def person(session, world, scheme, number, name, *, linked=None, phone=None, admin="tj_village_admin"):
    """A person's account of ``scheme``, opened on the ledger as the app opens it."""
    values = {"scheme_id": scheme.id, "number": number, "name": name, "phone": phone}
    if linked is not None:
        values["household_id"] = linked.id
    return create_account(session, world.actor(admin), values, today=TODAY, now=NOW)
