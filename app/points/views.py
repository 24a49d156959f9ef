"""Pages of the points ledger: the dashboard, recording, approvals, reversals and rules.

Each view parses a form, calls a service of ``app.points.services`` and commits; a
refusal from the service is shown beside its field or atop the form.
"""

import re
from datetime import datetime
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.views import page_actor
from app.clock import local_today, quarter_of, to_local_iso, utcnow
from app.errors import (
    BadReference,
    DomainError,
    EvidenceRequired,
    HouseholdMovedOut,
    RuleInactive,
    ValidationFailed,
)
from app.extensions import db
from app.households import services as households
from app.points import services
from app.points.forms import (
    ActionForm,
    BatchForm,
    BulkDecisionForm,
    ReasonForm,
    RecordForm,
    RuleActiveForm,
    RuleForm,
    cap_text,
    rule_choices,
)
from app.rankings.services import household_standings, village_standings
from app.scope import acting_village_id, household_in_scope, require_role, village_in_scope
from app.villages.services import list_villages

bp = Blueprint("points", __name__, template_folder="templates")

OFFICIALS = ("village_admin", "recorder", "reviewer", "clerk")
QUEUE_PER_PAGE = 20
SKIPPED_KEPT = 100  # skipped households remembered for the batch result (the session is a cookie)
SKIP_REASONS = {
    "cap_reached": _l("已达上限"),
    "moved_out": _l("已迁出"),
    "not_found": _l("未找到"),
    "duplicate": _l("重复"),
}
# A service's reference to a field → the field of the page, and what to say there.
REFERENCES = {
    "household_id": ("household", _l("未找到该户：只能为本村在册农户记分")),
    "rule_id": ("rule_id", _l("请选择本村的规则")),
    "evidence_id": ("evidence", _l("照片无效，请重新上传")),
}
ERROR_FIELDS = {EvidenceRequired: "evidence", HouseholdMovedOut: "household", RuleInactive: "rule_id"}


@bp.context_processor
def _template_helpers():
    return {
        "cap_text": cap_text,
        "skip_reasons": SKIP_REASONS,
        "local_time": lambda value: (to_local_iso(value, _tz()) or "")[11:16],
        "today_iso": local_today(_tz()).isoformat(),
    }


def _tz() -> str:
    return current_app.config["TIMEZONE"]


def _evidence_folder() -> Path:
    return Path(current_app.instance_path) / "evidence"


def _working_village(actor):
    """An official's own village; the village an admin or a region's official chose with
    ``?village_id=`` (None: it has to choose)."""
    village_id = acting_village_id(actor, request.args.get("village_id", type=int))
    if village_id is None or not isinstance(village_id, int):
        return None
    return village_in_scope(db.session, actor, village_id)


def _vargs(village_id) -> dict:
    """Query arguments that keep an admin (or a region's official) in the village it chose."""
    chooses = current_user.is_admin or current_user.region_id is not None
    return {"village_id": village_id} if chooses and village_id else {}


def _choose_village(endpoint: str, title: str, **extra):
    villages = db.session.scalars(list_villages(region_id=current_user.region_id)).all()
    return render_template("points/choose_village.html", villages=villages, endpoint=endpoint, title=title, **extra)


def _show_error(form, exc: DomainError) -> int:
    """Put a service's refusal beside its field (or atop the form); the status to answer."""

    def attach(name, messages):
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            form.form_errors.extend(messages)

    if isinstance(exc, ValidationFailed):
        for name, messages in exc.details.items():
            attach(name, [messages] if isinstance(messages, str) else list(messages))
    elif isinstance(exc, BadReference) and exc.details.get("field") in REFERENCES:
        name, message = REFERENCES[exc.details["field"]]
        attach(name, [str(message)])
    elif type(exc) in ERROR_FIELDS:
        attach(ERROR_FIELDS[type(exc)], [exc.render_message()])
    else:
        form.form_errors.append(exc.render_message())
    return exc.status


def _store_photo(actor, village, upload) -> str | None:
    if upload is None or not getattr(upload, "filename", ""):
        return None
    ev = services.store_evidence(
        db.session,
        actor,
        village.id,
        upload.read(),
        _evidence_folder(),
        current_app.config["EVIDENCE_MAX_BYTES"],
        field="evidence",
    )
    return ev.id


