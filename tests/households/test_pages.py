"""The household pages: the register, the passbook, registration, editing, moving out,
import and export, as the people of a village use them."""

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from app.audit.models import AuditLog
from app.clock import local_today, quarter_of, utcnow
from app.households.models import Household
from app.points import decisions
from app.points import evidence as evidence_store
from app.points import services as points

TODAY = local_today("Asia/Shanghai")


def text(response) -> str:
    return response.get_data(as_text=True)


def households(session, village):
    session.expire_all()
    return {h.number: h for h in session.query(Household).filter_by(village_id=village.id)}


def record(session, world, who, household, rule, **kw):
    entry = points.record_entry(
        session,
        world.actor(who),
        household_id=household.id,
        rule_id=rule.id,
        occurred_on=kw.pop("occurred_on", TODAY),
        today=TODAY,
        now=utcnow(),
        **kw,
    )
    session.commit()
    return entry


def test_register_lists_the_village_with_balances(world, auth, client):
    auth.login("tj_recorder")
    r = client.get("/households")
    assert r.status_code == 200
    page = text(r)
    assert "农户" in page
    for n in ("TJ-001", "TJ-002", "TJ-003", "户主tj1"):
        assert n in page
    assert "XF-001" not in page
    assert "共 3 户" in page
    # A recorder neither registers nor imports households.
    assert "登记新农户" not in page and "导入名册" not in page and "导出 Excel" not in page


def test_register_search_by_number_name_and_phone(world, session, auth, client):
    world.households["tj2"].phone = "13900001111"
    session.commit()
    auth.login("tj_recorder")
    page = text(client.get("/households?q=TJ-003"))
    assert "TJ-003" in page and "TJ-001" not in page
    page = text(client.get("/households?q=户主tj2"))
    assert "TJ-002" in page and "TJ-003" not in page
    page = text(client.get("/households?q=0000111"))
    assert "TJ-002" in page and "TJ-001" not in page
    page = text(client.get("/households?q=nobody"))
    assert "没有找到" in page


def test_register_marks_moved_out_households(world, session, auth, client):
    from app.households.services import move_out

    move_out(session, world.actor("tj_village_admin"), world.households["tj3"].id, TODAY)
    session.commit()
    auth.login("tj_village_admin")
    page = text(client.get("/households"))
    assert "已迁出" in page
    assert "登记新农户" in page and "导入名册" in page and "导出 Excel" in page


def test_admin_sees_every_village_and_can_filter(world, auth, client):
    auth.login("admin")
    page = text(client.get("/households"))
    assert "TJ-001" in page and "XF-001" in page
    page = text(client.get(f"/households?village_id={world.b.id}"))
    assert "XF-001" in page and "TJ-001" not in page


def test_an_official_cannot_list_another_village(world, auth, client):
    auth.login("tj_recorder")
    # Another village named is not found, never quietly the official's own (API.md).
    response = client.get(f"/households?village_id={world.b.id}")
    assert response.status_code == 404 and "XF-001" not in text(response)
    assert "TJ-001" in text(client.get("/households"))


def test_a_resident_goes_to_its_own_passbook(world, auth, client):
    auth.login("tj_resident")
    r = client.get("/households")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/households/{world.households['tj1'].id}")


def test_register_a_household_opens_its_account(world, session, auth, client):
    auth.login("tj_village_admin")
    assert "开户基础分 100 分" in text(client.get("/households/new"))
    r = client.post(
        "/households/new",
        data={
            "number": "TJ-050",
            "head_name": "李秀英",
            "address": "团结村东组 3 号",
            "phone": "138 1234 5678",
            "members": "王小明 子\n王小红：女\n\n李奶奶",
        },
    )
    assert r.status_code == 302
    h = households(session, world.a)["TJ-050"]
    assert h.balance == 100 and h.phone == "13812345678"
    assert [(m.name, m.relation) for m in h.members] == [("王小明", "子"), ("王小红", "女"), ("李奶奶", "")]
    page = text(client.get(r.headers["Location"]))
    assert "已登记 TJ-050 户" in page and "李秀英" in page and "开户基础分" in page


