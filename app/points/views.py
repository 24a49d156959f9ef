"""Pages of the points ledger: recording, batches, evidence and rules (the reviewer's
pages are in ``review.py``).

Each view parses a form, calls a service of ``app.points.services`` and commits; a
refusal from the service is shown beside its field or atop the form.
"""

import re
from dataclasses import dataclass
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
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app import web
from app.clock import to_local_iso, utcnow
from app.errors import (
    EvidenceRequired,
    Forbidden,
    HouseholdMovedOut,
    RuleInactive,
    ValidationFailed,
)
from app.extensions import db
from app.households import services as households
from app.points import evidence as evidence_store
from app.points import rules as rulebook
from app.points import services
from app.points.forms import (
    ActionForm,
    BatchForm,
    RecordForm,
    RuleActiveForm,
    RuleForm,
    cap_text,
    rule_choices,
)
from app.points.photos import photo_response
from app.schemes import services as schemes
from app.scope import OFFICIAL_ROLES, household_in_scope, require_role, village_in_scope
from app.web import current_actor, mutate, official_village, today, tz, village_args, working_village

bp = Blueprint("points", __name__, template_folder="templates")

SKIPPED_KEPT = 100  # skipped households remembered for the batch result (the session is a cookie)
SKIP_REASONS = {
    "cap_reached": _l("已达上限"),
    "moved_out": _l("已迁出"),
    "not_found": _l("未找到"),
    "duplicate": _l("重复"),
}
# Where a service's refusal is shown on the entry forms: the page's field for an error
# class, or for the field a reference names (with what to say there).
ENTRY_FIELDS = {
    "household_id": ("household", _l("未找到该户：只能为本村在册农户记分")),
    "rule_id": ("rule_id", _l("请选择本村的规则")),
    "evidence_id": ("evidence", _l("照片无效，请重新上传")),
    EvidenceRequired: "evidence",
    HouseholdMovedOut: "household",
    RuleInactive: "rule_id",
}


@bp.context_processor
def template_helpers():
    return {
        "cap_text": cap_text,
        "skip_reasons": SKIP_REASONS,
        "local_time": lambda value: (to_local_iso(value, tz()) or "")[11:16],
        "today_iso": today().isoformat(),
    }


def _evidence_folder() -> Path:
    return Path(current_app.instance_path) / "evidence"


def choose_village(endpoint: str, title: str, **extra):
    villages = web.village_choices()
    return render_template("points/choose_village.html", villages=villages, endpoint=endpoint, title=title, **extra)


def _store_photo(actor, village, upload) -> str | None:
    if upload is None or not getattr(upload, "filename", ""):
        return None
    ev = evidence_store.store_evidence(
        db.session,
        actor,
        village.id,
        upload.read(),
        _evidence_folder(),
        current_app.config["EVIDENCE_MAX_BYTES"],
        field="evidence",
    )
    return ev.id


def _discard_photo(*evidence_ids: str | None) -> None:
    """The photo of an entry that was not written: its row rolled back, so drop the file."""
    for evidence_id in filter(None, evidence_ids):
        (_evidence_folder() / evidence_id).unlink(missing_ok=True)


def _household_id(form, village) -> int:
    """The household chosen: the typeahead's hidden id, else the number (or unique name) typed."""
    hidden = (form.household_id.data or "").strip()
    if hidden.isdigit():
        return int(hidden)
    household = households.find_household(db.session, village.id, form.household.data)
    if household is None:
        raise ValidationFailed({"household": [_("本村没有户号或户主为“%(q)s”的农户", q=form.household.data.strip())]})
    return household.id


@bp.route("/record", methods=["GET", "POST"])
@login_required
def record():
    actor = current_actor()
    village = official_village(actor, *services.RECORDERS)
    if village is None:
        return choose_village("points.record", _("记分"))
    form = RecordForm()
    form.rule_id.choices = rule_choices(db.session.scalars(rulebook.list_rules(village.id, active_only=True)))
    status = 200
    if request.method == "GET" and request.args.get("household_id", type=int):
        chosen = household_in_scope(db.session, actor, request.args.get("household_id", type=int))
        form.household.data, form.household_id.data = f"{chosen.number} {chosen.head_name}", str(chosen.id)
    if form.validate_on_submit():
        stored = []

        def work():
            household_id = _household_id(form, village)
            stored.append(_store_photo(actor, village, form.evidence.data))
            return services.record_entry(
                db.session,
                actor,
                household_id=household_id,
                rule_id=form.rule_id.data,
                quantity=form.quantity.data,
                occurred_on=form.occurred_on.data,
                today=today(),
                now=utcnow(),
                note=form.note.data or "",
                member_name=form.member_name.data or "",
                evidence_id=stored[-1],
            )

        done = mutate(work, form, fields=ENTRY_FIELDS, on_error=lambda: _discard_photo(*stored))
        status = done.status
        if done.ok:
            entry = done.value
            h = entry.household
            values = {"number": h.number, "head": h.head_name, "points": f"{entry.points:+d}", "balance": h.balance}
            if entry.status == "pending":
                flash(_("已为 %(number)s %(head)s 记分 %(points)s，待审核", **values))
            else:
                flash(_("已为 %(number)s %(head)s 记分 %(points)s，当前余额 %(balance)s", **values))
            return redirect(url_for("points.record", done=h.id, **village_args(village.id)))
    elif form.is_submitted():
        status = 422
    done = request.args.get("done", type=int)
    last = household_in_scope(db.session, actor, done) if done and request.method == "GET" else None
    return render_template(
        "points/record.html", form=form, village=village, last=last, vargs=village_args(village.id)
    ), status


