"""The register as a file: reading an import (every bad row named by its line),
enrolling it, the export of a village's register and the empty template."""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.audit import services as audit
from app.errors import ValidationFailed
from app.households.models import Household
from app.households.services import search, validate_household
from app.inputs import UNSTORABLE_TEXT
from app.scope import Actor, require_role, village_in_scope
from app.spreadsheet import xlsx_bytes

# Import columns: Chinese headers as printed on village registers, English accepted too.
COLUMNS = {
    "户号": "number",
    "number": "number",
    "户主": "head_name",
    "户主姓名": "head_name",
    "head_name": "head_name",
    "地址": "address",
    "address": "address",
    "电话": "phone",
    "联系电话": "phone",
    "phone": "phone",
    "家庭成员": "members",
    "成员": "members",
    "members": "members",
}


EXPORT_HEADERS = ("户号", "户主", "地址", "电话", "家庭成员", "积分余额", "状态")


@dataclass
class ImportPreview:
    rows: list[dict] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def parse_members(text: str) -> list[dict]:
    """``张三:妻;李四:子`` (full- or half-width separators) → members."""
    members = []
    for part in re.split(r"[;；,，、]", text or ""):
        part = part.strip()
        if not part:
            continue
        name, _, relation = part.replace("：", ":").partition(":")
        members.append({"name": name.strip(), "relation": relation.strip()})
    return members


def read_table(filename: str, data: bytes) -> list[list]:
    """The rows of an uploaded .xlsx or .csv file (a ValidationFailed on ``file`` if unreadable)."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        try:  # read-only mode parses a sheet's XML only while its rows are read
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            return [list(r) for r in wb.active.iter_rows(values_only=True)]
        except Exception as exc:  # openpyxl (and the XML and zip parsers) raise many kinds for a broken file
            raise ValidationFailed({"file": [str(_l("无法读取该 XLSX 文件"))]}) from exc
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationFailed({"file": [str(_l("CSV 文件编码无法识别，请存为 UTF-8"))]})
        reader = csv.reader(io.StringIO(text))
        try:
            return list(reader)
        except csv.Error as exc:  # a cell longer than the csv module's limit (128 KiB), a stray NUL
            raise ValidationFailed({"file": [str(_l("CSV 文件第 %(l)s 行无法读取", l=reader.line_num))]}) from exc
    raise ValidationFailed({"file": [str(_l("只支持 .xlsx 或 .csv 文件"))]})


def _clean_row(values: dict) -> tuple[dict | None, list[str]]:
    """A register row's household values, or what is wrong with them."""
    values["members"] = parse_members(values.get("members", ""))
    try:
        return validate_household(values), []
    except ValidationFailed as exc:
        return None, [f"{_field_label(fld)}：{msgs[0]}" for fld, msgs in exc.details.items()]


@dataclass
class TableSpec:
    """What a kind of register file holds, for ``preview_table``: its columns (header →
    field), the headers it must have, how a row is cleaned (``clean(values)`` → cleaned
    values or None, and the problems), and what a number already there or repeated in the
    file is called."""

    columns: dict[str, str]
    required: tuple[str, ...]
    clean: Callable[[dict], tuple[dict | None, list[str]]]
    exists: Callable[[str], str]
    repeated: Callable[[str, int], str]
    empty: str
    existing: set[str] = field(default_factory=set)  # numbers there already, upper case


