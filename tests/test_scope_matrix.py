"""The scope matrix, generated from ``app.url_map``: every page and API endpoint × every
role of a village, against an object of another village named in the path (and, for a
resident, another household of the own village).

- Every route must be listed in ``ROUTES`` (a new route fails the suite until someone
  decides whether it is public), and nothing listed may be gone; every path argument
  must be one the matrix can fill.
- Anonymous: the API answers 401, a page sends to the login page; public routes aside.
- Another village's object is 404 (or 403) for every role but the admin, whatever the
  method, with a body that would be valid for one's own object; a page may instead
  redirect to a page that refuses, or (after a POST) back to its form. No request
  changes a row of any table, and nothing answers 5xx.
- The admin's GETs of the same objects are not refused.
- Every API list filter the OpenAPI document names (``village_id``, ``shop_id``,
  ``household_id``, …) is 404 for another village's object (a resident: for any
  household but its own); the public standings and awards show that village instead.

Writes on one's own village by each role, other villages' ids inside request bodies, and
pages' query filters: ``test_scope_writes.py``.
"""

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.points.evidence import store_evidence
from app.rankings.models import Award, Objection
from app.redemption import services as shop
from app.redemption import shops
from app.regions.models import Region
from app.schemes.services import household_scheme
from tests import factories
from tests.conftest import TODAY
from tests.volunteers import person, volunteer_scheme

PUBLIC, LOGIN = "public", "login"

