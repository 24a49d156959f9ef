"""A small, realistic demo: a county of two townships, a village in each, ~60 households, the standard
rule sheet, users for every role and a quarter of entries, and the county's monthly
积分换项目 over its villages. Loading it twice changes
nothing (it stops if the first demo village exists)."""

import random
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import demo_volunteers as volunteers
from app.auth.models import User
from app.auth.services import create_user
from app.clock import local_today, parse_period, quarter_of, utcnow
from app.errors import DomainError
from app.points import decisions
from app.points import rules as rulebook
from app.points import services as points
from app.points.models import Rule
from app.redemption import shops as shop_services
from app.scope import Actor
from app.villages.models import Village

DEMO_PASSWORD = "demo1234"
COUNTY = {"code": "LT", "name": "理塘县", "level": "county"}
TOWNSHIPS = (
    {"code": "SML", "name": "上木拉乡", "level": "township"},
    {"code": "HN", "name": "禾尼乡", "level": "township"},
)
VILLAGES = (
    {"code": "TJ", "name": "团结村", "township": "SML", "approval_required": False, "households": 32},
    {"code": "XF", "name": "幸福村", "township": "HN", "approval_required": True, "households": 28},
)
# Officials of the county and of a township: (username, role, region code).
REGION_STAFF = (("lt_admin", "admin", "LT"), ("sml_reviewer", "reviewer", "SML"))
# The names pages show for the staff (a resident's is the head of its household): a
# passbook's 记录人 or a receipt's 店员 is a person, not a login.
STAFF_NAMES = {
    "lt_admin": "周立新",
    "sml_reviewer": "何春花",
    "lt_recorder": "罗长青",
    "tj_admin": "杨德明",
    "tj_recorder": "李建华",
    "tj_reviewer": "陈卫东",
    "tj_clerk": "刘秀兰",
    "xf_admin": "赵国华",
    "xf_recorder": "吴海燕",
    "xf_reviewer": "孙明亮",
    "xf_reviewer2": "马玉兰",
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = [
    "建国",
    "秀英",
    "桂兰",
    "志强",
    "海燕",
    "国华",
    "玉兰",
    "德明",
    "春花",
    "永红",
    "文斌",
    "丽娟",
    "卫东",
    "淑珍",
    "明亮",
    "红梅",
    "建华",
    "凤英",
    "振华",
    "秀兰",
    "金山",
    "翠花",
    "光明",
    "小芳",
    "立新",
    "桂芳",
    "家宝",
    "月英",
    "长青",
]
RELATIONS = ("配偶", "长子", "长女", "次子", "母亲", "父亲", "孙子", "孙女")
ROADS = ("东组", "西组", "南组", "北组", "河坝组", "新村组")
# Rule codes most often recorded in a quarter, with weights.
COMMON = (
    ("VOL-LABOUR", 30),
    ("WORK-SCHOOL", 25),
    ("CLEAN-CAMPAIGN", 25),
    ("PUB-PARTY", 15),
    ("PUB-MEETING", 15),
    ("NBR-HELP", 8),
    ("FAM-ELDER", 6),
    ("CLEAN-TREES", 5),
    ("CUS-WEDDING", 2),
    ("CLEAN-YARD", 4),
    ("LAW-FIGHT", 2),
)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def demo_users() -> list[tuple[str, str, str]]:
    """(username, roles, what they do) for the README and ``make run``."""
    return [
        ("admin", "admin", "系统管理员：所有区域和村"),
        ("lt_admin", "admin", "理塘县管理员：县内两乡的村"),
        ("sml_reviewer", "reviewer", "上木拉乡评议员：乡内各村的审核"),
        *COUNTY_USERS,
        ("tj_admin", "village_admin", "团结村管理员：户、规则、用户、方案"),
        ("tj_recorder", "recorder", "团结村网格员：记分"),
        ("tj_reviewer", "reviewer", "团结村评议会：审核、冲正"),
        ("tj_clerk", "clerk", "团结村积分超市店员"),
        ("tj_resident", "resident", "团结村村民（TJ-001 户）"),
        ("xf_admin", "village_admin", "幸福村管理员（需审核的村）"),
        ("xf_recorder", "recorder", "幸福村网格员"),
        ("xf_reviewer", "reviewer", "幸福村评议会"),
        ("xf_reviewer2", "reviewer", "幸福村评议会（第二位审核人）"),
        *volunteers.USERS,
    ]


def load_demo(session: Session, *, seed: int = 2026) -> bool:
    volunteer_logins = {username for username, _, _ in volunteers.USERS}
    if session.scalar(select(Village.id).where(Village.code == VILLAGES[0]["code"])):
        return False
    rng = random.Random(seed)
    tz = current_app.config["TIMEZONE"]
    now = utcnow()
    today = local_today(tz, now)
    system = Actor(_bootstrap_admin(session))

    from app.regions.services import create_region
    from app.villages.services import create_village

    county = create_region(session, system, COUNTY)
    regions = {"LT": county} | {
        spec["code"]: create_region(session, system, spec | {"parent_id": county.id}) for spec in TOWNSHIPS
    }
    for username, role, code in REGION_STAFF:
        create_user(
            session,
            None,
            {
                "username": username,
                "password": DEMO_PASSWORD,
                "roles": [role],
                "region_id": regions[code].id,
                "display_name": STAFF_NAMES[username],
            },
        )
    for spec in VILLAGES:
        region = regions[spec["township"]]
        village = create_village(session, system, {"name": spec["name"], "code": spec["code"], "region_id": region.id})
        village.approval_required = spec["approval_required"]
        rulebook.load_standard_sheet(session, system, village.id)
        households = []
        for i in range(1, spec["households"] + 1):
            head = _name(rng)
            members = [
                {"name": head[0] + _name(rng)[1:], "relation": r} for r in rng.sample(RELATIONS, rng.randint(1, 4))
            ]
            households.append(
                points.enroll_household(
                    session,
                    system,
                    village.id,
                    {
                        "number": f"{spec['code']}-{i:03d}",
                        "head_name": head,
                        "address": f"{spec['name']}{rng.choice(ROADS)}{rng.randint(1, 60)}号",
                        "phone": f"1{rng.choice('35789')}{rng.randint(0, 999999999):09d}",
                        "members": members,
                    },
                    today=today - timedelta(days=95),
                    now=now,
                )
            )
        prefix = spec["code"].lower()
        staff = {}
        for username, role, _ in demo_users():
            if not username.startswith(prefix + "_") or username in volunteer_logins:
                continue
            extra = {"household_id": households[0].id} if role == "resident" else {}
            name = households[0].head_name if role == "resident" else STAFF_NAMES[username]
            staff[username] = create_user(
                session,
                None,
                {
                    "username": username,
                    "password": DEMO_PASSWORD,
                    "roles": [role],
                    "village_id": village.id,
                    "display_name": name,
                    **extra,
                },
            )
        _record_quarter(session, rng, village, households, staff, prefix, today, now)
        _open_shop(session, rng, village, households, staff, prefix, today, now)
        if spec["code"] == "TJ":
            volunteers.load_volunteers(session, system, village, households, DEMO_PASSWORD, today=today, now=now)
    _run_last_quarter(session, system, today, now)
    _county_scheme(session, system, regions, rng, today, now)
    return True


def _bootstrap_admin(session: Session) -> User:
    admin = session.scalar(select(User).where(User.username == "admin"))
    if admin is None:
        admin = create_user(
            session,
            None,
            {"username": "admin", "password": DEMO_PASSWORD, "roles": ["admin"], "display_name": "系统管理员"},
        )
    return admin


def _record_quarter(session, rng, village, households, staff, prefix, today, now) -> None:
    rules = {r.code: r for r in session.scalars(select(Rule).where(Rule.village_id == village.id))}
    recorder = Actor(staff[f"{prefix}_recorder"])
    reviewer = Actor(staff[f"{prefix}_reviewer"])
    codes = [c for c, _ in COMMON]
    weights = [w for _, w in COMMON]
    this_quarter = parse_period(quarter_of(today))[0]
    for household in households:
        diligence = rng.random()
        for _ in range(int(4 + diligence * 14)):
            rule = rules[rng.choices(codes, weights)[0]]
            day = today - timedelta(days=rng.randint(0, 88))
            approve = rng.random() < 0.85
            if not approve and rule.scheme.approval_required and day < this_quarter:
                # what waits for approval is this quarter's: last quarter's is published
                # below, and the queue would be empty in a quarter's first weeks
                day = this_quarter + timedelta(days=rng.randint(0, (today - this_quarter).days))
            try:
                entry = points.record_entry(
                    session,
                    recorder,
                    household_id=household.id,
                    rule_id=rule.id,
                    quantity=1,
                    occurred_on=day,
                    today=today,
                    now=now,
                    note="",
                    member_name="",
                )
            except DomainError:
                continue  # a cap was reached: the real sheet would refuse it too
            if entry.status == "pending" and approve:
                decisions.approve_entry(session, reviewer, entry.id, now=now)


def print_logins(address: str = "127.0.0.1:5000") -> None:
    print(f"\n道德银行 demo: http://{address}  (every password: {DEMO_PASSWORD})")
    for username, role, what in demo_users():
        print(f"  {username:<14} {role:<14} {what}")
    print()


SHOP_ITEMS = (  # prices seen on village sheets (FIELD-NOTES)
    ("肥皂", "块", 5, 40),
    ("毛巾", "条", 10, 30),
    ("洗衣液", "瓶", 20, 25),
    ("大米（10 斤）", "袋", 50, 20),
    ("食用油（5 升）", "桶", 85, 12),
    ("书包", "个", 120, 4),
)


def _open_shop(session, rng, village, households, staff, prefix, today, now) -> None:
    from app.redemption import services as shop

    manager = Actor(staff[f"{prefix}_admin"])
    store = shop_services.create_shop(session, manager, village.id, f"{village.name}积分超市")
    items = [
        shop_services.create_item(
            session, manager, store.id, {"name": n, "unit": u, "price_points": p, "stock": q}, now=now
        )
        for n, u, p, q in SHOP_ITEMS
    ]
    clerk_user = staff.get(f"{prefix}_clerk")
    if clerk_user is None:
        return
    clerk_user.shop_id = store.id
    clerk = Actor(clerk_user)
    secret = current_app.config["SECRET_KEY"]
    for household in rng.sample(households, min(8, len(households))):
        affordable = [i for i in items if i.price_points <= household.redeemable and i.stock > 0]
        if not affordable:
            continue
        item = rng.choice(affordable)
        shop.redeem(
            session,
            clerk,
            shop_id=store.id,
            household_id=household.id,
            lines=[{"item_id": item.id, "quantity": 1}],
            now=now,
            today=today,
            secret=secret,
        )


def _run_last_quarter(session, system: Actor, today, now) -> None:
    """Publish last quarter in both villages; 团结村 finalised with its 道德之星 named."""
    from app.rankings import awards, periods

    last = quarter_of(parse_period(quarter_of(today))[0] - timedelta(days=1))
    for code in ("TJ", "XF"):
        village = session.scalar(select(Village).where(Village.code == code))
        periods.close_period(session, system, village.id, last, now=now, today=today)
    tj = session.scalar(select(Village).where(Village.code == "TJ"))
    periods.finalize_period(session, system, tj.id, last, now=now, today=today)
    awards.grant_awards(
        session,
        system,
        period=last,
        village_id=tj.id,
        title="季度道德之星",
        top_n=3,
        bonus_points=10,
        now=now,
        today=today,
    )


# 积分换项目: the county scores its villages monthly on the 六零 targets (洞口县's sheet).
COUNTY_USERS = [("lt_recorder", "recorder", "理塘县考评员：各村月度考评（积分换项目）")]
MORE_VILLAGES = (  # villages without households, so that a township has a few to score
    ("RRK", "然日卡村", "SML"),
    ("ZG", "扎嘎村", "SML"),
    ("GR", "各日村", "HN"),
    ("DX", "德西村", "HN"),
)
COUNTY_SCHEME = "积分换项目"
SIX_ZEROS = ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情")
COUNTY_DEDUCTION = ("KF-01", "发生重大问题", -20)


def _county_scheme(session, system: Actor, regions: dict, rng, today, now) -> None:
    """The county's monthly village scheme with the six 六零 rules (+10 each a month) and
    a deduction, two months of scores, and the county's scorer."""
    from app.county import services as county
    from app.schemes.models import Scheme
    from app.schemes.services import create_scheme
    from app.villages.services import create_village

    if session.scalar(select(Scheme.id).where(Scheme.name == COUNTY_SCHEME, Scheme.region_id == regions["LT"].id)):
        return
    for code, name, township in MORE_VILLAGES:
        create_village(session, system, {"name": name, "code": code, "region_id": regions[township].id})
    scheme = create_scheme(
        session,
        system,
        {
            "name": COUNTY_SCHEME,
            "region_id": regions["LT"].id,
            "account_kind": "village",
            "cadence": "month",
            "categories": ["六零目标", "扣分项"],
            "base_points": 0,
            "redeem_floor": 0,
            "yuan_per_point": 1.0,
            "approval_required": False,
            "notice_days": 7,
            "annual_reset": True,
        },
    )
    rules = [
        rulebook.create_rule(
            session,
            system,
            None,
            {
                "code": f"LL-{i:02d}",
                "name": name,
                "category": "六零目标",
                "points": 10,
                "cap_period": "month",
                "cap_count": 1,
            },
            scheme_id=scheme.id,
        )
        for i, name in enumerate(SIX_ZEROS, start=1)
    ]
    code, name, points_ = COUNTY_DEDUCTION
    deduction = rulebook.create_rule(
        session,
        system,
        None,
        {"code": code, "name": name, "category": "扣分项", "points": points_},
        scheme_id=scheme.id,
    )
    for username, role, _what in COUNTY_USERS:
        user = create_user(
            session,
            None,
            {
                "username": username,
                "password": DEMO_PASSWORD,
                "roles": [role],
                "region_id": regions["LT"].id,
                "display_name": STAFF_NAMES[username],
            },
        )
    scorer = Actor(user)
    months = county.month_choices(today, 3)[1:][::-1]  # the two months before this one
    for township in county.townships(session, system.user, scheme):
        for account in county.township_accounts(session, scheme, township):
            for month in months:
                taps = [rule for rule in rules if rng.random() < 0.85]
                if rng.random() < 0.15:
                    taps.append(deduction)
                for rule in taps:
                    county.tap(
                        session,
                        scorer,
                        scheme,
                        account_id=account.id,
                        rule_id=rule.id,
                        month=month,
                        today=today,
                        now=now,
                    )
    _publish_county_month(session, system, scheme, months[0], today, now)


def _publish_county_month(session, system: Actor, scheme, month: str, today, now) -> None:
    """The older month published (一月一通报), finalised, and a month's fund shared."""
    from app.rankings import awards, periods

    periods.close_period(session, system, None, month, scheme_id=scheme.id, now=now, today=today)
    periods.finalize_period(session, system, None, month, scheme_id=scheme.id, now=now, today=today)
    awards.grant_awards(
        session,
        system,
        period=month,
        scheme_id=scheme.id,
        title="月度先进村",
        top_n=3,
        fund_yuan="30000.00",
        allocation="proportional",
        now=now,
        today=today,
    )
