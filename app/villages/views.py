"""Village pages: the points scheme of a village, and the list of villages (admin)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.auth.views import page_actor
from app.errors import DomainError, ValidationFailed
from app.extensions import db
from app.forms import show_errors
from app.households import services as households
from app.schemes import services as schemes
from app.scope import acting_village_id, require_role, village_in_scope
from app.villages import services
from app.villages.forms import SchemeForm, VillageForm

bp = Blueprint("villages", __name__, template_folder="templates")


def chosen_village_id(actor) -> int | None:
    """An official's own village; the village an admin picked with ``?village_id=`` (or None)."""
    return acting_village_id(actor, request.args.get("village_id", type=int))


def village_choices() -> list:
    """Every village, for an admin's village picker."""
    return db.session.scalars(services.list_villages()).all()


@bp.route("/scheme", methods=["GET", "POST"])
@login_required
def scheme():
    actor = page_actor()
    require_role(actor, "village_admin")
    village_id = chosen_village_id(actor)
    if village_id is None:
        return render_template("villages/scheme.html", village=None, form=None, villages=village_choices())
    village = village_in_scope(db.session, actor, village_id)
    form = SchemeForm(data=village.scheme())
    status = 200
    if form.validate_on_submit():
        try:
            schemes.set_village_scheme(db.session, actor, village.id, form.values())
        except ValidationFailed as exc:
            db.session.rollback()
            show_errors(form, exc)
            status = 422
        except DomainError as exc:
            db.session.rollback()
            flash(exc.render_message(), "error")
            return redirect(url_for(".scheme", village_id=village.id if actor.user.is_admin else None))
        else:
            db.session.commit()
            flash(_("%(name)s的积分方案已保存", name=village.name))
            return redirect(url_for(".scheme", village_id=village.id if actor.user.is_admin else None))
    elif form.is_submitted():
        status = 422
    villages = village_choices() if actor.user.is_admin else []
    return render_template("villages/scheme.html", village=village, form=form, villages=villages), status


@bp.route("/villages", methods=["GET", "POST"])
@login_required
def index():
    actor = page_actor()
    require_role(actor, "admin")
    form = VillageForm()
    status = 200
    if form.validate_on_submit():
        values = {"name": form.name.data, "code": form.code.data, "township": form.township.data}
        try:
            village = services.create_village(db.session, actor, values)
        except ValidationFailed as exc:
            db.session.rollback()
            show_errors(form, exc)
            status = 422
        except DomainError as exc:
            db.session.rollback()
            flash(exc.render_message(), "error")
            return redirect(url_for(".index"))
        else:
            db.session.commit()
            flash(_("已新建%(name)s", name=village.name))
            return redirect(url_for(".index"))
    pagination = db.paginate(
        services.list_villages(), page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    counts = households.counts_by_village(db.session)
    return render_template("villages/index.html", form=form, pagination=pagination, counts=counts), status
