"""The reviewer's pages: the approval queue, one-by-one and bulk decisions, reversals."""

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import utcnow
from app.errors import DomainError, ValidationFailed
from app.extensions import db
from app.points import decisions, services
from app.points import rules as rulebook
from app.points.forms import ActionForm, BulkDecisionForm, ReasonForm
from app.points.views import bp, choose_village
from app.scope import require_role
from app.web import current_actor, mutate, official_village, village_args

QUEUE_PER_PAGE = 20


PUBLISHED_SHOWN = 50


def _date_arg(name: str):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> services.QueueFilter:
    rule_id = request.args.get("rule_id", type=int)
    if rule_id is not None:
        rulebook.get_rule(db.session, current_actor(), rule_id)  # another village's rule: 404
    return services.QueueFilter(
        household=request.args.get("household", "")[:50],
        recorder_id=request.args.get("recorder_id", type=int),
        rule_id=rule_id,
        since=_date_arg("since"),
        until=_date_arg("until"),
    )


def _queue(village, *, row_errors=None, typed=None, bulk_error=None, bulk_reason="", ticked=(), status=200):
    page = request.args.get("page", 1, type=int)
    filters = _filters()
    pagination = db.paginate(
        services.approval_queue(village.id, filters, published=False),
        page=page,
        per_page=QUEUE_PER_PAGE,
        error_out=False,
        count=True,
    )
    filter_args = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    published = db.session.scalars(
        services.approval_queue(village.id, filters, published=True).limit(PUBLISHED_SHOWN)
    ).all()
    return render_template(
        "points/approvals.html",
        village=village,
        pagination=pagination,
        published=published,
        filters=filters,
        filter_args=filter_args,
        qargs={**filter_args, **village_args(village.id)},
        recorders=services.queue_recorders(db.session, village.id),
        rules=db.session.scalars(rulebook.list_rules(village.id)).all(),
        form=ActionForm(),
        row_errors=row_errors or {},
        typed=typed or {},
        ticked=set(ticked),
        bulk_error=bulk_error,
        bulk_reason=bulk_reason,
        vargs=village_args(village.id),
        page=page,
    ), status


FILTER_ARGS = ("household", "recorder_id", "rule_id", "since", "until")


def _entry_label(entry) -> str:
    return f"{entry.household.number} {entry.household.head_name} {entry.title} {entry.points:+d}"


@bp.route("/approvals")
@login_required
def approvals():
    actor = current_actor()
    village = official_village(actor, *services.REVIEWERS)
    if village is None:
        return choose_village("points.approvals", _("审核"))
    return _queue(village)


def _back_to_queue(village_id):
    kept = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    return redirect(
        url_for("points.approvals", page=request.args.get("page", type=int), **kept, **village_args(village_id))
    )


@bp.route("/approvals/<int:entry_id>/approve", methods=["POST"])
@login_required
def approve(entry_id: int):
    actor = current_actor()
    require_role(actor, *services.REVIEWERS)
    done = mutate(lambda: decisions.approve_entry(db.session, actor, entry_id, now=utcnow()))
    if not done.ok:
        return _back_to_queue(request.args.get("village_id", type=int))
    flash(_("已通过：%(e)s", e=_entry_label(done.value)))
    return _back_to_queue(done.value.village_id)


@bp.route("/approvals/<int:entry_id>/reject", methods=["POST"])
@login_required
def reject(entry_id: int):
    actor = current_actor()
    village = official_village(actor, *services.REVIEWERS)
    form = ReasonForm()
    done = mutate(
        lambda: decisions.reject_entry(db.session, actor, entry_id, reason=form.reason.data or "", now=utcnow()),
        form if village is not None else None,
    )
    if isinstance(done.error, ValidationFailed) and village is not None:
        row_errors = {entry_id: [*form.reason.errors, *form.form_errors]}
        return _queue(village, row_errors=row_errors, typed={entry_id: form.reason.data}, status=422)
    if not done.ok:
        return _back_to_queue(request.args.get("village_id", type=int))
    flash(_("已驳回：%(e)s", e=_entry_label(done.value)))
    return _back_to_queue(done.value.village_id)


@bp.route("/approvals/bulk", methods=["POST"])
@login_required
def approve_bulk():
    actor = current_actor()
    require_role(actor, *services.REVIEWERS)
    form = BulkDecisionForm()  # CSRF is checked for every POST by CSRFProtect
    entry_ids = form.entry_ids.data or []
    if not entry_ids:
        flash(_("请先勾选要通过的记录"), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    done = mutate(lambda: decisions.approve_entries(db.session, actor, entry_ids, now=utcnow()))
    approved, refused = done.value if done.ok else ([], [])
    _flash_each(actor, approved, refused, _("已通过"))
    return _back_to_queue(request.args.get("village_id", type=int))


@bp.route("/approvals/bulk-reject", methods=["POST"])
@login_required
def reject_bulk():
    actor = current_actor()
    village = official_village(actor, *services.REVIEWERS)
    form = BulkDecisionForm()
    entry_ids = form.entry_ids.data or []
    if not entry_ids:
        flash(_("请先勾选要驳回的记录"), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    reason = form.reason.data or ""
    done = mutate(
        lambda: decisions.reject_entries(db.session, actor, entry_ids, reason=reason, now=utcnow()),
        form if village is not None else None,
    )
    if not done.ok:  # no reason: the queue again, the reason field marked, nothing rejected
        if village is None:
            return _back_to_queue(None)
        message = " ".join([*form.reason.errors, *form.form_errors])
        return _queue(village, bulk_error=message, bulk_reason=reason, ticked=entry_ids, status=422)
    rejected, refused = done.value
    _flash_each(actor, rejected, refused, _("已驳回"))
    return _back_to_queue(request.args.get("village_id", type=int))


def _flash_each(actor, decided, refused, verb: str) -> None:
    """The bulk result entry by entry: each decided one, then each left (未处理) and why."""
    if decided:
        flash(_("%(verb)s %(n)s 条：%(e)s", verb=verb, n=len(decided), e="；".join(map(_entry_label, decided))))
    for entry_id, exc in refused:
        try:
            label = _entry_label(services.get_entry(db.session, actor, entry_id))
        except DomainError:
            label = f"#{entry_id}"
        flash(_("未处理 %(e)s：%(why)s", e=label, why=exc.render_message()), "error")


@bp.route("/entries/<int:entry_id>/reverse", methods=["GET", "POST"])
@login_required
def reverse(entry_id: int):
    actor = current_actor()
    require_role(actor, *services.REVIEWERS)
    entry = services.get_entry(db.session, actor, entry_id)
    if not decisions.sees_as_official(db.session, actor.user, entry):
        abort(404)
    form = ReasonForm()
    status = 200
    if form.validate_on_submit():
        done = mutate(
            lambda: decisions.reverse_entry(db.session, actor, entry_id, reason=form.reason.data, now=utcnow()), form
        )
        status = done.status
        if done.ok:
            reversal = done.value
            h = reversal.household
            flash(
                _(
                    "已冲正 %(number)s %(head)s 的“%(title)s”（%(points)s），当前余额 %(balance)s",
                    number=h.number,
                    head=h.head_name,
                    title=reversal.title,
                    points=f"{reversal.points:+d}",
                    balance=h.balance,
                )
            )
            return redirect(url_for("home.household", household_id=h.id))
    elif form.is_submitted():
        status = 422
    return render_template("points/reverse.html", entry=entry, form=form), status
