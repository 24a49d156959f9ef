from flask import (
    Blueprint,
    current_app,
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

from app.audit.services import Actor
from app.auth import services
from app.clock import utcnow
from app.errors import InvalidCredentials
from app.extensions import db, limiter

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))])


def _login_key() -> str:
    return f"user:{(request.form.get('username') or '')[:40].lower()}"


def _limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], deduct_when=_login_failed)
@limiter.limit(_limit, methods=["POST"], key_func=_login_key, deduct_when=_login_failed)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("points.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(db.session, form.username.data, form.password.data, now=utcnow())
        except InvalidCredentials as exc:
            g.login_failed = True
            form.password.errors.append(exc.render_message())
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session at login (no fixation)
            if lang:
                session["lang"] = lang
            login_user(user)
            db.session.commit()
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("points.dashboard")
            return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash(_("已退出登录"))
    return redirect(url_for("auth.login"))


def page_actor() -> Actor:
    return Actor(current_user if current_user.is_authenticated else None, request.remote_addr or "")


@bp.route("/me")
@login_required
def me():
    return redirect(url_for("points.dashboard"))


@bp.route("/users")
@login_required
def users():
    return render_template("base.html")
