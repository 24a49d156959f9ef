"""Test data built through the services, as the application would build it."""

from dataclasses import dataclass, field
from datetime import datetime

from app.auth.models import User
from app.auth.services import create_user
from app.clock import utcnow
from app.points import decisions
from app.points import rules as rulebook
from app.points import services as points
from app.points.models import Rule
from app.scope import Actor
from app.villages.models import Village
from app.villages.services import create_village

PASSWORD = "secret-pass"
NOW = datetime(2026, 11, 20, 2, 0, 0)  # 10:00 in Shanghai


def user(session, username, roles, village=None, household=None) -> User:
    return create_user(
        session,
        None,
        {
            "username": username,
            "password": PASSWORD,
            "roles": roles if isinstance(roles, list) else [roles],
            "village_id": village.id if village else None,
            "household_id": household.id if household else None,
            "display_name": username,
        },
    )


def village(session, admin: User, code: str, name: str, township: str = "上木拉乡", **scheme) -> Village:
    v = create_village(session, Actor(admin), {"name": name, "code": code, "township": township})
    for k, val in scheme.items():
        setattr(v, k, val)
    session.flush()
    return v


def household(session, admin: User, village: Village, number: str, head: str = "王建国", **extra):
    from tests.conftest import TODAY

    return points.enroll_household(
        session, Actor(admin), village.id, {"number": number, "head_name": head, **extra}, today=TODAY, now=NOW
    )


def rule(session, admin: User, village: Village, code: str, points_: int, **extra) -> Rule:
    values = {
        "code": code,
        "name": extra.pop("name", code),
        "category": extra.pop("category", "志愿服务"),
        "points": points_,
        **extra,
    }
    return rulebook.create_rule(session, Actor(admin), village.id, values)


def score(session, world, key, rule, *, day, today, quantity=1, approve=False):
    """Record ``world.rules[f"{village}_{rule}"]`` for household ``key`` (e.g. ``"tj2"``);
    with ``approve``, a second person approves it where the village requires that."""
    prefix = key[:2]
    entry = points.record_entry(
        session,
        world.actor(f"{prefix}_recorder"),
        household_id=world.households[key].id,
        rule_id=world.rules[f"{prefix}_{rule}"].id,
        quantity=quantity,
        occurred_on=day,
        today=today,
        now=utcnow(),
    )
    if approve and entry.status == "pending":
        decisions.approve_entry(session, world.actor(f"{prefix}_reviewer"), entry.id, now=utcnow())
    return entry


@dataclass
class World:
    admin: User
    a: Village  # 团结村: entries count at once
    b: Village  # 幸福村: entries wait for approval
    users: dict[str, User] = field(default_factory=dict)
    households: dict[str, object] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)

    def actor(self, username: str) -> Actor:
        return Actor(self.users[username], "127.0.0.1")

    @classmethod
    def build(cls, session) -> "World":
        admin = user(session, "admin", "admin")
        a = village(session, admin, "TJ", "团结村")
        b = village(session, admin, "XF", "幸福村", approval_required=True)
        w = cls(admin=admin, a=a, b=b, users={"admin": admin})
        for v, p in ((a, "tj"), (b, "xf")):
            for role in ("village_admin", "recorder", "reviewer", "clerk"):
                w.users[f"{p}_{role}"] = user(session, f"{p}_{role}", role, v)
            w.users[f"{p}_reviewer2"] = user(session, f"{p}_reviewer2", "reviewer", v)
            for i in range(1, 4):
                w.households[f"{p}{i}"] = household(session, admin, v, f"{p.upper()}-{i:03d}", f"户主{p}{i}")
            w.users[f"{p}_resident"] = user(session, f"{p}_resident", "resident", v, w.households[f"{p}1"])
            w.rules[f"{p}_labour"] = rule(
                session, admin, v, "VOL-LABOUR", 5, name="义务投工投劳", cap_period="day", cap_count=1
            )
            w.rules[f"{p}_school"] = rule(session, admin, v, "WORK-SCHOOL", 3, name="参加夜校", category="勤劳致富")
            w.rules[f"{p}_gamble"] = rule(
                session, admin, v, "LAW-GAMBLE", -20, name="参与赌博", category="遵纪守法", veto=True
            )
            w.rules[f"{p}_photo"] = rule(
                session, admin, v, "CLEAN-COURTYARD", 15, name="美丽庭院", category="清洁卫生", requires_evidence=True
            )
        session.commit()
        return w
