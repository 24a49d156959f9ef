"""A village scheme's month: standings, 公示, 定稿 and the fund's award, printable and
as XLSX."""

import io
import re
from decimal import Decimal

from openpyxl import load_workbook

from app.clock import quarter_of
from tests.county.test_scoring_page import MONTH, TODAY, tap


def period_url(county, period=MONTH, tail=""):
    return f"/county/schemes/{county.scheme.id}/periods/{period}{tail}"


def scored(client, county):
    """和平村 60, 新华村 10 (30 less a deduction of 20), 清风村 20."""
    for rule in ("零事故", "零非访", "零发案", "零违建", "零污染", "零疫情"):
        tap(client, county, "HP", rule)
    for rule in ("零事故", "零非访", "零发案", "扣分"):
        tap(client, county, "XH", rule)
    for rule in ("零事故", "零非访"):
        tap(client, county, "QF", rule)


def ranked(page):
    table = re.search(r'<table class="responsive standings">.*?</table>', page, re.S).group(0)
    return re.findall(r"<td[^>]*>(\d+)</td>\s*<td[^>]*>(\S+)</td>\s*<td[^>]*>(\S+)</td>\s*<td[^>]*>(-?\d+)", table)


def grant(client, county, fund="1000.00", allocation="proportional", top_n=3, period=MONTH):
    data = {"title": "积分换项目", "top_n": top_n, "fund_yuan": fund, "allocation": allocation}
    return client.post(period_url(county, period, "/awards"), data=data)


def test_the_month_standings_live_then_published(county, auth, client):
    auth.login("dk_admin")
    scored(client, county)
    page = client.get(period_url(county)).get_data(as_text=True)
    assert "实时，未公示" in page
    assert ranked(page) == [
        ("1", "和平村", "城关镇", "60"),
        ("2", "清风村", "高沙镇", "20"),
        ("3", "新华村", "城关镇", "10"),
    ]
    assert client.get(period_url(county, tail="/notice")).status_code == 404  # nothing published yet
    r = client.post(period_url(county, tail="/close"))
    assert r.status_code == 302
    page = client.get(period_url(county)).get_data(as_text=True)
    assert "公示中" in page and "实时，未公示" not in page
    notice = client.get(period_url(county, tail="/notice")).get_data(as_text=True)
    assert "考评结果公示" in notice and "data-print" in notice and "和平村" in notice


def test_a_tap_in_a_published_month_is_refused_beside_its_cell(county, auth, client, session):
    auth.login("dk_admin")
    client.post(period_url(county, tail="/close"))
    page = client.get(f"/county/schemes/{county.scheme.id}/score").get_data(as_text=True)
    assert 'name="tap"' not in page and "本月已公示，不能再记分" in page
    r = tap(client, county, "HP", "零事故")  # a page loaded before the month was closed
    assert r.status_code == 409
    assert "已公示或结算" in r.get_data(as_text=True)


def test_finalise_then_grant_the_fund(county, auth, client):
    auth.login("dk_admin")
    scored(client, county)
    client.post(period_url(county, tail="/close"))
    assert "定稿后才能评选" in client.get(period_url(county)).get_data(as_text=True)
    r = grant(client, county)
    assert r.status_code == 409 and "尚未定稿" in r.get_data(as_text=True)  # not final yet
    client.post(period_url(county, tail="/finalize"))
    r = grant(client, county, fund="1000.01")
    assert r.status_code == 302
    page = client.get(period_url(county)).get_data(as_text=True)
    assert "已定稿" in page
    amounts = [Decimal(a) for a in re.findall(r'class="num amount">([\d.]+)<', page)]
    assert len(amounts) == 3 and sum(amounts) == Decimal("1000.01")
    assert amounts == sorted(amounts, reverse=True)  # 60 : 20 : 10
    assert '<td class="num" data-total>1000.01</td>' in page

    assert "称号" not in page and page.count("项目名称") >= 2  # the form's word in the table too
    book = load_workbook(io.BytesIO(client.get(period_url(county, tail="/awards.xlsx")).data))
    rows = list(book.active.values)
    assert rows[0][0] == "项目名称" and rows[0][2] == "村" and rows[0][-1] == "金额（元）"
    assert [r[2] for r in rows[1:4]] == ["和平村", "清风村", "新华村"]
    assert sum(Decimal(str(r[-1])) for r in rows[1:4]) == Decimal("1000.01")
    assert rows[-1][0] == "合计" and Decimal(str(rows[-1][-1])) == Decimal("1000.01")
    # the rankings' award pages name a village scheme's award the same way
    board = client.get(f"/awards?scheme_id={county.scheme.id}").get_data(as_text=True)
    assert "<th>项目名称</th>" in board and "<th>称号</th>" not in board
    export = load_workbook(io.BytesIO(client.get(f"/awards/export.xlsx?scheme_id={county.scheme.id}").data))
    assert list(export.active.values)[0][1] == "项目名称"


