"""The fuzz's data set, and the real ids its cases name.

``seed`` builds, through the services, every kind of object the API names by id: the
usual two villages (团结村 records at once, 幸福村 waits for approval) in a county's
township, 团结村's 志愿积分 (a person scheme, two volunteers) with its 爱心超市, the
county's monthly village scheme (积分换项目) with both villages' accounts, a shop with
stock per scheme, approved and pending entries, evidence, sales (one cancelled), closed
periods (in notice, and final with awards) and open objections.

``real_ids`` rewrites a generated case so that its ids (path, query and body) name rows
that exist, all of one scheme, so that they fit together (a rule of the account's
scheme, an item of the shop's); ``fuzz`` does so for most cases and leaves the random
ids of the others, so the 404 and ``not_found`` answers stay covered too.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from PIL import Image
from sqlalchemy import func, or_, select

from app.auth.models import User
from app.clock import local_today, month_of, quarter_of, utcnow
from app.households.models import Household
from app.points import decisions
from app.points import rules as rulebook
from app.points import services as points
from app.points.evidence import store_evidence
from app.points.models import Entry, Evidence, Period, Rule
from app.rankings import awards as prizes
from app.rankings import objections, periods
from app.rankings.models import Objection
from app.redemption import services as shop
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption, Shop
from app.redemption.services import card_token
from app.regions import services as regions
from app.regions.models import Region
from app.schemes.models import Scheme
from app.villages.models import Village
from tests.county.conftest import village_accounts, village_scheme
from tests.factories import PASSWORD, World, household
from tests.volunteers import person, volunteer_scheme


def _first_of_quarter(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (8, 8), 120).save(out, "JPEG")
    return out.getvalue()


LEAVING = "9"  # the households numbered …-9nn are the ones the fuzz moves out


@dataclass
class Seeding:
    session: object
    app: object
    w: World
    now: datetime
    today: date
    schemes: dict = field(default_factory=dict)  # key → (village_id, scheme_id) naming it
    items: dict = field(default_factory=dict)
    recorded: dict = field(default_factory=dict)

    def actor(self, name):
        return self.w.actor(name)


def seed(session, app) -> World:
    """The data set (module docstring), dated by the real clock, as the API dates its writes."""
    s = Seeding(session, app, World.build(session), utcnow(), local_today(app.config["TIMEZONE"]))
    _places_and_schemes(s)
    _shops(s)
    _entries(s)
    _sales(s)
    _periods_awards_objections(s)
    session.commit()
    app.fuzz_last_account = session.scalar(select(func.max(Household.id)))
    return s.w


def _places_and_schemes(s: Seeding) -> None:
    """A county and its township over both villages, households to move out, the
    volunteers' person scheme and the county's village scheme with their rules."""
    session, w, admin = s.session, s.w, s.actor("admin")
    for p, village in (("tj", w.a), ("xf", w.b)):
        for i in range(1, 7):
            household(session, w.admin, village, f"{p.upper()}-{LEAVING}{i:02d}", f"迁出户{i}")
    county = regions.create_region(session, admin, {"name": "理塘县", "code": "LT", "level": "county"})
    town = regions.create_region(
        session, admin, {"name": "上木拉乡", "code": "SML", "level": "township", "parent_id": county.id}
    )
    w.a.region_id = w.b.region_id = town.id
    session.flush()
    volunteers = volunteer_scheme(session, w)
    w.households["vol1"] = person(session, w, volunteers, "V001", "李志愿", linked=w.households["tj1"])
    w.households["vol2"] = person(session, w, volunteers, "V002", "张热心")
    projects = village_scheme(session, admin, county)
    session.flush()
    for code, account in village_accounts(session, projects).items():
        w.households[f"lt_{code.lower()}"] = account
    s.schemes = {"tj": (w.a.id, None), "xf": (w.b.id, None), "vol": (None, volunteers.id), "lt": (None, projects.id)}
    for key, scheme, who, good, bad in (
        ("vol", volunteers, "tj_village_admin", "勤劳致富", "遵纪守法"),
        ("lt", projects, "admin", "六零目标", "扣分项"),
    ):
        for name, worth, category in (("school", 3, good), ("labour", 5, good), ("gamble", -20, bad)):
            w.rules[f"{key}_{name}"] = rulebook.create_rule(
                session,
                s.actor(who),
                None,
                {"code": f"{key}-{name}".upper(), "name": name, "category": category, "points": worth},
                scheme_id=scheme.id,
            )


def _shops(s: Seeding) -> None:
    """Shops with stock: each village's household shop and the volunteers' 爱心超市; a
    photo of evidence per village."""
    w = s.w
    for key, village, scheme_id in (("tj", w.a, None), ("xf", w.b, None), ("vol", w.a, s.schemes["vol"][1])):
        p = "tj" if key == "vol" else key
        shop_row = shop_services.create_shop(
            s.session, s.actor(f"{p}_village_admin"), village.id, f"{key}店", scheme_id=scheme_id
        )
        s.items[key] = [
            shop_services.create_item(
                s.session,
                s.actor(f"{p}_clerk"),
                shop_row.id,
                {"name": name, "price_points": price, "stock": 100_000},
                now=s.now,
            )
            for name, price in (("肥皂", 1), ("大米", 25), ("毛巾", 2))
        ]
        shop_services.receive_stock(s.session, s.actor(f"{p}_clerk"), s.items[key][0].id, 5, now=s.now)
    folder = Path(s.app.instance_path) / "evidence"
    for p, village in (("tj", w.a), ("xf", w.b)):
        store_evidence(s.session, s.actor(f"{p}_recorder"), village.id, _jpeg(), folder, 5_000_000)
    s.session.commit()


def _entries(s: Seeding) -> None:
    """Last month's, last quarter's and today's entries on every kind of account,
    approved or (幸福村) pending; large ones, so that sales can be paid; one reversed."""
    last_quarter = _first_of_quarter(s.today) - timedelta(days=1)  # its last day
    last_month = s.today.replace(day=1) - timedelta(days=1)
    days = ((last_month, 2), (last_quarter, 3), (s.today, 4), (s.today, 1), *[(s.today, 100)] * 6)
    for key in ("tj1", "tj2", "tj3", "xf1", "xf2", "xf3", "vol1", "vol2", "lt_tj", "lt_xf"):
        scheme = "vol" if key.startswith("vol") else key[:2]
        recorder = {"tj": "tj_recorder", "xf": "xf_recorder", "vol": "tj_recorder", "lt": "admin"}[scheme]
        s.recorded[key] = [
            points.record_entry(
                s.session,
                s.actor(recorder),
                household_id=s.w.households[key].id,
                rule_id=s.w.rules[f"{scheme}_school"].id,
                quantity=quantity,
                occurred_on=day,
                today=s.today,
                now=s.now,
            )
            for day, quantity in days
        ]
    # the rest of 幸福村's wait
    approved = s.recorded["xf1"][:3] + s.recorded["xf2"][:2]
    for entry in approved + [e for k in ("xf1", "xf2", "xf3") for e in s.recorded[k][4:]]:
        decisions.approve_entry(s.session, s.actor("xf_reviewer"), entry.id, now=s.now)
    decisions.reverse_entry(s.session, s.actor("tj_reviewer"), s.recorded["tj3"][3].id, reason="记错", now=s.now)
    s.session.commit()


def _sales(s: Seeding) -> None:
    """A sale in each shop, one of them cancelled."""
    for key, account in (("tj", "tj2"), ("tj", "tj1"), ("xf", "xf1"), ("vol", "vol1")):
        p = "tj" if key == "vol" else key
        sale = shop.redeem(
            s.session,
            s.actor(f"{p}_clerk"),
            shop_id=s.items[key][0].shop_id,
            lines=[{"item_id": s.items[key][0].id, "quantity": 2}],
            household_id=s.w.households[account].id,
            now=s.now,
            today=s.today,
            secret=s.app.config["SECRET_KEY"],
        )
    tz = s.app.config["TIMEZONE"]
    shop.cancel_redemption(s.session, s.actor("tj_clerk"), sale.id, reason="退货", now=s.now, tz=tz)
    s.session.commit()


def _periods_awards_objections(s: Seeding) -> None:
    """团结村's and the volunteers' last quarter final with awards, 幸福村's last quarter
    and the county's last month in notice; open objections to entries of this quarter
    (the resident's own household's too) and to the county's standings of this month."""
    admin, now, today = s.actor("admin"), s.now, s.today
    last_quarter = quarter_of(_first_of_quarter(today) - timedelta(days=1))
    last_month = month_of(today.replace(day=1) - timedelta(days=1))
    for key, period, final in (("tj", last_quarter, True), ("vol", last_quarter, True), ("xf", last_quarter, False),
                               ("lt", last_month, False)):  # fmt: skip
        village_id, scheme_id = s.schemes[key]
        where = {"now": now, "today": today, "scheme_id": scheme_id}
        periods.close_period(s.session, admin, village_id, period, **where)
        if final:
            periods.finalize_period(s.session, admin, village_id, period, **where)
            prizes.grant_awards(
                s.session, admin, period=period, village_id=village_id, title="模范家庭", top_n=2, bonus_points=5,
                **where,
            )  # fmt: skip
    for who, key in (("tj_resident", "tj1"), ("tj_reviewer", "tj2"), ("xf_reviewer", "xf3"), ("tj_reviewer", "vol2")):
        objections.file_objection(s.session, s.actor(who), reason="不公", now=now, entry_id=s.recorded[key][2].id)
    lt = s.schemes["lt"][1]
    objections.file_objection(s.session, admin, reason="再议", now=now, period=month_of(today), scheme_id=lt)


