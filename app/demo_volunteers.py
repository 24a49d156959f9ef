"""The demo's volunteers (汉川's 志愿积分): a person scheme of 团结村 at 1 point = 2 yuan,
a few volunteers (some of them of 团结村's households), their entries, and the 爱心超市
that takes their cards. Part of ``app.demo``'s one load."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.accounts.services import create_account
from app.auth.services import create_user
from app.points import rules as rulebook
from app.points import services as points
from app.redemption import shops as shop_services
from app.schemes.services import create_scheme
from app.scope import Actor

SCHEME = {
    "name": "志愿积分",
    "account_kind": "person",
    "cadence": "quarter",
    "categories": ["志愿服务", "扶老助残", "环境保护", "文明宣传"],
    "base_points": 0,
    "redeem_floor": 0,
    "yuan_per_point": 2.0,
    "approval_required": False,
    "notice_days": 7,
    "annual_reset": False,
}
RULES = (  # (code, name, category, points)
    ("V-PATROL", "防疫、防汛值守（每次）", "志愿服务", 5),
    ("V-ELDER", "陪护孤寡老人（每次）", "扶老助残", 4),
    ("V-CLEAN", "河道、道路清扫（每次）", "环境保护", 3),
    ("V-TALK", "政策宣讲、文艺演出（每次）", "文明宣传", 3),
)
# (number, name, index of the 团结村 household they belong to, or None)
VOLUNTEERS = (
    ("ZY-001", "陈志愿", 1),
    ("ZY-002", "李爱心", 1),
    ("ZY-003", "王红梅", 0),
    ("ZY-004", "赵小军", None),
    ("ZY-005", "周春燕", None),
)
ITEMS = (  # (name, unit, points, stock): at 2 yuan a point
    ("牙膏", "支", 4, 30),
    ("洗洁精", "瓶", 6, 20),
    ("保温杯", "个", 15, 10),
    ("电饭煲", "台", 60, 3),
)
SHOP_NAME = "爱心超市"
CLERK_NAME = "黄小芳"
# (username, roles, what they do): the logins this part adds to the demo's.
USERS = (
    ("tj_volunteer", "resident", "团结村志愿者之家（TJ-002 户，看本户志愿者的积分卡和存折）"),
    ("tj_love_clerk", "clerk", "团结村爱心超市店员（只收志愿积分卡）"),
)


def load_volunteers(session: Session, system: Actor, village, households, password: str, *, today, now) -> None:
    """The volunteer scheme of ``village`` with its accounts, entries, shop and logins."""
    scheme = create_scheme(session, system, SCHEME | {"village_id": village.id})
    rules = [
        rulebook.create_rule(
            session,
            system,
            None,
            {"code": code, "name": name, "category": category, "points": pts},
            scheme_id=scheme.id,
        )
        for code, name, category, pts in RULES
    ]
    volunteers = []
    for number, name, home in VOLUNTEERS:
        values = {"scheme_id": scheme.id, "number": number, "name": name, "village_id": village.id}
        if home is not None:
            values["household_id"] = households[home].id
        volunteers.append(create_account(session, system, values, today=today - timedelta(days=60), now=now))
    for i, volunteer in enumerate(volunteers):
        for k in range(3 + 2 * (len(volunteers) - i)):  # the first volunteers are the keenest
            points.record_entry(
                session,
                system,
                household_id=volunteer.id,
                rule_id=rules[(i + k) % len(rules)].id,
                occurred_on=today - timedelta(days=(7 * k + i) % 55),
                today=today,
                now=now,
            )
    shop = shop_services.create_shop(session, system, village.id, SHOP_NAME, scheme_id=scheme.id)
    for name, unit, price, stock in ITEMS:
        shop_services.create_item(
            session, system, shop.id, {"name": name, "unit": unit, "price_points": price, "stock": stock}, now=now
        )
    logins = (  # the household's login goes by its head's name, the clerk by hers
        {"household_id": households[1].id, "display_name": households[1].head_name},
        {"shop_id": shop.id, "display_name": CLERK_NAME},
    )
    for (username, role, _), extra in zip(USERS, logins, strict=True):
        create_user(
            session,
            None,
            {
                "username": username,
                "password": password,
                "roles": [role],
                "village_id": village.id,
                **extra,
            },
        )