@bp.route("/record/lookup")
@login_required
def lookup():
    """Up to 10 active households of the village whose number or name matches ``q``."""
    actor = current_actor()
    village = official_village(actor, *services.RECORDERS)
    q = (request.args.get("q") or "").strip()[:50]
    if not q or village is None:
        return jsonify(items=[])
    rows = db.session.scalars(households.lookup_households(village.id, q))
    return jsonify(
        items=[{"id": h.id, "number": h.number, "head_name": h.head_name, "balance": h.balance} for h in rows]
    )


def _split_numbers(text: str) -> list[str]:
    numbers = [n for n in re.split(r"[\s,，、;；]+", text or "") if n]
    return list(dict.fromkeys(numbers))


@bp.route("/batch", methods=["GET", "POST"])
@login_required
def batch():
    actor = current_actor()
    village = official_village(actor, *services.RECORDERS)
    if village is None:
        return choose_village("points.batch", _("批量记分"))
    form = BatchForm()
    form.rule_id.choices = rule_choices(db.session.scalars(rulebook.list_rules(village.id, active_only=True)))
    roster = db.session.scalars(households.search(village.id, include_moved_out=False)).all()
    status = 200
    if form.validate_on_submit():
        numbers = _split_numbers(form.numbers.data)
        found = households.households_by_numbers(db.session, village.id, numbers)
        unknown = [n for n in numbers if n not in found]
        household_ids = list(form.household_ids.data or []) + [found[n].id for n in numbers if n in found]
        stored, now = [], utcnow()

        def work():
            if unknown and not household_ids:
                raise ValidationFailed({"numbers": [_("未找到户号：%(n)s", n="、".join(unknown))]})
            stored.append(_store_photo(actor, village, form.evidence.data))
            return services.record_batch(
                db.session,
                actor,
                rule_id=form.rule_id.data,
                household_ids=household_ids,
                occurred_on=form.occurred_on.data,
                today=today(),
                now=now,
                note=form.note.data or "",
                evidence_id=stored[-1],
            )

        done = mutate(work, form, fields=ENTRY_FIELDS, on_error=lambda: _discard_photo(*stored))
        status = done.status
        if done.ok:
            created, skipped = done.value
            skipped = [[s["household_id"], s["reason"]] for s in skipped] + [[n, "not_found"] for n in unknown]
            session["batch_skipped"] = {"at": now.isoformat(), "items": skipped[:SKIPPED_KEPT], "total": len(skipped)}
            flash(_("已记分 %(n)s 户，略过 %(m)s 户", n=len(created), m=len(skipped)))
            return redirect(
                url_for(
                    "points.batch_result", rule_id=form.rule_id.data, at=now.isoformat(), **village_args(village.id)
                )
            )
    elif form.is_submitted():
        status = 422
    chosen = set(form.household_ids.data or [])
    return render_template(
        "points/batch.html", form=form, village=village, roster=roster, chosen=chosen, vargs=village_args(village.id)
    ), status


@bp.route("/batch/result")
@login_required
def batch_result():
    actor = current_actor()
    require_role(actor, *services.RECORDERS)
    try:
        at = datetime.fromisoformat(request.args.get("at", ""))
    except ValueError:
        abort(404)
    rule = rulebook.get_rule(db.session, actor, request.args.get("rule_id", type=int))
    created = services.batch_entries(db.session, actor, rule.id, at)
    remembered = session.get("batch_skipped") or {}
    skipped, skipped_total = [], 0
    if remembered.get("at") == at.isoformat():
        known = households.households_by_ids(db.session, rule.village_id, [hid for hid, _r in remembered["items"]])
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
        vargs=village_args(rule.village_id),
    )


@bp.route("/evidence/<evidence_id>")
@login_required
def evidence(evidence_id: str):
    ev = evidence_store.evidence_in_scope(db.session, current_actor(), evidence_id)
    return photo_response(_evidence_folder(), ev.id, ev.content_type)


