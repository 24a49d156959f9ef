"""The statistics page (server-rendered SVG charts) and the standings exports (XLSX, CSV)."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from app.clock import local_today, utcnow
from app.points import decisions
from app.rankings import charts, services, statistics
from app.redemption import services as shop
from app.redemption import shops as shop_services
from tests import factories

TODAY = local_today("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text(response) -> str:
    return response.get_data(as_text=True)


def score(session, world, key, rule, day=TODAY, quantity=1):
    return factories.score(session, world, key, rule, day=day, today=TODAY, quantity=quantity, approve=True)


@pytest.fixture
def scored(world, session):
    """This quarter: 团结村 tj1 5 + 3×2, tj2 5, tj3 −20 (veto); 幸福村 xf1 3."""
    score(session, world, "tj1", "labour")
    score(session, world, "tj1", "school", quantity=2)
    score(session, world, "tj2", "labour")
    score(session, world, "tj3", "gamble")
    score(session, world, "xf1", "school")
    session.commit()
    return world


def test_stats_page_draws_svg_charts_with_category_names(scored, session, login):
    admin = scored.actor("tj_village_admin")
    store = shop_services.create_shop(session, admin, scored.a.id, "村委会积分超市")
    soap = shop_services.create_item(
        session, admin, store.id, {"name": "肥皂", "unit": "块", "price_points": 5, "stock": 10}, now=utcnow()
    )
    scored.users["tj_clerk"].shop_id = store.id
    shop.redeem(
        session,
        scored.actor("tj_clerk"),
        shop_id=store.id,
        household_id=scored.households["tj1"].id,
        lines=[{"item_id": soap.id, "quantity": 2}],
        now=utcnow(),
        today=TODAY,
        secret="test-secret",
    )
    session.commit()

    page = text(login("tj_reviewer").get("/stats"))
    assert page.count("chart-wide") == 3 and page.count("chart-narrow") == 3
    assert "志愿服务" in page and "勤劳致富" in page and "遵纪守法" in page
    assert f"{TODAY.year} 年各月积分（按类别）" in page
    assert "各村各季度参与率" in page and "团结村" in page
    assert "幸福村" not in page  # an official sees its own village
    assert "各月兑换金额" in page and "10.00" in page
    month = f"{TODAY.month}月"
    # The month's stacked total: 5 + 6 + 5 − 20 = −4 in 团结村.
    assert re.search(rf"<title>{month} · 志愿服务：10分</title>", page)


def test_admin_chooses_a_township_or_everything(scored, login):
    client = login("admin")
    page = text(client.get("/stats"))
    assert "团结村" in page and "幸福村" in page and "全部村" in page
    page = text(client.get(f"/stats?village_id={scored.b.id}&year={TODAY.year}"))
    assert "幸福村" in page and "勤劳致富" in page and "志愿服务：" not in page


def test_residents_see_no_statistics(world, login):
    assert login("tj_resident").get("/stats").status_code == 403


def test_points_by_category_and_month_net_reversals(scored, session):
    entry = score(session, scored, "tj2", "school")
    decisions.reverse_entry(session, scored.actor("tj_reviewer"), entry.id, reason="错记", now=utcnow())
    session.commit()
    got = statistics.points_by_category_month(session, TODAY.year, village_id=scored.a.id)
    assert got == {(TODAY.month, "志愿服务"): 10, (TODAY.month, "勤劳致富"): 6, (TODAY.month, "遵纪守法"): -20}
    assert statistics.points_by_category_month(session, TODAY.year, township="别的乡") == {}


def test_charts_escape_their_labels_and_scale_negative_values():
    svg = charts.bar_chart(["<b>一月</b>", "二月"], [10, -5], title="测试 & 图", unit="分")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<b>" not in svg and "&lt;b&gt;一月&lt;/b&gt;" in svg and "测试 &amp; 图" in svg
    stacked = charts.stacked_bar_chart(["1月"], [("志愿服务", [10]), ("遵纪守法", [-20])], title="类别")
    assert "志愿服务" in stacked and "遵纪守法" in stacked and ">-10<" in stacked
    empty = charts.grouped_bar_chart([], [("第一季度", [])], title="空")
    assert empty.startswith("<svg")


def test_xlsx_export_opens_and_has_the_rows(scored, login):
    response = login("tj_reviewer").get(f"/standings/export.xlsx?period={TODAY.year}&village_id={scored.a.id}")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows == [
        ("名次", "村", "户号", "户主", "积分", "可参评"),
        (1, "团结村", "TJ-001", "户主tj1", 11, "是"),
        (2, "团结村", "TJ-002", "户主tj2", 5, "是"),
        (3, "团结村", "TJ-003", "户主tj3", -20, "否"),
    ]


def test_csv_export_streams_with_a_bom_for_excel(scored, login):
    response = login("tj_recorder").get(f"/standings/export.csv?township={scored.a.township}")
    assert response.status_code == 200
    assert response.is_streamed
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["名次", "村", "户号", "户主", "积分", "可参评"]
    assert rows[1] == ["1", "团结村", "TJ-001", "户主tj1", "11", "是"]
    assert {r[1] for r in rows[1:]} == {"团结村", "幸福村"} and len(rows) == 7
    assert rows[-1][3:] == ["户主tj3", "-20", "否"]


def test_exports_agree_with_the_standings_and_keep_ties(world, session, login, monkeypatch):
    for i in range(4, 9):
        world.households[f"tj{i}"] = factories.household(session, world.admin, world.a, f"TJ-{i:03d}", f"户主tj{i}")
    session.commit()
    score(session, world, "tj1", "labour")
    score(session, world, "tj5", "labour")
    session.commit()
    expected = [
        [str(s.rank), s.village_name, s.number, s.head_name, str(s.points)]
        for s in services.household_standings(session, f"{TODAY.year}", village_id=world.a.id)
    ]
    monkeypatch.setattr("app.spreadsheet.CSV_CHUNK_ROWS", 2)  # several chunks
    body = login("tj_reviewer").get(f"/standings/export.csv?period={TODAY.year}").get_data()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
    assert [r[:5] for r in rows] == expected
    assert [r[0] for r in rows] == ["1", "1", "3", "3", "3", "3", "3", "3"]


def test_iter_standings_matches_the_list(scored, session):
    period = f"{TODAY.year}"
    streamed = [s.to_dict() for s in services.iter_household_standings(session, period, batch=2)]
    assert streamed == [s.to_dict() for s in services.household_standings(session, period)]


def test_exports_are_for_officials(world, login):
    client = login("tj_resident")
    assert client.get("/standings/export.csv").status_code == 403
    assert client.get("/standings/export.xlsx").status_code == 403
    assert login("tj_reviewer").get("/standings/export.csv?period=2026Q9").status_code == 400


def test_standings_page_links_to_the_exports_for_officials(world, login):
    assert "/standings/export.xlsx" in text(login("tj_reviewer").get("/standings"))
    assert "/standings/export.xlsx" not in text(login("tj_resident").get("/standings"))


def test_no_entries_yet_still_draws(world, login):
    page = text(login("admin").get(f"/stats?year={TODAY.year - 1}"))
    assert page.count("chart-wide") == 3 and "本年还没有积分记录" in page


def test_a_name_that_looks_like_a_formula_stays_text(world, session, login):
    factories.household(session, world.admin, world.a, "TJ-009", "=HYPERLINK(1)")
    session.commit()
    client = login("tj_reviewer")
    body = client.get("/standings/export.csv").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body
    book = load_workbook(io.BytesIO(client.get("/standings/export.xlsx").get_data()))
    cells = [c for row in book.active.iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert [(c.value, c.data_type) for c in cells] == [("'=HYPERLINK(1)", "s")]
