"""Forms of the village pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, StringField
from wtforms.validators import InputRequired

_required = InputRequired(message=_l("必填"))


class SchemeForm(FlaskForm):
    base_points = IntegerField(_l("开户基础分"), validators=[_required])
    redeem_floor = IntegerField(_l("兑换底线"), validators=[_required])
    yuan_per_point = DecimalField(_l("每分折合（元）"), places=2, validators=[_required])
    approval_required = BooleanField(_l("记分须经评议员审核"))
    notice_days = IntegerField(_l("公示天数"), validators=[_required])
    annual_reset = BooleanField(_l("每年清零可兑换积分"))

    def values(self) -> dict:
        return {
            "base_points": self.base_points.data,
            "redeem_floor": self.redeem_floor.data,
            "yuan_per_point": float(self.yuan_per_point.data),
            "approval_required": bool(self.approval_required.data),
            "notice_days": self.notice_days.data,
            "annual_reset": bool(self.annual_reset.data),
        }


class VillageForm(FlaskForm):
    name = StringField(_l("村名"))
    code = StringField(_l("编码"))
    township = StringField(_l("所属乡镇"))
