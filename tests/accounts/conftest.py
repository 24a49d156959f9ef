"""Person schemes beside the usual ``world``: 团结村's volunteers (志愿积分, 1 point = 2
yuan, no floor) with a capped rule and a shop of their own, and the county's grid
workers (a region scheme over both townships' villages)."""

from dataclasses import dataclass

import pytest

from app.accounts import services as accounts
from app.points import rules as rulebook
from app.redemption import shops as shop_services
from app.redemption.models import Shop
from app.schemes import services as schemes
from app.scope import Actor
from tests.conftest import TODAY
from tests.factories import NOW
from tests.regions.conftest import county  # noqa: F401  (the county of two townships)


def person_scheme(session, actor, owner: dict, name: str, **settings):
    values = {
        "name": name,
        "account_kind": "person",
        "cadence": "quarter",
        "base_points": 10,
        "redeem_floor": 0,
        "yuan_per_point": 2.0,
        "approval_required": False,
        "notice_days": 7,
        "annual_reset": False,
        **owner,
        **settings,
    }
    return schemes.create_scheme(session, actor, values)


def person(session, actor, scheme, number, name, **extra):
    values = {"scheme_id": scheme.id, "number": number, "name": name, **extra}
    return accounts.create_account(session, actor, values, today=TODAY, now=NOW)


@dataclass
class Volunteers:
    scheme: object
    rule: object  # 5 points, at most once a day
    big: object  # 30 points, no cap
    shop: object
    item: object  # 20 points, 3 in stock
    li: object  # 李志愿, linked to tj1 (whose resident is tj_resident)
    zhao: object  # 赵志愿, linked to no household


@pytest.fixture
def volunteers(world, session) -> Volunteers:
    boss = Actor(world.users["tj_village_admin"])
    scheme = person_scheme(session, boss, {"village_id": world.a.id}, "团结村志愿积分")
    values = {"name": "志愿服务", "category": "志愿服务", "points": 5, "cap_period": "day", "cap_count": 1}
    rule = rulebook.create_rule(session, boss, None, {"code": "VOL-DAY", **values}, scheme_id=scheme.id)
    big = rulebook.create_rule(
        session,
        boss,
        None,
        {"code": "VOL-BIG", "name": "大型活动", "category": "志愿服务", "points": 30},
        scheme_id=scheme.id,
    )
    # The shop of the volunteer scheme (爱心超市): made directly, as POST /shops with a
    # scheme_id is another package's to add.
    shop = Shop(village_id=world.a.id, scheme_id=scheme.id, name="爱心超市")
    session.add(shop)
    session.flush()
    item = shop_services.create_item(
        session, Actor(world.admin), shop.id, {"name": "大米", "price_points": 20, "stock": 3}, now=NOW
    )
    li = person(session, boss, scheme, "V-001", "李志愿", household_id=world.households["tj1"].id)
    zhao = person(session, boss, scheme, "V-002", "赵志愿", phone="13800000002")
    session.commit()
    return Volunteers(scheme, rule, big, shop, item, li, zhao)
