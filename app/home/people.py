"""The people of a person scheme (志愿者, 网格员): their list, adding one, importing a
list from XLSX with the register's line-by-line preview, and the A4 card sheet. These
pages compose accounts, households and the shop's cards, so they live above them."""

from pathlib import Path

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.accounts import register as people_register
from app.accounts import services as accounts
from app.accounts.services import create_account, list_accounts, scheme_village_ids
from app.clock import utcnow
from app.errors import DomainError
from app.extensions import db
from app.home.registration import _imports_dir, _keep_upload, _upload_name
from app.home.views import bp
from app.households.forms import TOKEN_RE, ConfirmImportForm
from app.households.models import Household
from app.rankings.account_rank import scheme_ranks
from app.rankings.services import PeriodStanding, household_period_points, household_standing
from app.redemption import services as shop
from app.redemption import shops as shop_services
from app.redemption.views import card_svg
from app.schemes.models import Scheme
from app.schemes.services import can_see_scheme, list_schemes, require_scheme_manager
from app.scope import OFFICIAL_ROLES, require_role
from app.spreadsheet import XLSX, attachment
from app.villages.models import Village
from app.web import current_actor, mutate, page_arg, secret, show_error, today

PER_PAGE = 50
UPLOAD_KEY = "people_import"


class PersonForm(FlaskForm):
    number = StringField(_l("编号"))
    name = StringField(_l("姓名"))
    phone = StringField(_l("电话"))
    village_id = SelectField(_l("所在村"), coerce=int, validate_choice=False, default=0)
    household = StringField(_l("所属农户户号"))


class PeopleImportForm(FlaskForm):
    file = FileField(_l("人员名单（.xlsx 或 .csv）"))


def _scheme(actor, scheme_id):
    require_role(actor, *OFFICIAL_ROLES)
    return people_register.person_scheme(db.session, actor, scheme_id)


def manages(actor, scheme) -> bool:
    try:
        require_scheme_manager(actor, scheme)
    except DomainError:
        return False
    return actor.user.has_role("village_admin")


@bp.route("/people")
@login_required
def people_schemes():
    """The person schemes the official sees (志愿积分, 网格员): straight to the only one."""
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    found = db.session.scalars(list_schemes(db.session, actor).where(Scheme.account_kind == "person")).all()
    if len(found) == 1:
        return redirect(url_for(".people", scheme_id=found[0].id))
    return render_template("home/people_schemes.html", schemes=found)


@bp.route("/schemes/<int:scheme_id>/people")
@login_required
def people(scheme_id):
    """A person scheme's accounts, searched by number, name or phone: dense rows."""
    actor = current_actor()
    scheme = _scheme(actor, scheme_id)
    q = request.args.get("q", "").strip()[:50]
    left = request.args.get("left") == "1"  # those who left, shown apart from the active
    stmt = list_accounts(db.session, actor, scheme.id, q)
    gone = Household.moved_out_on.is_not(None)
    left_count = db.session.scalar(stmt.where(gone).with_only_columns(func.count(Household.id)).order_by(None))
    stmt = stmt.where(gone if left else Household.moved_out_on.is_(None)).options(
        joinedload(Household.linked_household), joinedload(Household.home_village)
    )
    pagination = db.paginate(stmt, page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "home/people.html",
        scheme=scheme,
        pagination=pagination,
        q=q,
        left=left,
        left_count=left_count,
        can_manage=manages(actor, scheme),
    )


def _village_choices(scheme) -> list[SelectChoice]:
    ids = sorted(scheme_village_ids(db.session, scheme))
    villages = db.session.scalars(select(Village).where(Village.id.in_(ids)).order_by(Village.code)).all()
    return [SelectChoice(0, _("（不填）"))] + [SelectChoice(v.id, v.name) for v in villages]


def _person_values(form: PersonForm, scheme) -> dict:
    """The account's fields from the form; the household by its number in the person's
    village (the service says beside 户号 when none has it, with every other mistake)."""
    return {
        "scheme_id": scheme.id,
        "number": form.number.data or "",
        "name": form.name.data or "",
        "phone": form.phone.data or "",
        "village_id": scheme.village_id or form.village_id.data or None,
        "household_number": form.household.data or "",
    }


