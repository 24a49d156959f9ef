"""Forms of the scheme pages."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice


class CategoriesForm(FlaskForm):
    """The category list as lines: add a line, move lines, delete one no rule is in."""

    categories = TextAreaField(_l("类别（每行一个，按顺序）"), render_kw={"rows": 10})

    def values(self) -> list[str]:
        return [line.strip() for line in (self.categories.data or "").splitlines() if line.strip()]


class RenameForm(FlaskForm):
    old = SelectField(_l("原类别"), validate_choice=False)
    new = StringField(_l("新名称"))

    def with_categories(self, categories) -> "RenameForm":
        self.old.choices = [SelectChoice(c) for c in categories]
        return self


class SettingsForm(FlaskForm):
    """A scheme's name and money settings, as text: the service's checks say what is
    wrong, in Chinese."""

    name = StringField(_l("方案名称"))
    base_points = StringField(_l("开户基础分"), default="100")
    redeem_floor = StringField(_l("兑换门槛（分）"), default="100")
    yuan_per_point = StringField(_l("每分折合（元）"), default="1")
    approval_required = StringField(_l("记分须审核"), default="0")
    notice_days = StringField(_l("公示天数"), default="7")
    annual_reset = StringField(_l("每年清零可兑换积分"), default="0")

    def fill(self, scheme) -> "SettingsForm":
        self.name.data = scheme.name
        for name in ("base_points", "redeem_floor", "notice_days"):
            getattr(self, name).data = str(getattr(scheme, name))
        self.yuan_per_point.data = f"{scheme.yuan_per_point:g}"
        for name in ("approval_required", "annual_reset"):
            getattr(self, name).data = "1" if getattr(scheme, name) else "0"
        return self

    def settings(self) -> dict:
        """The money answers as the service reads them (a number where one was typed;
        anything else is passed on for the service to refuse)."""
        values = {}
        for name in ("base_points", "redeem_floor", "notice_days"):
            text = (getattr(self, name).data or "").strip()
            values[name] = int(text) if re.fullmatch(r"-?[0-9]{1,9}", text) else text
        text = (self.yuan_per_point.data or "").strip()
        try:
            values["yuan_per_point"] = float(text)
        except ValueError:
            values["yuan_per_point"] = text
        for name in ("approval_required", "annual_reset"):
            values[name] = {"1": True, "0": False}.get(getattr(self, name).data)
        return values


class WizardForm(SettingsForm):
    """Every answer of the new-scheme wizard: each step shows its own fields and carries
    the others as hidden fields, so what was typed survives going back and forth."""

    owner = StringField(_l("所属村或区域"))
    account_kind = StringField(_l("谁的账户"), default="person")
    cadence = StringField(_l("评比周期"), default="quarter")
    categories = TextAreaField(_l("类别（每行一个，按顺序）"), render_kw={"rows": 10})

    def category_list(self) -> list[str]:
        return [line.strip() for line in (self.categories.data or "").splitlines() if line.strip()]