# Who may reach each endpoint without logging in. Every route of the app is here.
ROUTES = {
    "static": PUBLIC,
    "favicon": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    "api-docs.openapi_swagger_ui": PUBLIC,
    "auth.login": PUBLIC,
    "auth_api.issue_token": PUBLIC,
    "auth_api.ping": LOGIN,
    "auth_api.me": LOGIN,
    "auth_api.create_user": LOGIN,
    "auth_api.list_users": LOGIN,
    "rankings_api.grant_awards": LOGIN,
    "rankings_api.list_awards": LOGIN,
    "points_api.create_entry": LOGIN,
    "points_api.list_entries": LOGIN,
    "points_api.get_entry": LOGIN,
    "points_api.approve": LOGIN,
    "points_api.reject": LOGIN,
    "points_api.reverse": LOGIN,
    "points_api.create_batch": LOGIN,
    "points_api.upload_evidence": LOGIN,
    "points_api.get_evidence": LOGIN,
    "points_api.create_rule": LOGIN,
    "points_api.list_rules": LOGIN,
    "points_api.patch_rule": LOGIN,
    "points_api.get_rule": LOGIN,
    "households_api.create_household": LOGIN,
    "households_api.list_households": LOGIN,
    "households_api.get_household": LOGIN,
    "households_api.patch_household": LOGIN,
    "households_api.household_entries": LOGIN,
    "households_api.move_out": LOGIN,
    "accounts_api.create_account": LOGIN,
    "accounts_api.list_accounts": LOGIN,
    "accounts_api.get_account": LOGIN,
    "accounts_api.card": LOGIN,
    "accounts_api.card_png": LOGIN,
    "accounts_api.card_svg": LOGIN,
    "accounts_api.revoke": LOGIN,
    "redemption_api.card": LOGIN,
    "redemption_api.card_png": LOGIN,
    "redemption_api.card_svg": LOGIN,
    "redemption_api.revoke": LOGIN,
    "redemption_api.create_item": LOGIN,
    "redemption_api.list_items": LOGIN,
    "redemption_api.patch_item": LOGIN,
    "redemption_api.receive": LOGIN,
    "redemption_api.create_redemption": LOGIN,
    "redemption_api.list_redemptions": LOGIN,
    "redemption_api.get_redemption": LOGIN,
    "redemption_api.cancel": LOGIN,
    "redemption_api.create_shop": LOGIN,
    "redemption_api.list_shops": LOGIN,
    "rankings_api.leaderboard": LOGIN,
    "rankings_api.village_leaderboard": LOGIN,
    "rankings_api.file_objection": LOGIN,
    "rankings_api.list_objections": LOGIN,
    "rankings_api.get_objection": LOGIN,
    "rankings_api.decide_objection": LOGIN,
    "rankings_api.get_period": LOGIN,
    "rankings_api.close_period": LOGIN,
    "rankings_api.finalize_period": LOGIN,
    "villages_api.create_village": LOGIN,
    "villages_api.list_villages": LOGIN,
    "villages_api.put_scheme": LOGIN,
    "villages_api.get_scheme": LOGIN,
    "home.dashboard": LOGIN,
    "points.approvals": LOGIN,
    "points.approve": LOGIN,
    "points.reject": LOGIN,
    "points.approve_bulk": LOGIN,
    "points.reject_bulk": LOGIN,
    "points.batch": LOGIN,
    "points.batch_result": LOGIN,
    "points.reverse": LOGIN,
    "points.evidence": LOGIN,
    "points.record": LOGIN,
    "points.lookup": LOGIN,
    "points.rules": LOGIN,
    "points.rule_active": LOGIN,
    "points.rule_edit": LOGIN,
    "points.rule_new": LOGIN,
    "points.rules_standard": LOGIN,
    "audit.index": LOGIN,
    "rankings.awards": LOGIN,
    "rankings.awards_xlsx": LOGIN,
    "rankings.certificate": LOGIN,
    "rankings.certificates": LOGIN,
    "rankings.bigscreen": LOGIN,
    "rankings.notice_latest": LOGIN,
    "rankings.notice": LOGIN,
    "rankings.objections": LOGIN,
    "rankings.decide_objection": LOGIN,
    "rankings.my_objections": LOGIN,
    "rankings.new_objection": LOGIN,
    "rankings.passbook_this_year": LOGIN,
    "rankings.passbook": LOGIN,
    "rankings.periods": LOGIN,
    "rankings.grant_awards": LOGIN,
    "rankings.close_period": LOGIN,
    "rankings.finalize_period": LOGIN,
    "rankings.standings": LOGIN,
    "rankings.export_csv": LOGIN,
    "rankings.export_xlsx": LOGIN,
    "home.stats": LOGIN,
    "households.index": LOGIN,
    "home.household": LOGIN,
    "households.edit": LOGIN,
    "households.move_out": LOGIN,
    "households.export": LOGIN,
    "home.import_households": LOGIN,
    "home.confirm_import": LOGIN,
    "households.import_template": LOGIN,
    "home.new_household": LOGIN,
    "auth.logout": LOGIN,
    "auth.me": LOGIN,
    "auth.users": LOGIN,
    "auth.set_user_active": LOGIN,
    "auth.reset_password": LOGIN,
    "auth.new_user": LOGIN,
    "villages.scheme": LOGIN,
    "villages.index": LOGIN,
    "redemption.cards": LOGIN,
    "redemption.card": LOGIN,
    "redemption.revoke_card": LOGIN,
    "redemption.catalogue": LOGIN,
    "redemption.counter": LOGIN,
    "redemption.counter_lookup": LOGIN,
    "redemption.counter_redeem": LOGIN,
    "redemption.item": LOGIN,
    "redemption.item_stock": LOGIN,
    "redemption.my_card": LOGIN,
    "redemption.my_redemptions": LOGIN,
    "redemption.cancel": LOGIN,
    "redemption.receipt": LOGIN,
    "redemption.reports": LOGIN,
    "redemption.reports_xlsx": LOGIN,
    "redemption.shops": LOGIN,
    "redemption.shop": LOGIN,
    "regions_api.create_region": LOGIN,
    "regions_api.list_regions": LOGIN,
    "regions_api.get_region": LOGIN,
    "schemes_api.create_scheme": LOGIN,
    "schemes_api.list_schemes": LOGIN,
    "schemes_api.get_scheme": LOGIN,
    "schemes_api.patch_scheme": LOGIN,
    "home.my_region": LOGIN,
    "home.region": LOGIN,
    "schemes.index": LOGIN,
    "schemes.show": LOGIN,
    "home.people_schemes": LOGIN,
    "home.people": LOGIN,
    "home.new_person": LOGIN,
    "home.people_cards": LOGIN,
    "home.people_template": LOGIN,
    "home.import_people": LOGIN,
    "home.confirm_people_import": LOGIN,
    "home.edit_person": LOGIN,
    "home.person_leaves": LOGIN,
    "county.index": LOGIN,
    "county.score": LOGIN,
    "county.tap": LOGIN,
    "county.period": LOGIN,
    "county.period_pick": LOGIN,
    "county.close": LOGIN,
    "county.finalize": LOGIN,
    "county.grant": LOGIN,
    "county.notice": LOGIN,
    "county.awards_xlsx": LOGIN,
    "schemes.new": LOGIN,
}
ROLES = ("village_admin", "recorder", "reviewer", "clerk", "resident")
# A path argument names an object; the matrix fills it with the object of a village.
OBJECTS = {
    "household_id",
    "account_id",  # an account's id is its household row's: the household's here
    "person_id",  # a person account of the village's person scheme
    "entry_id",
    "item_id",
    "shop_id",
    "redemption_id",
    "objection_id",
    "evidence_id",
    "village_id",
    "rule_id",
    "user_id",
    "award_id",
    "region_id",
    "scheme_id",
}
DENIED = (403, 404)
# A body the API (or the page) would accept for the user's own object: a scope check must not hide
# behind the body's validation.
BODIES = {
    "points_api.reject": {"reason": "不符"},
    "points.reject": {"reason": "不符"},  # a page's form
    "points_api.reverse": {"reason": "记错"},
    "points_api.patch_rule": {"points": 4},
    "households_api.patch_household": {"head_name": "改名"},
    "households_api.move_out": {"moved_out_on": "2026-11-20"},
    "redemption_api.patch_item": {"price_points": 2},
    "redemption_api.receive": {"quantity": 1},
    "redemption_api.cancel": {"reason": "退货"},
    "rankings_api.decide_objection": {"upheld": False, "note": "已核实"},
    "schemes_api.patch_scheme": {"name": "改名"},
    "villages_api.put_scheme": {
        "base_points": 100,
        "redeem_floor": 100,
        "yuan_per_point": 1.0,
        "approval_required": True,
        "notice_days": 7,
        "annual_reset": False,
    },
}