# --- real ids --------------------------------------------------------------------------


def _villages(scheme: Scheme):
    """The villages of a scheme: its own, or those in its region and below."""
    if scheme.village_id is not None:
        return select(Village.id).where(Village.id == scheme.village_id)
    below = select(Region.id).where(or_(Region.id == scheme.region_id, Region.parent_id == scheme.region_id))
    return select(Village.id).where(Village.region_id.in_(below))


def _periods(session, scheme: Scheme, today: date, *, status=None) -> list[str]:
    if status is not None:
        stmt = select(Period.period).where(Period.scheme_id == scheme.id, Period.status == status)
        return list(session.scalars(stmt.order_by(Period.id)))
    closed = set(session.scalars(select(Period.period).where(Period.scheme_id == scheme.id)))
    return list(dict.fromkeys([*periods.scheme_periods(scheme, today), *sorted(closed)]))


def _closable(session, scheme: Scheme, today: date) -> list[str]:
    """Periods of the scheme that have begun, are over, and are not closed: closing the
    current one would stop the rest of the fuzz recording in it."""
    current = {quarter_of(today), month_of(today), str(today.year)}
    return [p for p in _periods(session, scheme, today) if p not in current and not period_closed(session, scheme, p)]


def period_closed(session, scheme: Scheme, period: str) -> bool:
    return session.scalar(select(Period.id).where(Period.scheme_id == scheme.id, Period.period == period)) is not None


