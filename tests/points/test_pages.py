"""The points pages as officials use them: record, batch, approve, reverse, rules."""

import re
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.clock import local_today, utcnow
from app.households import services as households
from app.households.models import Household
from app.points import services as points
from app.points.models import Entry, Rule
from app.scope import Actor
from tests import factories


def text(response) -> str:
    return response.get_data(as_text=True)


def entry_count(session) -> int:
    return session.scalar(select(func.count(Entry.id)))


def balance(session, household) -> int:
    session.expire_all()
    return session.get(Household, household.id).balance


def today():
    return local_today("Asia/Shanghai")


def record(session, world, username, household, rule, **extra) -> Entry:
    entry = points.record_entry(
        session,
        world.actor(username),
        household_id=household.id,
        rule_id=rule.id,
        occurred_on=today(),
        today=today(),
        now=utcnow(),
        **extra,
    )
    session.commit()
    return entry


def jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (16, 12), (180, 40, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def login(auth):
    """Log in as someone else (logging out first: the test client shares one app context)."""

    def as_(username):
        auth.logout()
        r = auth.login(username)
        assert r.status_code == 302, username
        return auth.client

    return as_


def test_logged_out_goes_to_login(world, client):
    r = client.get("/")
    assert r.status_code == 302
    assert "/login" in r.headers["Location"]


def test_resident_is_sent_to_the_household_page(world, login):
    client = login("tj_resident")
    r = client.get("/")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/households/{world.households['tj1'].id}")


def test_dashboard_shows_today_pending_and_top_ten(world, session, login):
    record(session, world, "tj_recorder", world.households["tj2"], world.rules["tj_school"])
    client = login("tj_recorder")
    page = text(client.get("/"))
    assert "团结村" in page
    assert "户主tj2" in page and "参加夜校" in page and "+3" in page
    assert "本季度前十" in page
    assert "没有待审核的记录" in page


def test_dashboard_counts_pending_entries(world, session, login):
    record(session, world, "xf_recorder", world.households["xf1"], world.rules["xf_school"])
    client = login("xf_reviewer")
    page = text(client.get("/"))
    assert "去审核（1）" in page
    assert "户主xf1" in page


def test_admin_picks_a_village_first(world, login):
    client = login("admin")
    page = text(client.get("/"))
    assert "选择村" in page and "团结村" in page and "幸福村" in page
    assert "本季度各村户均积分" in page
    page = text(client.get(f"/?village_id={world.b.id}"))
    assert "幸福村" in page and "今日记分" in page


def test_record_page_records_and_the_balance_changes(world, session, login):
    client = login("tj_recorder")
    h = world.households["tj1"]
    assert "参加夜校 +3" in text(client.get("/record"))
    r = client.post(
        "/record",
        data={
            "household": "TJ-001 户主tj1",
            "household_id": str(h.id),
            "rule_id": str(world.rules["tj_school"].id),
            "quantity": "2",
            "occurred_on": today().isoformat(),
            "member_name": "王小明",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert "已为 TJ-001 户主tj1 记分 +6，当前余额 106" in text(r)
    assert f"/households/{h.id}" in text(r)  # a link to the household just scored
    assert balance(session, h) == 106


def test_record_without_javascript_by_typing_the_number(world, session, login):
    client = login("tj_recorder")
    r = client.post(
        "/record",
        data={"household": "TJ-002", "rule_id": world.rules["tj_labour"].id, "quantity": 1, "occurred_on": today()},
    )
    assert r.status_code == 302
    assert balance(session, world.households["tj2"]) == 105


def test_unknown_household_number_is_shown_beside_the_field(world, session, login):
    client = login("tj_recorder")
    before = entry_count(session)
    r = client.post(
        "/record",
        data={"household": "TJ-999", "rule_id": world.rules["tj_labour"].id, "quantity": 1, "occurred_on": today()},
    )
    assert r.status_code == 422
    assert "本村没有户号或户主为“TJ-999”的农户" in text(r)
    assert 'value="TJ-999"' in text(r)  # what was typed stays
    assert entry_count(session) == before


def test_cap_reached_shows_its_message_and_writes_nothing(world, session, login):
    h = world.households["tj1"]
    record(session, world, "tj_recorder", h, world.rules["tj_labour"])
    before = entry_count(session)
    client = login("tj_recorder")
    r = client.post(
        "/record",
        data={
            "household_id": h.id,
            "household": "TJ-001",
            "rule_id": world.rules["tj_labour"].id,
            "quantity": 1,
            "occurred_on": today(),
        },
    )
    assert r.status_code == 409
    assert "本周期已记 1 次，上限 1 次" in text(r) and "已达上限" not in text(r)
    assert entry_count(session) == before
    assert balance(session, h) == 105


def test_the_cap_message_states_used_and_limit_without_contradiction(app):
    from app.errors import CapReached

    with app.test_request_context():
        assert CapReached(cap_count=1, used=1).render_message() == "本周期已记 1 次，上限 1 次"
        # A quantity of 2 where 1 of 3 is used: not "reached", but how many are left.
        assert CapReached(cap_count=3, used=1).render_message() == "本周期已记 1 次，上限 3 次，最多还能记 2 次"
        assert CapReached(cap_count=3, used=1).details == {"cap_count": 3, "used": 1}  # the API's details


def test_evidence_required_without_photo_is_refused(world, session, login):
    client = login("tj_recorder")
    before = entry_count(session)
    r = client.post(
        "/record",
        data={"household": "TJ-001", "rule_id": world.rules["tj_photo"].id, "quantity": 1, "occurred_on": today()},
    )
    assert r.status_code == 409
    assert "该规则要求上传佐证照片" in text(r)
    assert "该规则必须上传佐证照片。" not in text(r)  # the page's own hint would say it twice
    assert entry_count(session) == before


def test_a_photo_is_kept_and_served_back_only_in_scope(world, session, login, app):
    client = login("tj_recorder")
    h = world.households["tj1"]
    photo = jpeg()
    r = client.post(
        "/record",
        data={
            "household": "TJ-001",
            "rule_id": str(world.rules["tj_photo"].id),
            "quantity": "1",
            "occurred_on": today().isoformat(),
            "evidence": (BytesIO(photo), "yard.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    assert balance(session, h) == 115
    entry = session.scalars(select(Entry).where(Entry.household_id == h.id).order_by(Entry.id.desc())).first()
    assert entry.evidence

    served = client.get(f"/evidence/{entry.evidence}")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert Image.open(BytesIO(served.data)).size == Image.open(BytesIO(photo)).size  # re-encoded
    assert "public" not in served.headers.get("Cache-Control", "")

    assert login("tj_resident").get(f"/evidence/{entry.evidence}").status_code == 200  # its own household
    assert login("xf_recorder").get(f"/evidence/{entry.evidence}").status_code == 404
    assert login("tj_recorder").get("/evidence/no-such-photo").status_code == 404


def test_a_file_that_is_not_a_photo_is_refused(world, session, login):
    client = login("tj_recorder")
    before = entry_count(session)
    r = client.post(
        "/record",
        data={
            "household": "TJ-001",
            "rule_id": str(world.rules["tj_photo"].id),
            "quantity": "1",
            "occurred_on": today().isoformat(),
            "evidence": (BytesIO(b"not a picture"), "yard.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "只接受 JPEG 或 PNG 照片" in text(r)
    assert entry_count(session) == before


def test_xf_recorder_cannot_record_for_a_tj_household(world, session, login):
    client = login("xf_recorder")
    tj1 = world.households["tj1"]
    before = entry_count(session)
    r = client.post(
        "/record",
        data={
            "household": "TJ-001",
            "household_id": tj1.id,
            "rule_id": world.rules["xf_school"].id,
            "quantity": 1,
            "occurred_on": today(),
        },
    )
    assert r.status_code == 400
    assert "未找到该户" in text(r)
    assert entry_count(session) == before
    assert balance(session, tj1) == 100
    # Nor by typing the number: it names no household of 幸福村.
    r = client.post(
        "/record",
        data={"household": "TJ-001", "rule_id": world.rules["xf_school"].id, "quantity": 1, "occurred_on": today()},
    )
    assert r.status_code == 422
    assert entry_count(session) == before


def test_in_a_village_with_approval_the_entry_waits(world, session, login):
    client = login("xf_recorder")
    h = world.households["xf1"]
    r = client.post(
        "/record",
        data={"household": "XF-001", "rule_id": world.rules["xf_school"].id, "quantity": 1, "occurred_on": today()},
        follow_redirects=True,
    )
    assert "已为 XF-001 户主xf1 记分 +3，待审核" in text(r)
    assert balance(session, h) == 100


def test_resident_cannot_open_the_record_page(world, login):
    client = login("tj_resident")
    assert client.get("/record").status_code == 403
    assert client.get("/batch").status_code == 403
    assert client.get("/record/lookup?q=TJ").status_code == 403


def test_household_can_be_preselected(world, login):
    client = login("tj_recorder")
    page = text(client.get(f"/record?household_id={world.households['tj2'].id}"))
    assert 'value="TJ-002 户主tj2"' in page
    assert login("xf_recorder").get(f"/record?household_id={world.households['tj2'].id}").status_code == 404


def test_lookup_finds_active_households_of_the_own_village(world, session, login):
    households.move_out(session, world.actor("tj_village_admin"), world.households["tj3"].id, today())
    session.commit()
    client = login("tj_recorder")
    items = client.get("/record/lookup?q=TJ").get_json()["items"]
    assert [i["number"] for i in items] == ["TJ-001", "TJ-002"]
    assert items[0] == {"id": world.households["tj1"].id, "number": "TJ-001", "head_name": "户主tj1", "balance": 100}
    assert client.get("/record/lookup?q=户主tj2").get_json()["items"][0]["number"] == "TJ-002"
    assert login("xf_recorder").get("/record/lookup?q=TJ").get_json()["items"] == []


def test_admin_records_in_the_village_it_chose(world, session, login):
    client = login("admin")
    assert "选择村" in text(client.get("/record"))
    r = client.post(
        f"/record?village_id={world.a.id}",
        data={"household": "TJ-003", "rule_id": world.rules["tj_school"].id, "quantity": 1, "occurred_on": today()},
    )
    assert r.status_code == 302
    assert balance(session, world.households["tj3"]) == 103


def test_batch_records_and_lists_skipped_households(world, session, login):
    labour = world.rules["tj_labour"]
    record(session, world, "tj_recorder", world.households["tj2"], labour)  # tj2 has used today's cap
    extra = factories.household(session, world.admin, world.a, "TJ-004", "户主tj4")
    households.move_out(session, Actor(world.admin), extra.id, today())
    session.commit()
    client = login("tj_recorder")
    page = text(client.get("/batch"))
    assert "TJ-001 户主tj1" in page and "TJ-004" not in page  # moved out: not on the list

    r = client.post(
        "/batch",
        data={
            "rule_id": labour.id,
            "occurred_on": today().isoformat(),
            "note": "清理河道",
            "household_ids": [world.households["tj1"].id, world.households["tj2"].id],
            "numbers": "TJ-003, TJ-999\nTJ-004",
        },
        follow_redirects=True,
    )
    page = text(r)
    assert r.status_code == 200
    assert "批量记分结果" in page
    assert "记分 2 户，略过 3 户" in page
    skipped = page.split("略过（3）")[1]
    assert "户主tj2" in skipped and "已达上限" in skipped
    assert "TJ-999" in skipped and "未找到" in skipped
    assert "户主tj4" in skipped and "已迁出" in skipped
    assert balance(session, world.households["tj1"]) == 105
    assert balance(session, world.households["tj2"]) == 105
    assert balance(session, world.households["tj3"]) == 105


def test_batch_needs_at_least_one_household(world, session, login):
    client = login("tj_recorder")
    before = entry_count(session)
    r = client.post("/batch", data={"rule_id": world.rules["tj_school"].id, "occurred_on": today().isoformat()})
    assert r.status_code == 422
    assert "请至少选择一户" in text(r)
    r = client.post(
        "/batch",
        data={"rule_id": world.rules["tj_school"].id, "occurred_on": today().isoformat(), "numbers": "XF-001"},
    )
    assert r.status_code == 422
    assert "未找到户号：XF-001" in text(r)
    assert entry_count(session) == before


@pytest.fixture
def both(world, session):
    """A 幸福村 official who both records and reviews."""
    user = factories.user(session, "xf_both", ["recorder", "reviewer"], world.b)
    session.commit()
    world.users["xf_both"] = user
    return user


def test_queue_approves_an_entry(world, session, login):
    h = world.households["xf1"]
    e = record(session, world, "xf_recorder", h, world.rules["xf_school"], note="夜校签到")
    client = login("xf_reviewer")
    page = text(client.get("/approvals"))
    assert "户主xf1" in page and "参加夜校" in page and "夜校签到" in page and "xf_recorder" in page
    r = client.post(f"/approvals/{e.id}/approve", follow_redirects=True)
    assert "已通过：XF-001 户主xf1 参加夜校 +3" in text(r)
    assert "没有待审核的记录" in text(r)
    assert balance(session, h) == 103


def test_reject_needs_a_reason(world, session, login):
    h = world.households["xf2"]
    e = record(session, world, "xf_recorder", h, world.rules["xf_school"])
    client = login("xf_reviewer")
    r = client.post(f"/approvals/{e.id}/reject", data={"reason": "  "})
    assert r.status_code == 422
    assert "请填写驳回理由" in text(r)
    r = client.post(f"/approvals/{e.id}/reject", data={"reason": "当天未到场"}, follow_redirects=True)
    assert "已驳回" in text(r)
    session.expire_all()
    assert session.get(Entry, e.id).status == "rejected"
    assert session.get(Entry, e.id).reject_reason == "当天未到场"
    assert balance(session, h) == 100


def test_own_entries_cannot_be_approved(world, session, login, both):
    e = record(session, world, "xf_both", world.households["xf1"], world.rules["xf_school"])
    client = login("xf_both")
    page = text(client.get("/approvals"))
    assert "不能审核自己录入的记录" in page
    assert f'value="{e.id}" form="bulk"' not in page
    r = client.post(f"/approvals/{e.id}/approve", follow_redirects=True)
    assert "不能审核自己录入的记录" in text(r)
    session.expire_all()
    assert session.get(Entry, e.id).status == "pending"


def _two_pending_and_one_own(session, world):
    """Two entries of xf_recorder's and one of xf_both's (who reviews), pending in 幸福村."""
    school = world.rules["xf_school"]
    return (
        record(session, world, "xf_recorder", world.households["xf1"], school),
        record(session, world, "xf_recorder", world.households["xf2"], school),
        record(session, world, "xf_both", world.households["xf3"], school),
    )


def test_bulk_approve_approves_the_others_and_lists_the_refused(world, session, login, both):
    first, second, own = _two_pending_and_one_own(session, world)
    client = login("xf_both")
    r = client.post("/approvals/bulk", data={"entry_ids": [first.id, own.id, second.id]}, follow_redirects=True)
    page = text(r)
    assert "已通过 2 条：" in page  # each named, then each left and why
    assert "未处理 XF-003 户主xf3 参加夜校 +3：不能审核自己录入的记录" in page
    session.expire_all()
    assert [session.get(Entry, i).status for i in (first.id, second.id, own.id)] == ["approved", "approved", "pending"]
    assert balance(session, world.households["xf1"]) == 103


def test_bulk_approve_with_nothing_ticked(world, login):
    client = login("xf_reviewer")
    r = client.post("/approvals/bulk", data={}, follow_redirects=True)
    assert "请先勾选要通过的记录" in text(r)


def test_bulk_reject_rejects_the_others_with_one_reason_and_lists_the_refused(world, session, login, both):
    first, second, own = _two_pending_and_one_own(session, world)
    client = login("xf_both")
    assert "批量驳回" in text(client.get("/approvals"))
    r = client.post(
        "/approvals/bulk-reject",
        data={"entry_ids": [first.id, own.id, second.id], "reason": "活动取消，重复录入"},
        follow_redirects=True,
    )
    page = text(r)
    assert "已驳回 2 条：" in page
    assert "未处理 XF-003 户主xf3 参加夜校 +3：不能审核自己录入的记录" in page
    session.expire_all()
    assert [session.get(Entry, i).status for i in (first.id, second.id, own.id)] == ["rejected", "rejected", "pending"]
    assert {session.get(Entry, i).reject_reason for i in (first.id, second.id)} == {"活动取消，重复录入"}
    assert balance(session, world.households["xf1"]) == 100  # a rejected entry never counts


def test_bulk_reject_without_a_reason_rejects_nothing(world, session, login):
    e = record(session, world, "xf_recorder", world.households["xf1"], world.rules["xf_school"])
    client = login("xf_reviewer")
    r = client.post("/approvals/bulk-reject", data={"entry_ids": [e.id], "reason": "  "})
    assert r.status_code == 422
    page = text(r)
    assert "请填写驳回理由" in page and 'class="bulkbar has-error"' in page
    session.expire_all()
    assert session.get(Entry, e.id).status == "pending"
    assert "请先勾选要驳回的记录" in text(
        client.post("/approvals/bulk-reject", data={"reason": "x"}, follow_redirects=True)
    )


def test_recorder_cannot_open_the_queue(world, login):
    assert login("tj_recorder").get("/approvals").status_code == 403


def test_reverse_works_once(world, session, login):
    h = world.households["tj1"]
    e = record(session, world, "tj_recorder", h, world.rules["tj_school"])
    assert balance(session, h) == 103
    assert login("tj_recorder").get(f"/entries/{e.id}/reverse").status_code == 403
    assert login("xf_reviewer").get(f"/entries/{e.id}/reverse").status_code == 404

    client = login("tj_reviewer")
    page = text(client.get(f"/entries/{e.id}/reverse"))
    assert "参加夜校" in page and "户主tj1" in page
    r = client.post(f"/entries/{e.id}/reverse", data={"reason": ""})
    assert r.status_code == 422
    assert "请填写理由" in text(r)

    r = client.post(f"/entries/{e.id}/reverse", data={"reason": "录错了户"})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/households/{h.id}")
    assert balance(session, h) == 100

    r = client.post(f"/entries/{e.id}/reverse", data={"reason": "再来一次"})
    assert r.status_code == 409
    assert "该记录已被冲正" in text(r)
    assert balance(session, h) == 100


def test_rules_are_grouped_by_category(world, login):
    client = login("tj_village_admin")
    page = text(client.get("/rules"))
    for category in ("遵纪守法", "移风易俗", "勤劳致富", "清洁卫生", "家庭文明", "邻里和睦", "遵守公德", "志愿服务"):
        assert category in page
    assert "每天最多 1 次" in page and "一票否决" in page and "须上传照片" in page
    assert "新增规则" in page and "载入标准积分细则" in page
    recorder_page = text(login("tj_recorder").get("/rules"))
    assert "义务投工投劳" in recorder_page and "新增规则" not in recorder_page
    assert login("tj_resident").get("/rules").status_code == 403
    assert login("tj_recorder").get("/rules/new").status_code == 403


def test_create_a_rule(world, session, login):
    client = login("tj_village_admin")
    r = client.post(
        "/rules/new",
        data={
            "name": "照顾孤寡老人",
            "code": "FAM-CARE",
            "category": "家庭文明",
            "points": "10",
            "cap_period": "month",
            "cap_count": "2",
            "active": "y",
        },
        follow_redirects=True,
    )
    assert "已添加规则：照顾孤寡老人" in text(r)
    assert "每月最多 2 次" in text(r)
    rule = session.scalar(select(Rule).where(Rule.village_id == world.a.id, Rule.code == "FAM-CARE"))
    assert (rule.points, rule.cap_period, rule.cap_count, rule.active) == (10, "month", 2, True)


def test_rule_errors_are_shown_beside_their_fields(world, session, login):
    client = login("tj_village_admin")
    r = client.post(
        "/rules/new",
        data={"name": "", "code": "VOL-LABOUR", "category": "志愿服务", "points": "0", "cap_period": "day"},
    )
    assert r.status_code == 422
    page = text(r)
    assert "分值须为 -1000 到 1000 之间的非零整数" in page
    assert 'value="VOL-LABOUR"' in page
    r = client.post("/rules/new", data={"name": "重复", "code": "VOL-LABOUR", "category": "志愿服务", "points": "5"})
    assert r.status_code == 422
    assert "该村已有此编码的规则" in text(r)
    assert session.scalar(select(func.count(Rule.id)).where(Rule.village_id == world.a.id)) == 4


def test_a_missing_value_does_not_hide_the_rules_other_mistakes(world, session, login):
    r = login("tj_village_admin").post(
        "/rules/new", data={"name": "", "code": "X", "category": "", "points": "", "cap_period": "day"}
    )
    assert r.status_code == 422
    page = text(r)
    assert "请填写分值" in page  # the form's own
    assert "上限周期和上限次数须同时填写" in page and page.count("必填") >= 2  # the rule's, in the same round
    assert session.scalar(select(func.count(Rule.id)).where(Rule.village_id == world.a.id)) == 4


def test_editing_a_rule_keeps_recorded_entries(world, session, login):
    school = world.rules["tj_school"]
    e = record(session, world, "tj_recorder", world.households["tj1"], school)
    client = login("tj_village_admin")
    page = text(client.get(f"/rules/{school.id}/edit"))
    assert "已经记录的积分保持原样" in page and 'value="参加夜校"' in page
    r = client.post(
        f"/rules/{school.id}/edit",
        data={"name": "参加农牧民夜校", "code": "WORK-SCHOOL", "category": "勤劳致富", "points": "4", "active": "y"},
        follow_redirects=True,
    )
    assert "已保存规则：参加农牧民夜校" in text(r)
    session.expire_all()
    assert session.get(Rule, school.id).points == 4
    assert session.get(Entry, e.id).points == 3
    assert balance(session, world.households["tj1"]) == 103
    assert login("xf_village_admin").get(f"/rules/{school.id}/edit").status_code == 404


def test_deactivate_and_activate_a_rule(world, session, login):
    school = world.rules["tj_school"]
    client = login("tj_village_admin")
    r = client.post(f"/rules/{school.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "已停用：参加夜校" in text(r)
    session.expire_all()
    assert session.get(Rule, school.id).active is False
    assert "参加夜校 +3" not in text(login("tj_recorder").get("/record"))
    client = login("tj_village_admin")
    client.post(f"/rules/{school.id}/active", data={"active": "1"})
    session.expire_all()
    assert session.get(Rule, school.id).active is True


def test_load_the_standard_sheet(world, session, login):
    client = login("tj_village_admin")
    r = client.post("/rules/standard", follow_redirects=True)
    added = session.scalar(select(func.count(Rule.id)).where(Rule.village_id == world.a.id)) - 4
    assert added > 10
    assert f"已载入 {added} 条标准积分细则" in text(r)
    r = client.post("/rules/standard", follow_redirects=True)
    assert "标准积分细则已全部载入，没有新增" in text(r)


def test_a_refused_record_lists_every_mistake_atop_and_asks_for_the_photo_again(world, session, login):
    client = login("tj_recorder")
    r = client.post(
        "/record",
        data={
            "household": "TJ-001",
            "rule_id": "",
            "quantity": "0",
            "occurred_on": "",
            "evidence": (BytesIO(jpeg()), "yard.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    page = text(r)
    summary = page[page.index("data-error-summary") : page.index("</div>", page.index("data-error-summary"))]
    for label in ("规则", "数量", "日期"):
        assert f">{label}</a>：" in summary, label
    assert "请修改以下 4 处后再提交" in summary
    assert "照片“yard.jpg”没有保存：请重新选择照片。" in summary
    assert page.count("照片“yard.jpg”没有保存") == 2  # atop and beside the photo field
    assert 'value="TJ-001"' in page  # what was typed is kept


def test_a_refused_record_without_a_photo_does_not_ask_for_one(world, session, login):
    r = login("tj_recorder").post("/record", data={"household": "TJ-001", "quantity": "1"})
    assert r.status_code == 422
    assert "data-error-summary" in text(r) and "重新选择照片。</li>" not in text(r)
    assert "data-error-summary" not in text(login("tj_recorder").get("/record"))


def test_veto_rules_are_marked_in_the_rule_picker_and_in_the_queue(world, session, login):
    page = text(login("tj_recorder").get("/record"))
    options = {int(v): tag + label for tag, v, label in re.findall(r'(<option[^>]*value="(\d+)"[^>]*>)([^<]*)<', page)}
    gamble, labour = options[world.rules["tj_gamble"].id], options[world.rules["tj_labour"].id]
    assert 'data-veto="1"' in gamble and gamble.endswith("· 一票否决")
    assert "data-veto" not in labour and "一票否决" not in labour

    record(session, world, "xf_recorder", world.households["xf1"], world.rules["xf_gamble"])
    record(session, world, "xf_recorder", world.households["xf2"], world.rules["xf_labour"])
    session.commit()
    queue = text(login("xf_reviewer").get("/approvals"))
    rows = {row.split("</tr>")[0] for row in queue.split('<tr id="entry-')[1:]}
    assert [("badge veto" in row) for row in sorted(rows, key=lambda r: "参与赌博" not in r)] == [True, False]
