"""The scheme picker of the cycle pages (periods, notice board, big screen, awards,
certificates): a township's monthly volunteer scheme beside the villages' households."""

from tests.conftest import TODAY
from tests.rankings.test_pickers import household_scheme, scored, text, volunteers  # noqa: F401
from tests.regions.conftest import county  # noqa: F401

MONTH = f"{TODAY.year}-{TODAY.month:02d}"


def test_a_township_reviewer_publishes_its_volunteer_schemes_month(volunteers, scored, auth, client):  # noqa: F811
    auth.login("cg_reviewer")
    page = text(client.get(f"/periods?scheme_id={volunteers.id}"))
    assert "公示与评优 · 城关镇志愿者" in page
    assert f'id="period-{MONTH}"' in page and f"{TODAY.year} 年 {TODAY.month} 月" in page
    assert f'<option value="{volunteers.id}" selected>城关镇志愿者</option>' in page
    assert f"/periods/{MONTH}/close?scheme_id={volunteers.id}" in page
    r = client.post(f"/periods/{MONTH}/close?scheme_id={volunteers.id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/periods?scheme_id={volunteers.id}")
    notice = text(client.get(f"/notice/{MONTH}?scheme_id={volunteers.id}"))
    assert "城关镇志愿者" in notice and "志愿者李" in notice and "城关镇" in notice
    assert "提交异议" not in notice  # objections are a village's households'
    assert (
        client.get(f"/notice?scheme_id={volunteers.id}")
        .headers["Location"]
        .endswith(f"/notice/{MONTH}?scheme_id={volunteers.id}")
    )
    screen = text(client.get(f"/bigscreen?scheme_id={volunteers.id}&period={MONTH}"))
    assert "城关镇志愿者 · 道德积分榜" in screen and "志愿者李" in screen


def test_the_standings_of_a_person_scheme(volunteers, scored, auth, client):  # noqa: F811
    auth.login("cg_reviewer")
    page = text(client.get(f"/standings?scheme_id={volunteers.id}&period={MONTH}"))
    table = page.split("<table")[1]
    assert "志愿者李" in table and "户主hp1" not in table and "共 1 个账户" in page
    assert f'<option value="{MONTH}" selected>' in page  # the months of a monthly scheme
    r = client.get(f"/standings/export.csv?scheme_id={volunteers.id}&period={MONTH}")
    assert "志愿者李" in r.get_data(as_text=True)


def test_awards_and_certificates_of_a_scheme(volunteers, scored, auth, client):  # noqa: F811
    auth.login("dk_reviewer")  # the county reads its township's scheme
    page = text(client.get(f"/awards?scheme_id={volunteers.id}"))
    assert "评优结果 · 城关镇志愿者" in page
    assert f'<input type="hidden" name="scheme_id" value="{volunteers.id}">' in page
    assert "打印全部奖状" not in page  # a region's awards have no village committee to sign
    assert client.get(f"/awards/certificates?scheme_id={volunteers.id}").status_code == 404
    r = client.get(f"/awards/export.xlsx?scheme_id={volunteers.id}")
    assert r.status_code == 200 and r.mimetype.endswith("sheet")


def test_a_scheme_out_of_scope_is_not_found_on_every_cycle_page(volunteers, scored, world, session, auth, client):  # noqa: F811
    auth.login("tj_reviewer")
    for path in ("/periods", "/notice", f"/notice/{MONTH}", "/bigscreen", "/awards", "/awards/certificates"):
        assert client.get(f"{path}?scheme_id={volunteers.id}").status_code == 404, path
    assert client.post(f"/periods/{MONTH}/close?scheme_id={volunteers.id}").status_code == 404
    assert client.get("/periods?scheme_id=x").status_code == 404
    auth.logout()
    auth.login("cg_reviewer")
    qf = household_scheme(session, scored.qf)
    assert client.get(f"/periods?scheme_id={qf.id}").status_code == 404
    assert client.get(f"/notice?scheme_id={qf.id}").status_code == 404
    tj = household_scheme(session, world.a)
    assert client.get(f"/awards?scheme_id={tj.id}").status_code == 404


def test_a_village_reviewer_keeps_its_households_board(world, auth, client):
    auth.login("tj_reviewer")
    page = text(client.get("/periods"))
    assert "公示与评优 · 团结村" in page and 'name="scheme_id"' not in page  # no other scheme to pick
    assert "/periods/" in page and "scheme_id" not in page.split("<main")[1]


def test_the_admin_picks_a_village_or_a_scheme(volunteers, scored, auth, client):  # noqa: F811
    auth.login("admin")
    page = text(client.get("/periods"))
    assert "请先选择一个村" in page and f"/periods?scheme_id={volunteers.id}" in page
    assert "城关镇志愿者" in text(client.get(f"/periods?scheme_id={volunteers.id}"))