@dataclass
class Ask:
    """What ``candidates`` is asked: a field of an operation, from a scheme's rows."""

    session: object
    app: object
    method: str
    path: str
    field: str
    scheme: Scheme

    def ids(self, stmt) -> list:
        return list(self.session.scalars(stmt))

    @property
    def today(self) -> date:
        return local_today(self.app.config["TIMEZONE"])

    @property
    def accounts(self):
        """The data set's accounts, not those the fuzz opened (among which a resident's
        own would be lost)."""
        return (
            select(Household.id)
            .where(Household.scheme_id == self.scheme.id, Household.id <= self.app.fuzz_last_account)
            .order_by(Household.id)
        )

    @property
    def first_shop(self):
        """The scheme's first shop (the data set's, with stock): its items go with it."""
        return select(Shop.id).where(Shop.scheme_id == self.scheme.id).order_by(Shop.id).limit(1)


def _accounts(a: Ask) -> list:
    if a.path == "/api/v1/accounts":  # a person's link to a household of the village
        villages = _villages(a.scheme)
        return a.ids(select(Household.id).where(Household.kind == "household", Household.village_id.in_(villages)))
    # only the households kept to move out move out, so the others still take entries
    leaving = Household.number.like(f"%-{LEAVING}%")
    accounts = a.accounts.where(Household.moved_out_on.is_(None))
    return a.ids(accounts.where(leaving) if a.path.endswith("move-out") else accounts.where(~leaving))


def _entries_of(a: Ask) -> list:
    stmt = select(Entry.id).where(Entry.scheme_id == a.scheme.id).order_by(Entry.id)
    if a.path.endswith(("/approve", "/reject")):
        stmt = stmt.where(Entry.status == "pending")
    elif a.path.endswith("/reverse") or a.path == "/api/v1/objections":
        reversed_ = select(Entry.reverses_id).where(Entry.reverses_id.is_not(None))
        stmt = stmt.where(Entry.status == "approved", Entry.kind == "rule", Entry.id.not_in(reversed_))
    return a.ids(stmt)


def _items(a: Ask) -> list:
    # the first (肥皂, 1 point) is sold and never edited, the others edited: an edit
    # sets any stock and price, after which every sale of it could be refused
    items = a.ids(select(Item.id).where(Item.shop_id.in_(a.first_shop)).order_by(Item.id))
    return items[:1] if a.path == "/api/v1/redemptions" else items[1:]


def _redemptions(a: Ask) -> list:
    stmt = select(Redemption.id).join(Shop).where(Shop.scheme_id == a.scheme.id).order_by(Redemption.id)
    if a.path.endswith("/cancel"):
        stmt = stmt.where(Redemption.status == "completed")
    return a.ids(stmt)


def _objections(a: Ask) -> list:
    stmt = select(Objection.id).where(Objection.scheme_id == a.scheme.id).order_by(Objection.id)
    if a.path.endswith("/decide"):
        stmt = stmt.where(Objection.status == "open")
    return a.ids(stmt)