def test_mistakes_show_beside_their_fields_and_nothing_is_written(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post(
        "/households/new",
        data={"number": "TJ-060", "head_name": "", "phone": "12345", "members": "王小明 子\n王 小 红 女"},
    )
    assert r.status_code == 422
    page = text(r)
    assert "请填写户主姓名" in page
    assert "电话号码格式不对" in page
    assert "第 2 行" in page
    assert 'value="TJ-060"' in page and 'value="12345"' in page and "王 小 红 女" in page
    assert "TJ-060" not in households(session, world.a)


def test_a_duplicate_number_is_refused_beside_the_number(world, session, auth, client):
    auth.login("tj_village_admin")
    r = client.post("/households/new", data={"number": "TJ-001", "head_name": "张三"})
    assert r.status_code == 422
    assert "本村已有户号 TJ-001" in text(r)
    assert len(households(session, world.a)) == 3


def test_only_a_village_admin_registers_households(world, session, auth, client):
    auth.login("tj_recorder")
    assert client.get("/households/new").status_code == 403
    r = client.post("/households/new", data={"number": "TJ-070", "head_name": "张三"})
    assert r.status_code == 403
    assert "TJ-070" not in households(session, world.a)


def test_admin_picks_a_village_before_registering(world, session, auth, client):
    auth.login("admin")
    page = text(client.get("/households/new"))
    assert "请先选择一个村" in page and "幸福村" in page
    r = client.post(f"/households/new?village_id={world.b.id}", data={"number": "XF-070", "head_name": "赵"})
    assert r.status_code == 302
    assert households(session, world.b)["XF-070"].balance == 100


def test_edit_a_household(world, session, auth, client):
    h = world.households["tj2"]
    auth.login("tj_village_admin")
    page = text(client.get(f"/households/{h.id}/edit"))
    assert 'value="户主tj2"' in page
    r = client.post(
        f"/households/{h.id}/edit",
        data={"number": "TJ-002", "head_name": "王秀英", "address": "", "phone": "", "members": "王大 子"},
    )
    assert r.status_code == 302
    h = households(session, world.a)["TJ-002"]
    assert h.head_name == "王秀英" and [m.name for m in h.members] == ["王大"]
    log = session.query(AuditLog).filter_by(action="household.update").one()
    assert log.changes["head_name"] == ["户主tj2", "王秀英"]


def test_edit_keeps_what_was_typed_on_a_mistake(world, session, auth, client):
    h = world.households["tj2"]
    auth.login("tj_village_admin")
    r = client.post(f"/households/{h.id}/edit", data={"number": "TJ-001", "head_name": "王秀英", "members": ""})
    assert r.status_code == 422
    assert "本村已有户号 TJ-001" in text(r) and 'value="王秀英"' in text(r)
    assert households(session, world.a)["TJ-002"].head_name == "户主tj2"


def test_an_official_cannot_edit_another_village(world, auth, client):
    auth.login("tj_village_admin")
    xf = world.households["xf1"]
    assert client.get(f"/households/{xf.id}/edit").status_code == 404
    assert client.post(f"/households/{xf.id}/edit", data={"number": "X", "head_name": "Y"}).status_code == 404


def test_move_out_needs_a_confirmation(world, session, auth, client):
    h = world.households["tj3"]
    auth.login("tj_village_admin")
    assert "确认迁出" in text(client.get(f"/households/{h.id}/move-out"))
    r = client.post(f"/households/{h.id}/move-out", data={})
    assert r.status_code == 422 and "请勾选确认" in text(r)
    assert households(session, world.a)["TJ-003"].moved_out_on is None
    r = client.post(f"/households/{h.id}/move-out", data={"confirm": "y"})
    assert r.status_code == 302
    assert households(session, world.a)["TJ-003"].moved_out_on is not None
    page = text(client.get(r.headers["Location"]))
    assert "已登记迁出" in page and "不参加排名" in page


def test_a_recorder_cannot_move_a_household_out(world, session, auth, client):
    h = world.households["tj3"]
    auth.login("tj_recorder")
    assert client.post(f"/households/{h.id}/move-out", data={"confirm": "y"}).status_code == 403
    assert households(session, world.a)["TJ-003"].moved_out_on is None


def test_passbook_shows_account_entries_and_standing(world, session, auth, client):
    h = world.households["tj1"]
    record(session, world, "tj_recorder", h, world.rules["tj_labour"], member_name="王小明", note="修水渠")
    school = record(session, world, "tj_recorder", h, world.rules["tj_school"], quantity=2)
    decisions.reverse_entry(session, world.actor("tj_reviewer"), school.id, reason="记错了", now=utcnow())
    session.commit()
    auth.login("tj_recorder")
    r = client.get(f"/households/{h.id}")
    assert r.status_code == 200
    page = text(r)
    assert "户主tj1" in page and "TJ-001" in page and "团结村" in page
    assert "开户基础分" in page and "+100" in page
    assert "义务投工投劳" in page and "王小明" in page and "修水渠" in page and "+5" in page
    assert "参加夜校" in page and "+6" in page and "−6" in page
    assert "已冲正" in page and "冲正第 3 笔" in page and "记错了" in page
    assert "tj_recorder" in page and "tj_reviewer" in page
    assert ">105<" in page  # balance 100 + 5 + 6 − 6
    assert quarter_of(TODAY) in page and "本村第 1 名" in page and "可参评" in page
    assert "打印存折" in page
    # Only reviewers correct entries.
    assert "/reverse" not in page


def test_passbook_shows_pending_and_rejected_entries(world, session, auth, client):
    h = world.households["xf1"]
    record(session, world, "xf_recorder", h, world.rules["xf_labour"])
    rejected = record(session, world, "xf_recorder", h, world.rules["xf_school"])
    decisions.reject_entry(session, world.actor("xf_reviewer"), rejected.id, reason="没有签到表", now=utcnow())
    session.commit()
    auth.login("xf_reviewer")
    page = text(client.get(f"/households/{h.id}"))
    assert "待审核" in page and "已驳回" in page and "没有签到表" in page
    assert ">100<" in page  # neither counts


def test_reviewers_get_a_reverse_link_on_approved_entries(world, session, auth, client):
    h = world.households["tj1"]
    entry = record(session, world, "tj_recorder", h, world.rules["tj_labour"])
    auth.login("tj_reviewer")
    page = text(client.get(f"/households/{h.id}"))
    assert f"/entries/{entry.id}/reverse" in page


def test_a_veto_makes_the_household_ineligible(world, session, auth, client):
    h = world.households["tj2"]
    record(session, world, "tj_recorder", h, world.rules["tj_gamble"])
    auth.login("tj_recorder")
    page = text(client.get(f"/households/{h.id}"))
    assert "一票否决" in page and "−20" in page


def test_passbook_links_evidence_photos(world, session, auth, client, app):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, "PNG")
    ev = evidence_store.store_evidence(
        session, world.actor("tj_recorder"), world.a.id, buf.getvalue(), Path(app.instance_path) / "evidence", 10**6
    )
    h = world.households["tj1"]
    record(session, world, "tj_recorder", h, world.rules["tj_photo"], evidence_id=ev.id)
    auth.login("tj_recorder")
    page = text(client.get(f"/households/{h.id}"))
    assert f"/evidence/{ev.id}" in page and "美丽庭院" in page