def _save_person(form: PersonForm, scheme, save):
    """``save(values)`` under the page plumbing, its refusals beside the form's fields."""
    return mutate(
        lambda: save(_person_values(form, scheme)),
        form,
        rename={"household_id": "household"},
        fields={"household_id": "household", "village_id": "village_id"},
    )


@bp.route("/schemes/<int:scheme_id>/people/new", methods=["GET", "POST"])
@login_required
def new_person(scheme_id):
    actor = current_actor()
    scheme = _scheme(actor, scheme_id)
    require_scheme_manager(actor, scheme)
    form = PersonForm()
    _fit_village_field(form, scheme)
    status = 200
    if form.validate_on_submit():
        done = _save_person(
            form, scheme, lambda values: create_account(db.session, actor, values, today=today(), now=utcnow())
        )
        status = done.status
        if done.ok:
            person = done.value
            flash(_("已添加 %(number)s %(name)s", number=person.number, name=person.name))
            return redirect(url_for(".people", scheme_id=scheme.id))
    return render_template("home/person_form.html", form=form, scheme=scheme), status


class LeaveForm(FlaskForm):
    confirm = BooleanField(_l("我确认此人已离开"))


def _managed_person(actor, person_id) -> Household:
    """A person account for its scheme's village admin: 404 outside the scheme's
    officials (a resident too), 403 for an official who does not manage it."""
    person = accounts.person_in_scope(db.session, actor, person_id)
    require_role(actor, "village_admin")
    require_scheme_manager(actor, person.scheme)
    return person


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@login_required
def edit_person(person_id):
    actor = current_actor()
    person = _managed_person(actor, person_id)
    scheme = person.scheme
    linked = person.linked_household
    saved = {
        "number": person.number,
        "name": person.name,
        "phone": person.phone or "",
        "village_id": person.home_village_id or 0,
        "household": linked.number if linked else "",
    }
    form = PersonForm() if request.method == "POST" else PersonForm(data=saved)  # a field left out is empty
    _fit_village_field(form, scheme)
    status = 200
    if form.validate_on_submit():
        done = _save_person(form, scheme, lambda values: accounts.update_account(db.session, actor, person.id, values))
        status = done.status
        if done.ok:
            flash(_("已保存 %(number)s %(name)s 的资料", number=person.number, name=person.name))
            return redirect(url_for(".household", household_id=person.id))
    return render_template("home/person_form.html", form=form, scheme=scheme, person=person), status


def _fit_village_field(form, scheme) -> None:
    """A region's scheme asks for the person's village (one below it); a village's knows it."""
    if scheme.village_id is None:
        form.village_id.choices = _village_choices(scheme)
    else:
        del form.village_id


@bp.route("/people/<int:person_id>/leave", methods=["GET", "POST"])
@login_required
def person_leaves(person_id):
    actor = current_actor()
    person = _managed_person(actor, person_id)
    form = LeaveForm()
    status = 200
    if form.validate_on_submit():
        if not form.confirm.data:
            form.confirm.errors = [_("请勾选确认后再提交")]
            status = 422
        else:
            if mutate(lambda: accounts.leave(db.session, actor, person.id, today())).ok:
                flash(_("%(number)s %(name)s 已登记离开", number=person.number, name=person.name))
            return redirect(url_for(".household", household_id=person.id))
    return render_template("home/person_leave.html", form=form, person=person), status


@bp.route("/schemes/<int:scheme_id>/people/cards")
@login_required
def people_cards(scheme_id):
    """Every active person's card of the scheme on A4 sheets, ten to a page."""
    actor = current_actor()
    scheme = _scheme(actor, scheme_id)
    require_role(actor, "village_admin")
    key = secret()
    accounts = db.session.scalars(
        select(Household)
        .where(Household.scheme_id == scheme.id, Household.moved_out_on.is_(None))
        .options(joinedload(Household.home_village))
        .order_by(Household.number, Household.id)
    )
    cards = [(a, card_svg(shop.card_token(key, a))) for a in accounts]
    shop_names = shop_services.scheme_shop_names(db.session, scheme.id)
    return render_template(
        "redemption/cards.html", village=None, scheme=scheme, cards=cards, villages=[], shop_names=shop_names
    )