@dataclass
class RuleSheet:
    """The rule sheet a rules page works on, and how the page names it and links back."""

    scheme: object
    label: str
    args: dict
    can_edit: bool
    village: object = None  # a village's household scheme: its village


def rule_sheet(actor, scheme_id: int | None = None) -> RuleSheet | None:
    """``?scheme_id=``'s rules (404 outside the user's scope), else the working village's
    household scheme (None while an admin has not chosen a village)."""
    scheme_id = scheme_id or request.args.get("scheme_id", type=int)
    user = actor.user
    if scheme_id:
        scheme = schemes.scheme_in_scope(db.session, actor, scheme_id)
        if scheme.account_kind != "household":
            can_edit = "admin" in user.roles if scheme.village_id is None else user.has_role("village_admin")
            return RuleSheet(scheme, scheme.name, {"scheme_id": scheme.id}, can_edit)
        village = village_in_scope(db.session, actor, scheme.village_id)
    else:
        village = working_village(actor)
        if village is None:
            return None
    return RuleSheet(
        village.household_scheme, village.name, village_args(village.id), user.has_role("village_admin"), village
    )


@bp.route("/rules")
@login_required
def rules():
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    sheet = rule_sheet(actor)
    if sheet is None:
        return choose_village("points.rules", _("积分规则"))
    all_rules = db.session.scalars(rulebook.list_rules(None, scheme_id=sheet.scheme.id)).all()
    named = sheet.scheme.categories
    categories = list(named) + sorted({r.category for r in all_rules} - set(named))
    groups = [(c, [r for r in all_rules if r.category == c]) for c in categories]
    return render_template(
        "points/rules.html",
        sheet=sheet,
        groups=groups,
        total=len(all_rules),
        can_edit=sheet.can_edit,
        form=ActionForm(),
        vargs=sheet.args,
    )


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
def rule_new():
    actor = current_actor()
    require_role(actor, "village_admin")
    sheet = rule_sheet(actor)
    if sheet is None:
        return choose_village("points.rule_new", _("新增规则"))
    if not sheet.can_edit:
        raise Forbidden()
    form = RuleForm().with_categories(sheet.scheme.categories)
    status = 200
    if form.validate_on_submit():
        done = mutate(
            lambda: rulebook.create_rule(
                db.session, actor, None, form.values(), scheme_id=sheet.scheme.id, generate_code=True
            ),
            form,
        )
        status = done.status
        if done.ok:
            flash(_("已添加规则：%(name)s", name=done.value.name))
            return redirect(url_for("points.rules", **sheet.args))
    elif form.is_submitted():
        status = 422
    return render_template("points/rule_form.html", form=form, rule=None, sheet=sheet, vargs=sheet.args), status


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@login_required
def rule_edit(rule_id: int):
    actor = current_actor()
    require_role(actor, "village_admin")
    rule = rulebook.get_rule(db.session, actor, rule_id)
    sheet = rule_sheet(actor, rule.scheme_id)
    form = RuleForm(obj=rule).with_categories(rule.scheme.categories)
    status = 200
    if form.validate_on_submit():
        done = mutate(lambda: rulebook.update_rule(db.session, actor, rule.id, form.values()), form)
        status = done.status
        if done.ok:
            rule = done.value
            flash(_("已保存规则：%(name)s（已记录的积分不变）", name=rule.name))
            return redirect(url_for("points.rules", **sheet.args))
    elif form.is_submitted():
        status = 422
    return render_template("points/rule_form.html", form=form, rule=rule, sheet=sheet, vargs=sheet.args), status


@bp.route("/rules/<int:rule_id>/active", methods=["POST"])
@login_required
def rule_active(rule_id: int):
    actor = current_actor()
    require_role(actor, "village_admin")
    form = RuleActiveForm()
    active = form.active.data == "1"
    done = mutate(lambda: rulebook.update_rule(db.session, actor, rule_id, {"active": active}))
    if not done.ok:
        return redirect(url_for("points.rules", **village_args(request.args.get("village_id", type=int))))
    rule = done.value
    flash(_("已启用：%(name)s", name=rule.name) if active else _("已停用：%(name)s", name=rule.name))
    return redirect(url_for("points.rules", **rule_sheet(current_actor(), rule.scheme_id).args))


@bp.route("/rules/standard", methods=["POST"])
@login_required
def rules_standard():
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:
        return choose_village("points.rules", _("积分规则"))
    added = mutate(lambda: rulebook.load_standard_sheet(db.session, actor, village.id)).value or []
    if added:
        flash(_("已载入 %(n)s 条标准积分细则", n=len(added)))
    else:
        flash(_("标准积分细则已全部载入，没有新增"))
    return redirect(url_for("points.rules", **village_args(village.id)))


from app.points import review  # noqa: E402, F401  (its routes are on bp)