def test_passbook_pages_twenty_entries_and_shows_all_for_printing(world, session, auth, client):
    h = world.households["tj1"]
    for _ in range(25):
        record(session, world, "tj_recorder", h, world.rules["tj_school"])
    auth.login("tj_recorder")
    page = text(client.get(f"/households/{h.id}"))
    assert "1 / 2" in page and "开户基础分" not in page
    assert "开户基础分" in text(client.get(f"/households/{h.id}?page=2"))
    page = text(client.get(f"/households/{h.id}?all=1"))
    assert "开户基础分" in page and page.count("参加夜校") == 25


def test_officials_see_address_and_phone_residents_do_not(world, session, auth, client):
    h = world.households["tj1"]
    h.address, h.phone = "东组 9 号", "13700001234"
    session.commit()
    auth.login("tj_clerk")
    page = text(client.get(f"/households/{h.id}"))
    assert "东组 9 号" in page and "13700001234" in page
    auth.logout()
    auth.login("tj_resident")
    r = client.get(f"/households/{h.id}")
    assert r.status_code == 200
    assert "户主tj1" in text(r) and "东组 9 号" not in text(r) and "13700001234" not in text(r)


def test_a_resident_cannot_open_another_household(world, auth, client):
    auth.login("tj_resident")
    assert client.get(f"/households/{world.households['tj2'].id}").status_code == 404
    assert client.get(f"/households/{world.households['xf1'].id}").status_code == 404