def preview_table(table: list[list], spec: TableSpec) -> ImportPreview:
    """Read a register table and name every bad row by its line (numbers unique ignoring
    case, in the file and beside ``spec.existing``); writes nothing (``spec.clean`` only
    reads)."""
    preview = ImportPreview()
    if not table:
        preview.errors.append((1, str(_l("文件是空的"))))
        return preview
    header = [spec.columns.get(str(c or "").strip()) for c in table[0]]
    missing = [h for h in spec.required if spec.columns[h] not in header]
    if missing:
        preview.errors.append((1, str(_l("缺少列：%(c)s", c="、".join(missing)))))
        return preview
    seen: dict[str, int] = {}
    for line, raw in enumerate(table[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in raw):
            continue
        values = {key: "" if cell is None else str(cell).strip() for key, cell in zip(header, raw) if key}
        if any(UNSTORABLE_TEXT.search(v) for v in values.values()):
            preview.errors.append((line, str(_l("含有无法保存的字符（如 NUL）"))))
            continue
        if values.get("number", "").endswith(".0"):  # Excel turned 001 into 1.0
            values["number"] = values["number"][:-2]
        cleaned, problems = spec.clean(values)
        if problems:
            preview.errors.extend((line, problem) for problem in problems)
            continue
        number, key = cleaned["number"], cleaned["number"].upper()  # unique ignoring case
        if key in spec.existing:
            preview.errors.append((line, spec.exists(number)))
        elif key in seen:
            preview.errors.append((line, spec.repeated(number, seen[key])))
        else:
            seen[key] = line
            cleaned["line"] = line
            preview.rows.append(cleaned)
    if not preview.rows and not preview.errors:
        preview.errors.append((2, spec.empty))
    return preview


def parse_import(session: Session, village_id: int, filename: str, data: bytes) -> ImportPreview:
    """Read a register and name every bad row by its line; writes nothing."""
    existing = {n.upper() for n in session.scalars(select(Household.number).where(Household.village_id == village_id))}
    spec = TableSpec(
        columns=COLUMNS,
        required=("户号", "户主"),
        clean=_clean_row,
        exists=lambda n: str(_l("户号 %(n)s 本村已存在", n=n)),
        repeated=lambda n, line: str(_l("户号 %(n)s 与第 %(l)s 行重复", n=n, l=line)),
        empty=str(_l("文件中没有户信息")),
        existing=existing,
    )
    return preview_table(read_table(filename, data), spec)


def _field_label(name: str) -> str:
    return {
        "number": str(_l("户号")),
        "head_name": str(_l("户主")),
        "address": str(_l("地址")),
        "phone": str(_l("电话")),
        "members": str(_l("家庭成员")),
    }.get(name, name)


def export_xlsx(session: Session, village_id: int) -> bytes:
    """The village register as XLSX, streamed row by row."""
    stmt = search(village_id).options(selectinload(Household.members)).execution_options(yield_per=2000)
    rows = (
        [
            h.number,
            h.head_name,
            h.address or "",
            h.phone or "",
            "；".join(f"{m.name}:{m.relation}" if m.relation else m.name for m in h.members),
            h.balance,
            str(_l("已迁出")) if h.moved_out_on else str(_l("在册")),
        ]
        for h in session.scalars(stmt)
    )
    return xlsx_bytes(("households", list(EXPORT_HEADERS), rows))


TEMPLATE_HEADERS = ("户号", "户主", "地址", "电话", "家庭成员")


def export_register(session: Session, actor: Actor, village_id) -> bytes:
    """The register of a village in scope as XLSX; the export of personal data is audited."""
    require_role(actor, "village_admin", "reviewer")
    village = village_in_scope(session, actor, village_id)
    audit.record(session, actor, "household.export", village_id=village.id, summary=f"{village.name} 农户名册")
    return export_xlsx(session, village.id)


def template_xlsx(
    sheet: str, headers: tuple[str, ...], widths: tuple[int, ...], help_rows: list[tuple[str, str]]
) -> bytes:
    """An empty register: the import's own (Chinese) ``headers`` as text cells, and a
    sheet explaining each column (``help_rows``: its label and how to fill it in)."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(headers))
    for column, width in zip("ABCDEFGHIJ", widths):
        ws.column_dimensions[column].width = width
        # Text cells, so that a number such as 001 keeps its zeros.
        for row in range(2, 1002):
            ws[f"{column}{row}"].number_format = "@"
    help_ws = wb.create_sheet(str(_l("填写说明")))
    for line in help_rows:
        help_ws.append(list(line))
    help_ws.column_dimensions["A"].width = 12
    help_ws.column_dimensions["B"].width = 70
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def import_template_xlsx() -> bytes:
    """An empty register with the import's Chinese headers, and a sheet explaining them."""
    return template_xlsx(
        "households",
        TEMPLATE_HEADERS,
        (12, 12, 30, 16, 40),
        [
            (str(_l("户号")), str(_l("必填，本村唯一，只能用数字、字母和连字符，如 001 或 3-12"))),
            (str(_l("户主")), str(_l("必填，户主姓名"))),
            (str(_l("地址")), str(_l("可不填"))),
            (str(_l("电话")), str(_l("可不填；手机 11 位，或座机如 0836-1234567"))),
            (str(_l("家庭成员")), str(_l("可不填；写成 姓名:关系，多人用分号隔开，如 李秀英:妻;王小明:子"))),
        ],
    )


def import_households(
    session: Session,
    actor: Actor,
    village_id: int,
    filename: str,
    data: bytes,
    *,
    commit: bool,
    enroll: Callable[[int, dict], Household],
) -> tuple[ImportPreview, list]:
    """Preview a register file; with ``commit`` and a clean file, enrol every row with
    ``enroll(village_id, values)`` (registration and the account the caller opens).

    Nothing is written unless every row is valid.
    """
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id)
    preview = parse_import(session, village.id, filename, data)
    if not commit or not preview.ok:
        return preview, []
    created = []
    for row in preview.rows:
        values = {k: v for k, v in row.items() if k != "line"}
        created.append(enroll(village.id, values))
    audit.record(
        session,
        actor,
        "household.import",
        village_id=village.id,
        summary=f"从 {filename} 导入 {len(created)} 户"[:300],
    )
    return preview, created