@bp.route("/schemes/<int:scheme_id>/people/template.xlsx")
@login_required
def people_template(scheme_id):
    _scheme(current_actor(), scheme_id)
    return Response(
        people_register.people_template_xlsx(),
        mimetype=XLSX,
        headers=attachment(_("人员名单模板.xlsx"), "people-template.xlsx"),
    )


def _render_import(scheme, form, preview=None, confirm=None, status=200):
    page = render_template("home/people_import.html", scheme=scheme, form=form, preview=preview, confirm=confirm)
    return page, status


@bp.route("/schemes/<int:scheme_id>/people/import", methods=["GET", "POST"])
@login_required
def import_people(scheme_id):
    actor = current_actor()
    scheme = _scheme(actor, scheme_id)
    require_scheme_manager(actor, scheme)
    form = PeopleImportForm()
    if not form.validate_on_submit():
        return _render_import(scheme, form)
    upload = form.file.data
    if not upload or not upload.filename:
        form.file.errors = [_("请选择要上传的文件")]
        return _render_import(scheme, form, status=422)
    filename, data = Path(upload.filename).name, upload.read()
    preview, confirm, status = None, None, 422
    try:
        preview, _created = people_register.import_people(
            db.session, actor, scheme.id, filename, data, commit=False, today=today(), now=utcnow()
        )
    except DomainError as exc:
        status = show_error(form, exc)
    else:
        if preview.ok:
            status = 200
            token = _keep_upload(filename, data, UPLOAD_KEY)
            confirm = ConfirmImportForm(formdata=None, token=token, filename=filename)
    db.session.rollback()  # a preview writes nothing
    return _render_import(scheme, form, preview, confirm, status)


@bp.route("/schemes/<int:scheme_id>/people/import/confirm", methods=["POST"])
@login_required
def confirm_people_import(scheme_id):
    actor = current_actor()
    scheme = _scheme(actor, scheme_id)
    require_scheme_manager(actor, scheme)  # as the preview: a non-manager is refused, not sent back
    back = url_for(".import_people", scheme_id=scheme.id)
    form = ConfirmImportForm()
    token = form.token.data or ""
    path = _imports_dir() / token if TOKEN_RE.match(token) else None
    if not form.validate_on_submit() or path is None or session.get(UPLOAD_KEY) != token or not path.is_file():
        flash(_("上传的文件已失效，请重新上传"), "error")
        return redirect(back)
    done = mutate(
        lambda: people_register.import_people(
            db.session,
            actor,
            scheme.id,
            _upload_name(form.filename.data, token),
            path.read_bytes(),
            commit=True,
            today=today(),
            now=utcnow(),
        )
    )
    if not done.ok:
        return redirect(back)
    preview, created = done.value
    path.unlink(missing_ok=True)
    session.pop(UPLOAD_KEY, None)
    if not preview.ok:  # the list changed since the preview: nothing was written
        return _render_import(scheme, PeopleImportForm(), preview, None, 409)
    flash(_("已导入 %(n)s 人，每人已按方案开户", n=len(created)))
    return redirect(url_for(".people", scheme_id=scheme.id))


def linked_people(household: Household) -> list[Household]:
    """The person accounts linked to a household (its volunteers), for its page."""
    if not household.is_household:
        return []
    return list(
        db.session.scalars(
            select(Household)
            .where(Household.linked_household_id == household.id)
            .options(joinedload(Household.scheme))
            .order_by(Household.scheme_id, Household.number)
        )
    )


def account_standing(session, account: Household, periods) -> dict:
    """A household's points and village rank per period; a person's or a village's
    points, rank in its scheme and the scheme's number of active accounts."""
    if account.is_household:
        return household_standing(session, account, periods)
    found = household_period_points(session, account.id, list(periods))
    ranks = scheme_ranks(session, account, {p: points for p, (points, _vetoes) in found.items()})
    return {p: PeriodStanding(points, vetoes, *ranks[p]) for p, (points, vetoes) in found.items()}


def sees_as_official(user, account: Household) -> bool:
    """Whether the user sees an account as one of its scheme's officials (not as the
    resident of its household)."""
    if account.is_household:
        return user.can_see_village(account.village_id)
    return can_see_scheme(db.session, user, account.scheme)
