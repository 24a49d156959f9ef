from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api import api_blueprint_login, validate_period_arg
from app.extensions import db
from app.rankings import services

blp = Blueprint("rankings_api", __name__, url_prefix="/api/v1", description="Rankings")
api_blueprint_login(blp)


class LeaderboardQuery(Schema):
    period = fields.String(required=True)
    village_id = fields.Integer()
    township = fields.String()
    limit = fields.Integer(validate=validate.Range(min=1, max=100_000))


class StandingOut(Schema):
    rank = fields.Integer()
    household_id = fields.Integer()
    number = fields.String()
    head_name = fields.String()
    village_id = fields.Integer()
    village_name = fields.String()
    points = fields.Integer()
    eligible = fields.Boolean()


class LeaderboardOut(Schema):
    period = fields.String()
    items = fields.List(fields.Nested(StandingOut))


@blp.route("/leaderboards", methods=["GET"])
@blp.arguments(LeaderboardQuery, location="query")
@blp.response(200, LeaderboardOut)
def leaderboard(args):
    """Household standings: public to every logged-in user, residents included."""
    period = validate_period_arg(args["period"])
    rows = services.household_standings(
        db.session,
        period,
        village_id=args.get("village_id"),
        township=args.get("township"),
        limit=args.get("limit"),
    )
    return {"period": period, "items": [r.to_dict() for r in rows]}
