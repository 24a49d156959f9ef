"""One place that turns failures into the API's error JSON or a page in Chinese."""

from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
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


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if _is_api():
            return domain_error_response(exc)
        return render_template("error.html", status=exc.status, message=exc.render_message()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _is_api():
            return http_error_response(exc)
        return render_template("error.html", status=exc.code, message=_page_message(exc)), exc.code

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        """A uniqueness race the services' checks could not see (two clerks, one moment)."""
        db.session.rollback()
        message = "该记录刚被他人同时创建或修改，请刷新后重试"
        if _is_api():
            return error_response(409, "conflict", message)
        return render_template("error.html", status=409, message=message), 409

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return error_response(500, "internal_error", "服务器内部错误")
        return render_template("error.html", status=500, message=str(_PAGE_MESSAGES[500])), 500
