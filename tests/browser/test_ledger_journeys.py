"""The ledger's main journeys in real Chromium at phone size: record an entry, approve
one, and import a register."""

from openpyxl import Workbook
from sqlalchemy import func, select

from app.households.models import Household
from app.points.models import Entry
from tests import factories
from tests.browser.conftest import login
from tests.browser.demo_site import watch


def _balance(app, household_id: int) -> int:
    from app.extensions import db

    with app.app_context():
        return db.session.get(Household, household_id).balance


def test_record_entry_then_household_page_shows_new_balance(app, world, live_server, phone):
    household = world.households["tj2"]
    login(phone, live_server, "tj_recorder", factories.PASSWORD)

    phone.goto(f"{live_server}/record")
    phone.fill("#household", "TJ-002")
    phone.locator("#household-suggestions button").first.click()
    assert phone.input_value("#household_id") == str(household.id)
    phone.select_option("#rule_id", str(world.rules["tj_school"].id))
    phone.fill("#quantity", "2")
    phone.click("form.card button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "+6" in phone.content()

    phone.goto(f"{live_server}/households/{household.id}")
    stats = phone.locator(".stat").first.inner_text()
    assert "106" in stats
    assert "参加夜校" in phone.content()
    assert _balance(app, household.id) == 106


def test_approval_journey(app, world, live_server, browser):
    household = world.households["xf2"]
    recorder = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN").new_page()
    login(recorder, live_server, "xf_recorder", factories.PASSWORD)
    recorder.goto(f"{live_server}/record?household_id={household.id}")
    recorder.select_option("#rule_id", str(world.rules["xf_labour"].id))
    recorder.click("form.card button[type=submit]")
    recorder.wait_for_load_state("networkidle")
    assert "待审核" in recorder.content()
    assert _balance(app, household.id) == 100  # pending counts nowhere

    # The author cannot approve their own entry: not even offered in the queue.
    reviewer = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN").new_page()
    login(reviewer, live_server, "xf_reviewer", factories.PASSWORD)
    reviewer.goto(f"{live_server}/approvals")
    row = reviewer.locator("tr", has_text="XF-002")
    row.get_by_role("button", name="通过").click()
    reviewer.wait_for_load_state("networkidle")
    assert _balance(app, household.id) == 105

    reviewer.goto(f"{live_server}/households/{household.id}")
    assert "105" in reviewer.locator(".stat").first.inner_text()
    recorder.context.close()
    reviewer.context.close()


def test_enter_in_the_bulk_reason_rejects_the_ticked_entries_and_never_approves(app, world, live_server, phone):
    """A phone's keyboard "Go" (Enter) submits the bulk bar with its first button: the
    reason typed is for a rejection, so Enter must reject, not approve."""
    from app.extensions import db
    from app.points import services as points
    from tests.factories import NOW

    with app.app_context():
        for key in ("xf1", "xf2"):
            points.record_entry(
                db.session,
                world.actor("xf_recorder"),
                household_id=world.households[key].id,
                rule_id=world.rules["xf_labour"].id,
                occurred_on=NOW.date(),
                today=NOW.date(),
                now=NOW,
            )
        db.session.commit()
    login(phone, live_server, "xf_reviewer", factories.PASSWORD)
    phone.goto(f"{live_server}/approvals")
    for box in phone.locator("input[name=entry_ids]").all():
        box.check()
    phone.fill("#bulk input[name=reason]", "活动取消")
    phone.press("#bulk input[name=reason]", "Enter")
    phone.wait_for_load_state("networkidle")
    assert "已驳回 2 条：" in phone.content()
    with app.app_context():
        statuses = db.session.scalars(select(Entry.status).where(Entry.kind == "rule")).all()
    assert statuses == ["rejected", "rejected"]
    assert _balance(app, world.households["xf1"].id) == 100


def _register(path, rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["户号", "户主", "地址", "电话", "家庭成员"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_import_refuses_a_bad_file_then_takes_a_clean_one(app, world, live_server, phone, tmp_path):
    from app.extensions import db

    def count():
        with app.app_context():
            return db.session.scalar(select(func.count(Household.id)).where(Household.village_id == world.a.id))

    before = count()
    bad = _register(
        tmp_path / "bad.xlsx",
        [
            ["TJ-101", "李秀英", "东组1号", "13800000001", "王强:配偶"],
            ["TJ-102", "", "东组2号", "13800000002", ""],  # line 3: no head
            ["TJ-103", "赵德明", "东组3号", "12345", ""],  # line 4: bad phone
        ],
    )
    problems = watch(phone)  # the preview and its errors keep the CSP
    login(phone, live_server, "tj_village_admin", factories.PASSWORD)
    phone.goto(f"{live_server}/households/import")
    phone.set_input_files("input[type=file]", str(bad))
    phone.get_by_role("button", name="上传并检查").click()
    phone.wait_for_load_state("networkidle")
    text = phone.content()
    assert "没有导入任何一户" in text
    assert "第 3 行" in text and "第 4 行" in text
    assert count() == before

    good = _register(
        tmp_path / "good.xlsx",
        [
            ["TJ-101", "李秀英", "东组1号", "13800000001", "王强:配偶"],
            ["TJ-102", "周桂兰", "东组2号", "13800000002", ""],
        ],
    )
    phone.set_input_files("input[type=file]", str(good))
    phone.get_by_role("button", name="上传并检查").click()
    phone.wait_for_load_state("networkidle")
    phone.get_by_role("button", name="确认导入 2 户").click()
    phone.wait_for_load_state("networkidle")
    assert count() == before + 2
    with app.app_context():
        new = db.session.scalar(select(Household).where(Household.number == "TJ-101"))
        assert new.balance == 100 and new.members[0].name == "王强"
        assert db.session.scalar(select(func.count(Entry.id)).where(Entry.household_id == new.id)) == 1
    problems = [p for p in problems if "422" not in p]  # the refused file's answer, as it should be
    assert problems == [], "\n".join(problems)


def test_a_batch_shows_its_result_on_a_phone(app, world, live_server, phone):
    """The batch's result page (shown only after a submit) keeps the CSP too."""
    problems = watch(phone)
    login(phone, live_server, "tj_recorder", factories.PASSWORD)
    phone.goto(f"{live_server}/batch")
    phone.select_option("#rule_id", str(world.rules["tj_school"].id))
    for key in ("tj1", "tj3"):
        phone.check(f"input[name=household_ids][value='{world.households[key].id}']")
    phone.get_by_role("button", name="提交批量记分").click()
    phone.wait_for_load_state("networkidle")
    assert "/batch/result" in phone.url
    assert _balance(app, world.households["tj1"].id) == 103 == _balance(app, world.households["tj3"].id)
    assert problems == [], "\n".join(problems)
