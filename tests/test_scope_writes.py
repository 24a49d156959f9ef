"""The scope matrix's writing side, after ``test_scope_matrix.py`` (which sends other
villages' ids in paths, and reads one's own objects):

- ``WRITES``: every POST, PUT, PATCH and DELETE of the API and the pages, sent on an
  object of the caller's own village (a resident: of its own household), answers each
  role what the table says; a role that may writes to the database, any other writes
  nothing. A new writing route without an entry fails the suite.
- ``REFERENCES``: the same requests naming another village's (or region's, or
  scheme's) object inside the body are refused (400 ``not_found``, or 404, or a
  ``skipped`` row) and write nothing.
- ``PAGE_FILTERS``: a page's query filter naming another village, region, scheme, shop,
  household, entry or rule is 404, never quietly the caller's own; which filters each
  page reads is watched, so a new one needs its entry. No page and no list shows a
  non-admin another village's households, shops or users.

The world: Tuanjie (tj, the callers' village; its entries wait for approval) under a
township under a county whose officials (``region_*``) act in Tuanjie too; Xingfu (xf),
another village, under a township of its own. One world per role.
"""

import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from flask import request
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import ImmutableMultiDict

from app.auth.services import create_user
from app.clock import local_today, utcnow
from app.households.models import Household
from app.points import decisions
from app.points import services as points
from app.rankings import periods as cycle
from app.rankings.models import AWARD_TITLES, Objection
from app.redemption import services as shop
from app.redemption import shops
from app.regions.models import Region
from app.schemes.models import STANDARD_CATEGORIES
from app.spreadsheet import XLSX
from tests import factories
from tests.test_scope_matrix import (  # noqa: F401  (cast: a fixture)
    PUBLIC_FILTERS,
    REQUIRED_QUERY,
    build_url,
    cast,
    fingerprint,
    png,
    query_filters,
    routes,
)

VILLAGE_ROLES = ("village_admin", "recorder", "reviewer", "clerk", "resident")
REGION_ROLES = ("region_admin", "region_reviewer", "region_recorder")
EVERYONE = ("admin", *VILLAGE_ROLES, *REGION_ROLES)

# Who holds a permission in Tuanjie: an ``admin`` (the deployment's, or the county's)
# holds every role.
ADMINS = ("admin", "region_admin")
VILLAGE_ADMINS = ("village_admin", *ADMINS)
RECORDERS = ("recorder", "region_recorder", *ADMINS)
REVIEWERS = ("reviewer", "region_reviewer", *ADMINS)
CLERKS = ("clerk", *ADMINS)
SHOP_MANAGERS = ("village_admin", "clerk", *ADMINS)
EVIDENCE_TAKERS = ("village_admin", "recorder", "reviewer", "region_recorder", "region_reviewer", *ADMINS)


def username(role: str) -> str:
    if role in REGION_ROLES:
        return "rg_" + role.removeprefix("region_")
    return role if role == "admin" else f"tj_{role}"


def chooses_village(role: str) -> bool:
    """Whether the role's pages work in a village it names (``?village_id=``)."""
    return role == "admin" or role in REGION_ROLES


@pytest.fixture
def scene(app, session, world, cast):  # noqa: F811  (cast: the fixture imported above)
    """``cast`` and: a county above Tuanjie's township with its officials, Tuanjie's
    entries waiting for a second person, and no floor under a balance."""
    county = Region(name="洞口县", code="DK", level="county")
    session.add(county)
    session.flush()
    session.get(Region, cast["tj"]["region_id"]).parent_id = county.id
    for role in REGION_ROLES:
        values = {"username": username(role), "password": factories.PASSWORD, "region_id": county.id}
        world.users[username(role)] = create_user(session, None, values | {"roles": [role.removeprefix("region_")]})
    world.a.approval_required = True
    world.a.redeem_floor = 0
    session.commit()
    return {**cast, "county_id": county.id}


