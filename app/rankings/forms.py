"""Forms of the quarterly cycle's pages. The services check the values; the forms carry
them (and the CSRF token) and keep what was typed when a service refuses it."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from app.rankings.models import AWARD_TITLES

OTHER_TITLE = "other"


class ConfirmForm(FlaskForm):
    """A button that changes state (公示, 定稿): only the CSRF token."""


class AwardForm(FlaskForm):
    title_choice = SelectField(
        _l("称号"),
        choices=[SelectChoice(t, t) for t in AWARD_TITLES] + [SelectChoice(OTHER_TITLE, _l("其他（自填）"))],
    )
    title_other = StringField(_l("自填称号"))
    top_n = IntegerField(_l("名额（前几名）"), default=3, validators=[InputRequired(message=_l("请填写名额"))])
    bonus_points = IntegerField(_l("每户奖励积分"), default=0, validators=[Optional()])

    def values(self) -> dict:
        title = self.title_other.data if self.title_choice.data == OTHER_TITLE else self.title_choice.data
        return {
            "title": (title or "").strip(),
            "top_n": self.top_n.data,
            "bonus_points": self.bonus_points.data or 0,
        }


class ObjectionForm(FlaskForm):
    entry_id = HiddenField()
    period = SelectField(_l("对哪一期的排名有异议"), validate_choice=False)
    village_id = HiddenField()
    reason = TextAreaField(
        _l("异议理由"),
        validators=[InputRequired(message=_l("请写明异议理由"))],
        render_kw={"rows": 5, "maxlength": 1000},
    )


class DecisionForm(FlaskForm):
    upheld = RadioField(
        _l("处理结果"),
        choices=[SelectChoice("yes", _l("异议成立")), SelectChoice("no", _l("异议不成立"))],
        validators=[InputRequired(message=_l("请选择异议是否成立"))],
    )
    note = TextAreaField(
        _l("处理意见"),
        validators=[InputRequired(message=_l("请填写处理意见"))],
        render_kw={"rows": 3, "maxlength": 1000},
    )
