"""The people of a person scheme as a file: an XLSX (or CSV) list of volunteers read
line by line with the household register's machinery, and enrolled only when every
line is right."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.accounts.services import create_account, scheme_village_ids, validate_person
from app.audit import services as audit
from app.errors import NotFound, ValidationFailed
from app.households import services as households
from app.households.models import Household
from app.households.register import ImportPreview, TableSpec, preview_table, read_table, template_xlsx
from app.schemes import services as schemes
from app.schemes.models import Scheme
from app.scope import Actor, require_role
from app.villages.models import Village

# Import columns: Chinese headers as a volunteer list prints them, English accepted too.
COLUMNS = {
    "编号": "number",
    "number": "number",
    "姓名": "name",
    "name": "name",
    "电话": "phone",
    "联系电话": "phone",
    "phone": "phone",
    "户号": "household",
    "所属农户": "household",
    "household": "household",
    "村": "village",
    "所在村": "village",
    "village": "village",
}
TEMPLATE_HEADERS = ("编号", "姓名", "电话", "户号", "村")
FIELD_LABELS = {"number": _l("编号"), "name": _l("姓名"), "phone": _l("电话")}


def person_scheme(session: Session, actor: Actor, scheme_id) -> Scheme:
    """A ``person`` scheme in the actor's scope (404 for any other: its people's pages
    do not exist)."""
    scheme = schemes.scheme_in_scope(session, actor, scheme_id)
    if scheme.account_kind != "person":
        raise NotFound()
    return scheme


def _village(session: Session, scheme: Scheme, text: str) -> tuple[Village | None, str | None]:
    """The village a row names (its code or name) among the scheme's; a village's own
    scheme needs none, and takes only its own."""
    if scheme.village_id is not None:
        own = session.get(Village, scheme.village_id)
        if text and text != own.name and text.upper() != own.code.upper():
            return None, str(
                _l("本方案属于%(own)s，村一栏请留空或填%(own)s（填的是 %(v)s）", own=own.name, v=text[:20])
            )
        return own, None
    if not text:
        return None, None
    found = session.scalars(
        select(Village)
        .where(
            Village.id.in_(sorted(scheme_village_ids(session, scheme))),
            or_(Village.name == text, func.upper(Village.code) == text.upper()),
        )
        .limit(2)
    ).all()
    if len(found) != 1:
        return None, str(_l("村 %(v)s 不在本方案的范围内", v=text[:20]))
    return found[0], None


def _row_cleaner(session: Session, scheme: Scheme):
    def clean(values: dict) -> tuple[dict | None, list[str]]:
        problems = []
        try:
            row = validate_person(values)
        except ValidationFailed as exc:
            row = None
            problems = [f"{FIELD_LABELS.get(fld, fld)}：{msgs[0]}" for fld, msgs in exc.details.items()]
        village, problem = _village(session, scheme, values.get("village", ""))
        if problem:
            problems.append(problem)
        household = None
        number = values.get("household", "")
        if number and village is None and not problem:
            problems.append(str(_l("填了户号，请同时填写村")))
        elif number and village is not None:
            household = households.find_by_number(session, village.id, number)
            if household is None:
                problems.append(str(_l("%(v)s没有户号为 %(n)s 的农户", v=village.name, n=number[:20])))
        if problems:
            return None, problems
        return row | {
            "village_id": village.id if village else None,
            "village_name": village.name if village else "",
            "household_id": household.id if household else None,
            "household_number": household.number if household else "",
        }, []

    return clean


def parse_people(session: Session, scheme: Scheme, filename: str, data: bytes) -> ImportPreview:
    """Read a list of people and name every bad row by its line; writes nothing."""
    existing = {n.upper() for n in session.scalars(select(Household.number).where(Household.scheme_id == scheme.id))}
    spec = TableSpec(
        columns=COLUMNS,
        required=("编号", "姓名"),
        clean=_row_cleaner(session, scheme),
        exists=lambda n: str(_l("编号 %(n)s 本方案已有", n=n)),
        repeated=lambda n, line: str(_l("编号 %(n)s 与第 %(l)s 行重复", n=n, l=line)),
        empty=str(_l("文件中没有人员信息")),
        existing=existing,
    )
    return preview_table(read_table(filename, data), spec)


def import_people(
    session: Session,
    actor: Actor,
    scheme_id,
    filename: str,
    data: bytes,
    *,
    commit: bool,
    today: date,
    now: datetime,
) -> tuple[ImportPreview, list[Household]]:
    """Preview a list of people; with ``commit`` and a clean file, open every person's
    account. Nothing is written unless every row is valid."""
    require_role(actor, "village_admin")
    scheme = person_scheme(session, actor, scheme_id)
    schemes.require_scheme_manager(actor, scheme)
    preview = parse_people(session, scheme, filename, data)
    if not commit or not preview.ok:
        return preview, []
    created = [
        create_account(
            session,
            actor,
            {
                "scheme_id": scheme.id,
                "number": row["number"],
                "name": row["name"],
                "phone": row["phone"],
                "village_id": row["village_id"],
                "household_id": row["household_id"],
            },
            today=today,
            now=now,
        )
        for row in preview.rows
    ]
    audit.record(
        session,
        actor,
        "account.import",
        village_id=scheme.village_id,
        summary=f"{scheme.name}: 从 {filename} 导入 {len(created)} 人"[:300],
    )
    return preview, created


def people_template_xlsx() -> bytes:
    return template_xlsx(
        "people",
        TEMPLATE_HEADERS,
        (12, 12, 16, 12, 14),
        [
            (str(_l("编号")), str(_l("必填，本方案唯一，只能用数字、字母和连字符，如 ZY-001"))),
            (str(_l("姓名")), str(_l("必填"))),
            (str(_l("电话")), str(_l("可不填；手机 11 位，或座机如 0836-1234567"))),
            (str(_l("户号")), str(_l("可不填；本人所属农户的户号，该户登录后能看到本人的积分"))),
            (str(_l("村")), str(_l("村设立的方案不用填；区域的方案填村名或村编码"))),
        ],
    )