def routes(app):
    """(endpoint, rule, method) of every route but the static files."""
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint != "static":
                out.append((rule.endpoint, rule, method))
    return sorted(out, key=lambda r: (r[1].rule, r[2]))


def test_every_route_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ROUTES))
    assert not missing, f"routes not in the scope matrix (tests/test_scope_matrix.py ROUTES): {missing}"
    gone = sorted(set(ROUTES) - endpoints)
    assert not gone, f"routes in the scope matrix that the app no longer has: {gone}"
    unknown = {a for r in app.url_map.iter_rules() for a in r.arguments} - OBJECTS - {"filename", "period", "year"}
    assert not unknown, f"path arguments the matrix cannot fill: {unknown}"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def cast(app, world, session):
    """One object of each kind in each village: ``cast["xf"]["entry_id"]``."""
    now = factories.NOW
    objects = {}
    for p, v in (("tj", world.a), ("xf", world.b)):
        entry = factories.score(session, world, f"{p}1", "school", day=TODAY, today=TODAY, approve=True)
        s = shops.create_shop(session, world.actor(f"{p}_village_admin"), v.id, f"{p}店")
        item = shops.create_item(
            session, world.actor(f"{p}_clerk"), s.id, {"name": "肥皂", "price_points": 1, "stock": 9}, now=now
        )
        sale = shop.redeem(
            session,
            world.actor(f"{p}_clerk"),
            shop_id=s.id,
            lines=[{"item_id": item.id, "quantity": 1}],
            household_id=world.households[f"{p}1"].id,
            now=now,
            today=TODAY,
            secret="test-secret",
        )
        objection = Objection(
            scheme_id=entry.scheme_id, village_id=v.id, period="2026Q4", entry_id=entry.id, household_id=entry.household_id,
            reason="不公", status="open", filed_by_id=world.users[f"{p}_resident"].id, filed_at=now,
        )  # fmt: skip
        award = Award(
            scheme_id=entry.scheme_id, village_id=v.id, period="2026Q3", title="文明家庭", household_id=entry.household_id, rank=1, points=1,
        )  # fmt: skip
        session.add_all([objection, award])
        evidence = store_evidence(
            session, world.actor(f"{p}_recorder"), v.id, png(), Path(app.instance_path) / "evidence", 10**6
        )
        session.flush()
        volunteers = volunteer_scheme(session, world, v, admin=f"{p}_village_admin")
        objects[p] = {
            "household_id": world.households[f"{p}1"].id,
            "account_id": world.households[f"{p}1"].id,
            "entry_id": entry.id,
            "item_id": item.id,
            "shop_id": s.id,
            "redemption_id": sale.id,
            "objection_id": objection.id,
            "evidence_id": evidence.id,
            "village_id": v.id,
            "rule_id": world.rules[f"{p}_school"].id,
            "user_id": world.users[f"{p}_recorder"].id,
            "award_id": award.id,
            "region_id": v.region_id,
            "scheme_id": household_scheme(session, v.id).id,
            "person_scheme_id": volunteers.id,
            "person_id": person(session, world, volunteers, f"{p.upper()}-P1", "志愿者", admin=f"{p}_village_admin").id,
            "period": "2026Q4",
            "year": 2026,
            "filename": "app.css",
            "households": {world.households[f"{p}{i}"].id for i in (1, 2, 3)},
        }
    # Xingfu under a township of its own, so that its region is another's too.
    other = Region(name="下木拉乡", code="XML", level="township")
    session.add(other)
    session.flush()
    world.b.region_id, world.b.township = other.id, other.name
    objects["xf"]["region_id"] = other.id
    tj2 = world.households["tj2"].id
    objects["tj2"] = {**objects["tj"], "household_id": tj2, "account_id": tj2}
    session.commit()
    return objects