def test_two_projects_of_a_period_each_show_their_subtotal(county, auth, client):
    """A second project's award is a second fund: the table and the XLSX give each
    project its subtotal before the period's 合计, not one figure for both."""
    auth.login("dk_admin")
    scored(client, county)
    client.post(period_url(county, tail="/close"))
    client.post(period_url(county, tail="/finalize"))
    assert grant(client, county, fund="1000.00").status_code == 302
    data = {"title": "示范村奖励", "top_n": 1, "fund_yuan": "500.00", "allocation": "equal"}
    assert client.post(period_url(county, tail="/awards"), data=data).status_code == 302
    for page in (client.get(period_url(county)).text, client.get(period_url(county, tail="/notice")).text):
        foot = page.split("<tfoot>")[1].split("</tfoot>")[0]
        subtotals = re.findall(r"<td colspan=\"5\">(\S+) 小计</td><td class=\"num\">([\d.]+)</td>", foot)
        assert dict(subtotals) == {"积分换项目": "1000.00", "示范村奖励": "500.00"} and len(subtotals) == 2
        assert '<td class="num" data-total>1500.00</td>' in foot
    rows = list(load_workbook(io.BytesIO(client.get(period_url(county, tail="/awards.xlsx")).data)).active.values)
    assert {r[0]: Decimal(str(r[-1])) for r in rows[-3:-1]} == {
        "积分换项目 小计": Decimal("1000.00"),
        "示范村奖励 小计": Decimal("500.00"),
    }
    assert (rows[-1][0], Decimal(str(rows[-1][-1]))) == ("合计", Decimal("1500.00"))


