"""A county (洞口县) scoring its villages monthly (积分换项目): two townships, 城关镇 with
two villages and 高沙镇 with one, the county's village scheme with the 六零 rules, and
the officials of the county and of 城关镇, beside the usual ``world``."""

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from app.households.models import Household
from app.points import rules as rulebook
from app.regions import services as regions
from app.schemes.services import create_scheme
from app.scope import Actor
from app.villages.models import Village
from app.villages.services import create_village
from tests import factories

SIX = ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情")


@dataclass
class County:
    county: object
    cg: object
    gs: object
    villages: dict
    scheme: object
    rules: dict
    accounts: dict = field(default_factory=dict)


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


def village_accounts(session, scheme) -> dict[str, Household]:
    """The scheme's account of each village, by village code."""
    rows = session.execute(
        select(Village.code, Household)
        .join(Household, Household.home_village_id == Village.id)
        .where(Household.scheme_id == scheme.id, Household.kind == "village")
    )
    return dict(rows.all())


def village_scheme(session, admin, region, name="积分换项目", **extra):
    values = {
        "name": name,
        "region_id": region.id,
        "account_kind": "village",
        "cadence": "month",
        "categories": ["六零目标", "扣分项"],
        "base_points": 0,
        "redeem_floor": 0,
        "yuan_per_point": 1.0,
        "approval_required": False,
        "notice_days": 7,
        "annual_reset": False,
    }
    return create_scheme(session, admin, values | extra)


@pytest.fixture
def county(world, session):
    admin = Actor(world.admin)
    dk = regions.create_region(session, admin, {"name": "洞口县", "code": "DK", "level": "county"})
    cg = regions.create_region(
        session, admin, {"name": "城关镇", "code": "CG", "level": "township", "parent_id": dk.id}
    )
    gs = regions.create_region(
        session, admin, {"name": "高沙镇", "code": "GS", "level": "township", "parent_id": dk.id}
    )
    villages = {
        code: create_village(session, admin, {"name": name, "code": code, "region_id": town.id})
        for code, name, town in (("HP", "和平村", cg), ("XH", "新华村", cg), ("QF", "清风村", gs))
    }
    scheme = village_scheme(session, admin, dk)
    rules = {
        name: rulebook.create_rule(
            session,
            admin,
            None,
            {"code": f"LL-{i}", "name": name, "category": "六零目标", "points": 10},
            scheme_id=scheme.id,
        )
        for i, name in enumerate(SIX, start=1)
    }
    rules["扣分"] = rulebook.create_rule(
        session,
        admin,
        None,
        {"code": "KF-1", "name": "发生重大问题", "category": "扣分项", "points": -20},
        scheme_id=scheme.id,
    )
    c = County(dk, cg, gs, villages, scheme, rules)
    for role in ("admin", "recorder", "reviewer"):
        region_user(session, f"dk_{role}", role, dk)
        region_user(session, f"cg_{role}", role, cg)
    session.commit()
    c.accounts = village_accounts(session, scheme)
    session.commit()  # no transaction left open (on SQLite: the write lock) for a live server
    return c
