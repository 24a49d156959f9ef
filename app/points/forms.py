"""Forms of the points pages. They parse what was typed; the services decide."""

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.clock import local_today
from app.errors import ValidationFailed
from app.points.models import CATEGORIES
from app.points.rules import validate_rule_fields
from app.points.services import MAX_QUANTITY

CAP_PERIOD_LABELS = {
    "day": _l("每天"),
    "week": _l("每周"),
    "month": _l("每月"),
    "quarter": _l("每季度"),
    "year": _l("每年"),
}


def cap_text(rule) -> str:
    """``每天最多 1 次`` (or ``不限次数``)."""
    if not rule.cap_period:
        return str(_l("不限次数"))
    return str(_l("%(period)s最多 %(n)s 次", period=CAP_PERIOD_LABELS[rule.cap_period], n=rule.cap_count))


def rule_label(rule) -> str:
    """Name, points, cap; then what the recorder must know before choosing it: a photo
    is required, or it is a veto (一票否决: the household loses this period's awards)."""
    parts = [f"{rule.name} {rule.points:+d}", cap_text(rule)]
    if rule.requires_evidence:
        parts.append(str(_l("须照片")))
    if rule.veto:
        parts.append(str(_l("一票否决")))
    return " · ".join(parts)


def rule_choices(rules) -> list[SelectChoice]:
    """A placeholder, then the rules grouped by category (``<optgroup>``) in sheet order."""
    order = {c: i for i, c in enumerate(CATEGORIES)}
    ordered = sorted(rules, key=lambda r: (order.get(r.category, len(order)), r.category, -r.points, r.code))
    choices = [SelectChoice("", str(_l("请选择规则")))]
    for r in ordered:
        extra = {"data-evidence": "1"} if r.requires_evidence else {}
        if r.veto:
            extra["data-veto"] = "1"
        choices.append(SelectChoice(str(r.id), rule_label(r), render_kw=extra, optgroup=r.category))
    return choices


def int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


def _today():
    return local_today(current_app.config["TIMEZONE"])


class RecordForm(FlaskForm):
    household = StringField(_l("农户"), validators=[DataRequired(message=_l("请输入户号或户主姓名"))])
    household_id = HiddenField()
    rule_id = SelectField(
        _l("规则"), coerce=int_or_none, validators=[DataRequired(message=_l("请选择规则"))], validate_choice=False
    )
    # The service's range too, so that a wrong quantity is named with the other mistakes.
    quantity = IntegerField(
        _l("数量"),
        default=1,
        validators=[
            InputRequired(message=_l("请填写数量")),
            NumberRange(min=1, max=MAX_QUANTITY, message=_l("数量须为 1 到 %(n)s 的整数", n=MAX_QUANTITY)),
        ],
    )
    occurred_on = DateField(_l("日期"), default=_today, validators=[InputRequired(message=_l("请填写日期"))])
    member_name = StringField(_l("家庭成员（选填）"), validators=[Length(max=50)])
    note = TextAreaField(_l("备注（选填）"), validators=[Length(max=500)])
    evidence = FileField(_l("佐证照片"))


class BatchForm(FlaskForm):
    rule_id = SelectField(
        _l("规则"), coerce=int_or_none, validators=[DataRequired(message=_l("请选择规则"))], validate_choice=False
    )
    occurred_on = DateField(_l("日期"), default=_today, validators=[InputRequired(message=_l("请填写日期"))])
    note = TextAreaField(_l("备注（选填）"), validators=[Length(max=500)])
    household_ids = SelectMultipleField(_l("勾选农户"), coerce=int, validate_choice=False)
    numbers = TextAreaField(_l("或粘贴户号"), validators=[Length(max=40000)])
    evidence = FileField(_l("佐证照片"))


class ReasonForm(FlaskForm):
    reason = StringField(_l("理由"), validators=[DataRequired(message=_l("请填写理由")), Length(max=500)])


class BulkDecisionForm(FlaskForm):
    """The approval queue's ticked entries, and the reason when they are rejected."""

    entry_ids = SelectMultipleField(coerce=int, validate_choice=False)
    reason = StringField(_l("驳回理由"))  # kept to 500 characters, as one rejection's


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token (approve, load the standard sheet)."""


class RuleActiveForm(FlaskForm):
    active = HiddenField()


class RuleForm(FlaskForm):
    name = StringField(_l("名称"), validators=[Length(max=100)])
    code = StringField(_l("编码"), validators=[Length(max=30)])
    # The services check both choices (with their own messages); a missing value is "".
    category = SelectField(
        _l("类别"),
        choices=[SelectChoice("", _l("请选择类别"))] + [SelectChoice(c) for c in CATEGORIES],
        validate_choice=False,
    )
    points = IntegerField(_l("分值（扣分填负数）"), validators=[InputRequired(message=_l("请填写分值"))])
    cap_period = SelectField(
        _l("上限周期"),
        choices=[SelectChoice("", _l("不限次数"))] + [SelectChoice(k, v) for k, v in CAP_PERIOD_LABELS.items()],
        validate_choice=False,
    )
    cap_count = IntegerField(_l("每周期最多次数"), validators=[Optional()])
    veto = BooleanField(_l("一票否决（记入后本季度、本年度不能评优）"))
    requires_evidence = BooleanField(_l("必须上传佐证照片"))
    active = BooleanField(_l("启用"), default=True)

    def values(self) -> dict:
        return {
            "code": self.code.data or "",
            "name": self.name.data or "",
            "category": self.category.data or "",
            "points": self.points.data,
            "cap_period": self.cap_period.data or None,
            "cap_count": self.cap_count.data,
            "veto": bool(self.veto.data),
            "requires_evidence": bool(self.requires_evidence.data),
            "active": bool(self.active.data),
        }

    def validate(self, extra_validators=None) -> bool:
        """Every mistake in one round: where the form itself finds one (a missing
        分值), the rule's own checks run too and name theirs beside their fields."""
        if super().validate(extra_validators):
            return True  # the service checks it all at once
        try:
            validate_rule_fields(self.values())
        except ValidationFailed as exc:
            for name, messages in exc.details.items():
                if name in self and not self[name].errors:
                    self[name].errors = list(messages)
        return False