def fingerprint(session) -> int:
    """A hash of every row of every table: any insert, update or delete changes it."""
    session.rollback()
    rows = [(t.name, sorted(map(repr, session.execute(select(t)).all()))) for t in db.metadata.sorted_tables]
    session.rollback()
    return hash(repr(rows))


# Pages of a person scheme's people: their ``scheme_id`` is the village's person scheme.
PEOPLE_PAGES = {
    "home.people",
    "home.new_person",
    "home.people_cards",
    "home.people_template",
    "home.import_people",
    "home.confirm_people_import",
}


def build_url(rule, values) -> str:
    if rule.endpoint in PEOPLE_PAGES:
        values = {**values, "scheme_id": values["person_scheme_id"]}
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def call(client, method, url, headers=None, body=None):
    if url.startswith("/api/"):
        return client.open(url, method=method, json=body or {}, headers=headers or {})
    return client.open(url, method=method, data=body or {}, headers=headers or {})


def test_anonymous_gets_a_login_everywhere_but_public_routes(app, client, cast):
    for endpoint, rule, method in routes(app):
        if ROUTES[endpoint] == PUBLIC:
            continue
        r = call(client, method, build_url(rule, cast["tj"]))
        where = f"{method} {rule.rule}"
        if rule.rule.startswith("/api/"):
            assert r.status_code == 401, where
        else:
            assert r.status_code in (302, 303) and "/login" in r.headers["Location"], (where, r.status_code)


