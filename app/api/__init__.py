"""The public JSON API (``../shared/API.md``): flask-smorest for the OpenAPI document,
one error format for every failure, bearer or session authentication.

Views pass their argument schemas to ``blp.arguments`` as instances (``EntryIn()``):
given a class, webargs builds a new schema for every request.
"""

import marshmallow
from flask import g, jsonify, request
from flask_login import current_user
from flask_smorest import Api as _Api
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException

from app.errors import BadRequest, DomainError, ValidationFailed
from app.inputs import path_id_too_big, unstorable, unstorable_field

API_PREFIX = "/api/v1"

HTTP_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine code, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "human text (Chinese)"})
    details = fields.Dict(required=True, metadata={"description": "e.g. each field's messages"})


class ErrorSchema(Schema):
    """The one error body of the API (API.md Conventions), declared for every error status
    instead of flask-smorest's own ``{code, status, message, errors}``."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are rendered by ``app.errors_handlers`` for pages and API alike."""


api = Api()


def error_response(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def domain_error_response(exc: DomainError):
    # Here, not at the top: importing the submodule would bind ``app.api.fields`` over
    # marshmallow's ``fields`` in this module.
    from app.api.fields import named_as_sent

    exc.details = named_as_sent(exc.details)  # a bad account_id is named account_id
    return error_response(exc.status, exc.code, exc.render_message(), exc.details)


def csrf_error_response(exc: CSRFError):
    """A writing request authenticated by the session cookie without a good CSRF token:
    what is wrong and how to mend it, not "malformed JSON" (Flask-WTF raises a 400)."""
    if exc.description == "The CSRF token is missing.":
        message = "缺少 CSRF 令牌：以浏览器会话（Cookie）登录时，写操作须在 X-CSRFToken 请求头中带上页面给出的令牌；或改用 Bearer 令牌"
    else:
        message = "CSRF 令牌无效或已过期：请刷新页面后重试"
    return error_response(403, "forbidden", message, {"csrf_token": [exc.description]})


def http_error_response(exc: HTTPException):
    if isinstance(exc, CSRFError):
        return csrf_error_response(exc)
    details = {}
    data = getattr(exc, "data", None) or {}
    if exc.code == 422 and "messages" in data:
        # webargs: {"json": {"field": ["msg"]}} → {"field": ["msg"]}
        for location_errors in data["messages"].values():
            if isinstance(location_errors, dict):
                details.update(location_errors)
        if "_schema" in details and details["_schema"] and "Invalid input type" in str(details["_schema"]):
            return error_response(400, "validation_error", "请求体须为 JSON 对象", details)
    code = HTTP_CODES.get(exc.code or 500, "error")
    message = {
        401: "请先登录",
        403: "无权执行此操作",
        404: "未找到",
        405: "不支持该请求方法",
        413: "上传内容太大",
        422: "输入有误，请检查标出的字段",
        429: "尝试次数过多，请稍后再试",
    }.get(exc.code, exc.description or "请求有误")
    if exc.code == 400 and not details:
        message = "请求格式有误（须为合法 JSON）"
    return error_response(exc.code or 500, code, message, details)


def validate_with(schema: Schema, data) -> dict:
    """Load ``data`` with a marshmallow schema, raising the contract's 422 on failure."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(messages) from exc


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def page_args() -> tuple[int, int]:
    args = validate_with(PageArgs(), {k: request.args[k] for k in ("page", "per_page") if k in request.args})
    return args["page"], args["per_page"]


_LISTS: dict[type[Schema], type[Schema]] = {}


def list_of(item: type[Schema]) -> type[Schema]:
    """The one list shape, ``{"items": [item...], "total": N}``, for the OpenAPI document:
    ``XOut`` → ``XList`` (one class per item schema, built once)."""
    if item not in _LISTS:
        name = item.__name__.removesuffix("Out") + "List"
        # ``marshmallow.fields``: ``fields`` here is shadowed by the ``app.api.fields`` module.
        shape = {
            "items": marshmallow.fields.List(marshmallow.fields.Nested(item)),
            "total": marshmallow.fields.Integer(),
        }
        _LISTS[item] = Schema.from_dict(shape, name=name)
    return _LISTS[item]


def paginated(session, stmt, dump, *, total: int | None = None, prepare=None):
    """A page of ``stmt`` as ``{"items", "total"}``. ``total`` when the caller already
    knows it (no COUNT); ``prepare(rows)`` loads what ``dump`` needs for the whole page.
    ``dump`` is the item's schema instance (built once at import): the page is dumped
    through it once and answered as built, not passed through the list schema again."""
    from sqlalchemy import func, select

    page, per_page = page_args()
    if total is None:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    if prepare is not None:
        prepare(rows)
    if isinstance(dump, Schema):
        return prebuilt({"items": dump.dump(rows, many=True), "total": total})
    return {"items": [dump(r) for r in rows], "total": total}


def prebuilt(data: dict, status: int = 200):
    """Answer with ``data`` as built: returning a Response makes flask-smorest skip its
    schema dump (``@blp.response`` still documents the shape). Only for bodies of plain
    JSON types already in the documented shape; for a long list the second pass through
    marshmallow costs more than the query."""
    response = jsonify(data)
    response.status_code = status
    return response


def image_response(*content_types: str) -> dict:
    """The OpenAPI ``responses`` of a view that answers with an image, not JSON."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"200": {"description": "OK", "content": {ct: binary for ct in content_types}}}


def require_json_object() -> None:
    if not isinstance(request.get_json(silent=True), dict):
        raise BadRequest()


def api_blueprint_login(blp, *, exempt: tuple[str, ...] = ()) -> None:
    """Every endpoint of ``blp`` needs a logged-in user (bearer token or session).

    A browser's session cookie is sent automatically, so a writing request that
    authenticates by cookie must also carry the CSRF token (``X-CSRFToken``): every
    writing request but one whose user came from its bearer token.
    """

    @blp.before_request
    def _require_login():
        if request.endpoint and request.endpoint.split(".")[-1] in exempt:
            return refuse_unstorable_input()
        if not current_user.is_authenticated:
            return error_response(401, "unauthorized", "请先登录")
        # Not skipped for any Authorization header: a browser sends one by itself (HTTP
        # Basic in front of the site), with the cookie, on a form another site posts.
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _bearer_token_names_the_user():
            from app.extensions import csrf

            csrf.protect()
        return refuse_unstorable_input()


def _bearer_token_names_the_user() -> bool:
    """Whether the request carries a good bearer token of its user (then it needs no CSRF
    token: no other site can make a browser send one)."""
    if g.get("authenticated_by_bearer"):  # the login loader found no session and took it
        return True
    user = bearer_user()
    return user is not None and user.id == current_user.id


def bearer_user():
    """The user the request's ``Authorization: Bearer`` token names, if it is good."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from flask import current_app

    from app.auth.services import user_from_token
    from app.extensions import db

    config = current_app.config  # the extension is shared: never a captured app
    return user_from_token(db.session, header[7:].strip(), config["SECRET_KEY"], config["API_TOKEN_MAX_AGE"])


def refuse_unstorable_input():
    """Answer values that would only make the database fail (a 500) before any view runs:
    a path id beyond 32 bits is 404; such a JSON value or query id, a NUL or a lone
    surrogate, or a field nested past ``MAX_JSON_DEPTH`` is 422; a body nested too deep
    to parse is 400."""
    if path_id_too_big():
        return error_response(404, "not_found", "未找到")
    bad = {name for name, text in request.args.items(multi=True) if unstorable_field(name, text)}
    try:
        data = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # nested too deep for the parser: it is no body this API takes
        return error_response(400, "validation_error", "请求格式有误（JSON 嵌套过深）")
    if isinstance(data, dict):
        bad.update(name for name, value in data.items() if unstorable(name) or unstorable(value, 1))
    elif isinstance(data, list) and unstorable(data):
        return error_response(400, "validation_error", "请求格式有误（JSON 嵌套过深或含非法字符）")
    if bad:
        details = {name: ["超出允许的范围或含有非法字符"] for name in sorted(bad)}
        return error_response(422, "validation_error", "输入有误，请检查标出的字段", details)
    return None


def validate_period_arg(value: str | None, *, required: bool = True, field: str = "period") -> str | None:
    from app.clock import normalize_period

    if not value:
        if required:
            raise ValidationFailed({field: ["必填，如 2026Q3 或 2026"]})
        return None
    try:
        return normalize_period(value)
    except ValueError as exc:
        raise ValidationFailed({field: ["期间格式须为 2026Q3、2026 或月份 2026-03"]}) from exc
