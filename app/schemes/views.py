"""Scheme pages: the schemes an official may see, and a scheme's categories (add,
rename, reorder; a category a rule is in cannot vanish)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.errors import Forbidden
from app.extensions import db
from app.schemes import services
from app.schemes.forms import CategoriesForm, RenameForm, SettingsForm
from app.scope import OFFICIAL_ROLES, require_role
from app.web import current_actor, mutate

bp = Blueprint("schemes", __name__, template_folder="templates")
KIND_NAMES = {"household": _l("以户为账户"), "person": _l("以人为账户"), "village": _l("以村为账户")}
CADENCE_NAMES = {"quarter": _l("按季度"), "month": _l("按月")}


@bp.context_processor
def _names():
    return {"kind_names": KIND_NAMES, "cadence_names": CADENCE_NAMES}


@bp.route("/schemes")
@login_required
def index():
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    schemes = db.session.scalars(services.list_schemes(db.session, actor)).all()
    return render_template("schemes/index.html", schemes=schemes, can_create=actor.user.has_role("village_admin"))


@bp.route("/schemes/<int:scheme_id>", methods=["GET", "POST"])
@login_required
def show(scheme_id: int):
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    scheme = services.scheme_in_scope(db.session, actor, scheme_id)
    can_edit = actor.user.has_role("village_admin" if scheme.village_id else "admin")
    if request.method == "POST" and not can_edit:
        raise Forbidden()  # a reader's POST is refused, not quietly ignored
    form = CategoriesForm(prefix="list")
    rename = RenameForm(prefix="rename").with_categories(scheme.categories)
    # A household scheme's settings are its village's page (``villages.scheme``).
    settings = SettingsForm(prefix="settings") if scheme.account_kind != "household" else None
    status = 200
    if settings is not None and can_edit and "settings-name" in request.form and settings.validate_on_submit():
        values = {"name": settings.name.data, **settings.settings()}
        done = mutate(lambda: services.update_scheme(db.session, actor, scheme.id, values), settings)
        if done.ok:
            flash(_("方案设置已保存（已记的积分不变）"))
            return redirect(url_for(".show", scheme_id=scheme.id))
        status = done.status
    elif can_edit and "list-categories" in request.form and form.validate_on_submit():
        done = mutate(lambda: services.update_scheme(db.session, actor, scheme.id, {"categories": form.values()}), form)
        if done.ok:
            flash(_("类别已保存"))
            return redirect(url_for(".show", scheme_id=scheme.id))
        status = done.status
    elif can_edit and "rename-new" in request.form and rename.validate_on_submit():
        work = lambda: services.rename_category(db.session, actor, scheme.id, rename.old.data, rename.new.data or "")  # noqa: E731
        done = mutate(work, rename, rename={"categories": "new"})
        if done.ok:
            flash(_("已改名：%(old)s → %(new)s", old=rename.old.data, new=(rename.new.data or "").strip()))
            return redirect(url_for(".show", scheme_id=scheme.id))
        status = done.status
    if "list-categories" not in request.form:
        form.categories.data = "\n".join(scheme.categories)
    if settings is not None and "settings-name" not in request.form:
        settings.fill(scheme)
    in_use = services.rules_by_category(db.session, scheme.id)
    return render_template(
        "schemes/show.html",
        scheme=scheme,
        form=form,
        rename=rename,
        settings=settings,
        in_use=in_use,
        can_edit=can_edit,
    ), status


from app.schemes import wizard  # noqa: E402, F401  (its routes are on bp)