def refused(client, method, url, response) -> bool:
    """404 or 403; for a page, also a redirect to a page that refuses (a GET: the
    canonical URL of the same object) or, after a POST, back to where the form was."""
    if response.status_code in DENIED:
        return True
    if url.startswith("/api/") or response.status_code not in (302, 303):
        return False
    if method != "GET":
        return True  # the flash message's redirect; nothing written is checked apart
    follow = client.get(response.headers["Location"])
    return follow.status_code in DENIED


@pytest.mark.parametrize("role", ROLES)
def test_another_villages_objects_are_out_of_reach(app, session, cast, role, api, auth, client):
    username = f"tj_{role}"
    auth.login(username)
    bearer = api.as_(username).headers
    leaks, errors, writes = [], [], []
    for endpoint, rule, method in routes(app):
        if not (set(rule.arguments) & OBJECTS) or endpoint == "auth.logout":
            continue
        targets = [("xf", cast["xf"])]
        if role == "resident" and {"household_id", "account_id"} & set(rule.arguments):
            targets.append(("tj2", cast["tj2"]))
        for name, values in targets:
            url = build_url(rule, values)
            before = fingerprint(session) if method != "GET" else None
            r = call(client, method, url, bearer if url.startswith("/api/") else None, BODIES.get(endpoint))
            if r.status_code >= 500:
                errors.append(f"{method} {url}: {r.status_code}")
            elif not refused(client, method, url, r):
                leaks.append(f"{method} {url} ({name}): {r.status_code} {r.get_data(as_text=True)[:200]}")
            if before is not None and fingerprint(session) != before:
                writes.append(f"{method} {url} ({name}): {r.status_code}")
    assert not errors, errors
    assert not leaks, f"{username} reached another's objects:\n" + "\n".join(leaks)
    assert not writes, f"{username}'s refused requests wrote:\n" + "\n".join(writes)


def test_the_admin_reaches_every_village(app, session, cast, api, auth, client):
    """The other side of the matrix: the same requests by the admin are not refused for
    scope (they may still be refused as bad input), and nothing answers 5xx."""
    auth.login("admin")
    bearer = api.as_("admin").headers
    refused = []
    for _endpoint, rule, method in routes(app):
        if method != "GET" or not (set(rule.arguments) & OBJECTS):
            continue
        url = build_url(rule, cast["xf"])
        r = call(client, method, url, bearer if url.startswith("/api/") else None)
        assert r.status_code < 500, (url, r.status_code)
        if r.status_code in DENIED:
            refused.append(f"{url}: {r.status_code}")
    assert not refused, refused