@dataclass
class Kit:
    """Makes the objects a request acts on, fresh for each request, in Tuanjie."""

    app: object
    session: object
    world: object
    scene: dict
    client: object
    role: str
    counts: dict = field(default_factory=dict)

    @property
    def tj(self) -> dict:
        return self.scene["tj"]

    @property
    def xf(self) -> dict:
        return self.scene["xf"]

    @property
    def today(self) -> date:
        return local_today(self.app.config["TIMEZONE"])

    def unique(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix]}"

    def household(self) -> Household:
        return factories.household(self.session, self.world.admin, self.world.a, self.unique("TJ-9"), "新户主")

    def entry(self, *, approved: bool = True, day: date | None = None, village: str = "tj"):
        """A rule entry of the village's first household (in Tuanjie, the resident's),
        pending unless ``approved``."""
        values = self.scene[village]
        entry = points.record_entry(
            self.session,
            self.world.actor(f"{village}_recorder"),
            household_id=values["household_id"],
            rule_id=values["rule_id"],
            occurred_on=day or self.today,
            today=self.today,
            now=utcnow(),
        )
        if approved:
            decisions.approve_entry(self.session, self.world.actor(f"{village}_reviewer2"), entry.id, now=utcnow())
        return entry

    def item(self):
        values = {"name": self.unique("毛巾"), "price_points": 1, "stock": 9}
        return shops.create_item(self.session, self.world.actor("tj_clerk"), self.tj["shop_id"], values, now=utcnow())

    def sale(self):
        return shop.redeem(
            self.session,
            self.world.actor("tj_clerk"),
            shop_id=self.tj["shop_id"],
            lines=[{"item_id": self.tj["item_id"], "quantity": 1}],
            household_id=self.tj["household_id"],
            now=utcnow(),
            today=self.today,
            secret=self.app.config["SECRET_KEY"],
        )

    def objection(self) -> Objection:
        entry = self.entry()
        objection = Objection(
            scheme_id=entry.scheme_id, village_id=entry.village_id, period=entry.period, entry_id=entry.id, household_id=entry.household_id,
            reason="不公", status="open", filed_by_id=self.world.users["tj_resident"].id, filed_at=utcnow(),
        )  # fmt: skip
        self.session.add(objection)
        self.session.flush()
        return objection

    def user(self):
        return factories.user(self.session, self.unique("tj_new"), "recorder", self.world.a)

    def in_notice(self, period: str, *, final: bool = False) -> None:
        """A quarter of Tuanjie's with an entry, closed long ago (its notice over), and
        finalised if ``final``."""
        start = date(int(period[:4]), 3 * int(period[5]) - 2, 10)
        end = date(start.year + start.month // 10, (start.month + 2) % 12 + 1, 1)  # the next quarter's first day
        self.entry(day=start)
        reviewer = self.world.actor("tj_reviewer")
        cycle.close_period(self.session, reviewer, self.tj["village_id"], period, now=utcnow(), today=end)
        if final:
            later = date(end.year, end.month, 28)
            cycle.finalize_period(self.session, reviewer, self.tj["village_id"], period, now=utcnow(), today=later)

    def card(self, village: str) -> str:
        """The token on the card of the village's first household."""
        household = self.session.get(Household, self.scene[village]["household_id"])
        return shop.card_token(self.app.config["SECRET_KEY"], household)

    def preview_import(self) -> str:
        """A register previewed on the import page by the caller: the token to confirm it."""
        folder = Path(self.app.instance_path) / "imports"
        register = f"户号,户主\n{self.unique('TJ-8')},赵六\n".encode()
        url = "/households/import" + (f"?village_id={self.tj['village_id']}" if chooses_village(self.role) else "")
        self.client.post(url, data={"file": (io.BytesIO(register), "r.csv")}, content_type="multipart/form-data")
        kept = sorted(folder.glob("*.csv"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        return kept[-1].name if kept else "0" * 32 + ".csv"

    def preview_people_import(self) -> str:
        """A list of people previewed on Tuanjie's person scheme's import page by the
        caller: the token to confirm it."""
        folder = Path(self.app.instance_path) / "imports"
        names = f"编号,姓名\n{self.unique('P-8')},赵七\n".encode()
        url = f"/schemes/{self.tj['person_scheme_id']}/people/import"
        self.client.post(url, data={"file": (io.BytesIO(names), "p.csv")}, content_type="multipart/form-data")
        kept = sorted(folder.glob("*.csv"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        return kept[-1].name if kept else "0" * 32 + ".csv"


# Values of a request made when it is sent, from the Kit.
def TJ(key, as_=lambda v: v):  # noqa: N802
    return lambda kit: as_(kit.tj[key])


def XF(key, as_=lambda v: v):  # noqa: N802
    return lambda kit: as_(kit.xf[key])


def UNIQUE(prefix):  # noqa: N802
    return lambda kit: kit.unique(prefix)


def RULE(name):  # noqa: N802
    return lambda kit: kit.world.rules[name].id


TODAY = lambda kit: kit.today.isoformat()  # noqa: E731
HOUSEHOLD = lambda kit: kit.household().id  # noqa: E731  (a new one)
PENDING = lambda kit: kit.entry(approved=False).id  # noqa: E731
APPROVED = lambda kit: kit.entry().id  # noqa: E731
XF_PENDING = lambda kit: kit.entry(approved=False, village="xf").id  # noqa: E731
ITEM = lambda kit: kit.item().id  # noqa: E731
SALE = lambda kit: kit.sale().id  # noqa: E731
OBJECTION = lambda kit: kit.objection().id  # noqa: E731
USER = lambda kit: kit.user().id  # noqa: E731
PHOTO = lambda kit: (io.BytesIO(png()), "p.png")  # noqa: E731
IMPORT = lambda kit: kit.preview_import()  # noqa: E731
PEOPLE_IMPORT = lambda kit: kit.preview_people_import()  # noqa: E731


def resolve(value, kit):
    if callable(value):
        return value(kit)
    if isinstance(value, dict):
        return {k: resolve(v, kit) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, kit) for v in value]
    return value


def R(*, body=None, form=None, before=None, **path):  # noqa: N802
    """A request: path values, and a JSON (or page form) ``body`` or a multipart
    ``form``, whose values may be functions of the Kit; ``before(kit)`` readies the world."""

    def make(kit) -> dict:
        if before is not None:
            before(kit)
        out = resolve(path, kit)
        for name, value in (("body", body), ("form", form)):
            if value is not None:
                out[name] = resolve(value, kit)
        return out

    return make


def NOTICE(period, final=False):  # noqa: N802
    return lambda kit: kit.in_notice(period, final=final)


@dataclass(frozen=True)
class Write:
    """Who may (they answer ``ok`` and write), what everyone else answers (``others``,
    or a role's own in ``but``) with nothing written, and the request on Tuanjie's."""

    who: tuple
    ok: int
    make: object
    others: int = 403
    but: dict = field(default_factory=dict)
    writes: bool = True  # False: allowed, but it only reads (a preview, a lookup)

    def expected(self, role: str) -> tuple[int, bool]:
        if role in self.who:
            return self.ok, self.writes
        return self.but.get(role, self.others), False


SCHEME = {"base_points": 100, "redeem_floor": 0, "yuan_per_point": 1.0, "approval_required": True,
          "notice_days": 9, "annual_reset": False}  # fmt: skip
NEW_SCHEME = {"name": "志愿者积分", "cadence": "quarter", **SCHEME}
ENTRY = {"household_id": TJ("household_id"), "rule_id": TJ("rule_id"), "occurred_on": TODAY}
SALE_BODY = {"shop_id": TJ("shop_id"), "household_id": TJ("household_id"),
             "lines": [{"item_id": TJ("item_id"), "quantity": 1}]}  # fmt: skip
RULE_BODY = {"village_id": TJ("village_id"), "code": "NEW-1", "name": "新规则", "category": "志愿服务", "points": 2}
USER_BODY = {"username": UNIQUE("tj_api"), "password": factories.PASSWORD, "roles": ["recorder"],
             "village_id": TJ("village_id")}  # fmt: skip
RECORD_FORM = {"household": "TJ-001", "household_id": TJ("household_id", str), "rule_id": TJ("rule_id"),
               "quantity": 1, "occurred_on": TODAY}  # fmt: skip
CART = lambda kit: {"shop_id": kit.tj["shop_id"], "card": "TJ-001", "key": kit.unique("k"),  # noqa: E731
                    f"qty-{kit.tj['item_id']}": "1"}  # fmt: skip
WIZARD = {"owner": TJ("village_id", lambda v: f"village:{v}"), "name": UNIQUE("新方案"), "account_kind": "person",
          "cadence": "quarter", "categories": "志愿服务", "base_points": "0", "redeem_floor": "0",
          "yuan_per_point": "1", "approval_required": "0", "notice_days": "7", "annual_reset": "0"}  # fmt: skip
# The county's scoring and cycle pages are a village scheme's (a region's); on a scheme of
# Tuanjie's (its households') they send its officials to the scheme's own page, writing
# nothing.
COUNTY_OFFICIALS = tuple(dict.fromkeys((*RECORDERS, *REVIEWERS)))
FLASHED = 302  # a page's refusal shown as a flash after a redirect; nothing written
# The other roles are refused with 403 unless ``but`` (or ``others``) says otherwise; a
# resident, who sees no village data, is refused some as "not found" before any role.
# fmt: off
WRITES = {
    # --- the API ---
    "auth_api.create_user":              Write(VILLAGE_ADMINS, 201, R(body=USER_BODY)),
    "points_api.create_entry":           Write(RECORDERS, 201, R(body=ENTRY)),
    "points_api.create_batch":           Write(RECORDERS, 201, R(body={"rule_id": TJ("rule_id"), "household_ids": [HOUSEHOLD], "occurred_on": TODAY})),
    "points_api.approve":                Write(REVIEWERS, 200, R(entry_id=PENDING)),
    "points_api.reject":                 Write(REVIEWERS, 200, R(entry_id=PENDING, body={"reason": "不符"})),
    "points_api.reverse":                Write(REVIEWERS, 201, R(entry_id=APPROVED, body={"reason": "记错"})),
    "points_api.upload_evidence":        Write(EVIDENCE_TAKERS, 201, R(form={"village_id": TJ("village_id"), "file": PHOTO})),
    "points_api.create_rule":            Write(VILLAGE_ADMINS, 201, R(body=RULE_BODY)),
    "points_api.patch_rule":             Write(VILLAGE_ADMINS, 200, R(rule_id=RULE("tj_labour"), body={"points": 4})),
    "households_api.create_household":   Write(VILLAGE_ADMINS, 201, R(body={"village_id": TJ("village_id"), "number": UNIQUE("TJ-7"), "head_name": "新户"})),
    "households_api.patch_household":    Write(VILLAGE_ADMINS, 200, R(household_id=HOUSEHOLD, body={"head_name": "改名"})),
    "households_api.move_out":           Write(VILLAGE_ADMINS, 200, R(household_id=HOUSEHOLD)),
    "redemption_api.revoke":             Write(VILLAGE_ADMINS, 200, R()),
    "redemption_api.create_shop":        Write(VILLAGE_ADMINS, 201, R(body={"village_id": TJ("village_id"), "name": "二店"})),
    "redemption_api.create_item":        Write(SHOP_MANAGERS, 201, R(body={"shop_id": TJ("shop_id"), "name": "毛巾", "price_points": 2})),
    "redemption_api.patch_item":         Write(SHOP_MANAGERS, 200, R(item_id=ITEM, body={"price_points": 2})),
    "redemption_api.receive":            Write(SHOP_MANAGERS, 201, R(item_id=ITEM, body={"quantity": 1})),
    "redemption_api.create_redemption":  Write(CLERKS, 201, R(body=SALE_BODY)),
    # a clerk cancels its shop's sales of the day, a reviewer any; the resident's own
    # household's sale is nothing it may act on
    "redemption_api.cancel":             Write(("clerk", *REVIEWERS), 200, R(redemption_id=SALE, body={"reason": "退货"}), but={"resident": 404}),
    "rankings_api.file_objection":       Write(("resident", *REVIEWERS), 201, R(body={"entry_id": APPROVED, "reason": "不公"})),
    "rankings_api.decide_objection":     Write(REVIEWERS, 200, R(objection_id=OBJECTION, body={"upheld": False, "note": "已核实"})),
    "rankings_api.close_period":         Write(REVIEWERS, 200, R(period="2024Q1", body={"village_id": TJ("village_id")})),
    "rankings_api.finalize_period":      Write(REVIEWERS, 200, R(before=NOTICE("2023Q1"), period="2023Q1", body={"village_id": TJ("village_id")})),
    "rankings_api.grant_awards":         Write(REVIEWERS, 201, R(before=NOTICE("2022Q1", final=True), body={"period": "2022Q1", "village_id": TJ("village_id"), "title": "文明家庭", "top_n": 3})),
    "villages_api.create_village":       Write(ADMINS, 201, R(body={"name": "新村", "code": "NEW", "region_id": TJ("region_id")})),
    "villages_api.put_scheme":           Write(VILLAGE_ADMINS, 200, R(body=SCHEME)),
    "regions_api.create_region":         Write(ADMINS, 201, R(body={"name": "新乡", "code": "XX1", "level": "township", "parent_id": lambda kit: kit.scene["county_id"]})),
    "schemes_api.create_scheme":         Write(VILLAGE_ADMINS, 201, R(body={**NEW_SCHEME, "village_id": TJ("village_id"), "account_kind": "person"}), but={"resident": 400}),
    "accounts_api.create_account":       Write(VILLAGE_ADMINS, 201, R(body={"scheme_id": TJ("person_scheme_id"), "number": UNIQUE("P-7"), "name": "张三"})),
    "accounts_api.revoke":               Write(VILLAGE_ADMINS, 200, R()),
    "schemes_api.patch_scheme":          Write(VILLAGE_ADMINS, 200, R(body={"name": "改名"}), but={"resident": 404}),
    # --- the pages: a write that worked redirects ---
    "points.record":                     Write(RECORDERS, 302, R(body=RECORD_FORM)),
    "points.batch":                      Write(RECORDERS, 302, R(body={"rule_id": TJ("rule_id"), "household_ids": [HOUSEHOLD], "occurred_on": TODAY})),
    "points.approve":                    Write(REVIEWERS, 302, R(entry_id=PENDING)),
    "points.reject":                     Write(REVIEWERS, 302, R(entry_id=PENDING, body={"reason": "不符"})),
    "points.approve_bulk":               Write(REVIEWERS, 302, R(body={"entry_ids": [PENDING]})),
    "points.reject_bulk":                Write(REVIEWERS, 302, R(body={"entry_ids": [PENDING], "reason": "不符"})),
    "points.reverse":                    Write(REVIEWERS, 302, R(entry_id=APPROVED, body={"reason": "记错"})),
    "points.rule_new":                   Write(VILLAGE_ADMINS, 302, R(body={"name": "新规", "category": "志愿服务", "points": 2, "active": "y"})),
    "points.rule_edit":                  Write(VILLAGE_ADMINS, 302, R(rule_id=RULE("tj_gamble"), body={"name": "参与赌博", "code": "LAW-GAMBLE", "category": "遵纪守法", "points": -25, "veto": "y", "active": "y"})),
    "points.rule_active":                Write(VILLAGE_ADMINS, 302, R(rule_id=RULE("tj_photo"), body={"active": "0"})),
    "points.rules_standard":             Write(VILLAGE_ADMINS, 302, R()),
    "households.edit":                   Write(VILLAGE_ADMINS, 302, R(household_id=HOUSEHOLD, body={"number": UNIQUE("TJ-6"), "head_name": "改名"})),
    "households.move_out":               Write(VILLAGE_ADMINS, 302, R(household_id=HOUSEHOLD, body={"confirm": "y"})),
    "home.new_household":                Write(VILLAGE_ADMINS, 302, R(body={"number": UNIQUE("TJ-5"), "head_name": "新户"})),
    "home.import_households":            Write(VILLAGE_ADMINS, 200, R(form={"file": lambda kit: (io.BytesIO("户号,户主\nTJ-401,赵六\n".encode()), "r.csv")}), writes=False),  # a preview
    "home.confirm_import":               Write(VILLAGE_ADMINS, 302, R(body={"token": IMPORT, "filename": "r.csv"})),
    "redemption.revoke_card":            Write(VILLAGE_ADMINS, 302, R()),
    "redemption.counter_lookup":         Write(CLERKS, 200, R(body={"shop_id": TJ("shop_id"), "card": "TJ-001"}), writes=False),
    "redemption.counter_redeem":         Write(CLERKS, 302, R(body=CART)),
    "redemption.cancel":                 Write(("clerk", *REVIEWERS), 302, R(redemption_id=SALE, body={"reason": "退货"})),
    "redemption.shops":                  Write(VILLAGE_ADMINS, 302, R(body={"name": "二店", "village_id": TJ("village_id")})),
    "redemption.shop":                   Write(SHOP_MANAGERS, 302, R(body={"name": "毛巾", "price_points": "2", "stock": "3", "active": "y"})),
    "redemption.item":                   Write(SHOP_MANAGERS, 302, R(item_id=ITEM, body={"name": "肥皂", "price_points": "3", "low_stock": "1", "active": "y"}), but={"resident": 404}),
    "redemption.item_stock":             Write(SHOP_MANAGERS, 302, R(item_id=ITEM, body={"reason": "receipt", "quantity": "2"}), but={"resident": 404}),
    "rankings.new_objection":            Write(("resident", *REVIEWERS), 302, R(body={"entry_id": APPROVED, "reason": "不公"})),
    "rankings.decide_objection":         Write(REVIEWERS, 302, lambda kit: {"objection_id": (o := kit.objection().id), "body": {f"o{o}-upheld": "no", f"o{o}-note": "已核实"}}),
    "rankings.close_period":             Write(REVIEWERS, 302, R(period="2024Q2")),
    "rankings.finalize_period":          Write(REVIEWERS, 302, R(before=NOTICE("2023Q2"), period="2023Q2")),
    "rankings.grant_awards":             Write(REVIEWERS, 302, R(before=NOTICE("2022Q2", final=True), period="2022Q2", body={"award-2022Q2-title_choice": AWARD_TITLES[0], "award-2022Q2-top_n": "3"})),
    "auth.new_user":                     Write(VILLAGE_ADMINS, 302, R(body={**USER_BODY, "roles": "recorder"})),
    "auth.set_user_active":              Write(VILLAGE_ADMINS, 302, R(user_id=USER, body={"active": "0"})),
    "auth.reset_password":               Write(VILLAGE_ADMINS, 302, R(user_id=USER, body={"password": "another-pass"})),
    "villages.scheme":                   Write(VILLAGE_ADMINS, 302, R(body={"base_points": "100", "redeem_floor": "0", "yuan_per_point": "1.00", "approval_required": "y", "notice_days": "10"})),
    "villages.index":                    Write(("admin",), 302, R(body={"name": "新村", "code": "NEW2", "township": "某乡"})),
    "home.new_person":                   Write(VILLAGE_ADMINS, 302, R(body={"number": UNIQUE("P-6"), "name": "李四"})),
    "home.edit_person":                  Write(VILLAGE_ADMINS, 302, R(person_id=TJ("person_id"), body={"number": UNIQUE("P-8"), "name": "改名"}), but={"resident": 404}),
    "home.person_leaves":                Write(VILLAGE_ADMINS, 302, R(person_id=TJ("person_id"), body={"confirm": "y"}), but={"resident": 404}),
    "home.import_people":                Write(VILLAGE_ADMINS, 200, R(form={"file": lambda kit: (io.BytesIO(f"编号,姓名\n{kit.unique('P-5')},王五\n".encode()), "p.csv")}), writes=False),  # a preview
    "home.confirm_people_import":        Write(VILLAGE_ADMINS, 302, R(body={"token": PEOPLE_IMPORT, "filename": "p.csv"})),
    "schemes.new":                       Write(VILLAGE_ADMINS, 302, R(body=WIZARD)),
    "county.tap":                        Write(COUNTY_OFFICIALS, 302, R(body={"tap": lambda kit: f"{kit.tj['household_id']}-{kit.tj['rule_id']}"}), writes=False),
    "county.close":                      Write(COUNTY_OFFICIALS, 302, R(period="2024Q3"), writes=False),
    "county.finalize":                   Write(COUNTY_OFFICIALS, 302, R(period="2023Q3"), writes=False),
    "county.grant":                      Write(COUNTY_OFFICIALS, 302, R(period="2022Q3", body={"title": "文明村", "fund_yuan": "100"}), writes=False),
    "schemes.show":                      Write(VILLAGE_ADMINS, 302, R(body={"list-categories": "\n".join([*STANDARD_CATEGORIES, "新类别"])})),
}
# fmt: on
# Requests that are no village's business: logging in and out.
NOT_SCOPED = {"auth.login", "auth.logout", "auth_api.issue_token"}


def write_routes(app):
    writing = {"POST", "PUT", "PATCH", "DELETE"}
    return [(e, rule, m) for e, rule, m in routes(app) if m in writing and e not in NOT_SCOPED]


def test_every_write_has_its_table_entry(app):
    endpoints = {e for e, _rule, _m in write_routes(app)}
    missing = sorted(endpoints - set(WRITES))
    assert not missing, f"writing routes without an entry (tests/test_scope_writes.py WRITES): {missing}"
    gone = sorted(set(WRITES) - endpoints)
    assert not gone, f"WRITES names routes the app does not write on: {gone}"


def send(client, method, url, made: dict, bearer: dict, *, as_json: bool = False):
    """The request ``made``: a multipart form, JSON (the API's), or a page's form."""
    if "form" in made:
        return client.open(url, method=method, data=made["form"], headers=bearer, content_type="multipart/form-data")
    if url.startswith("/api/") or as_json:
        return client.open(url, method=method, json=made.get("body") or {}, headers=bearer)
    return client.open(url, method=method, data=made.get("body") or {})


def url_of(rule, made: dict, role: str, scene: dict) -> str:
    """The route's URL for ``made``; a page of a role that chooses its village names
    Tuanjie, as its village picker does (unless the form names a village itself)."""
    url = build_url(rule, {**scene["tj"], **made})
    if chooses_village(role) and not url.startswith("/api/") and "village_id" not in made.get("body", {}):
        url += f"?village_id={scene['tj']['village_id']}"
    return url


@pytest.mark.parametrize("role", EVERYONE)
def test_each_role_writes_its_own_village_as_the_table_says(app, session, world, scene, role, api, auth, client):
    auth.login(username(role))
    bearer = api.as_(username(role)).headers
    kit = Kit(app, session, world, scene, client, role)
    wrong = []
    for endpoint, rule, method in write_routes(app):
        spec = WRITES[endpoint]
        made = spec.make(kit)
        session.commit()
        url = url_of(rule, made, role, scene)
        before = fingerprint(session)
        r = send(client, method, url, made, bearer)
        wrote = fingerprint(session) != before
        if (r.status_code, wrote) != spec.expected(role):
            detail = r.headers["Location"] if r.status_code == 302 else r.get_data(as_text=True)[:300]
            wrong.append(
                f"{method} {url} ({endpoint}): {r.status_code}, wrote={wrote}; {spec.expected(role)}: {detail}"
            )
    assert not wrong, f"{username(role)} on its own village:\n" + "\n".join(wrong)


# --- Another village's ids inside a body ---


@dataclass(frozen=True)
class Ref:
    """``endpoint``'s request of ``WRITES`` with ``changes`` to its body, naming another
    village's objects (a function of the Kit, or values that may be): answered
    ``status`` (for the API, with error ``code``) and nothing written, for every role
    that may write there but the deployment's admin, who sees every village (with
    ``admin``, refused to it too: two villages mixed). ``as_json``: sent as JSON (a
    page's script)."""

    endpoint: str
    changes: object
    status: int = 400
    code: str | None = "not_found"
    admin: bool = False
    as_json: bool = False


DROP = object()  # a change that leaves the field out
XF_ITEM_LINE = [{"item_id": XF("item_id"), "quantity": 1}]
# fmt: off
REFERENCES = [
    Ref("points_api.create_entry",          {"household_id": XF("household_id")}),
    Ref("points_api.create_entry",          {"rule_id": XF("rule_id")}, admin=True),
    Ref("points_api.create_entry",          {"evidence_id": XF("evidence_id")}, admin=True),
    Ref("points_api.create_batch",          {"rule_id": XF("rule_id")}),
    # another village's household in a batch is skipped, as one that does not exist
    Ref("points_api.create_batch",          {"household_ids": [XF("household_id")]}, 201, None, admin=True),
    Ref("points_api.upload_evidence",       {"village_id": XF("village_id")}),
    Ref("points_api.create_rule",           {"village_id": XF("village_id")}),
    Ref("points_api.create_rule",           {"village_id": DROP, "scheme_id": XF("scheme_id")}),
    Ref("households_api.create_household",  {"village_id": XF("village_id")}),
    Ref("redemption_api.create_shop",       {"village_id": XF("village_id")}),
    Ref("redemption_api.create_item",       {"shop_id": XF("shop_id")}),
    Ref("redemption_api.create_redemption", {"shop_id": XF("shop_id")}),
    Ref("redemption_api.create_redemption", {"household_id": XF("household_id")}, admin=True),
    Ref("redemption_api.create_redemption", {"lines": XF_ITEM_LINE}, admin=True),
    Ref("redemption_api.create_redemption", {"household_id": None, "qr_token": lambda kit: kit.card("xf")}, code="invalid_qr", admin=True),
    Ref("rankings_api.file_objection",      {"entry_id": XF("entry_id")}),
    Ref("rankings_api.file_objection",      {"entry_id": None, "village_id": XF("village_id"), "period": "2026"}),
    Ref("rankings_api.close_period",        {"village_id": XF("village_id")}),
    Ref("rankings_api.finalize_period",     {"village_id": XF("village_id")}),
    Ref("rankings_api.grant_awards",        {"village_id": XF("village_id")}),
    Ref("regions_api.create_region",        {"parent_id": XF("region_id")}),
    Ref("schemes_api.create_scheme",        {"village_id": XF("village_id")}),
    Ref("schemes_api.create_scheme",        {"village_id": None, "region_id": XF("region_id"), "account_kind": "village"}),
    Ref("accounts_api.create_account",      {"scheme_id": XF("person_scheme_id")}),
    Ref("accounts_api.create_account",      {"household_id": XF("household_id")}),
    Ref("villages_api.create_village",      {"region_id": XF("region_id")}),
    Ref("auth_api.create_user",             {"village_id": XF("village_id")}),
    Ref("auth_api.create_user",             {"roles": ["resident"], "household_id": XF("household_id")}, admin=True),
    Ref("auth_api.create_user",             {"roles": ["clerk"], "shop_id": XF("shop_id")}, admin=True),
    Ref("auth_api.create_user",             {"village_id": None, "region_id": XF("region_id")}),
    # pages: the form again with the refusal beside its field, or back with a flash
    Ref("points.record",                    {"household": "XF-001", "household_id": XF("household_id", str)}, admin=True),
    Ref("points.record",                    {"rule_id": XF("rule_id")}, admin=True),
    Ref("points.batch",                     {"household_ids": [XF("household_id")]}, FLASHED, admin=True),
    Ref("points.approve_bulk",              {"entry_ids": [XF_PENDING]}, FLASHED),
    Ref("points.reject_bulk",               {"entry_ids": [XF_PENDING]}, FLASHED),
    Ref("rankings.new_objection",           {"entry_id": XF("entry_id")}, 404),
    Ref("rankings.new_objection",           {"entry_id": "", "village_id": XF("village_id"), "period": "2026Q4"}, 404),
    Ref("auth.new_user",                    {"roles": "resident", "household_number": "XF-001"}, 422, admin=True),
    Ref("redemption.counter_lookup",        {"shop_id": XF("shop_id"), "card": "XF-001"}, 404, as_json=True),
    Ref("redemption.counter_lookup",        {"card": lambda kit: kit.card("xf")}, code="invalid_qr", admin=True, as_json=True),
    Ref("redemption.counter_redeem",        {"shop_id": XF("shop_id"), "card": "XF-001"}, FLASHED),
    Ref("redemption.counter_redeem",        {"card": lambda kit: kit.card("xf")}, FLASHED, admin=True),
    Ref("redemption.counter_redeem",        lambda kit: {f"qty-{kit.tj['item_id']}": "0", f"qty-{kit.xf['item_id']}": "1"}, admin=True),
]
# fmt: on


@pytest.mark.parametrize("role", EVERYONE)
def test_another_villages_ids_in_a_body_are_refused_and_write_nothing(
    app, session, world, scene, role, api, auth, client
):
    auth.login(username(role))
    bearer = api.as_(username(role)).headers
    kit = Kit(app, session, world, scene, client, role)
    rules = {e: (rule, m) for e, rule, m in write_routes(app)}
    wrong, tried = [], 0
    for ref in REFERENCES:
        if role not in WRITES[ref.endpoint].who or (role == "admin" and not ref.admin):
            continue
        tried += 1
        made = WRITES[ref.endpoint].make(kit)
        part = "form" if "form" in made else "body"
        changed = {**made.get(part, {}), **resolve(ref.changes, kit)}
        made[part] = {k: v for k, v in changed.items() if v is not DROP}
        session.commit()
        rule, method = rules[ref.endpoint]
        url = url_of(rule, made, role, scene)
        before = fingerprint(session)
        r = send(client, method, url, made, bearer, as_json=ref.as_json)
        wrote = fingerprint(session) != before
        refused = r.is_json and r.status_code >= 400
        got = (r.status_code, r.get_json()["error"]["code"] if refused else None, wrote)
        if got != (ref.status, ref.code if refused else None, False):
            wrong.append(f"{method} {url} {made.get(part)}: {got}: {r.get_data(as_text=True)[:200]}")
    assert tried, f"no reference tried as {role}"
    assert not wrong, f"{username(role)} named another village's object:\n" + "\n".join(wrong)


# --- Query filters of pages (and of the API's lists, for a region's officials) ---

# The filters a page may read that name an object, and a value naming none (a
# ``scheme_id`` is tried as Xingfu's households' scheme and as its person scheme).
FILTERS = ("village_id", "region_id", "scheme_id", "shop_id", "household_id", "entry_id", "rule_id")
MISSING = 999_999
# What a page does with another village's object (the admin: a missing one) in a filter
# it reads: 404; or, SHOWN, shows that village (to those it is offered to; to the
# others 404), never one's own.
SHOWN = "shown"
WORKS_IN_A_VILLAGE = [  # web.working_village_id
    "home.dashboard", "home.stats", "home.new_household", "home.import_households", "households.index",
    "households.export", "points.record", "points.lookup", "points.batch", "points.approvals", "points.rules",
    "points.rule_new", "rankings.periods", "rankings.objections", "redemption.cards", "redemption.counter",
    "redemption.reports", "redemption.reports_xlsx", "redemption.shops", "redemption.catalogue", "audit.index",
    "auth.users", "auth.new_user", "villages.scheme",
]  # fmt: skip
# a village's own notice board, big screen and honours
NOTICE_BOARD = ["rankings.notice_latest", "rankings.notice", "rankings.bigscreen", "rankings.awards",
                "rankings.certificates"]  # fmt: skip
PAGE_FILTERS = {
    **dict.fromkeys(WORKS_IN_A_VILLAGE, {"village_id": 404}),
    **dict.fromkeys(NOTICE_BOARD, {"village_id": 404}),
    # the standings: public, as the API's (and their exports, to officials)
    **dict.fromkeys(
        ["rankings.standings", "rankings.export_csv", "rankings.export_xlsx"],
        {"village_id": SHOWN, "region_id": SHOWN, "scheme_id": SHOWN},
    ),
    # a scheme of the village's own (its households', or another of its schemes)
    **{
        f"{e}#scheme": {"scheme_id": 404}
        for e in [*NOTICE_BOARD, "rankings.awards_xlsx", "rankings.periods", "points.rules", "points.rule_new"]
    },
    "rankings.awards_xlsx": {"village_id": 404},
    "home.stats#region": {"region_id": 404, "scheme_id": 404},
    "schemes.new": {"village_id": 404},  # the village a village's scheme is made for
    "points.record#household": {"household_id": 404},  # a household chosen beforehand
    "points.approvals#rule": {"rule_id": 404},  # the queue's filter by rule
    "points.batch_result": {"rule_id": 404},
    "rankings.new_objection": {"village_id": 404, "entry_id": 404},
    "redemption.counter#shop": {"shop_id": 404},
    **dict.fromkeys(["redemption.reports#shop", "redemption.reports_xlsx#shop"], {"shop_id": 404}),
}
# What a page needs besides, to read its filters at all.
PAGE_QUERY = {"points.batch_result": {"at": "2026-11-20T10:00:00"}}


def page_filters(endpoint: str) -> dict:
    out = {}
    for key, filters in PAGE_FILTERS.items():
        if key.split("#")[0] == endpoint:
            out.update(filters)
    return out


class WatchedArgs(ImmutableMultiDict):
    """``request.args`` that remembers which names a view asked for."""

    read: set

    def get(self, key, default=None, type=None):  # noqa: A002  (MultiDict's signature)
        self.read.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):  # noqa: A002
        self.read.add(key)
        return super().getlist(key, type)


@pytest.fixture
def watched(app):
    """The names of ``request.args`` that requests read (cleared by the test)."""
    seen = set()

    def watch():
        args = WatchedArgs(request.args)
        args.read = seen
        request.args = args

    app.before_request_funcs.setdefault(None, []).insert(0, watch)
    yield seen
    app.before_request_funcs[None].remove(watch)


def text_of(response) -> str:
    """A page's text, a CSV's, a JSON answer's, or the values of a workbook's cells."""
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    if response.mimetype.startswith("text/"):
        return response.get_data(as_text=True)
    if response.mimetype == XLSX:
        book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
        return " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
    return ""


def pages(app):
    """(endpoint, rule) of every page a user opens."""
    skip = {"static", "favicon", "auth.login"}
    return [
        (e, rule) for e, rule, m in routes(app) if m == "GET" and not rule.rule.startswith("/api/") and e not in skip
    ]


def test_every_page_filter_is_declared_and_refuses_another_village(app, session, scene, auth, client, watched):
    """Every page, opened by every role (its path naming one's own objects), with its
    filters naming another village's objects (the admin: missing ones): the filters it
    reads are in ``PAGE_FILTERS`` (and each one there is read), and refused as it says."""
    wrong, undeclared, read = [], set(), set()
    for role in (*VILLAGE_ROLES, *REGION_ROLES, "admin"):
        auth.logout()
        auth.login(username(role))
        values = dict.fromkeys(FILTERS, MISSING) if role == "admin" else {f: scene["xf"][f] for f in FILTERS}
        for endpoint, rule in pages(app):
            url = build_url(rule, scene["tj"])
            remaining = set(FILTERS)
            while remaining:  # all filters at once, then each one it read on its own
                watched.clear()
                client.get(url, query_string={**PAGE_QUERY.get(endpoint, {}), **{f: values[f] for f in remaining}})
                asked = watched & remaining
                if not asked:
                    break
                remaining -= asked
                for name in sorted(asked):
                    read.add((endpoint, name))
                    declared = page_filters(endpoint).get(name)
                    if declared is None:
                        undeclared.add(f"{endpoint}: {name}")
                        continue
                    tries = [(values[name], "户主xf1")]
                    if name == "scheme_id" and role != "admin":  # Xingfu's person scheme: no household of it
                        tries.append((scene["xf"]["person_scheme_id"], None))
                    for value, theirs in tries:
                        r = client.get(url, query_string={**PAGE_QUERY.get(endpoint, {}), name: value})
                        if declared == SHOWN and role != "admin" and r.status_code == 200:
                            page = text_of(r)
                            ok = (theirs is None or theirs in page) and "户主tj1" not in page
                        else:
                            ok = r.status_code == 404
                        if not ok:
                            wrong.append(f"{username(role)}: GET {url}?{name}={value} ({endpoint}): {r.status_code}")
    assert not undeclared, f"filters that pages read, not in PAGE_FILTERS: {sorted(undeclared)}"
    stale = {(key.split("#")[0], name) for key, filters in PAGE_FILTERS.items() for name in filters} - read
    assert not stale, f"PAGE_FILTERS declares filters no page read: {sorted(stale)}"
    assert not wrong, "filters naming another village's (or no) object:\n" + "\n".join(wrong)


# What of Xingfu a page or a list might show: its households' numbers and heads, its
# shop, its users.
XF_MARKERS = ("XF-00", "户主xf", "xf店", "xf_")
# Public to every logged-in user: every village's standings and honours (a region's
# official, who has no village of its own, starts on every village's standings).
PUBLIC_LISTS = {"rankings_api.leaderboard", "rankings_api.list_awards", "rankings.standings", "rankings.export_csv",
                "rankings.export_xlsx"}  # fmt: skip
QUERY = {"rankings_api.leaderboard": {"period": "2026Q4"}, "rankings_api.village_leaderboard": {"period": "2026Q4"}}


def test_no_page_or_list_shows_another_village(app, session, scene, api, auth, client):
    """Every GET of the app with no filter (its path naming one's own objects) shows a
    non-admin nothing of another village: a region official's "all" is its region's."""
    leaks = []
    for role in (*VILLAGE_ROLES, *REGION_ROLES):
        auth.logout()
        auth.login(username(role))
        bearer = api.as_(username(role)).headers
        for endpoint, rule, _m in [r for r in routes(app) if r[2] == "GET"]:
            if endpoint in PUBLIC_LISTS or endpoint.startswith("api-docs") or endpoint == "static":
                continue
            url = build_url(rule, scene["tj"])
            query = {**PAGE_QUERY.get(endpoint, {}), **QUERY.get(endpoint, {})}
            r = client.get(url, query_string=query, headers=bearer if url.startswith("/api/") else {})
            shown = [m for m in XF_MARKERS if m in text_of(r)]
            if shown:
                leaks.append(f"{username(role)}: GET {url} ({endpoint}): {r.status_code} shows {shown}")
    assert not leaks, "pages and lists showing Xingfu:\n" + "\n".join(leaks)


def test_a_filter_naming_another_region_is_404_for_its_officials(app, session, scene, api, client):
    """The API's list filters (``test_scope_matrix``'s, and ``/regions?parent_id=``) as
    the county's officials: Xingfu, its township, shop and scheme are outside it."""
    xf = {**scene["xf"], "parent_id": scene["xf"]["region_id"]}
    leaks = []
    for role in REGION_ROLES:
        caller = api.as_(username(role))
        for path, name in [*query_filters(client), ("/api/v1/regions", "parent_id")]:
            url = re.sub(r"\{(\w+)\}", lambda m: str(scene["tj"][m.group(1)]), path)
            query = {**REQUIRED_QUERY.get(path, {}), name: xf[name]}
            r = caller.client.get(url, query_string=query, headers=caller.headers)
            if (path, name) in PUBLIC_FILTERS:
                assert r.status_code == 200 and r.get_json()["items"], (path, name, r.get_json())
            elif r.status_code not in (403, 404):  # refused by role first, or not found
                leaks.append(f"{username(role)}: GET {url}?{name}={xf[name]}: {r.status_code}")
    assert not leaks, "filters naming another region's object:\n" + "\n".join(leaks)


def test_a_regions_admin_makes_no_admin_above_its_region(app, session, scene, api):
    """An admin of no region is the deployment's: a county's admin makes admins of its
    county and below, and officials of its villages, but never one of those."""
    me = api.as_("rg_admin")
    before = fingerprint(session)
    body = {"username": "boss", "password": factories.PASSWORD, "roles": ["admin"]}
    r = me.post("/users", json=body | {"village_id": scene["tj"]["village_id"]})
    assert r.status_code == 403, r.get_json()
    assert fingerprint(session) == before
    r = me.post("/users", json=body | {"region_id": scene["tj"]["region_id"]})
    assert r.status_code == 201 and r.get_json()["region_id"] == scene["tj"]["region_id"], r.get_json()


# --- The county pages' writes on a region's own (village-kind, monthly) scheme ---

COUNTY_PAGE_OUTSIDERS = ("other_region_reviewer", "reviewer", "recorder", "resident")


@pytest.fixture
def county_scheme(scene, session, world):
    """The county's monthly village scheme (one account per village below it: Tuanjie's),
    a rule of it, and a reviewer of Xingfu's township (another region)."""
    from app.points import rules as rulebook
    from app.scope import Actor
    from tests.county.conftest import village_accounts, village_scheme

    admin = Actor(world.admin)
    scheme = village_scheme(session, admin, session.get(Region, scene["county_id"]), notice_days=0)
    rule = rulebook.create_rule(
        session, admin, None, {"code": "ZERO-1", "name": "零事故", "category": "六零目标", "points": 10},
        scheme_id=scheme.id,
    )  # fmt: skip
    values = {"username": "other_region_reviewer", "password": factories.PASSWORD, "roles": ["reviewer"]}
    world.users["other_region_reviewer"] = create_user(session, None, values | {"region_id": scene["xf"]["region_id"]})
    session.commit()
    account = village_accounts(session, scheme)[world.a.code]
    return {"scheme": scheme, "rule_id": rule.id, "account_id": account.id, "township_id": scene["tj"]["region_id"]}


def county_page_steps(cs: dict, month: str):
    """The county pages' writes, in the order of a month: (name, url, form, precondition)."""
    base = f"/county/schemes/{cs['scheme'].id}"
    fund = {"title": "积分换项目", "top_n": "3", "fund_yuan": "1000.00", "allocation": "equal"}
    tap = {"tap": f"{cs['account_id']}-{cs['rule_id']}", "township_id": str(cs["township_id"]), "month": month}
    return [
        ("tap", f"{base}/score", tap, ()),
        ("close", f"{base}/periods/{month}/close", {}, ()),
        ("finalize", f"{base}/periods/{month}/finalize", {}, ("close",)),
        ("grant", f"{base}/periods/{month}/awards", fund, ("close", "finalize")),
    ]


def test_the_county_pages_write_a_regions_scheme_for_its_officials_only(app, session, world, county_scheme, auth):
    """Scoring a cell, 公示 and 定稿 of a month and the fund's award, on the county's own
    village scheme: another region's official, Tuanjie's officials and its resident are
    refused (403/404) and write nothing, each step's precondition met by the deployment's
    admin (on a month of its own); the county's official writes each in turn."""
    from app.county import periods as scheme_cycle
    from app.county.services import month_choices
    from app.rankings.models import Award
    from app.scope import Actor

    today = local_today("Asia/Shanghai")
    scheme_id, months = county_scheme["scheme"].id, month_choices(today)
    admin = Actor(world.admin)
    for role, month in zip(COUNTY_PAGE_OUTSIDERS, months[1:], strict=False):
        auth.login(role if role == "other_region_reviewer" else username(role))
        for name, url, form, needs in county_page_steps(county_scheme, month):
            for need in needs:  # what the step needs, done by the deployment's admin
                status = cycle.get_period(session, admin, None, month, scheme_id=scheme_id).status
                if (need, status) in (("close", "open"), ("finalize", "notice")):
                    action = scheme_cycle.close_period if need == "close" else scheme_cycle.finalize_period
                    action(session, admin, county_scheme["scheme"], month, now=utcnow(), today=today)
            session.commit()
            before = fingerprint(session)
            r = auth.client.post(url, data=form)
            assert r.status_code in (403, 404), (role, name, r.status_code)
            assert fingerprint(session) == before, (role, name)
        auth.logout()
    auth.login(username("region_admin"))  # the county's: every step of this month writes
    for name, url, form, _needs in county_page_steps(county_scheme, months[0]):
        before = fingerprint(session)
        r = auth.client.post(url, data=form)
        assert r.status_code == 302 and "/login" not in r.headers["Location"], (name, r.status_code)
        assert fingerprint(session) != before, name
    awards = session.scalars(select(Award).where(Award.scheme_id == scheme_id, Award.period == months[0])).all()
    assert [(a.household_id, a.amount_yuan) for a in awards] == [(county_scheme["account_id"], 1000)]
