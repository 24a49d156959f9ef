"""After login (and at the counter) ``next`` may only lead to a path of this site."""

import pytest

from app.redirects import same_site_path
from tests.factories import PASSWORD

LEAVING = [
    "//evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0D%0A/evil.example",
    " //evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "/%2F/evil.example",
    "/%252F%252Fevil.example",
    "%2F%2Fevil.example",
    "https://evil.example/",
    "https:/evil.example",
    "javascript:alert(1)",
    "/\u3000/evil.example",
    "evil.example",
    "",
    # dot segments: the browser resolves /.//evil.example to the path //evil.example
    "/.//evil.example",
    "/..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E/%2Fevil.example",
    "/a/../..//evil.example",
]


@pytest.mark.parametrize("target", LEAVING)
def test_a_next_that_could_leave_the_site_is_refused(target):
    assert same_site_path(target) is None


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/households?page=2",
        "/shop/shops/3?day=2026-11-20",
        "/households?q=%E7%8E%8B",
        "/households?q=..",
        "/a.b/c..d",
    ],
)
def test_a_path_of_the_site_is_kept(target):
    assert same_site_path(target) == target


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%5Cevil.example", "//evil.example", "/%2F/evil.example"])
def test_login_never_redirects_off_site(world, client, target):
    r = client.post(f"/login?next={target}", data={"username": "tj_recorder", "password": PASSWORD})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location == "/record", location  # the recorder's landing page, not the target


def test_login_follows_a_same_site_next(world, client):
    r = client.post("/login?next=/households%3Fpage%3D2", data={"username": "tj_recorder", "password": PASSWORD})
    assert r.headers["Location"] == "/households?page=2"


@pytest.mark.parametrize(
    "username, landing",
    [
        ("admin", "/"),
        ("tj_village_admin", "/"),
        ("tj_recorder", "/record"),
        ("tj_reviewer", "/approvals"),
        ("tj_clerk", "/shop/counter"),
        ("tj_resident", "/households/{tj1}"),
    ],
)
def test_each_role_lands_on_its_daily_work(world, client, username, landing):
    landing = landing.format(tj1=world.households["tj1"].id)
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == landing
    assert client.get("/login").headers["Location"] == landing  # already logged in
    assert client.get(landing).status_code == 200
