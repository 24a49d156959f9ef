"""The English catalogue: complete, and what the pages show with ``?lang=en``.

UI strings are Chinese msgids; data (village, household and rule names) stays Chinese in
either language, so the page checks only look at UI labels."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.clock import local_today
from app.extensions import babel
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
POT = ROOT / "app" / "messages.pot"

PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sd]|%%|\{[A-Za-z_][A-Za-z0-9_]*\}")
CJK = re.compile(r"[\u3400-\u9fff]+")

# Chinese UI words that must not be left on an English page (none of them is test data).
CHINESE_UI = [
    "道德银行",
    "首页",
    "退出",
    "菜单",
    "存折",
    "积分余额",
    "户号",
    "待审核",
    "记分",
    "排行榜",
    "统计",
    "日期",
]

# The certificate's closing "称号。": the English sentence before it already says "the title".
PUNCTUATION_ONLY = {"称号。"}


def _pybabel() -> str:
    beside = Path(sys.executable).with_name("pybabel")
    return str(beside) if beside.exists() else (shutil.which("pybabel") or "pybabel")


@pytest.fixture(scope="module", autouse=True)
def compiled_catalog(_app):
    """``make translations`` normally compiles the .mo (git-ignored); do it here if it is
    missing or older than the .po, then drop translations Flask-Babel may have cached."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        subprocess.run([_pybabel(), "compile", "-d", str(TRANSLATIONS)], check=True, capture_output=True)
    with _app.app_context():
        babel.domain_instance.cache.clear()
    yield


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _texts(message) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs, plural forms included."""
    if isinstance(message.id, tuple):
        singular, plural = message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        return [(singular if i == 0 else plural, s) for i, s in enumerate(strings)]
    return [(message.id, message.string)]


def test_catalogue_covers_the_template():
    template_ids = {m.id for m in _catalog(POT) if m.id}
    catalogue_ids = {m.id for m in _catalog(PO) if m.id}
    assert template_ids - catalogue_ids == set(), "run pybabel update, then translate the new messages"


def test_every_message_is_translated_with_the_same_placeholders():
    catalog = _catalog(PO)
    messages = [m for m in catalog if m.id]
    assert len(messages) > 500
    problems = []
    for m in messages:
        if m.fuzzy:
            problems.append(("fuzzy", m.id))
        for msgid, msgstr in _texts(m):
            if not msgstr.strip():
                problems.append(("empty", msgid))
                continue
            if _placeholders(msgid) != _placeholders(msgstr):
                problems.append(("placeholders", msgid, msgstr))
            # Chinese may only survive as an example copied from the msgid (a name, a header).
            if any(run not in msgid for run in CJK.findall(msgstr)):
                problems.append(("chinese", msgid, msgstr))
            if CJK.search(msgid) and not re.search(r"[A-Za-z]", msgstr) and msgid not in PUNCTUATION_ONLY:
                problems.append(("untranslated", msgid, msgstr))
    assert problems == []


def test_catalogue_passes_babel_checks():
    catalog = _catalog(PO)
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert errors == []


def test_compiled_catalogue_is_up_to_date():
    assert MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime


class Browser:
    """The test client with a page login. (conftest forgets the locale Flask-Babel
    caches on ``g`` before each request, as a real server's fresh context would.)"""

    def __init__(self, client):
        self.client = client
        self.get = client.get
        self.post = client.post

    def login(self, username, password=PASSWORD):
        r = self.post("/login", data={"username": username, "password": password})
        assert r.status_code == 302, username
        return r


@pytest.fixture
def browser(client):
    return Browser(client)


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _assert_english(html: str, *expected: str) -> None:
    assert '<html lang="en">' in html
    for text in expected:
        assert text in html, text
    leftovers = [w for w in CHINESE_UI if w in html]
    assert leftovers == []


def test_login_page_is_chinese_by_default_and_english_on_request(world, browser):
    html = _html(browser.get("/login"))
    assert '<html lang="zh-CN">' in html
    assert "登录道德银行" in html and "用户名" in html and "密码" in html
    assert 'href="?lang=en">English</a>' in html

    html = _html(browser.get("/login?lang=en"))
    _assert_english(html, "Log in to Moral Bank", "Username", "Password", "<title>Log in · Moral Bank</title>")
    assert "登录" not in html and "用户名" not in html
    assert 'href="?lang=zh_CN">中文</a>' in html

    html = _html(browser.get("/login"))  # remembered in the session
    assert "Log in to Moral Bank" in html


def test_login_errors_are_english(world, browser):
    browser.get("/login?lang=en")
    html = _html(browser.post("/login", data={"username": "tj_recorder", "password": "wrong-password"}))
    assert "Wrong username or password" in html
    html = _html(browser.post("/login", data={"username": "", "password": ""}))
    assert "Please enter your username" in html and "Please enter your password" in html


def test_pages_are_english_after_choosing_english(world, browser):
    browser.get("/login?lang=en")
    browser.login("tj_recorder")  # the choice survives the fresh session of the login

    html = _html(browser.get("/"))
    _assert_english(
        html, "Home", "Record points", "Batch recording", "Today's entries", "Top 10 this quarter", "Log out"
    )

    household = world.households["tj1"]
    html = _html(browser.get(f"/households/{household.id}"))
    _assert_english(
        html, "Passbook entries", "Points balance", "Redeemable points", "Head of household", "Print passbook"
    )
    assert household.head_name in html  # data stays as entered

    html = _html(browser.get("/record"))
    _assert_english(html, "Household no. or head's name", "Evidence photo", "Please choose a rule", "Quantity")
    assert "义务投工投劳" in html  # a rule's name is data


def test_flash_and_field_messages_follow_the_language(world, browser):
    browser.get("/login?lang=en")
    browser.login("tj_recorder")
    household, rule = world.households["tj2"], world.rules["tj_school"]
    day = local_today("Asia/Shanghai").isoformat()
    r = browser.post(
        "/record", data={"household": household.number, "rule_id": rule.id, "quantity": 1, "occurred_on": day}
    )
    assert r.status_code == 302
    html = _html(browser.get(r.headers["Location"]))
    assert f"Recorded +3 for {household.number} {household.head_name}; balance now 103" in html
    _assert_english(html, "Just recorded: ", "View passbook")

    r = browser.post("/record", data={"household": "TJ-999", "rule_id": rule.id, "quantity": 1, "occurred_on": day})
    assert r.status_code == 422
    assert "No household in this village with number or head “TJ-999”" in r.get_data(as_text=True)


def test_switching_back_to_chinese(world, browser):
    browser.get("/login?lang=en")
    browser.login("tj_recorder")
    assert "Log out" in _html(browser.get("/"))

    html = _html(browser.get("/?lang=zh_CN"))
    assert '<html lang="zh-CN">' in html
    assert "首页" in html and "今日记分" in html and "退出" in html
    assert "Today's entries" not in html and "Log out" not in html

    html = _html(browser.get(f"/households/{world.households['tj1'].id}"))  # remembered
    assert "积分余额" in html and "Points balance" not in html


def test_template_gettext_formats_escapes_and_keeps_plain_labels(app):
    from flask import render_template_string

    with app.test_request_context("/"):
        assert render_template_string("{{ _('存折') }}") == "存折"
        assert render_template_string("{{ _('100%% 完成') }}") == "100% 完成"  # always %-formatted
        assert render_template_string("{{ _('第 %(n)s 名', n='<b>') }}") == "第 &lt;b&gt; 名"
        assert render_template_string("{{ _('<i>') }}") == "<i>"  # the catalogue's own text is trusted
