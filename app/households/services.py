"""Households: registration, members, moving out, search, import and export.

Opening a household's account (its first ledger entry) belongs to the points package,
which calls ``create_household`` here; this package knows nothing of points.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.audit import services as audit
from app.errors import Forbidden, ValidationFailed
from app.households.models import Household, Member
from app.inputs import UNSTORABLE_TEXT
from app.scope import Actor, acting_village_id, household_in_scope, in_villages, require_role, village_in_scope

NUMBER_RE = re.compile(r"^[0-9A-Za-z\-]{1,20}$")
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
MAX_MEMBERS = 30

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


def validate_household(values: dict, *, partial: bool = False) -> dict:
    """Check and clean household fields; raises ValidationFailed naming each field."""
    errors: dict[str, list[str]] = {}
    out: dict = {}
    if not partial or "number" in values:
        number = str(values.get("number") or "").strip()
        if not number:
            errors["number"] = [str(_l("请填写户号"))]
        elif not NUMBER_RE.match(number):
            errors["number"] = [str(_l("户号只能包含数字、字母和连字符，最多 20 位"))]
        out["number"] = number
    if not partial or "head_name" in values:
        head = str(values.get("head_name") or "").strip()
        if not head:
            errors["head_name"] = [str(_l("请填写户主姓名"))]
        elif len(head) > 50:
            errors["head_name"] = [str(_l("姓名太长"))]
        out["head_name"] = head
    if "address" in values:
        address = str(values.get("address") or "").strip()
        if len(address) > 200:
            errors["address"] = [str(_l("地址太长"))]
        out["address"] = address or None
    if "phone" in values:
        phone = re.sub(r"\s", "", str(values.get("phone") or ""))
        if phone and not PHONE_RE.match(phone):
            errors["phone"] = [str(_l("电话号码格式不对"))]
        out["phone"] = phone or None
    if "members" in values:
        members = values.get("members") or []
        cleaned = []
        if not isinstance(members, list) or len(members) > MAX_MEMBERS:
            errors["members"] = [str(_l("家庭成员格式不对"))]
        else:
            for m in members:
                name = str((m or {}).get("name") or "").strip() if isinstance(m, dict) else ""
                relation = str((m or {}).get("relation") or "").strip() if isinstance(m, dict) else ""
                if not name or len(name) > 50 or len(relation) > 20:
                    errors["members"] = [str(_l("每位成员须有姓名（50 字以内）和关系"))]
                    break
                cleaned.append({"name": name, "relation": relation})
        out["members"] = cleaned
    if errors:
        raise ValidationFailed(errors)
    return out


def _number_taken(session: Session, village_id: int, number: str, exclude_id: int | None = None) -> bool:
    """Numbers are unique in a village ignoring case: ``tj-001`` beside ``TJ-001`` would
    make the number typed at the shop counter ambiguous."""
    stmt = select(Household.id).where(
        Household.village_id == village_id, func.upper(Household.number) == number.upper()
    )
    if exclude_id:
        stmt = stmt.where(Household.id != exclude_id)
    return session.scalar(stmt) is not None


def create_household(
    session: Session, actor: Actor, village_id, values: dict, *, field_name: str = "village_id"
) -> Household:
    require_role(actor, "village_admin")
    village = village_in_scope(session, actor, village_id, field=field_name)
    values = validate_household(values)
    if _number_taken(session, village.id, values["number"]):
        raise ValidationFailed({"number": [str(_l("本村已有户号 %(n)s", n=values["number"]))]})
    household = Household(
        village=village,
        village_id=village.id,
        scheme=village.household_scheme,
        number=values["number"],
        head_name=values["head_name"],
        address=values.get("address"),
        phone=values.get("phone"),
        balance=0,
        entry_count=0,
    )
    household.members = [
        Member(name=m["name"], relation=m["relation"], position=i) for i, m in enumerate(values.get("members", []))
    ]
    session.add(household)
    session.flush()
    audit.record(
        session,
        actor,
        "household.create",
        village_id=village.id,
        target=household,
        summary=f"{household.number} {household.head_name}",
    )
    return household


def update_household(session: Session, actor: Actor, household_id: int, values: dict) -> Household:
    require_role(actor, "village_admin")
    household = household_in_scope(session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    values = validate_household(values, partial=True)
    if "number" in values and _number_taken(session, household.village_id, values["number"], household.id):
        raise ValidationFailed({"number": [str(_l("本村已有户号 %(n)s", n=values["number"]))]})
    members = values.pop("members", None)
    changes = audit.diff(household, values)
    if members is not None:
        old = [{"name": m.name, "relation": m.relation} for m in household.members]
        if old != members:
            changes["members"] = [old, members]
            household.members = [
                Member(name=m["name"], relation=m["relation"], position=i) for i, m in enumerate(members)
            ]
    if changes:
        audit.record(
            session,
            actor,
            "household.update",
            village_id=household.village_id,
            target=household,
            summary=f"{household.number} {household.head_name}",
            changes=changes,
        )
    session.flush()
    return household


def move_out(session: Session, actor: Actor, household_id: int, on: date) -> Household:
    """Mark a household moved out: it keeps its passbook and leaves the rankings."""
    require_role(actor, "village_admin")
    household = household_in_scope(session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    if household.moved_out_on is None:
        household.moved_out_on = on
        audit.record(
            session,
            actor,
            "household.move_out",
            village_id=household.village_id,
            target=household,
            summary=f"{household.number} {household.head_name}",
        )
    session.flush()
    return household


def search(village_id: int | None, q: str = "", *, include_moved_out: bool = True):
    stmt = select(Household).order_by(Household.village_id, Household.number)
    stmt = stmt.where(in_villages(Household.village_id, village_id))
    q = (q or "").strip()
    if q:
        # What the user typed is text, not a pattern: % and _ match only themselves.
        q = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{q}%"
        stmt = stmt.where(
            or_(
                Household.number.like(f"{q}%", escape="\\"),
                Household.head_name.like(like, escape="\\"),
                Household.phone.like(like, escape="\\"),
            )
        )
    if not include_moved_out:
        stmt = stmt.where(Household.moved_out_on.is_(None))
    return stmt


# --- import and export ---------------------------------------------------------------


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


def _read_table(filename: str, data: bytes) -> list[list]:
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


def parse_import(session: Session, village_id: int, filename: str, data: bytes) -> ImportPreview:
    """Read a register and name every bad row by its line; writes nothing."""
    table = _read_table(filename, data)
    preview = ImportPreview()
    if not table:
        preview.errors.append((1, str(_l("文件是空的"))))
        return preview
    header = [COLUMNS.get(str(c or "").strip()) for c in table[0]]
    missing = [h for h in ("户号", "户主") if COLUMNS[h] not in header]
    if missing:
        preview.errors.append((1, str(_l("缺少列：%(c)s", c="、".join(missing)))))
        return preview
    existing = {n.upper() for n in session.scalars(select(Household.number).where(Household.village_id == village_id))}
    seen: dict[str, int] = {}
    for line, raw in enumerate(table[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in raw):
            continue
        values = {}
        for key, cell in zip(header, raw):
            if key:
                values[key] = "" if cell is None else str(cell).strip()
        if any(UNSTORABLE_TEXT.search(v) for v in values.values()):
            preview.errors.append((line, str(_l("含有无法保存的字符（如 NUL）"))))
            continue
        if values.get("number", "").endswith(".0"):  # Excel turned 001 into 1.0
            values["number"] = values["number"][:-2]
        values["members"] = parse_members(values.get("members", ""))
        try:
            cleaned = validate_household(values)
        except ValidationFailed as exc:
            for fld, msgs in exc.details.items():
                preview.errors.append((line, f"{_field_label(fld)}：{msgs[0]}"))
            continue
        number, key = cleaned["number"], cleaned["number"].upper()  # unique ignoring case
        if key in existing:
            preview.errors.append((line, str(_l("户号 %(n)s 本村已存在", n=number))))
        elif key in seen:
            preview.errors.append((line, str(_l("户号 %(n)s 与第 %(l)s 行重复", n=number, l=seen[key]))))
        else:
            seen[key] = line
            cleaned["line"] = line
            preview.rows.append(cleaned)
    if not preview.rows and not preview.errors:
        preview.errors.append((2, str(_l("文件中没有户信息"))))
    return preview


def _field_label(name: str) -> str:
    return {
        "number": str(_l("户号")),
        "head_name": str(_l("户主")),
        "address": str(_l("地址")),
        "phone": str(_l("电话")),
        "members": str(_l("家庭成员")),
    }.get(name, name)


def export_xlsx(session: Session, village_id: int) -> bytes:
    """The village register as XLSX, streamed row by row (write-only workbook)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("households")
    ws.append(list(EXPORT_HEADERS))
    stmt = search(village_id).options(selectinload(Household.members)).execution_options(yield_per=2000)
    for h in session.scalars(stmt):
        members = "；".join(f"{m.name}:{m.relation}" if m.relation else m.name for m in h.members)
        ws.append(
            [
                h.number,
                h.head_name,
                h.address or "",
                h.phone or "",
                members,
                h.balance,
                str(_l("已迁出")) if h.moved_out_on else str(_l("在册")),
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- for the pages ----------------------------------------------------------------------

OFFICIAL_ROLES = ("village_admin", "recorder", "reviewer", "clerk")
TEMPLATE_HEADERS = ("户号", "户主", "地址", "电话", "家庭成员")


def list_for(actor: Actor, village_id: int | None, q: str = ""):
    """Households an official may list: its own village's; an admin's choice (or all)."""
    require_role(actor, *OFFICIAL_ROLES)
    return search(acting_village_id(actor, village_id), q)


def find_by_number(session: Session, village_id: int, number: str) -> Household | None:
    """The household a person typed the number of: exactly, else ignoring case (numbers
    are unique that way; of older numbers differing only in case, none is guessed)."""
    number = (number or "").strip()[:20]
    if not number:
        return None
    exact = session.scalar(select(Household).where(Household.village_id == village_id, Household.number == number))
    if exact is not None:
        return exact
    rows = session.scalars(
        select(Household)
        .where(Household.village_id == village_id, func.upper(Household.number) == number.upper())
        .limit(2)
    ).all()
    return rows[0] if len(rows) == 1 else None


def counts_by_village(session: Session) -> dict[int, int]:
    """Households on the register (moved out or not) per village id."""
    rows = session.execute(select(Household.village_id, func.count(Household.id)).group_by(Household.village_id))
    return {vid: n for vid, n in rows}


def export_register(session: Session, actor: Actor, village_id) -> bytes:
    """The register of a village in scope as XLSX; the export of personal data is audited."""
    require_role(actor, "village_admin", "reviewer")
    village = village_in_scope(session, actor, village_id)
    audit.record(session, actor, "household.export", village_id=village.id, summary=f"{village.name} register")
    return export_xlsx(session, village.id)


def import_template_xlsx() -> bytes:
    """An empty register with the import's Chinese headers, and a sheet explaining them."""
    wb = Workbook()
    ws = wb.active
    ws.title = "households"
    ws.append(list(TEMPLATE_HEADERS))
    for column, width in zip("ABCDE", (12, 12, 30, 16, 40)):
        ws.column_dimensions[column].width = width
        # Text cells, so that a number such as 001 keeps its zeros.
        for row in range(2, 1002):
            ws[f"{column}{row}"].number_format = "@"
    help_ws = wb.create_sheet(str(_l("填写说明")))
    for line in (
        (str(_l("户号")), str(_l("必填，本村唯一，只能用数字、字母和连字符，如 001 或 3-12"))),
        (str(_l("户主")), str(_l("必填，户主姓名"))),
        (str(_l("地址")), str(_l("可不填"))),
        (str(_l("电话")), str(_l("可不填；手机 11 位，或座机如 0836-1234567"))),
        (str(_l("家庭成员")), str(_l("可不填；写成 姓名:关系，多人用分号隔开，如 李秀英:妻;王小明:子"))),
    ):
        help_ws.append(list(line))
    help_ws.column_dimensions["A"].width = 12
    help_ws.column_dimensions["B"].width = 70
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
