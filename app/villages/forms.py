"""Forms of the village pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, StringField
from wtforms.validators import InputRequired

from app.errors import ValidationFailed
from app.villages.services import validate_scheme

_required = InputRequired(message=_l("必填"))


class SchemeForm(FlaskForm):
    base_points = IntegerField(_l("开户基础分"), validators=[_required])
    redeem_floor = IntegerField(_l("兑换底线"), validators=[_required])
    yuan_per_point = DecimalField(_l("每分折合（元）"), places=2, validators=[_required])
    approval_required = BooleanField(_l("记分须经评议员审核"))
    notice_days = IntegerField(_l("公示天数"), validators=[_required])
    annual_reset = BooleanField(_l("每年清零可兑换积分"))

    def values(self) -> dict:
        ypp = self.yuan_per_point.data
        return {
            "base_points": self.base_points.data,
            "redeem_floor": self.redeem_floor.data,
            "yuan_per_point": None if ypp is None else float(ypp),
            "approval_required": bool(self.approval_required.data),
            "notice_days": self.notice_days.data,
            "annual_reset": bool(self.annual_reset.data),
        }

    def validate(self, extra_validators=None) -> bool:
        """Every mistake in one round: the scheme's own ranges are checked beside the
        fields' (a range used to show only after "必填" elsewhere had been mended)."""
        ok = super().validate(extra_validators)
        try:
            validate_scheme(self.values())
        except ValidationFailed as exc:
            for name, messages in exc.details.items():
                field = self[name]
                if not field.errors:  # "必填" or "not a number" already says what is wrong
                    field.errors = list(messages)
                    ok = False
        return ok


class VillageForm(FlaskForm):
    name = StringField(_l("村名"))
    code = StringField(_l("编码"))
    township = StringField(_l("所属乡镇"))
