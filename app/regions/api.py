from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api import api_blueprint_login, list_of, paginated
from app.api.idempotency import mutation
from app.extensions import db
from app.regions import services
from app.web import current_actor

blp = Blueprint("regions_api", __name__, url_prefix="/api/v1", description="Regions: cities, counties, townships")
api_blueprint_login(blp)


class RegionIn(Schema):
    name = fields.String(required=True)
    code = fields.String(required=True)
    level = fields.String(required=True, metadata={"enum": ["city", "county", "township"]})
    parent_id = fields.Integer(strict=True, allow_none=True)


class RegionOut(Schema):
    id = fields.Integer()
    name = fields.String()
    code = fields.String()
    level = fields.String()
    parent_id = fields.Integer(allow_none=True)


class RegionDetail(RegionOut):
    villages = fields.Integer()
    households = fields.Integer()


class RegionQuery(Schema):
    parent_id = fields.Integer()


REGION_OUT = RegionOut()


@blp.route("/regions", methods=["POST"])
@mutation
@blp.arguments(RegionIn())
@blp.response(201, RegionOut)
def create_region(data):
    return services.create_region(db.session, current_actor(), data)


@blp.route("/regions", methods=["GET"])
@blp.arguments(RegionQuery(), location="query")
@blp.response(200, list_of(RegionOut))
def list_regions(args):
    return paginated(db.session, services.list_regions(db.session, current_actor(), args.get("parent_id")), REGION_OUT)


@blp.route("/regions/<int:region_id>", methods=["GET"])
@blp.response(200, RegionDetail)
def get_region(region_id):
    region = services.region_in_scope(db.session, current_actor(), region_id)
    return REGION_OUT.dump(region) | services.region_counts(db.session, region.id)
