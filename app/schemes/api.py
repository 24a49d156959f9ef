from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api import api_blueprint_login, list_of, paginated
from app.api.fields import LocalTimestamp, StrictBoolean, StrictFloat
from app.api.idempotency import mutation
from app.clock import local_today, utcnow
from app.extensions import db
from app.schemes import services
from app.web import current_actor, tz

blp = Blueprint("schemes_api", __name__, url_prefix="/api/v1", description="Schemes (积分方案)")
api_blueprint_login(blp)


class SchemeFields(Schema):
    name = fields.String()
    cadence = fields.String(metadata={"enum": ["quarter", "month"]})
    categories = fields.List(fields.String(), metadata={"description": "in order; default: the standard eight"})
    base_points = fields.Integer(strict=True)
    redeem_floor = fields.Integer(strict=True)
    yuan_per_point = StrictFloat()
    approval_required = StrictBoolean()
    notice_days = fields.Integer(strict=True)
    annual_reset = StrictBoolean()


class SchemeIn(SchemeFields):
    """Types only: what is required is the service's to say (422 naming each field)."""

    village_id = fields.Integer(strict=True, allow_none=True)
    region_id = fields.Integer(strict=True, allow_none=True)
    account_kind = fields.String(metadata={"enum": ["household", "person", "village"]})


class SchemePatch(SchemeIn):
    """Any field but ``account_kind`` (and the owner): naming one is 422."""


class SchemeOut(SchemeFields):
    id = fields.Integer()
    village_id = fields.Integer(allow_none=True)
    region_id = fields.Integer(allow_none=True)
    account_kind = fields.String()
    created_at = LocalTimestamp()


class SchemeQuery(Schema):
    village_id = fields.Integer()
    region_id = fields.Integer(metadata={"description": "in place of village_id (not both: 422)"})


SCHEME_OUT = SchemeOut()


@blp.route("/schemes", methods=["POST"])
@mutation
@blp.arguments(SchemeIn())
@blp.response(201, SchemeOut)
def create_scheme(data):
    now = utcnow()
    return services.create_scheme(db.session, current_actor(), data, today=local_today(tz()), now=now)


@blp.route("/schemes", methods=["GET"])
@blp.arguments(SchemeQuery(), location="query")
@blp.response(200, list_of(SchemeOut))
def list_schemes(args):
    stmt = services.list_schemes(
        db.session, current_actor(), village_id=args.get("village_id"), region_id=args.get("region_id")
    )
    return paginated(db.session, stmt, SCHEME_OUT)


@blp.route("/schemes/<int:scheme_id>", methods=["GET"])
@blp.response(200, SchemeOut)
def get_scheme(scheme_id):
    return services.scheme_in_scope(db.session, current_actor(), scheme_id)


@blp.route("/schemes/<int:scheme_id>", methods=["PATCH"])
@mutation
@blp.arguments(SchemePatch())
@blp.response(200, SchemeOut)
def patch_scheme(data, scheme_id):
    return services.update_scheme(db.session, current_actor(), scheme_id, data)
