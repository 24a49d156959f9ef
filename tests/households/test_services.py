"""Household registration and register imports, without HTTP."""

import io
import zipfile
from datetime import date
from functools import partial

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.errors import BadReference, Forbidden, NotFound, ValidationFailed
from app.households import register, services
from app.households.models import Household
from app.points import services as points
from app.points.models import Entry
from app.points.proof import verify
from tests.factories import NOW

TODAY = date(2026, 11, 20)


def csv_bytes(*lines: str, encoding="utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def households_of(session, village) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(Household.number).where(Household.village_id == village.id)))


def test_enroll_household_opens_the_account(world, session):
    h = points.enroll_household(
        session,
        world.actor("tj_village_admin"),
        world.a.id,
        {"number": "TJ-009", "head_name": "王秀英", "members": [{"name": "王一", "relation": "子"}]},
        today=TODAY,
        now=NOW,
    )
    assert h.balance == 100 and h.entry_count == 1
    assert [m.name for m in h.members] == ["王一"]
    opening = session.query(Entry).filter_by(household_id=h.id).one()
    assert (opening.kind, opening.points, opening.occurred_on, opening.recorded_by_id) == (
        "opening",
        100,
        TODAY,
        world.users["tj_village_admin"].id,
    )
    assert verify(session) == []


def test_enroll_uses_the_villages_base_points(world, session):
    world.b.base_points = 30
    h = points.enroll_household(
        session, world.actor("admin"), world.b.id, {"number": "XF-009", "head_name": "某"}, today=TODAY, now=NOW
    )
    assert h.balance == 30


def test_enroll_scope(world, session):
    with pytest.raises(BadReference) as exc:
        points.enroll_household(
            session,
            world.actor("tj_village_admin"),
            world.b.id,
            {"number": "9", "head_name": "某"},
            today=TODAY,
            now=NOW,
        )
    assert exc.value.details == {"field": "village_id"}
    with pytest.raises(Forbidden):
        points.enroll_household(
            session, world.actor("tj_recorder"), world.a.id, {"number": "9", "head_name": "某"}, today=TODAY, now=NOW
        )


def test_duplicate_number_is_refused_per_village(world, session):
    with pytest.raises(ValidationFailed) as exc:
        points.enroll_household(
            session, world.actor("admin"), world.a.id, {"number": "TJ-001", "head_name": "某"}, today=TODAY, now=NOW
        )
    assert "number" in exc.value.details
    # The same number in another village is fine.
    h = points.enroll_household(
        session, world.actor("admin"), world.b.id, {"number": "TJ-001", "head_name": "某"}, today=TODAY, now=NOW
    )
    assert h.village_id == world.b.id


def test_a_number_differing_only_in_case_is_taken(world, session):
    """The counter finds ``tj-001`` typed for ``TJ-001``: two such numbers would be ambiguous."""
    with pytest.raises(ValidationFailed) as exc:
        points.enroll_household(
            session, world.actor("admin"), world.a.id, {"number": "tj-001", "head_name": "某"}, today=TODAY, now=NOW
        )
    assert "number" in exc.value.details
    with pytest.raises(ValidationFailed):
        services.update_household(session, world.actor("admin"), world.households["tj2"].id, {"number": "Tj-001"})
    data = csv_bytes("户号,户主", "tj-001,某", "a-1,甲", "A-1,乙")
    preview = register.parse_import(session, world.a.id, "register.csv", data)
    assert [line for line, _ in preview.errors] == [2, 4]
    assert [r["number"] for r in preview.rows] == ["a-1"]


def test_validate_household_cleans(world):
    out = services.validate_household(
        {"number": " 12 ", "head_name": " 张三 ", "phone": "138 1234 5678", "address": "  ", "members": []}
    )
    assert out == {"number": "12", "head_name": "张三", "phone": "13812345678", "address": None, "members": []}
    assert services.validate_household({"phone": "0836-1234567"}, partial=True) == {"phone": "0836-1234567"}


def test_update_and_move_out(world, session):
    admin = world.actor("tj_village_admin")
    h = world.households["tj2"]
    services.update_household(
        session, admin, h.id, {"head_name": "新户主", "members": [{"name": "甲", "relation": "妻"}]}
    )
    assert h.head_name == "新户主" and [m.relation for m in h.members] == ["妻"]
    with pytest.raises(ValidationFailed):
        services.update_household(session, admin, h.id, {"number": "TJ-001"})
    with pytest.raises(NotFound):
        services.update_household(session, admin, world.households["xf1"].id, {"head_name": "x"})
    services.move_out(session, admin, h.id, TODAY)
    services.move_out(session, admin, h.id, date(2026, 12, 1))
    assert h.moved_out_on == TODAY


def test_search_excludes_moved_out_on_request(world, session):
    services.move_out(session, world.actor("admin"), world.households["tj3"].id, TODAY)
    numbers = [h.number for h in session.scalars(services.search(world.a.id, "", include_moved_out=False))]
    assert numbers == ["TJ-001", "TJ-002"]
    assert len(session.scalars(services.search(world.a.id, "")).all()) == 3


def test_parse_import_names_every_bad_line(world, session):
    data = csv_bytes(
        "户号,户主,电话,家庭成员",
        "101,张三,13800000001,张小三:子;李四:妻",
        ",无户号,,",
        "102,,,",
        "103,王五,12345,",
        "TJ-001,已存在,,",
        "101,重复,,",
        ",,,",
        "104,赵六,,",
    )
    preview = register.parse_import(session, world.a.id, "register.csv", data)
    assert not preview.ok
    lines = [line for line, _ in preview.errors]
    assert lines == [3, 4, 5, 6, 7]
    messages = dict(preview.errors)
    assert "户号" in messages[3]
    assert "户主" in messages[4]
    assert "电话" in messages[5]
    assert "TJ-001" in messages[6]
    assert "2" in messages[7]  # duplicates line 2
    assert [r["number"] for r in preview.rows] == ["101", "104"]
    assert preview.rows[0]["members"] == [{"name": "张小三", "relation": "子"}, {"name": "李四", "relation": "妻"}]
    assert preview.rows[0]["line"] == 2


def test_parse_import_missing_columns_and_empty_files(world, session):
    preview = register.parse_import(session, world.a.id, "r.csv", csv_bytes("姓名,电话", "张三,1"))
    assert preview.errors and preview.errors[0][0] == 1 and "户号" in preview.errors[0][1]
    assert register.parse_import(session, world.a.id, "r.csv", b"").errors[0][0] == 1
    only_header = register.parse_import(session, world.a.id, "r.csv", csv_bytes("户号,户主"))
    assert only_header.errors == [(2, only_header.errors[0][1])]
    assert not only_header.ok


def test_parse_import_reads_gb18030_and_xlsx(world, session):
    preview = register.parse_import(
        session, world.a.id, "r.csv", csv_bytes("户号,户主", "201,钱七", encoding="gb18030")
    )
    assert preview.ok and preview.rows[0]["head_name"] == "钱七"
    data = xlsx_bytes([("户号", "户主姓名", "联系电话"), (202, "孙八", None), ("203", "周九", "13900000000")])
    preview = register.parse_import(session, world.a.id, "r.xlsx", data)
    assert preview.ok, preview.errors
    assert [(r["number"], r["head_name"]) for r in preview.rows] == [("202", "孙八"), ("203", "周九")]


@pytest.mark.parametrize(
    "filename, data", [("r.txt", b"x"), ("r.xlsx", b"not a workbook"), ("r.csv", b"\xff\xfe\x00\xd8")]
)
def test_parse_import_refuses_unreadable_files(world, session, filename, data):
    with pytest.raises(ValidationFailed) as exc:
        register.parse_import(session, world.a.id, filename, data)
    assert "file" in exc.value.details


def _truncated_sheet() -> bytes:
    """A workbook that opens, but whose sheet's XML ends mid-tag: read-only openpyxl only
    finds out while reading its rows."""
    good = xlsx_bytes([("户号", "户主"), ("301", "好户")])
    source, out = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for item in source.infolist():
            body = source.read(item.filename)
            broken.writestr(item, body[: len(body) // 2] if item.filename == "xl/worksheets/sheet1.xml" else body)
    return out.getvalue()


@pytest.mark.parametrize(
    "filename, data",
    [
        ("r.xlsx", _truncated_sheet()),
        ("r.csv", csv_bytes("户号,户主", "301," + "长" * 140_000)),  # past the csv module's 128 KiB cell
    ],
)
def test_parse_import_names_a_file_broken_past_its_first_bytes(world, session, filename, data):
    with pytest.raises(ValidationFailed) as exc:
        register.parse_import(session, world.a.id, filename, data)
    assert "file" in exc.value.details


def test_parse_import_names_a_row_with_a_nul(world, session):
    preview = register.parse_import(session, world.a.id, "r.csv", csv_bytes("户号,户主", "301,好户", "302,王\x00五"))
    assert not preview.ok
    assert [line for line, _ in preview.errors] == [3]
    assert "NUL" in preview.errors[0][1]


def import_file(session, actor, village_id, filename, data, *, commit):
    enroll = partial(points.enroll_household, session, actor, today=TODAY, now=NOW)
    return register.import_households(session, actor, village_id, filename, data, commit=commit, enroll=enroll)


def test_import_with_a_bad_row_writes_nothing(world, session):
    before = households_of(session, world.a)
    entries = session.query(Entry).count()
    data = csv_bytes("户号,户主", "301,好户", "302,")
    preview, created = import_file(session, world.actor("tj_village_admin"), world.a.id, "r.csv", data, commit=True)
    assert created == [] and not preview.ok
    session.commit()
    assert households_of(session, world.a) == before
    assert session.query(Entry).count() == entries


def test_import_preview_writes_nothing(world, session):
    before = households_of(session, world.a)
    preview, created = import_file(
        session,
        world.actor("tj_village_admin"),
        world.a.id,
        "r.csv",
        csv_bytes("户号,户主", "301,甲"),
        commit=False,
    )
    assert preview.ok and created == []
    session.commit()
    assert households_of(session, world.a) == before


def test_import_enrols_every_row_with_an_opening_entry(world, session):
    data = csv_bytes("户号,户主,家庭成员", "301,甲,甲一:子", "302,乙,")
    preview, created = import_file(session, world.actor("tj_village_admin"), world.a.id, "r.csv", data, commit=True)
    session.commit()
    assert [h.number for h in created] == ["301", "302"]
    assert [h.balance for h in created] == [100, 100]
    assert households_of(session, world.a) == ["301", "302", "TJ-001", "TJ-002", "TJ-003"]
    assert verify(session) == []


def test_import_is_for_village_admins_in_scope(world, session):
    with pytest.raises(Forbidden):
        import_file(session, world.actor("tj_recorder"), world.a.id, "r.csv", b"", commit=False)
    with pytest.raises(NotFound):
        import_file(session, world.actor("tj_village_admin"), world.b.id, "r.csv", b"", commit=False)


def test_export_round_trips_through_import(world, session):
    data = register.export_xlsx(session, world.a.id)
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("户号", "户主")
    assert [r[0] for r in rows[1:]] == ["TJ-001", "TJ-002", "TJ-003"]
    assert [r[5] for r in rows[1:]] == [100, 100, 100]
    # The exported register imports cleanly into another village.
    preview = register.parse_import(session, world.b.id, "r.xlsx", data)
    assert preview.ok and len(preview.rows) == 3
