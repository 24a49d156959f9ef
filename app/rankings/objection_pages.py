"""Objections (异议): filing one, a household's own, the reviewers' queue and decisions;
and the yearly passbook (存折), whose entries an objection contests."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.clock import utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.points import services as points
from app.points import year as ledger_year
from app.points.models import APPROVED, KIND_RULE, Entry
from app.rankings import objections as objection_service
from app.rankings.forms import DecisionForm, ObjectionForm
from app.rankings.models import OPEN, Objection
from app.rankings.views import (
    bp,
    period_arg,
    period_label,
)
from app.scope import household_in_scope, require_role, village_in_scope
from app.villages.models import Village
from app.web import (
    current_actor,
    listed_villages,
    mutate,
    show_error,
    today,
    village_args,
    village_choices,
    working_village_id,
)

OBJECTIONS_PER_PAGE = 20


@bp.route("/passbook/<int:household_id>")
@login_required
def passbook_this_year(household_id):
    return redirect(url_for(".passbook", household_id=household_id, year=today().year))


@bp.route("/passbook/<int:household_id>/<int:year>")
@login_required
def passbook(household_id, year):
    actor = current_actor()
    household = household_in_scope(db.session, actor, household_id)
    if not 2000 <= year <= 2100:
        raise NotFound()
    opening, entries = ledger_year.passbook_year(db.session, household.id, year)
    balance, lines = opening, []
    for entry in entries:
        counted = entry.status == APPROVED
        if counted:
            balance += entry.points
        lines.append({"entry": entry, "balance": balance if counted else None})
    user = actor.user
    may_object = user.household_id == household.id or (
        user.has_role("reviewer") and user.can_see_village(household.village_id)
    )
    closed = objection_service.objections_closed_at(db.session, household.scheme_id) if may_object else {}
    objectable, closed_at = set(), {}
    for e in entries:
        if may_object and e.kind == KIND_RULE and e.status == APPROVED and e.reversed_by is None:
            when = objection_service.entry_objection_closed_at(closed, e)
            if when is None:
                objectable.add(e.id)
            else:
                closed_at[e.id] = when
    day = today()
    return render_template(
        "rankings/passbook.html",
        household=household,
        year=year,
        opening=opening,
        closing=balance,
        lines=lines,
        objectable=objectable,
        closed_at=closed_at,
        official=user.can_see_village(household.village_id),
        this_year=day.year,
        printed_on=day,
    )


def _entries_by_id(ids) -> dict:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(ids)))}


@bp.route("/objections/new", methods=["GET", "POST"])
@login_required
def new_objection():
    actor = current_actor()
    user = actor.user
    if not (user.household_id or user.has_role("reviewer")):
        raise Forbidden()
    form = ObjectionForm()
    entry_id = request.args.get("entry_id", type=int) or (
        int(form.entry_id.data) if (form.entry_id.data or "").isdigit() else None
    )
    entry = points.get_entry(db.session, actor, entry_id) if entry_id else None
    village_id = request.args.get("village_id", type=int) or (
        int(form.village_id.data) if (form.village_id.data or "").isdigit() else user.village_id
    )
    if village_id != user.village_id:
        village_in_scope(db.session, actor, village_id)  # another village's standings: 404
    # The standings can be contested only while on notice: only those periods are offered.
    village = db.session.get(Village, village_id) if entry is None and village_id else None
    names = objection_service.periods_in_notice(db.session, village.household_scheme.id) if village is not None else []
    form.period.choices = [SelectChoice(p, period_label(p)) for p in names]
    if request.method == "GET":
        form.entry_id.data = str(entry.id) if entry else ""
        form.village_id.data = str(village_id or "")
        asked = period_arg(names[0]) if names else None
        form.period.data = asked if asked in names else (names[0] if names else None)
    # Only a rule entry can be contested: any other entry is shown with the reason beside
    # it and without the form (a POST naming one anyway gets the service's refusal).
    contestable = objection_service.contestable(entry) if entry is not None else bool(names)
    status = 200
    if entry is None and form.is_submitted() and form.period.data not in names:
        form.validate()
        refused = _("只能对公示中的排名提出异议")
        if names:
            form.period.errors = [*form.period.errors, refused]
        else:  # no period field is shown: the refusal goes atop the form
            form.form_errors.append(refused)
        status = 422
    elif form.validate_on_submit():
        target = {"entry_id": entry.id} if entry else {"period": form.period.data, "village_id": village_id}
        done = mutate(
            lambda: objection_service.file_objection(
                db.session, actor, reason=form.reason.data, now=utcnow(), **target
            ),
            form,
        )
        status = done.status
        if done.ok:
            flash(_("异议已提交（第 %(id)s 号），村评议会将尽快处理", id=done.value.id))
            return redirect(url_for(".my_objections"))
    elif form.is_submitted():
        status = 422
    if entry is not None and not contestable and not form.entry_id.errors:
        form.entry_id.errors = [str(objection_service.NOT_CONTESTABLE)]
    village_key = entry.village_id if entry else village_id  # None for a person's or a village's account
    village = db.session.get(Village, village_key) if village_key else None
    return (
        render_template(
            "rankings/objection_new.html", form=form, entry=entry, village=village, contestable=contestable
        ),
        status,
    )


@bp.route("/objections/mine")
@login_required
def my_objections():
    actor = current_actor()
    user = actor.user
    stmt = objection_service.list_objections(None, filed_by_id=user.id, household_id=user.household_id or -1)
    pagination = db.paginate(stmt, page=max(1, request.args.get("page", 1, type=int)), per_page=OBJECTIONS_PER_PAGE)
    return render_template(
        "rankings/objections_mine.html",
        pagination=pagination,
        entries=_entries_by_id(o.entry_id for o in pagination.items),
    )


def _render_queue(actor, forms: dict | None = None, status: int = 200):
    village_id = working_village_id(actor)
    villages = listed_villages(actor, village_id)
    open_rows = list(reversed(db.session.scalars(objection_service.list_objections(villages, status=OPEN)).all()))
    decided = db.paginate(
        objection_service.list_objections(villages).where(Objection.status != OPEN),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=OBJECTIONS_PER_PAGE,
        error_out=False,
    )
    forms = forms or {}
    for o in open_rows:
        forms.setdefault(o.id, DecisionForm(prefix=f"o{o.id}", formdata=None))
    return (
        render_template(
            "rankings/objections.html",
            open_rows=open_rows,
            decided=decided,
            forms=forms,
            entries=_entries_by_id([o.entry_id for o in open_rows] + [o.entry_id for o in decided.items]),
            admin_args=village_args(working_village_id(actor)),
            villages=village_choices() if actor.user.is_admin else [],
            village_id=village_id,
        ),
        status,
    )


@bp.route("/objections")
@login_required
def objections():
    actor = current_actor()
    require_role(actor, "reviewer")
    return _render_queue(actor)


@bp.route("/objections/<int:objection_id>/decide", methods=["POST"])
@login_required
def decide_objection(objection_id):
    actor = current_actor()
    require_role(actor, "reviewer")
    form = DecisionForm(prefix=f"o{objection_id}")
    if not form.validate_on_submit():
        objection = objection_service.objection_in_scope(db.session, actor, objection_id)
        if not actor.user.can_see_village(objection.village_id):
            raise NotFound()
        return _render_queue(actor, {objection_id: form}, 422)
    upheld = form.upheld.data == "yes"
    done = mutate(
        lambda: objection_service.decide_objection(
            db.session, actor, objection_id, upheld=upheld, note=form.note.data, now=utcnow()
        ),
        reraise=(NotFound, Forbidden),
    )
    if isinstance(done.error, ValidationFailed):
        show_error(form, done.error)
        return _render_queue(actor, {objection_id: form}, 422)
    if not done.ok:
        return redirect(url_for(".objections", **village_args(working_village_id(actor))))
    objection = done.value
    if upheld and objection.reversal_entry_id:
        flash(_("第 %(id)s 号异议成立：该笔记录已冲正，排名已重新公示", id=objection.id))
    elif upheld:
        flash(_("第 %(id)s 号异议成立", id=objection.id))
    else:
        flash(_("第 %(id)s 号异议不成立，已答复", id=objection.id))
    return redirect(url_for(".objections", **village_args(working_village_id(actor))))
