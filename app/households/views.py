"""Household pages: the register, a household's account and passbook, registration,
editing, moving out, and import/export of the register."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.errors import Forbidden
from app.extensions import db
from app.households import register, services
from app.households.forms import (
    HouseholdForm,
    MoveOutForm,
    member_lines,
)
from app.scope import household_in_scope, require_role
from app.spreadsheet import XLSX, attachment
from app.web import current_actor, mutate, page_arg, today, village_choices, working_village_id

bp = Blueprint("households", __name__, template_folder="templates")

PER_PAGE = 30


def pick_village(endpoint: str, title: str):
    return render_template("households/pick_village.html", villages=village_choices(), endpoint=endpoint, title=title)


@bp.route("/households")
@login_required
def index():
    actor = current_actor()
    if not actor.user.has_role(*services.OFFICIAL_ROLES):
        if actor.user.household_id:
            return redirect(url_for("home.household", household_id=actor.user.household_id))
        raise Forbidden()
    q = request.args.get("q", "").strip()[:50]
    village_id = working_village_id(actor)
    stmt = services.list_for(actor, village_id, q)
    pagination = db.paginate(stmt, page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "households/index.html",
        pagination=pagination,
        q=q,
        village_id=village_id,
        villages=village_choices() if actor.user.is_admin else [],
    )


@bp.route("/households/<int:household_id>/edit", methods=["GET", "POST"])
@login_required
def edit(household_id):
    actor = current_actor()
    require_role(actor, "village_admin")
    household = household_in_scope(db.session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    form = HouseholdForm(
        data={
            "number": household.number,
            "head_name": household.head_name,
            "address": household.address or "",
            "phone": household.phone or "",
            "members": member_lines(household.members),
        }
    )
    status = 200
    if form.validate_on_submit():
        values = form.values()
        status = 422
        if values is not None:
            done = mutate(lambda: services.update_household(db.session, actor, household.id, values), form)
            status = done.status
            if done.ok:
                flash(_("已保存 %(number)s 户的资料", number=household.number))
                return redirect(url_for("home.household", household_id=household.id))
    return (
        render_template("households/form.html", form=form, village=household.village, household=household),
        status,
    )


@bp.route("/households/<int:household_id>/move-out", methods=["GET", "POST"])
@login_required
def move_out(household_id):
    actor = current_actor()
    require_role(actor, "village_admin")
    household = household_in_scope(db.session, actor, household_id)
    if not actor.user.can_see_village(household.village_id):
        raise Forbidden()
    form = MoveOutForm()
    status = 200
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = [_("请勾选确认后再提交")]
            status = 422
        else:
            if mutate(lambda: services.move_out(db.session, actor, household.id, today())).ok:
                flash(_("%(number)s 户已登记迁出", number=household.number))
            return redirect(url_for("home.household", household_id=household.id))
    return render_template("households/move_out.html", form=form, household=household), status


@bp.route("/households/import/template.xlsx")
@login_required
def import_template():
    require_role(current_actor(), "village_admin")
    return Response(
        register.import_template_xlsx(),
        mimetype=XLSX,
        headers=attachment(_("农户名册模板.xlsx"), "household-register-template.xlsx"),
    )


@bp.route("/households/export.xlsx")
@login_required
def export():
    actor = current_actor()
    village_id = working_village_id(actor)
    if village_id is None and actor.user.is_admin:
        flash(_("请先选择一个村，再导出名册"), "error")
        return redirect(url_for(".index"))
    data = register.export_register(db.session, actor, village_id)
    db.session.commit()
    day = today().isoformat()
    return Response(
        data,
        mimetype=XLSX,
        headers=attachment(_("农户名册-%(day)s.xlsx", day=day), f"households-{day}.xlsx"),
    )