def _discard_photo(evidence_id: str | None) -> None:
    """The photo of an entry that was not written: its row rolled back, so drop the file."""
    if evidence_id:
        (_evidence_folder() / evidence_id).unlink(missing_ok=True)


# --- dashboard -------------------------------------------------------------------------


@bp.route("/")
@login_required
def dashboard():
    actor = page_actor()
    if not actor.user.has_role(*OFFICIALS):
        if actor.user.household_id:
            return redirect(url_for("households.show", household_id=actor.user.household_id))
        return redirect(url_for("rankings.standings"))
    village = _working_village(actor)
    today = local_today(_tz())
    period = quarter_of(today)
    if village is None:  # an admin: the township overview, then pick a village
        overview = village_standings(db.session, period, region_id=actor.user.region_id)
        return _choose_village("points.dashboard", _("首页"), overview=overview, period=period)
    todays = db.session.scalars(services.entries_recorded_on(village.id, today, _tz()).limit(50)).all()
    pending_count = services.count_pending(db.session, village.id)
    pending = db.session.scalars(services.approval_queue(village.id).limit(5)).all() if pending_count else []
    top = household_standings(db.session, period, village_id=village.id, limit=10)
    return render_template(
        "points/dashboard.html",
        village=village,
        today=today,
        period=period,
        todays=todays,
        pending_count=pending_count,
        pending=pending,
        top=top,
        vargs=_vargs(village.id),
    )


# --- recording -------------------------------------------------------------------------


def _household_id(form, village) -> int:
    """The household chosen: the typeahead's hidden id, else the number (or unique name) typed."""
    hidden = (form.household_id.data or "").strip()
    if hidden.isdigit():
        return int(hidden)
    household = services.find_household(db.session, village.id, form.household.data)
    if household is None:
        raise ValidationFailed({"household": [_("本村没有户号或户主为“%(q)s”的农户", q=form.household.data.strip())]})
    return household.id