def test_an_official_cannot_open_another_village_household(world, auth, client):
    auth.login("tj_village_admin")
    r = client.get(f"/households/{world.households['xf1'].id}")
    assert r.status_code == 404
    assert "户主xf1" not in text(r)
    assert client.get("/households/99999").status_code == 404


def xlsx(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEADER = ["户号", "户主", "地址", "电话", "家庭成员"]


def upload(client, data: bytes, name: str, url="/households/import"):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_import_with_a_bad_row_writes_nothing_and_names_the_line(world, session, auth, client, app):
    auth.login("tj_village_admin")
    data = xlsx(
        [
            HEADER,
            ["TJ-101", "张三", "东组", "13800000001", "李四:妻"],
            ["TJ-001", "重复户", "", "", ""],
            ["TJ-103", "", "", "", ""],
            ["TJ-104", "王五", "", "12345", ""],
        ]
    )
    r = upload(client, data, "名册.xlsx")
    assert r.status_code == 422
    page = text(r)
    assert "没有导入任何一户" in page
    assert "第 3 行" in page and "TJ-001" in page
    assert "第 4 行" in page and "第 5 行" in page and "电话号码格式不对" in page
    assert "确认导入" not in page
    assert len(households(session, world.a)) == 3
    assert not list((Path(app.instance_path) / "imports").glob("*"))


def test_a_clean_file_is_previewed_then_imported(world, session, auth, client, app):
    auth.login("tj_village_admin")
    data = xlsx(
        [
            HEADER,
            ["TJ-101", "张三", "东组", "13800000001", "李四:妻；张小三:子"],
            ["TJ-102", "王五", None, None, None],
        ]
    )
    r = upload(client, data, "名册.xlsx")
    assert r.status_code == 200
    page = text(r)
    assert "确认导入 2 户" in page and "张三" in page and "王五" in page
    assert len(households(session, world.a)) == 3  # a preview writes nothing
    kept = list((Path(app.instance_path) / "imports").glob("*.xlsx"))
    assert len(kept) == 1
    r = client.post("/households/import/confirm", data={"token": kept[0].name, "filename": "名册.xlsx"})
    assert r.status_code == 302
    found = households(session, world.a)
    assert found["TJ-101"].balance == 100 and [m.name for m in found["TJ-101"].members] == ["李四", "张小三"]
    assert "TJ-102" in found
    assert not kept[0].exists()
    assert "已导入 2 户" in text(client.get(r.headers["Location"]))
    # The same token cannot import twice.
    r = client.post("/households/import/confirm", data={"token": kept[0].name, "filename": "名册.xlsx"})
    assert r.status_code == 302 and len(households(session, world.a)) == 5


def test_a_csv_register_imports_too(world, session, auth, client):
    auth.login("tj_village_admin")
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, ["TJ-201", "赵六", "", "", ""]])
    r = upload(client, buf.getvalue().encode("utf-8-sig"), "register.csv")
    assert r.status_code == 200 and "确认导入 1 户" in text(r)
    token = next(p for p in text(r).split('"') if p.endswith(".csv") and len(p) == 36)
    assert client.post("/households/import/confirm", data={"token": token}).status_code == 302
    assert "TJ-201" in households(session, world.a)


def test_admin_imports_into_the_chosen_village(world, session, auth, client, app):
    auth.login("admin")
    assert "请先选择一个村" in text(client.get("/households/import"))
    r = upload(client, xlsx([HEADER, ["XF-101", "孙七"]]), "xf.xlsx", url=f"/households/import?village_id={world.b.id}")
    assert r.status_code == 200
    assert f"/households/import/confirm?village_id={world.b.id}" in text(r)
    token = next((Path(app.instance_path) / "imports").glob("*.xlsx")).name
    r = client.post(f"/households/import/confirm?village_id={world.b.id}", data={"token": token})
    assert r.status_code == 302
    assert "XF-101" in households(session, world.b) and "XF-101" not in households(session, world.a)


@pytest.mark.parametrize("token", ["../../etc/passwd", "abc.xlsx", "0" * 32 + ".exe", ""])
def test_a_forged_token_imports_nothing(world, session, auth, client, token):
    auth.login("tj_village_admin")
    r = client.post("/households/import/confirm", data={"token": token})
    assert r.status_code == 302
    assert "已失效" in text(client.get(r.headers["Location"]))
    assert len(households(session, world.a)) == 3


