"""Household pages: the register, a household's account and passbook, registration,
editing, moving out, and import/export of the register."""

import secrets
import time
from io import BytesIO
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy.orm import joinedload

from app.clock import quarter_of, utcnow, year_of
from app.errors import DomainError, Forbidden
from app.extensions import db
from app.households import services
from app.households.forms import (
    TOKEN_RE,
    ConfirmImportForm,
    HouseholdForm,
    ImportForm,
    MoveOutForm,
    member_lines,
)
from app.households.models import Household
from app.points import services as points
from app.rankings.services import household_standing
from app.scope import household_in_scope, require_role, village_in_scope
from app.web import current_actor, mutate, show_error, today, village_choices, working_village_id

bp = Blueprint("households", __name__, template_folder="templates")

PER_PAGE = 30
PASSBOOK_PER_PAGE = 20
PASSBOOK_PRINT_MAX = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_MAX_AGE = 24 * 3600


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int))


def _pick_village(endpoint: str, title: str):
    return render_template("households/pick_village.html", villages=village_choices(), endpoint=endpoint, title=title)


class CountedPagination(SelectPagination):
    """A page of ``select`` whose total the caller already knows (``total=``)."""

    def _query_count(self) -> int:
        return self._query_args["total"]


@bp.route("/households")
@login_required
def index():
    actor = current_actor()
    if not actor.user.has_role(*services.OFFICIAL_ROLES):
        if actor.user.household_id:
            return redirect(url_for(".show", household_id=actor.user.household_id))
        raise Forbidden()
    q = request.args.get("q", "").strip()[:50]
    village_id = working_village_id(actor)
    stmt = services.list_for(actor, village_id, q)
    pagination = db.paginate(stmt, page=_page(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "households/index.html",
        pagination=pagination,
        q=q,
        village_id=village_id,
        villages=village_choices() if actor.user.is_admin else [],
    )


@bp.route("/households/new", methods=["GET", "POST"])
@login_required
def new():
    actor = current_actor()
    require_role(actor, "village_admin")
    village_id = working_village_id(actor)
    if village_id is None:
        return _pick_village("households.new", _("登记新农户"))
    village = village_in_scope(db.session, actor, village_id)
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
                return redirect(url_for(".show", household_id=household.id))
    return render_template("households/form.html", form=form, village=village, household=None), status


@bp.route("/households/<int:household_id>")
@login_required
def show(household_id):
    actor = current_actor()
    household = household_in_scope(db.session, actor, household_id, options=[joinedload(Household.members)])
    official = actor.user.can_see_village(household.village_id)
    day = today()
    periods = {"quarter": quarter_of(day), "year": year_of(day)}
    mine = household_standing(db.session, household, periods.values())
    standing = {
        key: {"period": p, "points": mine[p].points, "eligible": mine[p].eligible, "rank": mine[p].rank}
        for key, p in periods.items()
    }
    stmt = points.household_entries(household.id).options(*points.PASSBOOK_ROW_LOADS)
    show_all = request.args.get("all") == "1"
    if show_all:
        pagination, entries = None, db.session.scalars(stmt.limit(PASSBOOK_PRINT_MAX)).all()
    else:
        # The chain head already counts the passbook: no COUNT over its rows.
        pagination = CountedPagination(
            select=stmt,
            session=db.session,
            total=household.entry_count,
            page=_page(),
            per_page=PASSBOOK_PER_PAGE,
            error_out=False,
        )
        entries = pagination.items
    return render_template(
        "home/household.html",
        household=household,
        official=official,
        standing=standing,
        entries=entries,
        pagination=pagination,
        show_all=show_all,
        can_reverse=official and actor.user.has_role(*points.REVIEWERS),
        reversible_kinds=points.REVERSIBLE_KINDS,
        printed_on=day,
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
                return redirect(url_for(".show", household_id=household.id))
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
            return redirect(url_for(".show", household_id=household.id))
    return render_template("households/move_out.html", form=form, household=household), status


def _imports_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _keep_upload(filename: str, data: bytes) -> str:
    """Save an upload between preview and confirmation; returns its token (the file's name)."""
    folder = _imports_dir()
    cutoff = time.time() - UPLOAD_MAX_AGE
    for old in folder.iterdir():  # previews nobody confirmed
        if old.is_file() and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16) + (".xlsx" if filename.lower().endswith(".xlsx") else ".csv")
    (folder / token).write_bytes(data)
    session["household_import"] = token
    return token


def _upload_name(display: str, token: str) -> str:
    """The name shown to the service: the user's, as long as it has the kept file's type."""
    display = (display or "").strip()[-100:]
    return display if display.lower().endswith(token[token.rindex(".") :]) else token


@bp.route("/households/import", methods=["GET", "POST"])
@login_required
def import_households():
    actor = current_actor()
    require_role(actor, "village_admin")
    village_id = working_village_id(actor)
    if village_id is None:
        return _pick_village("households.import_households", _("导入农户名册"))
    village = village_in_scope(db.session, actor, village_id)
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
                preview, _created = points.import_households(
                    db.session, actor, village.id, filename, data, today=today(), now=utcnow(), commit=False
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
    require_role(actor, "village_admin")
    village = village_in_scope(db.session, actor, working_village_id(actor))
    back = url_for(".import_households", village_id=working_village_id(actor) if actor.user.is_admin else None)
    form = ConfirmImportForm()
    token = form.token.data or ""
    path = _imports_dir() / token if TOKEN_RE.match(token) else None
    if not form.validate_on_submit() or path is None or session.get("household_import") != token or not path.is_file():
        flash(_("上传的文件已失效，请重新上传"), "error")
        return redirect(back)
    try:
        preview, created = points.import_households(
            db.session,
            actor,
            village.id,
            _upload_name(form.filename.data, token),
            path.read_bytes(),
            today=today(),
            now=utcnow(),
            commit=True,
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
    return redirect(url_for(".index", village_id=working_village_id(actor) if actor.user.is_admin else None))


@bp.route("/households/import/template.xlsx")
@login_required
def import_template():
    require_role(current_actor(), "village_admin")
    return send_file(
        BytesIO(services.import_template_xlsx()),
        mimetype=XLSX,
        as_attachment=True,
        download_name=_("农户名册模板.xlsx"),
    )


@bp.route("/households/export.xlsx")
@login_required
def export():
    actor = current_actor()
    village_id = working_village_id(actor)
    if village_id is None and actor.user.is_admin:
        flash(_("请先选择一个村，再导出名册"), "error")
        return redirect(url_for(".index"))
    data = services.export_register(db.session, actor, village_id)
    db.session.commit()
    return send_file(
        BytesIO(data),
        mimetype=XLSX,
        as_attachment=True,
        download_name=_("农户名册-%(day)s.xlsx", day=today().isoformat()),
    )