@bp.route("/record", methods=["GET", "POST"])
@login_required
def record():
    actor = page_actor()
    require_role(actor, *services.RECORDERS)
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.record", _("记分"))
    form = RecordForm()
    form.rule_id.choices = rule_choices(db.session.scalars(services.list_rules(village.id, active_only=True)))
    status = 200
    if request.method == "GET" and request.args.get("household_id", type=int):
        chosen = household_in_scope(db.session, actor, request.args.get("household_id", type=int))
        form.household.data, form.household_id.data = f"{chosen.number} {chosen.head_name}", str(chosen.id)
    if form.validate_on_submit():
        evidence_id = None
        try:
            household_id = _household_id(form, village)
            evidence_id = _store_photo(actor, village, form.evidence.data)
            entry = services.record_entry(
                db.session,
                actor,
                household_id=household_id,
                rule_id=form.rule_id.data,
                quantity=form.quantity.data,
                occurred_on=form.occurred_on.data,
                today=local_today(_tz()),
                now=utcnow(),
                note=form.note.data or "",
                member_name=form.member_name.data or "",
                evidence_id=evidence_id,
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _discard_photo(evidence_id)
            status = _show_error(form, exc)
        else:
            h = entry.household
            values = {"number": h.number, "head": h.head_name, "points": f"{entry.points:+d}", "balance": h.balance}
            if entry.status == "pending":
                flash(_("已为 %(number)s %(head)s 记分 %(points)s，待审核", **values))
            else:
                flash(_("已为 %(number)s %(head)s 记分 %(points)s，当前余额 %(balance)s", **values))
            return redirect(url_for("points.record", done=h.id, **_vargs(village.id)))
    elif form.is_submitted():
        status = 422
    done = request.args.get("done", type=int)
    last = household_in_scope(db.session, actor, done) if done and request.method == "GET" else None
    return render_template(
        "points/record.html", form=form, village=village, last=last, vargs=_vargs(village.id)
    ), status


@bp.route("/record/lookup")
@login_required
def lookup():
    """Up to 10 active households of the village whose number or name matches ``q``."""
    actor = page_actor()
    require_role(actor, *services.RECORDERS)
    village_id = acting_village_id(actor, request.args.get("village_id", type=int))
    q = (request.args.get("q") or "").strip()[:50]
    if not q or village_id is None:
        return jsonify(items=[])
    village = village_in_scope(db.session, actor, village_id)
    rows = db.session.scalars(services.lookup_households(village.id, q))
    return jsonify(
        items=[{"id": h.id, "number": h.number, "head_name": h.head_name, "balance": h.balance} for h in rows]
    )


def _split_numbers(text: str) -> list[str]:
    numbers = [n for n in re.split(r"[\s,，、;；]+", text or "") if n]
    return list(dict.fromkeys(numbers))


@bp.route("/batch", methods=["GET", "POST"])
@login_required
def batch():
    actor = page_actor()
    require_role(actor, *services.RECORDERS)
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.batch", _("批量记分"))
    form = BatchForm()
    form.rule_id.choices = rule_choices(db.session.scalars(services.list_rules(village.id, active_only=True)))
    roster = db.session.scalars(households.search(village.id, include_moved_out=False)).all()
    status = 200
    if form.validate_on_submit():
        numbers = _split_numbers(form.numbers.data)
        found = services.households_by_numbers(db.session, village.id, numbers)
        unknown = [n for n in numbers if n not in found]
        household_ids = list(form.household_ids.data or []) + [found[n].id for n in numbers if n in found]
        evidence_id = None
        try:
            if unknown and not household_ids:
                raise ValidationFailed({"numbers": [_("未找到户号：%(n)s", n="、".join(unknown))]})
            evidence_id = _store_photo(actor, village, form.evidence.data)
            now = utcnow()
            created, skipped = services.record_batch(
                db.session,
                actor,
                rule_id=form.rule_id.data,
                household_ids=household_ids,
                occurred_on=form.occurred_on.data,
                today=local_today(_tz()),
                now=now,
                note=form.note.data or "",
                evidence_id=evidence_id,
            )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _discard_photo(evidence_id)
            status = _show_error(form, exc)
        else:
            skipped = [[s["household_id"], s["reason"]] for s in skipped] + [[n, "not_found"] for n in unknown]
            session["batch_skipped"] = {"at": now.isoformat(), "items": skipped[:SKIPPED_KEPT], "total": len(skipped)}
            flash(_("已记分 %(n)s 户，略过 %(m)s 户", n=len(created), m=len(skipped)))
            return redirect(
                url_for("points.batch_result", rule_id=form.rule_id.data, at=now.isoformat(), **_vargs(village.id))
            )
    elif form.is_submitted():
        status = 422
    chosen = set(form.household_ids.data or [])
    return render_template(
        "points/batch.html", form=form, village=village, roster=roster, chosen=chosen, vargs=_vargs(village.id)
    ), status


@bp.route("/batch/result")
@login_required
def batch_result():
    actor = page_actor()
    require_role(actor, *services.RECORDERS)
    try:
        at = datetime.fromisoformat(request.args.get("at", ""))
    except ValueError:
        abort(404)
    rule = services.get_rule(db.session, actor, request.args.get("rule_id", type=int))
    created = services.batch_entries(db.session, actor, rule.id, at)
    remembered = session.get("batch_skipped") or {}
    skipped, skipped_total = [], 0
    if remembered.get("at") == at.isoformat():
        known = services.households_by_ids(db.session, rule.village_id, [hid for hid, _r in remembered["items"]])
        for hid, reason in remembered["items"]:
            h = known.get(hid) if isinstance(hid, int) else None
            skipped.append({"household": h, "label": str(hid), "reason": reason})
        skipped_total = remembered["total"]
    return render_template(
        "points/batch_result.html",
        rule=rule,
        created=created,
        skipped=skipped,
        skipped_total=skipped_total,
        vargs=_vargs(rule.village_id),
    )


# --- approvals and reversals ------------------------------------------------------------


def _queue(village, *, row_errors=None, typed=None, bulk_error=None, bulk_reason="", status=200):
    page = request.args.get("page", 1, type=int)
    pagination = db.paginate(
        services.approval_queue(village.id), page=page, per_page=QUEUE_PER_PAGE, error_out=False, count=True
    )
    return render_template(
        "points/approvals.html",
        village=village,
        pagination=pagination,
        form=ActionForm(),
        row_errors=row_errors or {},
        typed=typed or {},
        bulk_error=bulk_error,
        bulk_reason=bulk_reason,
        vargs=_vargs(village.id),
        page=page,
    ), status


def _entry_label(entry) -> str:
    return f"{entry.household.number} {entry.household.head_name} {entry.title} {entry.points:+d}"


@bp.route("/approvals")
@login_required
def approvals():
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.approvals", _("审核"))
    return _queue(village)


def _back_to_queue(village_id):
    return redirect(url_for("points.approvals", page=request.args.get("page", type=int), **_vargs(village_id)))


@bp.route("/approvals/<int:entry_id>/approve", methods=["POST"])
@login_required
def approve(entry_id: int):
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    try:
        entry = services.approve_entry(db.session, actor, entry_id, now=utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.render_message(), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    flash(_("已通过：%(e)s", e=_entry_label(entry)))
    return _back_to_queue(entry.village_id)


@bp.route("/approvals/<int:entry_id>/reject", methods=["POST"])
@login_required
def reject(entry_id: int):
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    form = ReasonForm()
    try:
        entry = services.reject_entry(db.session, actor, entry_id, reason=form.reason.data or "", now=utcnow())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        village = _working_village(actor)
        messages = [m for msgs in exc.details.values() for m in msgs]
        if village is None:
            flash(" ".join(messages), "error")
            return _back_to_queue(None)
        return _queue(village, row_errors={entry_id: messages}, typed={entry_id: form.reason.data}, status=422)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.render_message(), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    flash(_("已驳回：%(e)s", e=_entry_label(entry)))
    return _back_to_queue(entry.village_id)


@bp.route("/approvals/bulk", methods=["POST"])
@login_required
def approve_bulk():
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    form = BulkDecisionForm()  # CSRF is checked for every POST by CSRFProtect
    entry_ids = form.entry_ids.data or []
    if not entry_ids:
        flash(_("请先勾选要通过的记录"), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    approved, refused = services.approve_entries(db.session, actor, entry_ids, now=utcnow())
    db.session.commit()
    if approved:
        flash(_("已批量通过 %(n)s 条", n=len(approved)))
    _flash_refused(actor, refused, _("未通过"))
    return _back_to_queue(request.args.get("village_id", type=int))


@bp.route("/approvals/bulk-reject", methods=["POST"])
@login_required
def reject_bulk():
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    form = BulkDecisionForm()
    entry_ids = form.entry_ids.data or []
    if not entry_ids:
        flash(_("请先勾选要驳回的记录"), "error")
        return _back_to_queue(request.args.get("village_id", type=int))
    reason = form.reason.data or ""
    try:
        rejected, refused = services.reject_entries(db.session, actor, entry_ids, reason=reason, now=utcnow())
    except ValidationFailed as exc:  # no reason: the queue again, the reason field marked, nothing rejected
        db.session.rollback()
        village = _working_village(actor)
        message = " ".join(m for msgs in exc.details.values() for m in msgs)
        if village is None:
            flash(message, "error")
            return _back_to_queue(None)
        return _queue(village, bulk_error=message, bulk_reason=reason, status=422)
    db.session.commit()
    if rejected:
        flash(_("已批量驳回 %(n)s 条", n=len(rejected)))
    _flash_refused(actor, refused, _("未驳回"))
    return _back_to_queue(request.args.get("village_id", type=int))


def _flash_refused(actor, refused, verb: str) -> None:
    for entry_id, exc in refused:
        try:
            label = _entry_label(services.get_entry(db.session, actor, entry_id))
        except DomainError:
            label = f"#{entry_id}"
        flash(_("%(verb)s %(e)s：%(why)s", verb=verb, e=label, why=exc.render_message()), "error")


@bp.route("/entries/<int:entry_id>/reverse", methods=["GET", "POST"])
@login_required
def reverse(entry_id: int):
    actor = page_actor()
    require_role(actor, *services.REVIEWERS)
    entry = services.get_entry(db.session, actor, entry_id)
    if not actor.user.can_see_village(entry.village_id):
        abort(404)
    form = ReasonForm()
    status = 200
    if form.validate_on_submit():
        try:
            reversal = services.reverse_entry(db.session, actor, entry_id, reason=form.reason.data, now=utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            status = _show_error(form, exc)
        else:
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
            return redirect(url_for("households.show", household_id=h.id))
    elif form.is_submitted():
        status = 422
    return render_template("points/reverse.html", entry=entry, form=form), status


@bp.route("/evidence/<evidence_id>")
@login_required
def evidence(evidence_id: str):
    ev = services.evidence_in_scope(db.session, page_actor(), evidence_id)
    path = _evidence_folder() / ev.id
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=ev.content_type, max_age=3600)
    response.cache_control.public = False
    response.cache_control.private = True  # a household's photo: no shared caches
    return response


# --- rules -----------------------------------------------------------------------------


@bp.route("/rules")
@login_required
def rules():
    actor = page_actor()
    require_role(actor, *OFFICIALS)
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.rules", _("积分规则"))
    all_rules = db.session.scalars(services.list_rules(village.id)).all()
    sheet = village.household_scheme.categories
    categories = list(sheet) + sorted({r.category for r in all_rules} - set(sheet))
    groups = [(c, [r for r in all_rules if r.category == c]) for c in categories]
    return render_template(
        "points/rules.html",
        village=village,
        groups=groups,
        total=len(all_rules),
        can_edit=actor.user.has_role("village_admin"),
        form=ActionForm(),
        vargs=_vargs(village.id),
    )


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
def rule_new():
    actor = page_actor()
    require_role(actor, "village_admin")
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.rule_new", _("新增规则"))
    form = RuleForm().with_categories(village.household_scheme.categories)
    status = 200
    if form.validate_on_submit():
        try:
            rule = services.create_rule(db.session, actor, village.id, form.values())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            status = _show_error(form, exc)
        else:
            flash(_("已添加规则：%(name)s", name=rule.name))
            return redirect(url_for("points.rules", **_vargs(village.id)))
    elif form.is_submitted():
        status = 422
    return render_template(
        "points/rule_form.html", form=form, rule=None, village=village, vargs=_vargs(village.id)
    ), status


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@login_required
def rule_edit(rule_id: int):
    actor = page_actor()
    require_role(actor, "village_admin")
    rule = services.get_rule(db.session, actor, rule_id)
    form = RuleForm(obj=rule).with_categories(rule.scheme.categories)
    status = 200
    if form.validate_on_submit():
        try:
            rule = services.update_rule(db.session, actor, rule.id, form.values())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            status = _show_error(form, exc)
        else:
            flash(_("已保存规则：%(name)s（已记录的积分不变）", name=rule.name))
            return redirect(url_for("points.rules", **_vargs(rule.village_id)))
    elif form.is_submitted():
        status = 422
    village = services.village_of(db.session, rule.village_id)
    return render_template(
        "points/rule_form.html", form=form, rule=rule, village=village, vargs=_vargs(rule.village_id)
    ), status


@bp.route("/rules/<int:rule_id>/active", methods=["POST"])
@login_required
def rule_active(rule_id: int):
    actor = page_actor()
    require_role(actor, "village_admin")
    form = RuleActiveForm()
    active = form.active.data == "1"
    try:
        rule = services.update_rule(db.session, actor, rule_id, {"active": active})
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.render_message(), "error")
        return redirect(url_for("points.rules", **_vargs(request.args.get("village_id", type=int))))
    flash(_("已启用：%(name)s", name=rule.name) if active else _("已停用：%(name)s", name=rule.name))
    return redirect(url_for("points.rules", **_vargs(rule.village_id)))


@bp.route("/rules/standard", methods=["POST"])
@login_required
def rules_standard():
    actor = page_actor()
    require_role(actor, "village_admin")
    village = _working_village(actor)
    if village is None:
        return _choose_village("points.rules", _("积分规则"))
    added = services.load_standard_sheet(db.session, actor, village.id)
    db.session.commit()
    if added:
        flash(_("已载入 %(n)s 条标准积分细则", n=len(added)))
    else:
        flash(_("标准积分细则已全部载入，没有新增"))
    return redirect(url_for("points.rules", **_vargs(village.id)))
