"""Moral Bank (道德银行): a village points scheme — ledger, approvals, shop and rankings."""

import os
from datetime import date
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config
from app.extensions import babel, csrf, db, limiter, login_manager, migrate


class JSONProvider(DefaultJSONProvider):
    """Dates as ISO 8601, as the API's schemas write them (Flask's default is an HTTP
    date), so a body built by hand reads exactly like one dumped by its schema."""

    @staticmethod
    def default(o):
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.json = JSONProvider(app)
    app.config.from_object(Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _finish_config(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # The address and the scheme only: nginx sets Host itself and would pass a
        # client's own X-Forwarded-Host through, letting it choose our external URLs.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    register_extensions(app)
    register_blueprints(app)
    from app.points import village_accounts

    village_accounts.install()
    from app import error_handlers

    error_handlers.init_app(app)
    from app import security_headers

    security_headers.init_app(app)
    from app import cli

    cli.init_app(app)
    return app


def _finish_config(app: Flask) -> None:
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "moralbank.db")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("postgresql+psycopg://"):
        # A database host that stops answering (rather than refusing) would hold every
        # request until gunicorn kills the worker: give up after a few seconds, 503.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        timeout = app.config["DATABASE_CONNECT_TIMEOUT"]
        options["connect_args"] = {"connect_timeout": timeout, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        if app.debug or app.testing or os.environ.get("FLASK_DEBUG") == "1" or os.environ.get("MORALBANK_DEV"):
            app.config["SECRET_KEY"] = "dev-only-not-secret"
        else:
            raise RuntimeError("SECRET_KEY must be set outside development and tests")


def register_extensions(app: Flask) -> None:
    from app.database import configure_engine, end_reads_with_commit

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    end_reads_with_commit(app, db.session)
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"))
    csrf.init_app(app)
    from app.auth import throttle  # registers the database:// storage of the login limits

    limiter.init_app(app)
    throttle.check_storage(app)
    babel.init_app(app, locale_selector=select_locale)
    from app import i18n, nav

    i18n.install(app)
    nav.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    # "basic", not "strong": a phone's address changes between Wi-Fi and 4G, and a session
    # bound to it would log the grid worker out mid-form. Sessions end with the password.
    login_manager.session_protection = "basic"

    from app.auth.services import user_from_session

    @login_manager.user_loader
    def load_user(session_id: str):
        return user_from_session(db.session, session_id)

    @login_manager.request_loader
    def load_user_from_bearer(req):
        from app.api import bearer_user

        user = bearer_user()
        # Only then is the request's user not the session cookie's: the API's CSRF check
        # (``api_blueprint_login``) is skipped for this, not for any Authorization header.
        g.authenticated_by_bearer = user is not None
        return user

    @app.context_processor
    def inject_locale():
        return {"current_locale": select_locale()}


def select_locale() -> str:
    """Chinese unless the user picked English (``?lang=en`` is remembered in the session)."""
    if not has_request_context():
        return "zh_CN"
    lang = request.args.get("lang")
    if lang in ("zh_CN", "en"):
        session["lang"] = lang
    return session.get("lang", "zh_CN")


def register_blueprints(app: Flask) -> None:
    from app.accounts import api as accounts_api
    from app.api import api
    from app.audit import views as audit_views
    from app.auth import api as auth_api
    from app.auth import views as auth_views
    from app.county import views as county_views
    from app.home import households_api
    from app.home import views as home_views
    from app.households import views as households_views
    from app.inputs import refuse_unstorable_page_input
    from app.points import api as points_api
    from app.points import views as points_views
    from app.rankings import api as rankings_api
    from app.rankings import views as rankings_views
    from app.redemption import api as redemption_api
    from app.redemption import views as redemption_views
    from app.regions import api as regions_api
    from app.schemes import api as schemes_api
    from app.schemes import views as schemes_views
    from app.villages import api as villages_api
    from app.villages import views as villages_views

    api.init_app(app)
    from app.api import limits

    limits.install(api)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for module in (
        auth_api,
        regions_api,
        villages_api,
        schemes_api,
        households_api,
        accounts_api,
        points_api,
        redemption_api,
        rankings_api,
    ):
        csrf.exempt(module.blp)  # checked in api_blueprint_login for cookie sessions only
        api.register_blueprint(module.blp)
    pages = (
        auth_views,
        villages_views,
        households_views,
        points_views,
        redemption_views,
        rankings_views,
        audit_views,
        home_views,
        schemes_views,
        county_views,
    )
    for module in pages:
        app.register_blueprint(module.bp)
    page_blueprints = {module.bp.name for module in pages}

    @app.before_request
    def _refuse_unstorable_page_input():
        if request.blueprint in page_blueprints:
            return refuse_unstorable_page_input()
        return None
