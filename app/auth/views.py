from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.auth import services
from app.auth.forms import ROLE_LABELS, ActiveForm, PasswordForm, UserForm
from app.auth.throttle import login_limits
from app.clock import utcnow
from app.errors import Forbidden, InvalidCredentials, NotFound
from app.extensions import db
from app.households.models import Household
from app.households.services import find_by_number
from app.redirects import same_site_path
from app.regions.services import region_ids_below
from app.scope import require_role
from app.web import (
    current_actor,
    landing_url,
    listed_villages,
    mutate,
    village_args,
    village_choices,
    working_village_id,
)

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))])


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    if current_user.is_authenticated:
        return redirect(landing_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(db.session, form.username.data, form.password.data, now=utcnow())
        except InvalidCredentials as exc:
            db.session.rollback()  # SQLite: free the write lock before the failure is counted
            g.login_failed = True
            form.password.errors.append(exc.render_message())
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session at login (no fixation)
            if lang:
                session["lang"] = lang
            login_user(user)
            db.session.commit()
            return redirect(same_site_path(request.args.get("next")) or landing_url(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash(_("已退出登录"))
    return redirect(url_for("auth.login"))


@bp.route("/me")
@login_required
def me():
    return redirect(landing_url(current_user))


def _users_back():
    return redirect(url_for("auth.users", village_id=request.args.get("village_id", type=int)))


@bp.route("/users")
@login_required
def users():
    actor = current_actor()
    require_role(actor, "village_admin")
    village_id = working_village_id(actor)
    regions = None  # a region's admin with no village chosen: its villages' users and its regions'
    if actor.user.region_id is not None and village_id is None:
        regions = region_ids_below(db.session, actor.user.region_id)
    pagination = db.paginate(
        services.list_users(listed_villages(actor, village_id), regions),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=50,
        error_out=False,
    )
    villages = {v.id: v for v in village_choices()}
    households = {u.household_id: db.session.get(Household, u.household_id) for u in pagination.items if u.household_id}
    return render_template(
        "auth/users.html",
        pagination=pagination,
        village_id=village_id,
        villages=villages,
        households=households,
        role_labels=ROLE_LABELS,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user():
    actor = current_actor()
    require_role(actor, "village_admin")
    admin = actor.user.is_admin
    form = UserForm(village_id=working_village_id(actor) or 0).setup(village_choices(), admin=admin)
    status = 200
    if form.validate_on_submit():
        # an admin picks the village; a region's admin works in the village it named, a
        # village admin in its own
        village_id = (form.village_id.data or None) if admin else working_village_id(actor)
        number = (form.household_number.data or "").strip()
        household = find_by_number(db.session, village_id, number) if village_id and number else None
        values = {
            "username": form.username.data,
            "display_name": form.display_name.data,
            "password": form.password.data,
            "roles": form.roles.data,
            "village_id": village_id,
            # A number that names no household of the village is refused by the service
            # like a missing one (-1 is never an id); its message is made precise below.
            "household_id": household.id if household else (-1 if number else None),
        }
        done = mutate(
            lambda: services.create_user(db.session, actor, values),
            form,
            rename={"household_id": "household_number"},
            # A number that names no household of the village: said the page's way.
            fields={"household_id": ("household_number", _("本村没有户号 %(n)s", n=number))},
        )
        if done.ok:
            flash(_("已新建用户 %(name)s", name=done.value.username))
            return redirect(url_for("auth.users", **village_args(done.value.village_id)))
        status = 422 if form.household_number.errors else done.status
    elif form.is_submitted():
        status = 422
    return render_template("auth/users_new.html", form=form), status


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@login_required
def set_user_active(user_id):
    actor = current_actor()
    require_role(actor, "village_admin")
    form = ActiveForm()
    if form.validate_on_submit():
        done = mutate(
            lambda: services.set_active(db.session, actor, user_id, form.active.data == "1"),
            reraise=(NotFound, Forbidden),
        )
        if done.ok and done.value.active:
            flash(_("已启用 %(name)s", name=done.value.username))
        elif done.ok:
            flash(_("已停用 %(name)s，该账号不能再登录", name=done.value.username))
    return _users_back()


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@login_required
def reset_password(user_id):
    actor = current_actor()
    user = services.user_in_scope(db.session, actor, user_id)
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        done = mutate(lambda: services.reset_password(db.session, actor, user.id, form.password.data or ""), form)
        if done.ok:
            flash(_("已重置 %(name)s 的密码，请当面告知本人", name=user.username))
            return redirect(url_for("auth.users", **village_args(user.village_id)))
        status = done.status
    return render_template("auth/users_password.html", form=form, user=user), status
