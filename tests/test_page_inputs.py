"""Pages refuse what no column can store before any view runs: an id beyond 32 bits in
the path (404), or in a query or form field, a page number that large, a NUL or a lone
surrogate (400, in Chinese), and nothing is written. Without the guard each of these
was a 500: SQLite cannot bind an integer past 64 bits, PostgreSQL refuses a NUL."""

import pytest
from sqlalchemy import func, select

from app.households.models import Household
from app.points.models import Entry

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/households/{BIG}",
        f"/households/{BIG}/edit",
        f"/entries/{BIG}/reverse",
        f"/rules/{BIG}/edit",
        "/households/2147483648",
    ],
)
def test_a_path_id_beyond_32_bits_is_not_found(world, auth, client, path):
    auth.login("tj_reviewer")
    r = client.get(path)
    assert r.status_code == 404
    assert "未找到" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        f"/record?household_id={BIG}",
        f"/households?page={BIG}",
        f"/approvals?page={BIG}",
        f"/audit?page={BIG}",
        f"/batch/result?rule_id={BIG}&at=2026-11-20T00:00:00",
        "/households?q=%00",
        "/households?page=9_999_999_999_999_999_999_999",  # int() reads underscores
        "/households?page=%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99%EF%BC%99",  # full-width 9s
        f"/record?done={BIG}",  # the household just recorded for
    ],
)
def test_a_query_value_no_column_can_store_is_a_bad_request(world, auth, client, path):
    auth.login("admin")
    r = client.get(path)
    assert r.status_code == 400
    assert "输入超出允许的范围或含有非法字符" in r.get_data(as_text=True)


def test_an_admins_village_choice_beyond_32_bits_is_a_bad_request(world, auth, client):
    auth.login("admin")
    for path in ("/", "/households", "/rules", "/scheme", "/users"):
        assert client.get(f"{path}?village_id={BIG}").status_code == 400, path


@pytest.mark.parametrize(
    "path, form",
    [
        ("/record", {"household_id": BIG, "rule_id": "1", "quantity": "1", "occurred_on": "2026-11-20"}),
        ("/batch", {"rule_id": "1", "household_ids": BIG, "occurred_on": "2026-11-20"}),
        ("/approvals/bulk", {"entry_ids": BIG}),
    ],
)
def test_a_forged_form_id_is_refused_and_writes_nothing(world, auth, client, session, path, form):
    auth.login("tj_reviewer" if "approvals" in path else "tj_recorder")
    entries = lambda: session.scalar(select(func.count(Entry.id)))  # noqa: E731
    before = entries()
    r = client.post(path, data=form)
    assert r.status_code == 400
    assert "输入超出允许的范围或含有非法字符" in r.get_data(as_text=True)
    assert entries() == before


def test_a_field_named_after_an_id_beyond_32_bits_is_refused(world, auth, client):
    """The counter names its quantity fields after the items: ``qty-<item id>``."""
    auth.login("tj_clerk")
    r = client.post("/shop/counter/redeem", data={"shop_id": "1", "card": "x", "key": "k", f"qty-{BIG}": "1"})
    assert r.status_code == 400
    assert "qty-" in r.get_data(as_text=True)


def test_the_api_reads_ids_as_int_does(world, api):
    r = api.as_("admin").get("/households?village_id=9_999_999_999_999_999_999_999")
    assert r.status_code == 422
    assert "village_id" in r.get_json()["error"]["details"]


def test_a_nul_in_a_form_field_is_refused_and_writes_nothing(world, auth, client, session):
    auth.login("tj_village_admin")
    count = lambda: session.scalar(select(func.count(Household.id)))  # noqa: E731
    before = count()
    r = client.post("/households/new", data={"number": "TJ-900", "head_name": "王\x00五"})
    assert r.status_code == 400
    assert "head_name" in r.get_data(as_text=True)
    assert count() == before
    # The same form without the NUL is taken: it is the NUL that was refused.
    assert client.post("/households/new", data={"number": "TJ-900", "head_name": "王五"}).status_code == 302
    assert count() == before + 1


def test_a_nul_in_the_login_form_is_refused(world, client):
    r = client.post("/login", data={"username": "tj_\x00recorder", "password": "x"})
    assert r.status_code == 400


def test_ordinary_ids_and_pages_pass(world, auth, client):
    auth.login("tj_reviewer")
    assert client.get("/households?page=2").status_code == 200
    hid = world.households["tj1"].id
    assert client.get(f"/households/{hid}").status_code == 200
