"""The scope matrix for a region's officials (the county's admin, reviewer and recorder
of ``scene``): own region and another region.

- Every page and API endpoint naming an object of another region in its path (Xingfu,
  under a township outside the county: its village, households, entries, shop, …, the
  township itself, and that township's village scheme with Xingfu's account in it) is
  404 (or 403) whatever the method, with a body valid for one's own object; nothing is
  written and nothing answers 5xx.
- Every GET of an object of one's own region (Tuanjie, a village below the county)
  answers as ``OWN_GETS`` says for the village role of the same name, the county's
  admin as the deployment's admin: a region's official holds its role in every village
  below it. Differences are listed in ``REGION_GETS``.
"""

import pytest

from app.regions.models import Region
from app.scope import Actor
from tests.county.conftest import village_accounts, village_scheme
from tests.test_scope_matrix import (  # noqa: F401  (cast: a fixture)
    BODIES,
    OBJECTS,
    OWN_GETS,
    build_url,
    call,
    cast,
    fingerprint,
    own_gets,
    refused,
    routes,
)
from tests.test_scope_writes import REGION_ROLES, scene, username  # noqa: F401  (scene: a fixture)

# The village role whose row of OWN_GETS a region's official follows.
COUNTERPART = {"region_admin": "admin", "region_reviewer": "reviewer", "region_recorder": "recorder"}
# Where a region's official is answered otherwise than its village counterpart, and why.
REGION_GETS = {
    # the county is its own region: its officials read the township below it
    "regions_api.get_region": dict.fromkeys(REGION_ROLES, 200),
    "home.region": dict.fromkeys(REGION_ROLES, 200),
}


@pytest.fixture
def other_region(app, session, world, scene):  # noqa: F811
    """Xingfu's township's own village scheme, with Xingfu's account in it."""
    township = session.get(Region, scene["xf"]["region_id"])
    scheme = village_scheme(session, Actor(world.admin), township, name="乡村考评")
    session.commit()
    account = village_accounts(session, scheme)[world.b.code]
    return {"scheme_id": scheme.id, "account_id": account.id}


@pytest.mark.parametrize("role", REGION_ROLES)
def test_another_regions_objects_are_out_of_reach(app, session, scene, other_region, role, api, auth, client):  # noqa: F811
    auth.login(username(role))
    bearer = api.as_(username(role)).headers
    leaks, errors, writes, tried = [], [], [], 0
    for endpoint, rule, method in routes(app):
        arguments = set(rule.arguments)
        if not (arguments & OBJECTS) or endpoint == "auth.logout":
            continue
        targets = [scene["xf"]]
        if arguments & {"scheme_id", "account_id"}:
            targets.append({**scene["xf"], **other_region})
        for values in targets:
            url = build_url(rule, values)
            before = fingerprint(session) if method != "GET" else None
            r = call(client, method, url, bearer if url.startswith("/api/") else None, BODIES.get(endpoint))
            tried += 1
            if r.status_code >= 500:
                errors.append(f"{method} {url}: {r.status_code}")
            elif not refused(client, method, url, r):
                leaks.append(f"{method} {url}: {r.status_code} {r.data[:200].decode(errors='replace')}")
            if before is not None and fingerprint(session) != before:
                writes.append(f"{method} {url}: {r.status_code}")
    assert tried > 100
    assert not errors, errors
    assert not leaks, f"{username(role)} reached another region's objects:\n" + "\n".join(leaks)
    assert not writes, f"{username(role)}'s refused requests wrote:\n" + "\n".join(writes)


@pytest.mark.parametrize("role", REGION_ROLES)
def test_own_regions_objects_answer_as_the_village_role_does(app, session, scene, role, api, auth, client):  # noqa: F811
    auth.login(username(role))
    bearer = api.as_(username(role)).headers
    before = fingerprint(session)
    wrong = []
    for endpoint, rule in own_gets(app):
        expected = REGION_GETS.get(endpoint, {}).get(role, OWN_GETS[endpoint][COUNTERPART[role]])
        for values in (scene["tj"], scene["tj2"]):
            url = build_url(rule, values)
            r = call(client, "GET", url, bearer if url.startswith("/api/") else None)
            if r.status_code == 302 == expected:
                landing = client.get(r.headers["Location"])
                if landing.status_code != 200:
                    wrong.append(f"GET {url} -> {r.headers['Location']}: {landing.status_code}, expected 200")
            elif r.status_code != expected:
                wrong.append(f"GET {url} ({endpoint}): {r.status_code}, expected {expected}")
    assert not wrong, f"{username(role)} on its own region's objects:\n" + "\n".join(wrong)
    assert fingerprint(session) == before, f"{username(role)}'s GETs wrote"
