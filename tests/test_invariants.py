"""The ledger's invariants under random sequences of operations (hypothesis, no HTTP).

Each step calls one service as a request would (commit on success, roll back on a
domain error); after every step: each balance equals its ledger, each period total
equals its ledger, each item's stock equals its movements and is not negative, every
hash chain is whole (``ledger verify``'s own code), a sale never leaves a balance below
the village's floor, and a final period's standings never change.

The budget: ``STATE_MACHINE_EXAMPLES`` sequences of ``STATE_MACHINE_STEPS`` steps
(12 × 30 in ``make test``; ``.ci/run`` sets a larger one).
"""

import os
from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, precondition, rule
from sqlalchemy import select

from app.clock import quarter_of
from app.errors import DomainError
from app.extensions import db
from app.households.models import Household
from app.points import decisions
from app.points import rules as rulebook
from app.points import services as points
from app.points import year as ledger_year
from app.points.models import Entry, Period, PeriodTotal
from app.points.proof import verify
from app.rankings import awards as prizes
from app.rankings import objections, periods
from app.rankings.models import Objection
from app.rankings.services import household_standings
from app.redemption import reports as shop_reports
from app.redemption import services as shop
from app.redemption import shops as shop_services
from app.redemption.models import Item, Redemption
from tests import factories
from tests.conftest import _empty_tables

EXAMPLES = int(os.environ.get("STATE_MACHINE_EXAMPLES", "12"))
STEPS = int(os.environ.get("STATE_MACHINE_STEPS", "30"))
START = date(2026, 10, 5)
LAST_DAY = date(2027, 3, 31)
TZ = "Asia/Shanghai"
SECRET = "test-secret"
HOUSEHOLDS = [f"{v}{i}" for v in ("tj", "xf") for i in (1, 2, 3)]
# The other kinds of account, on the same ledger: two volunteers of 团结村's person scheme
# (志愿积分, its 爱心超市), and both villages' accounts in the county's monthly village scheme.
PEOPLE = ["vol1", "vol2"]
VILLAGE_ACCOUNTS = ["dk_tj", "dk_xf"]
ACCOUNTS = HOUSEHOLDS + PEOPLE + VILLAGE_ACCOUNTS
SCHEMES = ("tj", "xf", "vol", "dk")  # the scheme of an account key is its prefix
OFFICIALS = {"tj": "tj", "xf": "xf", "vol": "tj", "dk": "dk"}  # whose recorder, reviewer and clerk
RULES = ("labour", "school", "gamble")


def noon(day: date) -> datetime:
    """04:00 UTC: noon of ``day`` in Asia/Shanghai, so local_today(now) is ``day``."""
    return datetime.combine(day, time(4, 0))


