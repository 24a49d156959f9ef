"""Households in the API. Creating one opens its account on the ledger, and the
account view shows ledger figures, so this web module composes the points and
rankings services (their domain code never imports it)."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api import api_blueprint_login, list_of, paginated, validate_period_arg
from app.api.idempotency import mutation
from app.clock import local_today, quarter_of, utcnow, year_of
from app.extensions import db
from app.households import services
from app.households.models import Household
from app.points import services as points
from app.points.schemas import ENTRY_OUT, EntryOut
from app.rankings.services import household_standing
from app.scope import acting_village_id, household_in_scope
from app.web import current_actor, tz

blp = Blueprint("households_api", __name__, url_prefix="/api/v1", description="Households")
api_blueprint_login(blp)


class MemberSchema(Schema):
    name = fields.String(required=True)
    relation = fields.String(load_default="")


class HouseholdIn(Schema):
    village_id = fields.Integer(required=True, strict=True)
    number = fields.String(required=True)
    head_name = fields.String(required=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    members = fields.List(fields.Nested(MemberSchema))


class HouseholdPatch(Schema):
    number = fields.String()
    head_name = fields.String()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    members = fields.List(fields.Nested(MemberSchema))


class PeriodPoints(Schema):
    quarter = fields.Integer()
    year = fields.Integer()


class HouseholdOut(Schema):
    id = fields.Integer()
    # null for an account of no village (a person's, a village's in a region's scheme),
    # which these routes serve too (API.md: the same id as the account)
    village_id = fields.Integer(allow_none=True)
    number = fields.String()
    head_name = fields.String()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    balance = fields.Integer()
    redeemable = fields.Integer()
    moved_out_on = fields.Date(allow_none=True)
    members = fields.List(fields.Nested(MemberSchema))


class HouseholdDetail(HouseholdOut):
    period_points = fields.Nested(PeriodPoints)
    periods = fields.Dict(keys=fields.String(), values=fields.String())
    rank = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    eligible = fields.Dict(keys=fields.String(), values=fields.Boolean())


class HouseholdQuery(Schema):
    village_id = fields.Integer()
    q = fields.String()


class PeriodQuery(Schema):
    period = fields.String()


HOUSEHOLD_OUT = HouseholdOut()


class Account:
    """A household with its figures of the current quarter and year, as HouseholdDetail
    dumps it: the household's own attributes, then the figures."""

    def __init__(self, household: Household, figures: dict):
        self._household = household
        self.__dict__.update(figures)

    def __getattr__(self, name):
        return getattr(self._household, name)


def account(h: Household) -> Account:
    today = local_today(tz())
    quarter, year = quarter_of(today), year_of(today)
    q, y = household_standing(db.session, h, [quarter, year]).values()
    return Account(
        h,
        {
            "period_points": {"quarter": q.points, "year": y.points},
            "periods": {"quarter": quarter, "year": year},
            "rank": {"quarter": q.rank, "year": y.rank},
            "eligible": {"quarter": q.eligible, "year": y.eligible},
        },
    )


@blp.route("/households", methods=["POST"])
@mutation
@blp.arguments(HouseholdIn())
@blp.response(201, HouseholdDetail)
def create_household(data):
    village_id = data.pop("village_id")
    household = points.enroll_household(
        db.session, current_actor(), village_id, data, today=local_today(tz()), now=utcnow()
    )
    return account(household)


@blp.route("/households", methods=["GET"])
@blp.arguments(HouseholdQuery(), location="query")
@blp.response(200, list_of(HouseholdOut))
def list_households(args):
    me = current_actor()
    if not me.user.has_role("village_admin", "recorder", "reviewer", "clerk"):
        # A resident's list is its own household.
        acting_village_id(me, args.get("village_id"), residents=True)
        stmt = services.search(None, "").where(Household.id == (me.user.household_id or -1))
    else:
        stmt = services.search(acting_village_id(me, args.get("village_id")), args.get("q", ""))
    return paginated(db.session, stmt, HOUSEHOLD_OUT)


@blp.route("/households/<int:household_id>", methods=["GET"])
@blp.response(200, HouseholdDetail)
def get_household(household_id):
    return account(household_in_scope(db.session, current_actor(), household_id))


@blp.route("/households/<int:household_id>", methods=["PATCH"])
@mutation
@blp.arguments(HouseholdPatch())
@blp.response(200, HouseholdDetail)
def patch_household(data, household_id):
    return account(services.update_household(db.session, current_actor(), household_id, data))


@blp.route("/households/<int:household_id>/move-out", methods=["POST"])
@mutation
@blp.response(200, HouseholdDetail)
def move_out(household_id):
    return account(services.move_out(db.session, current_actor(), household_id, local_today(tz())))


@blp.route("/households/<int:household_id>/entries", methods=["GET"])
@blp.arguments(PeriodQuery(), location="query")
@blp.response(200, list_of(EntryOut))
def household_entries(args, household_id):
    household = household_in_scope(db.session, current_actor(), household_id)
    period = validate_period_arg(args.get("period"), required=False)
    return paginated(
        db.session,
        points.household_entries(household.id, period).options(*points.PASSBOOK_ROW_LOADS),
        ENTRY_OUT,
        total=None if period else household.entry_count,  # the chain head counts them all
    )
