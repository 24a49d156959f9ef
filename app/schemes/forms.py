"""Forms of the scheme pages."""

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