def test_the_fund_form_reports_its_mistakes(county, auth, client):
    auth.login("dk_admin")
    scored(client, county)
    client.post(period_url(county, tail="/close"))
    client.post(period_url(county, tail="/finalize"))
    r = grant(client, county, fund="")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "请填写资金总额（元）" in page
    # a banner on the first screen, linking to the field, and the field's own error
    banner = page.index("data-error-summary")
    assert banner < page.index('id="awards"') and 'href="#fund_yuan"' in page
    assert '<small class="error-text">请填写资金总额（元）</small>' in page
    r = grant(client, county, allocation="lottery")
    assert r.status_code == 422
    # a title too long is a project's name here, not a household's honour (称号)
    r = client.post(period_url(county, tail="/awards"), data={"title": "项" * 51, "top_n": 3, "fund_yuan": "10"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "请填写项目名称（50 字以内）" in page and "称号" not in page


def test_a_village_official_or_a_township_official_gets_404(county, auth, client):
    for username in ("tj_reviewer", "cg_reviewer"):
        auth.login(username)
        assert client.get(period_url(county)).status_code == 404
        assert client.post(period_url(county, tail="/close")).status_code == 404
        assert client.get(period_url(county, tail="/awards.xlsx")).status_code == 404
        auth.logout()


def test_a_recorder_reads_but_does_not_close(county, auth, client):
    auth.login("dk_recorder")
    page = client.get(period_url(county)).get_data(as_text=True)
    assert "结束本期并公示" not in page
    client.post(period_url(county, tail="/close"))
    assert "未公示" in client.get(period_url(county)).get_data(as_text=True)


def test_only_an_admin_finalises_while_the_notice_runs(county, auth, client):
    auth.login("dk_reviewer")
    client.post(period_url(county, tail="/close"))
    r = client.post(period_url(county, tail="/finalize"), follow_redirects=True)
    assert "期满后才能定稿" in r.get_data(as_text=True)
    auth.logout()
    auth.login("dk_admin")  # the county's admin, as the deployment's may
    client.post(period_url(county, tail="/finalize"))
    assert "已定稿" in client.get(period_url(county)).get_data(as_text=True)


def test_the_notice_shows_a_vetoed_village_as_the_period_page_does(county, world, auth, client, session):
    from app.points import rules as rulebook
    from app.scope import Actor

    county.rules["否决"] = rulebook.create_rule(
        session,
        Actor(world.admin),
        None,
        {"code": "FJ-1", "name": "发生命案", "category": "扣分项", "points": -10, "veto": True},
        scheme_id=county.scheme.id,
    )
    session.commit()
    auth.login("dk_admin")
    scored(client, county)
    tap(client, county, "QF", "否决")
    assert client.post(period_url(county, tail="/close")).status_code == 302
    for page in (client.get(period_url(county)), client.get(period_url(county, tail="/notice"))):
        table = re.search(r'<table class="responsive standings">.*?</table>', page.get_data(as_text=True), re.S)
        assert re.search(r"清风村.*?一票否决", table.group(0), re.S), page.request.path
        assert table.group(0).count("一票否决") == 1


def test_a_month_whose_year_or_quarter_is_closed_is_locked_on_the_score_page(county, auth, client):
    auth.login("dk_admin")
    year, quarter = str(TODAY.year), quarter_of(TODAY)
    assert client.post(period_url(county, quarter, "/close")).status_code == 302
    page = client.get(f"/county/schemes/{county.scheme.id}/score?month={MONTH}").get_data(as_text=True)
    assert 'name="tap"' not in page and "未公示" not in page
    assert f"{TODAY.year} 年第 {quarter[-1]} 季度已公示，不能再记分" in page
    january = f"{year}-01"  # in the year, outside this quarter (unless this is the first)
    if quarter_of(TODAY).endswith("1"):
        return
    assert 'name="tap"' in client.get(f"/county/schemes/{county.scheme.id}/score?month={january}").get_data(
        as_text=True
    )
    client.post(period_url(county, year, "/close"))
    page = client.get(f"/county/schemes/{county.scheme.id}/score?month={january}").get_data(as_text=True)
    assert 'name="tap"' not in page and f"{year} 年度已公示，不能再记分" in page


def test_closing_a_period_before_it_ends_warns_in_the_confirmation(county, auth, client):
    auth.login("dk_admin")
    page = client.get(period_url(county, str(TODAY.year))).get_data(as_text=True)
    form = re.search(r'<form[^>]*/close"[^>]*>', page, re.S).group(0)
    warning = f"本期到 {TODAY.year}-12-31 才结束；现在公示后，本期剩余日期的记分都将被拒绝"
    assert warning in form
    last_year = client.get(period_url(county, str(TODAY.year - 1))).get_data(as_text=True)
    assert "才结束" not in last_year


def test_finalising_early_says_the_notice_window_still_runs(county, auth, client):
    auth.login("dk_admin")
    client.post(period_url(county, tail="/close"))
    page = client.get(period_url(county)).get_data(as_text=True)
    ends = re.search(r"公示期至 (\d{4}-\d\d-\d\d)", page).group(1)
    form = re.search(r'<form[^>]*/finalize"[^>]*>', page, re.S).group(0)
    assert f"公示期至 {ends} 未满，提前定稿后不再受理异议" in form
    client.post(period_url(county, tail="/finalize"))
    assert "未满" not in client.get(period_url(county)).get_data(as_text=True)


def test_every_link_of_the_cycle_pages_of_a_village_scheme_opens(county, auth, client):
    """A region's awards have no village committee to sign a certificate: the periods
    page offers none (it linked to certificates that answered 404)."""
    auth.login("dk_admin")
    scored(client, county)
    client.post(period_url(county, tail="/close"))
    client.post(period_url(county, tail="/finalize"))
    assert grant(client, county).status_code == 302
    s = county.scheme.id
    for page in (
        f"/periods?scheme_id={s}",
        f"/awards?scheme_id={s}",
        f"/notice/{MONTH}?scheme_id={s}",
        period_url(county),
    ):
        html = client.get(page).get_data(as_text=True)
        assert "积分换项目" in html
        for href in set(re.findall(r'href="(/[^"#]*)"', html)):
            href = href.replace("&amp;", "&")
            if href.startswith(("/static/", "/logout")):
                continue
            assert client.get(href).status_code < 400, f"{page} links to {href}"
