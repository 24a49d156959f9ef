"""One place that turns failures into the API's error JSON or a page in Chinese."""

from contextlib import suppress

from flask import Flask, current_app, render_template, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.api import (
    API_PREFIX,
    domain_error_response,
    error_response,
    http_error_response,
)
from app.errors import DomainError
from app.extensions import db


def _is_api() -> bool:
    return request.path.startswith(API_PREFIX)


# A page's HTTP errors in the reader's language: Werkzeug's descriptions (and the
# limiter's "10 per 5 minute") are English sentences for developers.
_PAGE_MESSAGES = {
    400: _l("请求有误，请返回重试"),
    401: _l("请先登录"),
    403: _l("无权执行此操作"),
    404: _l("未找到该页面或记录"),
    405: _l("不支持该请求方法"),
    429: _l("尝试次数过多，请稍后再试"),
    500: _l("服务器出错了，请稍后再试"),
}


def _page_message(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return _("页面已过期，请刷新后重新提交")
    if exc.code == 413:
        return _("上传的内容太大（不能超过 %(mb)s MB）", mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024))
    return str(_PAGE_MESSAGES.get(exc.code or 500, _PAGE_MESSAGES[400]))


# The database is down, restarting, or every pooled connection is busy: the request may
# succeed a moment later, so 503, not 500 (API.md Conventions).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
RETRY_AFTER_SECONDS = "10"


def _forget_the_transaction() -> None:
    with suppress(DATABASE_UNAVAILABLE):  # the connection is gone: the pool has invalidated it
        db.session.rollback()


def unavailable_response(message: str | None = None):
    """503: the API's error JSON, or a page that reaches neither for the database nor for
    the logged-in user (whose loading would need it): rendered straight from the Jinja
    environment, past the context processors (Flask-Login's loads the user)."""
    message = message or _("数据库暂时无法连接，请稍后再试")
    if _is_api():
        response = error_response(503, "service_unavailable", message)
    else:
        lang = session.get("lang", "zh_CN")
        html = current_app.jinja_env.get_template("unavailable.html").render(message=message, lang=lang)
        response = current_app.response_class(html, 503, mimetype="text/html")
    response = current_app.make_response(response)
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _error_page(status: int, message: str):
    try:  # the page's header loads the user: with the database gone, that fails too
        return render_template("error.html", status=status, message=message), status
    except DATABASE_UNAVAILABLE:
        _forget_the_transaction()
        return unavailable_response()


def init_app(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc):
        _forget_the_transaction()
        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return unavailable_response()

    @app.errorhandler(StorageError)
    def limits_store_unavailable(exc: StorageError):
        """The login limits' store (Redis, or the database) cannot be reached: the login is
        refused for now rather than let through uncounted."""
        _forget_the_transaction()
        app.logger.warning(
            "login limits' store unavailable on %s %s: %r", request.method, request.path, exc.storage_error
        )
        if isinstance(exc.storage_error, SQLAlchemyError):
            return unavailable_response()
        return unavailable_response(_("登录暂时无法使用，请稍后再试"))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        _forget_the_transaction()
        if _is_api():
            return domain_error_response(exc)
        return _error_page(exc.status, exc.render_message())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _is_api():
            return http_error_response(exc)
        return _error_page(exc.code, _page_message(exc))

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        """A uniqueness race the services' checks could not see (two clerks, one moment)."""
        db.session.rollback()
        message = "该记录刚被他人同时创建或修改，请刷新后重试"
        if _is_api():
            return error_response(409, "conflict", message)
        return _error_page(409, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        _forget_the_transaction()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return error_response(500, "internal_error", "服务器内部错误")
        return _error_page(500, str(_PAGE_MESSAGES[500]))
