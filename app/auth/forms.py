"""Forms of the user-management pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth.models import ROLES

ROLE_LABELS = {
    "admin": _l("系统管理员"),
    "village_admin": _l("村管理员"),
    "recorder": _l("记分员/网格员"),
    "reviewer": _l("评议员"),
    "clerk": _l("超市店员"),
    "resident": _l("村民"),
}


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(_l("用户名"))
    display_name = StringField(_l("姓名"))
    password = PasswordField(_l("初始密码"))
    roles = CheckboxesField(_l("角色"))
    village_id = SelectField(_l("所属村"), coerce=int)
    household_number = StringField(_l("户号（村民账号填写）"))

    def setup(self, villages, *, admin: bool) -> "UserForm":
        """Role and village choices: only an admin may make admins and pick the village."""
        self.roles.choices = [(r, str(ROLE_LABELS[r])) for r in ROLES if admin or r != "admin"]
        if admin:
            self.village_id.choices = [(0, str(_l("不属于任何村（仅系统管理员）")))] + [
                (v.id, f"{v.name}（{v.township}）") for v in villages
            ]
        else:
            del self.village_id
        return self


class PasswordForm(FlaskForm):
    password = PasswordField(_l("新密码"))


class ActiveForm(FlaskForm):
    active = HiddenField()
