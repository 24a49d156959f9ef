"""Every spreadsheet export writes a cell typed as a formula (=…, +…, -…, @…, or led by a
tab, CR or LF, by blanks before one, or full-width ＝…) as text, never as a formula Excel
would run."""

import csv
import io

import pytest
from openpyxl import load_workbook

from app.households import register
from app.redemption import reports
from app.redemption import services as redemption_services
from app.redemption import shops as shop_services
from app.spreadsheet import as_text, csv_chunks, xlsx_bytes
from tests import factories
from tests.factories import NOW

TYPED = [
    '=HYPERLINK("http://x.example","点我")',
    "+1",
    "-1",
    "@x",
    "\t=1",
    "\r=1",
    "\n=1",
    # full-width (an East Asian Excel reads them as the ASCII ones), and leads after blanks
    '＝HYPERLINK("http://x.example")',
    "＋1+1",
    "－1+1",
    "＠SUM(1)",
    "﹦1+1",
    " =1+1",
    "\u3000=1+1",
    "\u200b=1+1",
    "\ufeff=1+1",
]


@pytest.mark.parametrize("typed", TYPED)
def test_a_typed_formula_is_written_as_text_in_both_formats(typed):
    book = load_workbook(io.BytesIO(xlsx_bytes(("s", ["h"], [[typed, 5, -3]]))))
    cell, number, negative = book.active["A2"], book.active["B2"], book.active["C2"]
    assert cell.data_type == "s" and cell.value.startswith("'") and cell.value[2:] == typed[1:]  # XML keeps CR as LF
    assert (number.value, negative.value) == (5, -3)  # numbers stay numbers
    rows = list(csv.reader(io.StringIO("".join(csv_chunks(["h"], [[typed, 5]])).lstrip("\ufeff"))))
    assert rows[1] == ["'" + typed, "5"]


def test_ordinary_text_is_left_alone():
    ordinary = ("王建国", "3-12", "TJ-001", "", None, 7, -7, " 王", "\u3000张三", "Ａ1")
    assert [as_text(v) for v in ordinary] == list(ordinary)


def cells(data: bytes) -> dict:
    """Every string cell of every sheet: ``{value: data_type}``."""
    book = load_workbook(io.BytesIO(data))
    return {c.value: c.data_type for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)}


def test_a_sheet_opens_readable_its_money_to_the_fen():
    """The header bold and frozen, each column as wide as its heading (a Chinese
    character counts two), and yuan (Decimal) shown with two decimals."""
    from decimal import Decimal

    data = xlsx_bytes(("s", ["村", "项目资金（元）", "分配方式"], [["和平村", Decimal("60000.00"), "平均分配"]]))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b and sheet["B1"].value == "项目资金（元）"
    assert sheet.column_dimensions["A"].width == 10  # the narrowest
    assert sheet.column_dimensions["B"].width == 2 * 7 + 4
    assert (sheet["B2"].value, sheet["B2"].number_format) == (60000, "0.00")


def test_the_households_export_writes_typed_formulas_as_text(world, session):
    head, address = TYPED[0], "+1"
    factories.household(session, world.admin, world.a, "TJ-050", head, address=address, members=[{"name": "@x"}])
    got = cells(register.export_xlsx(session, world.a.id))
    assert got["'" + head] == "s" and got["'+1"] == "s" and got["'@x"] == "s"
    assert head not in got


def test_the_settlement_workbook_writes_typed_formulas_as_text(world, session):
    admin, clerk = world.actor("tj_village_admin"), world.actor("tj_clerk")
    world.a.redeem_floor = 0  # the new household's opening points are all redeemable
    household = factories.household(session, world.admin, world.a, "TJ-051", "-1")
    shop = shop_services.create_shop(session, admin, world.a.id, "=1+1")
    item = shop_services.create_item(
        session, admin, shop.id, {"name": "@SUM(A1)", "price_points": 1, "stock": 5}, now=NOW
    )
    redemption_services.redeem(
        session,
        clerk,
        shop_id=shop.id,
        lines=[{"item_id": item.id, "quantity": 1}],
        household_id=household.id,
        now=NOW,
        today=NOW.date(),
        secret="s",
    )
    got = cells(reports.settlement_xlsx(session, world.a.id, "Asia/Shanghai"))
    assert got["'=1+1"] == "s" and got["'@SUM(A1)"] == "s" and got["'-1"] == "s"
    assert not {"=1+1", "@SUM(A1)", "-1"} & set(got)