def test_a_wrong_file_type_is_refused_beside_the_field(world, auth, client):
    auth.login("tj_village_admin")
    r = upload(client, b"hello", "notes.txt")
    assert r.status_code == 422 and "只支持 .xlsx 或 .csv 文件" in text(r)


def test_only_a_village_admin_imports(world, auth, client):
    auth.login("tj_reviewer")
    assert client.get("/households/import").status_code == 403
    assert upload(client, xlsx([HEADER, ["TJ-9", "甲"]]), "a.xlsx").status_code == 403


def test_the_import_template_has_the_chinese_headers(world, auth, client):
    auth.login("tj_village_admin")
    r = client.get("/households/import/template.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in ws[1]] == HEADER


def test_export_opens_in_a_spreadsheet_and_is_audited(world, session, auth, client):
    auth.login("tj_reviewer")
    r = client.get("/households/export.xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("户号", "户主")
    assert [row[0] for row in rows[1:]] == ["TJ-001", "TJ-002", "TJ-003"]
    assert rows[1][5] == 100
    session.expire_all()
    assert session.query(AuditLog).filter_by(action="household.export", village_id=world.a.id).count() == 1


def test_export_is_for_village_admins_and_reviewers(world, auth, client):
    auth.login("tj_recorder")
    assert client.get("/households/export.xlsx").status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.get("/households/export.xlsx").status_code == 302
    rows = list(
        load_workbook(io.BytesIO(client.get(f"/households/export.xlsx?village_id={world.b.id}").data)).active.values
    )
    assert [row[0] for row in rows[1:]] == ["XF-001", "XF-002", "XF-003"]


def post_forms(page: str) -> list[str]:
    return [chunk.split("</form>")[0] for chunk in page.split("<form")[1:] if 'method="post"' in chunk.split(">")[0]]


def test_every_form_carries_a_csrf_token(world, app, auth, client):
    h = world.households["tj1"]
    auth.login("tj_village_admin")
    app.config["WTF_CSRF_ENABLED"] = True
    for url in (
        "/households/new",
        f"/households/{h.id}/edit",
        f"/households/{h.id}/move-out",
        "/households/import",
        "/scheme",
        "/users",
        "/users/new",
        f"/users/{world.users['tj_recorder'].id}/password",
    ):
        forms = post_forms(text(client.get(url)))
        assert len(forms) >= 2, url  # the page's own, and the logout form
        for form in forms:
            assert 'name="csrf_token"' in form, url


def test_a_form_posted_without_its_token_is_refused(world, session, app, auth, client):
    auth.login("tj_village_admin")
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/households/new", data={"number": "TJ-080", "head_name": "甲"}).status_code == 400
    assert "TJ-080" not in households(session, world.a)
    page = text(client.get("/households/new"))
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    r = client.post("/households/new", data={"csrf_token": token, "number": "TJ-080", "head_name": "甲"})
    assert r.status_code == 302
    assert "TJ-080" in households(session, world.a)


def test_the_passbook_page_reads_its_rows_in_a_fixed_number_of_queries(world, session, auth, client):
    """Author, approver and reversal links are joined into the page's query, the members
    into the household's, the ranks into the totals' query: no query per row."""
    from sqlalchemy import event

    from app.clock import local_today
    from app.points import services as points_services
    from tests.factories import NOW

    h = world.households["tj1"]
    day = local_today("Asia/Shanghai")  # in the periods the page stands the household in
    first = None
    for _ in range(25):
        e = points_services.record_entry(
            session,
            world.actor("tj_recorder"),
            household_id=h.id,
            rule_id=world.rules["tj_school"].id,
            occurred_on=day,
            today=day,
            now=NOW,
        )
        first = first or e
    decisions.reverse_entry(session, world.actor("tj_reviewer"), first.id, reason="记错了", now=NOW)
    session.commit()
    auth.login("tj_reviewer")
    statements = []

    def count(*args):
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(f"/households/{h.id}")
        last = client.get(f"/households/{h.id}?page=2")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == last.status_code == 200
    assert "冲正第 2 笔" in page.get_data(as_text=True)  # the reversal is the newest row
    assert "见第 27 笔" in last.get_data(as_text=True)  # its original is on the second page
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 2 * 4, selects  # each: user, household + members, standing, page
