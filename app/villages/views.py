"""Village pages: the points scheme of a village, and the list of villages (admin)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import utcnow
from app.extensions import db
from app.households import services as households
from app.schemes import services as schemes
from app.scope import require_role
from app.villages import services
from app.villages.forms import SchemeForm, VillageForm
from app.web import current_actor, mutate, official_village, today, village_args, village_choices

bp = Blueprint("villages", __name__, template_folder="templates")


@bp.route("/scheme", methods=["GET", "POST"])
@login_required
def scheme():
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:
        return render_template("villages/scheme.html", village=None, form=None, villages=village_choices())
    form = SchemeForm(data=village.scheme())
    status = 200
    if form.validate_on_submit():
        done = mutate(lambda: schemes.set_village_scheme(db.session, actor, village.id, form.values()), form)
        if done.ok:
            flash(_("%(name)s的积分方案已保存", name=village.name))
            return redirect(url_for(".scheme", **village_args(village.id)))
        status = done.status
    elif form.is_submitted():
        status = 422
    villages = village_choices() if actor.user.is_admin else []
    return render_template("villages/scheme.html", village=village, form=form, villages=villages), status


@bp.route("/villages", methods=["GET", "POST"])
@login_required
def index():
    actor = current_actor()
    require_role(actor, "admin")
    form = VillageForm()
    status = 200
    if form.validate_on_submit():
        values = {"name": form.name.data, "code": form.code.data, "township": form.township.data}
        done = mutate(lambda: services.create_village(db.session, actor, values, today=today(), now=utcnow()), form)
        if done.ok:
            flash(_("已新建%(name)s", name=done.value.name))
            return redirect(url_for(".index"))
        status = done.status
    pagination = db.paginate(
        services.list_villages(), page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    counts = households.counts_by_village(db.session)
    return render_template("villages/index.html", form=form, pagination=pagination, counts=counts), status
