"""One place that turns failures into the API's error JSON or a page in Chinese."""

from flask import Flask, render_template, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

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
        return render_template("error.html", status=exc.code, message=exc.description), exc.code

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
        return render_template("error.html", status=500, message=InternalServerError.description), 500