def query_filters(client) -> list[tuple[str, str]]:
    """(path, query argument) of every API GET whose filter names an object, from the
    OpenAPI document: a new filter is in the matrix as soon as it is documented."""
    doc = client.get("/api/v1/openapi.json").get_json()
    out = []
    for path, operations in doc["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter.get("in") == "query" and parameter["name"] in OBJECTS:
                out.append((path, parameter["name"]))
    return sorted(out)


def test_the_query_filters_are_all_in_the_matrix(client):
    """The filters the next test walks: if the document loses them, the test walks nothing."""
    assert {name for _, name in query_filters(client)} >= {"village_id", "shop_id", "household_id"}


# Public to every logged-in user by design (the standings and honours of the notice
# board): another village's or region's filter shows that village or region, not one's
# own. (The directory of villages is open to all, but by a region in one's scope only.)
PUBLIC_FILTERS = {
    ("/api/v1/leaderboards", "village_id"),
    ("/api/v1/awards", "village_id"),
    ("/api/v1/leaderboards", "scheme_id"),  # a scheme's standings, as a village's
    ("/api/v1/awards", "scheme_id"),
    ("/api/v1/leaderboards", "region_id"),
    ("/api/v1/leaderboards/villages", "region_id"),
    ("/api/v1/leaderboards/villages", "scheme_id"),  # a village's scheme: that village's row
}
REQUIRED_QUERY = {"/api/v1/leaderboards": {"period": "2026Q3"}, "/api/v1/leaderboards/villages": {"period": "2026Q3"}}


@pytest.mark.parametrize("role", ROLES)
def test_a_filter_naming_another_village_is_404(app, session, cast, role, api, client):
    """The contract: a list filter outside the caller's scope is 404, never silently
    replaced by the caller's own (a resident: any household but its own)."""
    caller = api.as_(f"tj_{role}")
    leaks = []
    for path, name in query_filters(client):
        targets = [cast["xf"][name]]
        if role == "resident" and name in ("household_id", "account_id"):
            targets.append(cast["tj2"][name])
        for value in targets:
            url = re.sub(r"\{(\w+)\}", lambda m: str(cast["tj"][m.group(1)]), path)
            query = {**REQUIRED_QUERY.get(path, {}), name: value}
            r = caller.client.get(url, query_string=query, headers=caller.headers)
            assert r.status_code < 500, (url, name, r.status_code)
            if (path, name) in PUBLIC_FILTERS:
                items = r.get_json()["items"]
                assert r.status_code == 200 and items, (url, r.get_json())
                if name == "village_id":
                    assert {i["household_id"] for i in items} <= cast["xf"]["households"], (url, items)
            elif r.status_code not in DENIED:
                leaks.append(f"GET {url}?{name}={value}: {r.status_code}")
    assert not leaks, f"tj_{role} filtered by another's object:\n" + "\n".join(leaks)


# The other side of the matrix: what each role gets for its OWN village's objects (a
# resident: its own household's), from the services' and views' require_role calls.
# A role not named is refused with 403; a resident reads no village data (scope:
# ``User.can_see_village``), so those routes are 404 for it. A 302 is a landing page
# that sends the role on to a page it may read.
EVERYONE = (*ROLES, "admin")


def reads(*roles, status=200, others=403, resident=None) -> dict:
    table = {role: status if role in roles else others for role in EVERYONE}
    return table if resident is None else {**table, "resident": resident}


OWN_GETS = {
    # households: every official reads, the resident its own; the village_admin edits
    "households_api.get_household": reads(*EVERYONE),
    "households_api.household_entries": reads(*EVERYONE),
    "home.household": reads(*EVERYONE),
    "households.edit": reads("village_admin", "admin"),
    "households.move_out": reads("village_admin", "admin"),
    "rankings.passbook": reads(*EVERYONE),
    "rankings.passbook_this_year": reads(*EVERYONE, status=302),
    "redemption.card": reads(*EVERYONE),
    "redemption_api.card": reads(*EVERYONE),
    "redemption_api.card_png": reads(*EVERYONE),
    "redemption_api.card_svg": reads(*EVERYONE),
    "accounts_api.get_account": reads(*EVERYONE),
    "accounts_api.card": reads(*EVERYONE),
    "accounts_api.card_png": reads(*EVERYONE),
    "accounts_api.card_svg": reads(*EVERYONE),
    # points: entries and rules readable by all (a resident: its household's entries)
    "points_api.get_entry": reads(*EVERYONE),
    "points_api.get_rule": reads(*EVERYONE),
    "points.rule_edit": reads("village_admin", "admin"),
    "points.reverse": reads("reviewer", "admin"),  # services.REVIEWERS
    # a photo attached to no entry of the resident's household is village data
    "points.evidence": reads(*EVERYONE, resident=404),
    "points_api.get_evidence": reads(*EVERYONE, resident=404),
    # shop: SHOP_STAFF's pages; an item of the resident's village is out of its scope
    # before any role check (item_in_scope), a shop is refused by role first
    "redemption.shop": reads("village_admin", "reviewer", "clerk", "admin"),
    "redemption.item": reads("village_admin", "reviewer", "clerk", "admin", resident=404),
    "redemption.receipt": reads(*EVERYONE),
    "redemption_api.get_redemption": reads(*EVERYONE),
    # rankings: the resident filed the objection and won the award
    "rankings_api.get_objection": reads(*EVERYONE),
    "rankings.certificate": reads(*EVERYONE),
    # village settings and users
    "villages_api.get_scheme": reads(*EVERYONE, resident=404),
    "auth.reset_password": reads("village_admin", "admin"),
    # regions: a village's township is above every village role's scope (404); the
    # overview page refuses by role first those who may not record or review there
    "regions_api.get_region": reads("admin", others=404),
    "home.region": {**reads("admin"), "recorder": 404, "reviewer": 404},
    # the village's household scheme: its officials read it; a resident does not
    "schemes_api.get_scheme": reads(*EVERYONE, resident=404),
    "schemes.show": reads(*EVERYONE, resident=403),
    # a person scheme's people: its officials read the list; its managers add, import, print
    "home.people": reads(*EVERYONE, resident=403),
    "home.people_template": reads(*EVERYONE, resident=403),
    "home.new_person": reads("village_admin", "admin"),
    "home.import_people": reads("village_admin", "admin"),
    "home.people_cards": reads("village_admin", "admin"),
    "home.edit_person": reads("village_admin", "admin", resident=404),
    "home.person_leaves": reads("village_admin", "admin", resident=404),
    # a region's village scheme's pages (积分换项目): for its officials who record or
    # review; a village's household scheme named there is sent to its own page
    **{
        f"county.{name}": reads("recorder", "reviewer", "admin", status=302)
        for name in ("score", "period", "period_pick", "notice", "awards_xlsx")
    },
}


def own_gets(app):
    """(endpoint, rule) of every GET naming an object, the logout aside."""
    return [
        (endpoint, rule)
        for endpoint, rule, method in routes(app)
        if method == "GET" and set(rule.arguments) & OBJECTS and endpoint != "auth.logout"
    ]


def test_every_get_of_an_object_has_its_readers(app):
    endpoints = {endpoint for endpoint, _ in own_gets(app)}
    missing = sorted(endpoints - set(OWN_GETS))
    assert not missing, f"GET routes without their readers (tests/test_scope_matrix.py OWN_GETS): {missing}"
    gone = sorted(set(OWN_GETS) - endpoints)
    assert not gone, f"OWN_GETS names routes that are no GET of an object: {gone}"


@pytest.mark.parametrize("role", EVERYONE)
def test_own_objects_answer_each_role_as_its_table_says(app, session, cast, role, api, auth, client):
    """Every GET of one's own village's object (a resident: its own household's) answers
    the role what ``OWN_GETS`` says; an official gets the same for another household of
    the village. Nothing is written, nothing answers 5xx."""
    username = role if role == "admin" else f"tj_{role}"
    auth.login(username)
    bearer = api.as_(username).headers
    before = fingerprint(session)
    wrong = []
    for endpoint, rule in own_gets(app):
        expected = OWN_GETS[endpoint][role]
        targets = [cast["tj"]]
        if role != "resident" and {"household_id", "account_id"} & set(rule.arguments):
            targets.append(cast["tj2"])
        for values in targets:
            url = build_url(rule, values)
            r = call(client, "GET", url, bearer if url.startswith("/api/") else None)
            got = r.status_code
            if got == 302 == expected:
                # a landing page: where it sends the role must open for it
                landing = client.get(r.headers["Location"])
                if landing.status_code != 200:
                    wrong.append(f"GET {url} -> {r.headers['Location']}: {landing.status_code}, expected 200")
            elif got != expected:
                wrong.append(f"GET {url} ({endpoint}): {got}, expected {expected}")
    assert not wrong, f"{username} on its own objects:\n" + "\n".join(wrong)
    assert fingerprint(session) == before, f"{username}'s GETs wrote"