class Ledger(RuleBasedStateMachine):
    """One village that records at once (tj, annual reset) and one that approves (xf); a
    person scheme of tj with a shop of its own, and a county's village scheme over both."""

    entries = Bundle("entries")
    sales = Bundle("sales")
    objections = Bundle("objections")

    def __init__(self):
        super().__init__()
        self.session = db.session
        self.session.remove()
        _empty_tables()
        self.world = w = factories.World.build(self.session)
        w.a.annual_reset = True
        w.a.redeem_floor = w.b.redeem_floor = 70  # part of the opening base may be spent
        self.items = {}
        for v, p in ((w.a, "tj"), (w.b, "xf")):
            s = shop_services.create_shop(self.session, w.actor(f"{p}_village_admin"), v.id, f"{p}店")
            self.items[p] = [
                shop_services.create_item(
                    self.session,
                    w.actor(f"{p}_clerk"),
                    s.id,
                    {"name": name, "price_points": price, "stock": 5},
                    now=noon(START),
                ).id
                for name, price in (("肥皂", 3), ("大米", 25))
            ]
            self.items[f"{p}_shop"] = s.id
        self._other_accounts()
        self.session.commit()
        self.today = START
        self.final: dict[tuple[str, int], tuple] = {}  # (scheme key, period) -> its standings

    def _other_accounts(self):
        """The person scheme (志愿积分) of tj and the county's village scheme (积分换项目),
        each with the three rules the households have, as accounts of the same ledger."""
        from app.regions import services as regions
        from tests.county.conftest import region_user, village_accounts, village_scheme
        from tests.volunteers import person, volunteer_scheme

        w, s = self.world, self.session
        volunteers = volunteer_scheme(s, w)
        people = [person(s, w, volunteers, "V-1", "志愿者甲", linked=w.households["tj1"]), None]
        people[1] = person(s, w, volunteers, "V-2", "志愿者乙")
        county = regions.create_region(s, w.actor("admin"), {"name": "理塘县", "code": "LT", "level": "county"})
        w.a.region_id = w.b.region_id = county.id
        s.flush()
        for role in ("admin", "recorder", "reviewer"):
            w.users[f"dk_{role}"] = region_user(s, f"dk_{role}", role, county)
        w.users["dk_reviewer2"] = region_user(s, "dk_reviewer2", "reviewer", county)
        projects = village_scheme(s, w.actor("admin"), county)
        s.flush()
        by_code = village_accounts(s, projects)
        self.schemes = {"tj": w.a.household_scheme.id, "xf": w.b.household_scheme.id}
        self.schemes |= {"vol": volunteers.id, "dk": projects.id}
        self.accounts = {k: h.id for k, h in w.households.items()}
        self.accounts |= {"vol1": people[0].id, "vol2": people[1].id}
        self.accounts |= {"dk_tj": by_code["TJ"].id, "dk_xf": by_code["XF"].id}
        for key, scheme in (("vol", volunteers), ("dk", projects)):
            admin = w.actor("tj_village_admin" if key == "vol" else "admin")
            good, bad = ("六零目标", "扣分项") if key == "dk" else ("勤劳致富", "遵纪守法")
            for name, worth, extra, category in (
                ("labour", 5, {"cap_period": "day", "cap_count": 1}, good),
                ("school", 3, {}, good),
                ("gamble", -20, {"veto": True}, bad),
            ):
                w.rules[f"{key}_{name}"] = rulebook.create_rule(
                    s,
                    admin,
                    None,
                    {"code": f"{key}-{name}".upper(), "name": name, "category": category, "points": worth} | extra,
                    scheme_id=scheme.id,
                )
        love = shop_services.create_shop(s, w.actor("tj_village_admin"), w.a.id, "爱心超市", scheme_id=volunteers.id)
        self.items["vol"] = [
            shop_services.create_item(
                s, w.actor("tj_clerk"), love.id, {"name": name, "price_points": price, "stock": 5}, now=noon(START)
            ).id
            for name, price in (("毛巾", 2), ("油", 8))
        ]
        self.items["vol_shop"] = love.id

    def teardown(self):
        self.session.rollback()
        self.session.remove()

    # --- the request boundary -----------------------------------------------------------

    def attempt(self, operation):
        """Run ``operation`` as one request: commit it, or roll back a domain refusal.
        Any other exception is a bug and fails the run."""
        try:
            result = operation()
        except DomainError:
            self.session.rollback()
            return None
        self.session.commit()
        return result

    def actor(self, name):
        return self.world.actor(name)

    @property
    def now(self):
        return noon(self.today)

    # --- rules --------------------------------------------------------------------------

    @rule(target=entries, key=st.sampled_from(ACCOUNTS), rule_name=st.sampled_from(RULES),
          quantity=st.integers(1, 3), days_back=st.integers(0, 120))  # fmt: skip
    def record(self, key, rule_name, quantity, days_back):
        w, p = self.world, self._scheme_of_key(key)
        entry = self.attempt(
            lambda: points.record_entry(
                self.session,
                self.actor(f"{OFFICIALS[p]}_recorder"),
                household_id=self.accounts[key],
                rule_id=w.rules[f"{p}_{rule_name}"].id,
                quantity=quantity,
                occurred_on=self.today - timedelta(days=days_back),
                today=self.today,
                now=self.now,
            )
        )
        return entry.id if entry else multiple()

    @rule(target=entries, village=st.sampled_from(SCHEMES), days_back=st.integers(0, 40),
          picks=st.lists(st.sampled_from((1, 2, 3)), min_size=1, max_size=4))  # fmt: skip
    def record_batch(self, village, days_back, picks):
        w = self.world
        keys = [k for k in ACCOUNTS if self._scheme_of_key(k) == village]
        result = self.attempt(
            lambda: points.record_batch(
                self.session,
                self.actor(f"{OFFICIALS[village]}_recorder"),
                rule_id=w.rules[f"{village}_school"].id,
                household_ids=[self.accounts[keys[(i - 1) % len(keys)]] for i in picks],
                occurred_on=self.today - timedelta(days=days_back),
                today=self.today,
                now=self.now,
            )
        )
        return multiple(*(e.id for e in result[0])) if result else multiple()

    @rule(entry=entries, second=st.booleans())
    def approve(self, entry, second):
        p = OFFICIALS[self._scheme_of(entry)]
        reviewer = f"{p}_reviewer2" if second else f"{p}_reviewer"
        self.attempt(lambda: decisions.approve_entry(self.session, self.actor(reviewer), entry, now=self.now))

    @rule(entry=entries)
    def reject(self, entry):
        p = OFFICIALS[self._scheme_of(entry)]
        if p:
            self.attempt(
                lambda: decisions.reject_entry(
                    self.session, self.actor(f"{p}_reviewer"), entry, reason="不符", now=self.now
                )
            )

    @rule(entry=entries)
    def reverse(self, entry):
        p = OFFICIALS[self._scheme_of(entry)]
        if p:
            self.attempt(
                lambda: decisions.reverse_entry(
                    self.session, self.actor(f"{p}_reviewer"), entry, reason="记错", now=self.now
                )
            )

    @rule(target=sales, key=st.sampled_from(HOUSEHOLDS + PEOPLE), lines=st.lists(
        st.tuples(st.integers(0, 1), st.integers(1, 3)), min_size=1, max_size=2, unique_by=lambda t: t[0]))  # fmt: skip
    def sell(self, key, lines):
        p = self._scheme_of_key(key)
        sale = self.attempt(
            lambda: shop.redeem(
                self.session,
                self.actor(f"{OFFICIALS[p]}_clerk"),
                shop_id=self.items[f"{p}_shop"],
                lines=[{"item_id": self.items[p][i], "quantity": q} for i, q in lines],
                household_id=self.accounts[key],
                now=self.now,
                today=self.today,
                secret=SECRET,
            )
        )
        if sale is None:
            return multiple()
        household = self.session.get(Household, self.accounts[key])
        floor = household.scheme.redeem_floor
        assert household.balance >= floor, f"a sale left {key} at {household.balance}, below the floor {floor}"
        self.session.rollback()
        return sale.id

    @rule(sale=consumes(sales), by_clerk=st.booleans())
    def cancel(self, sale, by_clerk):
        village = "tj" if self._sale_village(sale) == self.world.a.id else "xf"
        who = f"{village}_clerk" if by_clerk else f"{village}_reviewer"
        self.attempt(
            lambda: shop.cancel_redemption(self.session, self.actor(who), sale, reason="退货", now=self.now, tz=TZ)
        )

    @rule(village=st.sampled_from(("tj", "xf", "vol")), which=st.integers(0, 1), quantity=st.integers(1, 4),
          loss=st.booleans())  # fmt: skip
    def stock(self, village, which, quantity, loss):
        self.attempt(
            lambda: shop_services.receive_stock(
                self.session,
                self.actor(f"{OFFICIALS[village]}_clerk"),
                self.items[village][which],
                quantity,
                reason="loss" if loss else "receipt",
                now=self.now,
            )
        )

    # Mostly a past quarter: closing the current one or the year stops all recording in it.
    @rule(village=st.sampled_from(SCHEMES), back=st.sampled_from((1, 1, 2, 3, 0)),
          year=st.sampled_from((False, False, False, True)))  # fmt: skip
    def close(self, village, back, year):
        day, monthly = self.today, village == "dk"
        for _ in range(back):
            day = date(day.year, day.month if monthly else 3 * ((day.month - 1) // 3) + 1, 1) - timedelta(days=1)
        period = str(day.year) if year else f"{day:%Y-%m}" if monthly else quarter_of(day)
        village_id, scheme_id = self._where(village)
        self.attempt(
            lambda: periods.close_period(
                self.session,
                self.actor(f"{OFFICIALS[village]}_reviewer"),
                village_id,
                period,
                now=self.now,
                today=self.today,
                scheme_id=scheme_id,
            )
        )

    @rule(village=st.sampled_from(SCHEMES), early=st.booleans())
    def finalize(self, village, early):
        village_id, scheme_id = self._where(village)
        rows = self.session.scalars(
            select(Period).where(Period.scheme_id == self.schemes[village], Period.status == "notice")
        ).all()
        names = [r.period for r in rows]
        self.session.rollback()
        for period in names:
            who = self.actor("admin") if early else self.actor(f"{OFFICIALS[village]}_reviewer")
            done = self.attempt(
                lambda period=period, who=who: periods.finalize_period(
                    self.session, who, village_id, period, now=self.now, today=self.today, scheme_id=scheme_id
                )
            )
            if done is not None:
                self.final[(village, period)] = self._standings(village, period)
                self.session.rollback()

    @rule(target=objections, entry=entries, by_resident=st.booleans())
    def object_to(self, entry, by_resident):
        p = OFFICIALS[self._scheme_of(entry)]
        who = f"{p}_resident" if by_resident and p != "dk" else f"{p}_reviewer"
        objection = self.attempt(
            lambda: objections.file_objection(
                self.session, self.actor(who), reason="不公", now=self.now, entry_id=entry
            )
        )
        return objection.id if objection else multiple()

    @rule(objection=consumes(objections), upheld=st.booleans())
    def decide(self, objection, upheld):
        scheme_id = self.session.get(Objection, objection).scheme_id
        p = OFFICIALS[next(k for k, v in self.schemes.items() if v == scheme_id)]
        self.session.rollback()
        self.attempt(
            lambda: objections.decide_objection(
                self.session, self.actor(f"{p}_reviewer"), objection, upheld=upheld, note="已核实", now=self.now
            )
        )

    @rule(village=st.sampled_from(SCHEMES), title=st.sampled_from(("文明家庭", "美德户")),
          top_n=st.integers(1, 3), bonus=st.integers(0, 10))  # fmt: skip
    def award(self, village, title, top_n, bonus):
        village_id, scheme_id = self._where(village)
        for _, period in [k for k in self.final if k[0] == village]:
            self.attempt(
                lambda period=period: prizes.grant_awards(
                    self.session,
                    self.actor(f"{OFFICIALS[village]}_reviewer"),
                    period=period,
                    village_id=village_id,
                    scheme_id=scheme_id,
                    title=title,
                    top_n=top_n,
                    bonus_points=bonus,
                    now=self.now,
                    today=self.today,
                )
            )

    @precondition(lambda self: self.today.year > START.year)
    @rule()
    def roll_year(self):
        self.attempt(lambda: ledger_year.roll_year(self.session, START.year, now=self.now, today=self.today))

    @precondition(lambda self: self.today < LAST_DAY)
    @rule(days=st.integers(1, 45))
    def advance(self, days):
        self.today = min(LAST_DAY, self.today + timedelta(days=days))

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def _scheme_of_key(key):
        return "vol" if key.startswith("vol") else "dk" if key.startswith("dk") else key[:2]

    def _scheme_of(self, entry_id):
        """The key of the scheme whose account the entry is on."""
        scheme_id = self.session.get(Entry, entry_id).household.scheme_id
        self.session.rollback()
        return next(k for k, v in self.schemes.items() if v == scheme_id)

    def _where(self, key):
        """A village's household scheme by its village, the others by the scheme."""
        if key in ("tj", "xf"):
            return (self.world.a if key == "tj" else self.world.b).id, None
        return None, self.schemes[key]

    def _sale_village(self, sale_id):
        village = self.session.get(Redemption, sale_id).village_id
        self.session.rollback()
        return village

    def _standings(self, key, period):
        village_id, scheme_id = self._where(key)
        totals = self.session.execute(
            select(PeriodTotal.household_id, PeriodTotal.points, PeriodTotal.veto_count, PeriodTotal.positive_count)
            .where(PeriodTotal.scheme_id == self.schemes[key], PeriodTotal.period == period)
            .order_by(PeriodTotal.household_id)
        ).all()
        board = household_standings(self.session, period, village_id=village_id, scheme_id=scheme_id)
        return tuple(totals), tuple(board)

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def ledger_holds(self):
        problems = verify(self.session, jobs=1) + shop_reports.verify_stock(self.session)
        assert not problems, "\n".join(map(str, problems))
        negative = self.session.execute(select(Item.id, Item.stock).where(Item.stock < 0)).all()
        assert not negative, f"negative stock: {negative}"
        for (key, period), standings in self.final.items():
            assert self._standings(key, period) == standings, f"final {period} of scheme {key} changed"
        self.session.rollback()


def test_ledger_invariants_under_random_operations(app):
    with app.app_context():
        Ledger.TestCase.settings = settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        Ledger.TestCase().runTest()
