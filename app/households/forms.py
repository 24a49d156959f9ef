"""Forms of the household pages, and the members textarea (one member per line)."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from app.errors import ValidationFailed
from app.households.services import validate_household
from app.web import show_error

TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv)$")


def parse_member_lines(text: str) -> tuple[list[dict], list[str]]:
    """``姓名 关系`` or ``姓名:关系`` per line → (members, messages naming bad lines)."""
    members, problems = [], []
    for line_no, line in enumerate((text or "").splitlines(), start=1):
        line = line.replace("：", ":").replace("\u3000", " ").strip()
        if not line:
            continue
        if ":" in line:
            name, _, relation = line.partition(":")
            name, relation = name.strip(), relation.strip()
        else:
            parts = line.split()
            if len(parts) > 2:
                problems.append(str(_l("第 %(n)s 行：请写成“姓名 关系”或“姓名:关系”", n=line_no)))
                continue
            name, relation = parts[0], parts[1] if len(parts) == 2 else ""
        if not name:
            problems.append(str(_l("第 %(n)s 行：缺少姓名", n=line_no)))
        elif len(name) > 50 or len(relation) > 20:
            problems.append(str(_l("第 %(n)s 行：姓名或关系太长", n=line_no)))
        else:
            members.append({"name": name, "relation": relation})
    return members, problems


def member_lines(members) -> str:
    return "\n".join(f"{m.name} {m.relation}".strip() for m in members)


class HouseholdForm(FlaskForm):
    number = StringField(_l("户号"))
    head_name = StringField(_l("户主"))
    address = StringField(_l("地址"))
    phone = StringField(_l("电话"))
    members = TextAreaField(_l("家庭成员"))

    def values(self) -> dict | None:
        """The household's fields; or None, with every problem beside its field, when a
        members line cannot be read (the other fields are checked too, so that all
        mistakes show at once)."""
        members, problems = parse_member_lines(self.members.data)
        values = {
            "number": self.number.data or "",
            "head_name": self.head_name.data or "",
            "address": self.address.data or "",
            "phone": self.phone.data or "",
            "members": members,
        }
        if not problems:
            return values
        self.members.errors = [*self.members.errors, *problems]
        try:
            validate_household({k: v for k, v in values.items() if k != "members"})
        except ValidationFailed as exc:
            show_error(self, exc)
        return None


class MoveOutForm(FlaskForm):
    confirm = BooleanField(_l("我确认该户已迁出本村"))


class ImportForm(FlaskForm):
    file = FileField(_l("农户名册（.xlsx 或 .csv）"))


class ConfirmImportForm(FlaskForm):
    token = HiddenField()
    filename = HiddenField()
