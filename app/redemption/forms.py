"""Forms of the shop pages. Numbers are typed as text and handed to the services as
they are, so that every mistake comes back as the service's Chinese message beside its
field, with what was typed kept."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.redemption.models import LOSS, RECEIPT

QTY_PREFIX = "qty-"
_INT = re.compile(r"^[+-]?\d{1,9}$")


def as_int(text):
    """``"12"`` → 12; anything else is passed on for the service to refuse."""
    text = (text or "").strip() if isinstance(text, str) else text
    return int(text) if isinstance(text, str) and _INT.match(text) else text


class ShopForm(FlaskForm):
    village_id = SelectField(_l("所属村"), coerce=int, validate_choice=False)
    name = StringField(_l("超市名称"))
    # 0: the village's household scheme; the service refuses a scheme not the shop's to take.
    scheme_id = SelectField(_l("收哪个方案的积分卡"), coerce=int, validate_choice=False, default=0)


class ItemForm(FlaskForm):
    name = StringField(_l("商品名称"))
    unit = StringField(_l("单位"), default="件")
    price_points = StringField(_l("兑换价（分）"))
    stock = StringField(_l("期初库存"), default="0")
    low_stock = StringField(_l("低库存提醒线"), default="5")
    active = BooleanField(_l("上架（可兑换）"), default=True)

    def values(self) -> dict:
        values = {
            "name": self.name.data,
            "unit": self.unit.data,
            "price_points": as_int(self.price_points.data),
            "low_stock": as_int(self.low_stock.data),
            "active": bool(self.active.data),
        }
        if "stock" in self._fields:
            values["stock"] = as_int(self.stock.data or "0")
        return values


class StockForm(FlaskForm):
    reason = SelectField(
        _l("类型"), choices=[SelectChoice(RECEIPT, _l("入库")), SelectChoice(LOSS, _l("报损"))], default=RECEIPT
    )
    quantity = StringField(_l("数量"))
    note = StringField(_l("备注"))


class CancelForm(FlaskForm):
    reason = StringField(_l("撤销原因"))


class RevokeForm(FlaskForm):
    """Only the CSRF token: re-issuing a card needs no input."""


class LookupForm(FlaskForm):
    shop_id = HiddenField()
    card = StringField(_l("户号或卡上的编码"))


class CartForm(FlaskForm):
    """The counter's cart; quantities come as ``qty-<item id>`` fields (see ``lines``)."""

    shop_id = HiddenField()
    card = HiddenField()
    key = HiddenField()

    def lines(self, formdata: MultiDict) -> list[dict]:
        lines = []
        for name, value in formdata.items():
            if not name.startswith(QTY_PREFIX) or not name[len(QTY_PREFIX) :].isdigit():
                continue
            quantity = as_int(value or "0")
            if quantity != 0:
                lines.append({"item_id": int(name[len(QTY_PREFIX) :]), "quantity": quantity})
        return lines

    def quantities(self, formdata: MultiDict) -> dict[int, str]:
        """What was typed, to show it again after a refusal."""
        return {
            int(name[len(QTY_PREFIX) :]): value
            for name, value in formdata.items()
            if name.startswith(QTY_PREFIX) and name[len(QTY_PREFIX) :].isdigit()
        }
