"""Registering households, one by one or from a register file: a new household's
account is opened on the ledger, so these pages compose households and points."""

import secrets
import time
from functools import partial
from pathlib import Path

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import utcnow
from app.errors import DomainError, NotFound
from app.extensions import db
from app.home.views import bp
from app.households import register
from app.households.forms import TOKEN_RE, ConfirmImportForm, HouseholdForm, ImportForm
from app.households.views import pick_village
from app.points import services as points
from app.web import current_actor, mutate, official_village, show_error, today

UPLOAD_MAX_AGE = 24 * 3600


@bp.route("/households/new", methods=["GET", "POST"])
@login_required
def new_household():
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:
        return pick_village("home.new_household", _("登记新农户"))
    form = HouseholdForm()
    status = 200
    if form.validate_on_submit():
        values = form.values()
        status = 422
        if values is not None:
            done = mutate(
                lambda: points.enroll_household(db.session, actor, village.id, values, today=today(), now=utcnow()),
                form,
            )
            status = done.status
            if done.ok:
                household = done.value
                flash(
                    _(
                        "已登记 %(number)s 户（户主 %(head)s），开户基础分 %(base)s 分",
                        number=household.number,
                        head=household.head_name,
                        base=household.balance,
                    )
                )
                return redirect(url_for(".household", household_id=household.id))
    return render_template("households/form.html", form=form, village=village, household=None), status


def _enroller(actor):
    """Register a household and open its account: what an imported row becomes."""
    return partial(points.enroll_household, db.session, actor, today=today(), now=utcnow())


def _imports_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _keep_upload(filename: str, data: bytes, key: str = "household_import") -> str:
    """Save an upload between preview and confirmation; returns its token (the file's
    name), remembered in the session under ``key``."""
    folder = _imports_dir()
    cutoff = time.time() - UPLOAD_MAX_AGE
    for old in folder.iterdir():  # previews nobody confirmed
        if old.is_file() and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16) + (".xlsx" if filename.lower().endswith(".xlsx") else ".csv")
    (folder / token).write_bytes(data)
    session[key] = token
    return token


def _upload_name(display: str, token: str) -> str:
    """The name shown to the service: the user's, as long as it has the kept file's type."""
    display = (display or "").strip()[-100:]
    return display if display.lower().endswith(token[token.rindex(".") :]) else token


@bp.route("/households/import", methods=["GET", "POST"])
@login_required
def import_households():
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:
        return pick_village("home.import_households", _("导入农户名册"))
    form = ImportForm()
    preview, confirm, status = None, None, 200
    if form.validate_on_submit():
        upload = form.file.data
        status = 422
        if not upload or not upload.filename:
            form.file.errors = [_("请选择要上传的文件")]
        else:
            filename, data = Path(upload.filename).name, upload.read()
            try:
                preview, _created = register.import_households(
                    db.session, actor, village.id, filename, data, commit=False, enroll=_enroller(actor)
                )
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                if preview.ok:
                    status = 200
                    token = _keep_upload(filename, data)
                    confirm = ConfirmImportForm(formdata=None, token=token, filename=filename)
            db.session.rollback()  # a preview writes nothing
    return (
        render_template("households/import.html", form=form, preview=preview, confirm=confirm, village=village),
        status,
    )


@bp.route("/households/import/confirm", methods=["POST"])
@login_required
def confirm_import():
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:  # an admin confirms in the village it previewed in
        raise NotFound()
    back = url_for(".import_households", village_id=village.id if actor.user.is_admin else None)
    form = ConfirmImportForm()
    token = form.token.data or ""
    path = _imports_dir() / token if TOKEN_RE.match(token) else None
    if not form.validate_on_submit() or path is None or session.get("household_import") != token or not path.is_file():
        flash(_("上传的文件已失效，请重新上传"), "error")
        return redirect(back)
    try:
        preview, created = register.import_households(
            db.session,
            actor,
            village.id,
            _upload_name(form.filename.data, token),
            path.read_bytes(),
            commit=True,
            enroll=_enroller(actor),
        )
    except DomainError as exc:
        db.session.rollback()
        flash(exc.render_message(), "error")
        return redirect(back)
    if not preview.ok:  # the register changed since the preview
        db.session.rollback()
        path.unlink(missing_ok=True)
        session.pop("household_import", None)
        return (
            render_template(
                "households/import.html", form=ImportForm(), preview=preview, confirm=None, village=village
            ),
            409,
        )
    db.session.commit()
    path.unlink(missing_ok=True)
    session.pop("household_import", None)
    flash(_("已导入 %(n)s 户，每户已按方案开户", n=len(created)))
    return redirect(url_for("households.index", village_id=village.id if actor.user.is_admin else None))
