"""A county (洞口县) with two townships, a village in each, and their officials, beside
the usual two villages of ``world`` (under the top-level township 上木拉乡)."""

from dataclasses import dataclass, field

import pytest

from app.regions import services as regions
from app.scope import Actor
from app.villages.services import create_village
from tests import factories


@dataclass
class Map:
    county: object
    cg: object  # 城关镇
    gs: object  # 高沙镇
    hp: object  # 和平村, in 城关镇
    qf: object  # 清风村, in 高沙镇
    users: dict = field(default_factory=dict)
    households: dict = field(default_factory=dict)


def region_user(session, username, roles, region):
    from app.auth.services import create_user

    return create_user(
        session,
        None,
        {
            "username": username,
            "password": factories.PASSWORD,
            "roles": roles if isinstance(roles, list) else [roles],
            "region_id": region.id,
        },
    )


@pytest.fixture
def county(world, session):
    admin = Actor(world.admin)
    county = regions.create_region(session, admin, {"name": "洞口县", "code": "DK", "level": "county"})
    cg = regions.create_region(
        session, admin, {"name": "城关镇", "code": "CG", "level": "township", "parent_id": county.id}
    )
    gs = regions.create_region(
        session, admin, {"name": "高沙镇", "code": "GS", "level": "township", "parent_id": county.id}
    )
    hp = create_village(session, admin, {"name": "和平村", "code": "HP", "region_id": cg.id})
    qf = create_village(session, admin, {"name": "清风村", "code": "QF", "region_id": gs.id})
    m = Map(county, cg, gs, hp, qf)
    for v, p in ((hp, "hp"), (qf, "qf")):
        for i in range(1, 3):
            m.households[f"{p}{i}"] = factories.household(
                session, world.admin, v, f"{p.upper()}-{i:03d}", f"户主{p}{i}"
            )
        world.rules[f"{p}_labour"] = factories.rule(session, world.admin, v, "VOL-LABOUR", 5, name="义务投工投劳")
    for role in ("admin", "recorder", "reviewer"):
        m.users[f"cg_{role}"] = region_user(session, f"cg_{role}", role, cg)
        m.users[f"dk_{role}"] = region_user(session, f"dk_{role}", role, county)
    session.commit()
    return m
