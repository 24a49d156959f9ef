"""Downloads are named in Chinese (RFC 5987 ``filename*``) with an ASCII fallback."""

import re
from urllib.parse import unquote

import pytest

from app.clock import local_today


def names(response) -> tuple[str, str]:
    header = response.headers["Content-Disposition"]
    assert header.startswith("attachment;")
    ascii_name = re.search(r'filename="([^"]+)"', header).group(1)
    utf8_name = unquote(re.search(r"filename\*=UTF-8''(\S+)", header).group(1))
    assert ascii_name.isascii()
    return utf8_name, ascii_name


@pytest.mark.parametrize(
    "username, path, chinese, fallback",
    [
        (
            "tj_village_admin",
            "/households/import/template.xlsx",
            "农户名册模板.xlsx",
            "household-register-template.xlsx",
        ),
        ("tj_village_admin", "/households/export.xlsx", "农户名册-{day}.xlsx", "households-{day}.xlsx"),
        ("tj_reviewer", "/standings/export.csv?period=2026Q1", "积分排名-2026Q1.csv", "standings-2026Q1.csv"),
        ("tj_reviewer", "/standings/export.xlsx?period=2026", "积分排名-2026.xlsx", "standings-2026.xlsx"),
    ],
)
def test_a_download_has_a_chinese_name_and_an_ascii_fallback(world, login, username, path, chinese, fallback):
    day = local_today("Asia/Shanghai").isoformat()
    response = login(username).get(path)
    assert response.status_code == 200
    assert names(response) == (chinese.format(day=day), fallback.format(day=day))


def test_the_settlement_workbook_is_named_by_village_and_month(world, login):
    response = login("tj_village_admin").get("/shop/reports.xlsx?month=2026-11")
    assert response.status_code == 200
    chinese, fallback = names(response)
    assert chinese == "兑换结算-团结村-2026-11.xlsx" and fallback == "settlement-TJ-2026-11.xlsx"