def _periods_of(a: Ask) -> list:
    if a.path.endswith("/close"):
        return _closable(a.session, a.scheme, a.today)
    if a.path.endswith("/finalize"):
        return _periods(a.session, a.scheme, a.today, status="notice")
    if (a.method, a.path) == ("POST", "/api/v1/awards"):
        return _periods(a.session, a.scheme, a.today, status="final")
    return _periods(a.session, a.scheme, a.today)


def _cards(a: Ask) -> list:
    secret = a.app.config["SECRET_KEY"]
    return [card_token(secret, h) for h in a.session.scalars(a.accounts.with_only_columns(Household))]


# field → its candidates
CANDIDATES = {
    "region_id": lambda a: a.ids(select(Region.id).order_by(Region.id)),
    "parent_id": lambda a: a.ids(select(Region.id).order_by(Region.id)),
    "village_id": lambda a: a.ids(_villages(a.scheme).order_by(Village.id)),
    "scheme_id": lambda a: [a.scheme.id],
    "household_id": _accounts,
    "household_ids": _accounts,
    "account_id": _accounts,
    "account_ids": _accounts,
    "rule_id": lambda a: a.ids(select(Rule.id).where(Rule.scheme_id == a.scheme.id).order_by(Rule.id)),
    "entry_id": _entries_of,
    "evidence_id": lambda a: a.ids(
        select(Evidence.id).where(Evidence.village_id.in_(_villages(a.scheme))).order_by(Evidence.created_at)
    ),
    "shop_id": lambda a: a.ids(a.first_shop),
    "item_id": _items,
    "redemption_id": _redemptions,
    "objection_id": _objections,
    "period": _periods_of,
    "qr_token": _cards,
    "occurred_on": lambda a: [a.today.isoformat(), (a.today - timedelta(days=1)).isoformat()],
    # a rule's category: one of its scheme's
    "category": lambda a: list(a.scheme.categories) if a.path.startswith("/api/v1/rules") else [],
}
ID_FIELDS = tuple(CANDIDATES)


def candidates(session, app, operation: tuple[str, str], field: str, scheme: Scheme) -> list:
    """The values that ``field`` of ``operation`` may take from ``scheme``'s rows."""
    return CANDIDATES[field](Ask(session, app, *operation, field, scheme))


def username_and_password(session) -> list[tuple[str, str]]:
    return [(u, PASSWORD) for u in session.scalars(select(User.username).order_by(User.id).limit(8))]


def seeded_schemes(session, user: User) -> list[int]:
    """The schemes of the data set a user's cases name: all of them for an official, a
    resident's village's (its household scheme and the volunteers')."""
    stmt = select(Scheme.id).order_by(Scheme.id)
    if user.household_id is not None:
        stmt = stmt.where(Scheme.village_id == user.village_id)
    return list(session.scalars(stmt))


def _rewrite(value, field, rng, pick):
    """``value`` with each id it holds (a list's too) replaced by a real one, if any."""
    if isinstance(value, list):
        return [_rewrite(v, field, rng, pick) for v in value]
    choices = pick(field)
    return rng.choice(choices) if choices else value


def real_ids(case, rng, session, app, scheme_ids: list[int]) -> None:
    """Rewrite ``case`` so its ids name rows of one of ``scheme_ids``, chosen by ``rng``
    (a ``random.Random``: what hypothesis draws must not depend on the rows, which change)."""
    operation = (case.method.upper(), case.operation.full_path)
    in_path = [k for k in case.path_parameters or {} if k in ID_FIELDS]
    # the first scheme, in a random order, that has a row for each id of the path (only
    # 幸福村 has entries pending; only the villages' households move out)
    order = rng.sample(scheme_ids, len(scheme_ids))
    for scheme_id in order:
        scheme = session.get(Scheme, scheme_id)
        cache = {k: candidates(session, app, operation, k, scheme) for k in in_path}
        if all(cache.values()):
            break
    else:
        scheme = session.get(Scheme, order[0])
        cache = {}

    def pick(field):
        if field not in cache:
            cache[field] = candidates(session, app, operation, field, scheme)
        return cache[field]

    def rewrite(values: dict) -> dict:
        return {k: _rewrite(v, k, rng, pick) if k in ID_FIELDS else v for k, v in values.items()}

    if case.path_parameters:
        case.path_parameters = rewrite(case.path_parameters)
    if case.query:
        case.query = rewrite(case.query)
    if isinstance(case.body, dict):
        body = rewrite(case.body)
        if isinstance(body.get("lines"), list):
            body["lines"] = [rewrite(line) if isinstance(line, dict) else line for line in body["lines"]]
        if operation == ("POST", "/api/v1/auth/token"):
            body["username"], body["password"] = rng.choice(username_and_password(session))
        case.body = body
    session.rollback()  # no read transaction left open (on PostgreSQL: no lock held)
