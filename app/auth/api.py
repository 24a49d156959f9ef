from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api import api_blueprint_login, list_of, paginated
from app.api.idempotency import mutation
from app.auth import services
from app.auth.throttle import login_limits
from app.clock import to_local_iso, utcnow
from app.extensions import db
from app.regions.services import region_ids_below
from app.scope import acting_village_id, require_role
from app.web import current_actor, tz

blp = Blueprint("auth_api", __name__, url_prefix="/api/v1", description="Authentication and users")
api_blueprint_login(blp, exempt=("issue_token",))


class Credentials(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True)


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    village_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    shop_id = fields.Integer(allow_none=True)
    active = fields.Boolean()


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.String()
    user = fields.Nested(UserOut)


class UserIn(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True)
    display_name = fields.String()
    roles = fields.List(fields.String(), required=True)
    village_id = fields.Integer(strict=True, allow_none=True)
    region_id = fields.Integer(strict=True, allow_none=True)
    household_id = fields.Integer(strict=True, allow_none=True)
    shop_id = fields.Integer(strict=True, allow_none=True)


USER_OUT = UserOut()


@blp.route("/auth/token", methods=["POST"])
@login_limits
@blp.arguments(Credentials())
@blp.response(200, TokenOut)
def issue_token(data):
    now = utcnow()
    user = services.authenticate(db.session, data["username"], data["password"], now=now)
    token, expires = services.issue_token(
        user, current_app.config["SECRET_KEY"], current_app.config["API_TOKEN_MAX_AGE"], now
    )
    db.session.commit()
    return {"token": token, "expires_at": to_local_iso(expires, tz()), "user": user}


@blp.route("/users", methods=["POST"])
@mutation
@blp.arguments(UserIn())
@blp.response(201, UserOut)
def create_user(data):
    return services.create_user(db.session, current_actor(), data)


class UserQuery(Schema):
    village_id = fields.Integer()


@blp.route("/users", methods=["GET"])
@blp.arguments(UserQuery(), location="query")
@blp.response(200, list_of(UserOut))
def list_users(args):
    me = current_actor()
    require_role(me, "village_admin")
    village_id = acting_village_id(me, args.get("village_id"))
    regions = None
    if me.user.region_id is not None and args.get("village_id") is None:
        regions = region_ids_below(db.session, me.user.region_id)
    return paginated(db.session, services.list_users(village_id, regions), USER_OUT)


@blp.route("/auth/me", methods=["GET"])
@blp.response(200, UserOut)
def me():
    return current_actor().user


class PingOut(Schema):
    ok = fields.Boolean(required=True)


@blp.route("/ping", methods=["GET"])
@blp.doc(responses={"200": {"description": "OK", "content": {"application/json": {"schema": PingOut}}}})
def ping():
    """An authenticated request that does nothing: the floor that ``make bench`` compares with."""
    return {"ok": True}
