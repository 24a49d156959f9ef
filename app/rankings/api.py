from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, fields, pre_dump, validate

from app.api import api_blueprint_login, list_of, paginated, prebuilt, validate_period_arg
from app.api.fields import LocalTimestamp, StrictBoolean, account_for_household
from app.api.idempotency import mutation
from app.clock import local_today, utcnow
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.rankings import awards, objections, periods, services
from app.regions.models import Region
from app.schemes.models import Scheme
from app.schemes.services import can_see_scheme, village_or_scheme
from app.scope import acting_village_id, existing_village
from app.web import current_actor, tz

blp = Blueprint("rankings_api", __name__, url_prefix="/api/v1", description="Rankings")
api_blueprint_login(blp)


class LeaderboardQuery(Schema):
    period = fields.String(required=True)
    village_id = fields.Integer()
    township = fields.String()
    region_id = fields.Integer()
    scheme_id = fields.Integer(
        metadata={"description": "that scheme's accounts; with village_id, its household scheme only (else 422)"}
    )
    limit = fields.Integer(validate=validate.Range(min=1, max=100_000))


class StandingOut(Schema):
    rank = fields.Integer()
    household_id = fields.Integer()
    account_id = fields.Integer()
    number = fields.String()
    head_name = fields.String()
    village_id = fields.Integer(allow_none=True)
    village_name = fields.String(allow_none=True)
    points = fields.Integer()
    eligible = fields.Boolean()

    @pre_dump
    def _account(self, row, **_kwargs):
        """A publication stored before accounts carries no ``account_id``: its household's."""
        if isinstance(row, dict) and "account_id" not in row:
            return {**row, "account_id": row.get("household_id")}
        return row


class LeaderboardOut(Schema):
    period = fields.String()
    items = fields.List(fields.Nested(StandingOut))


def _scheme_arg(args) -> int | None:
    """``scheme_id=`` of a standings or awards query: a scheme that exists (a village's
    standings are public, as for ``village_id=``), else 404. A region's scheme is read
    as its published periods are (``periods.readable_scheme``): its officials and the
    users of the villages below it; an official of a region below it gets 404."""
    scheme_id = args.get("scheme_id")
    scheme = db.session.get(Scheme, scheme_id) if scheme_id is not None and 0 < scheme_id <= 2**31 - 1 else None
    if scheme_id is not None and scheme is None:
        raise NotFound()
    if scheme is not None and scheme.region_id is not None:
        periods.readable_scheme(db.session, current_actor(), scheme_id=scheme.id)
    return scheme_id


def _month_of_monthly_scheme(period: str, scheme_id: int | None) -> Scheme | None:
    """The scheme named (None if none); a month only with a monthly scheme: only its
    accounts have month totals."""
    scheme = db.session.get(Scheme, scheme_id) if scheme_id is not None else None
    if periods.is_month(period) and (scheme is None or scheme.cadence != "month"):
        raise ValidationFailed({"period": [str(_l("只有按月考核的方案（scheme_id）有月度排名"))]})
    return scheme


def _region_arg(args) -> int | None:
    """``region_id=`` of a standings query: a region that exists (standings are public,
    as for ``village_id=``), else 404."""
    region_id = args.get("region_id")
    if region_id is not None and db.session.get(Region, region_id) is None:
        raise NotFound()
    return region_id


@blp.route("/leaderboards", methods=["GET"])
@blp.arguments(LeaderboardQuery(), location="query")
@blp.response(200, LeaderboardOut)
def leaderboard(args):
    """Household standings: public to every logged-in user, residents included."""
    period = validate_period_arg(args["period"])
    args["village_id"], args["scheme_id"] = village_or_scheme(db.session, args.get("village_id"), args.get("scheme_id"))
    if args.get("village_id") is not None:
        existing_village(args["village_id"])
    scheme_id = _scheme_arg(args)
    _month_of_monthly_scheme(period, scheme_id)
    rows = services.household_standings(
        db.session,
        period,
        village_id=args.get("village_id"),
        township=args.get("township"),
        region_id=_region_arg(args),
        scheme_id=scheme_id,
        limit=args.get("limit"),
    )
    return prebuilt({"period": period, "items": [r.to_dict() for r in rows]})


class VillageBoardQuery(Schema):
    period = fields.String(required=True)
    township = fields.String()
    region_id = fields.Integer()
    scheme_id = fields.Integer(
        metadata={
            "description": "that scheme's accounts, each in its village (a village scheme: one per village); "
            "households then counts the accounts"
        }
    )


class VillageStandingOut(Schema):
    rank = fields.Integer()
    village_id = fields.Integer()
    name = fields.String()
    code = fields.String()
    township = fields.String()
    households = fields.Integer()
    points = fields.Integer()
    points_per_household = fields.Float()
    participation_rate = fields.Float()


class VillageBoardOut(Schema):
    period = fields.String()
    items = fields.List(fields.Nested(VillageStandingOut))


@blp.route("/leaderboards/villages", methods=["GET"])
@blp.arguments(VillageBoardQuery(), location="query")
@blp.response(200, VillageBoardOut)
def village_leaderboard(args):
    """Villages ranked by points per household, with participation; with ``scheme_id``,
    by that scheme's accounts."""
    period = validate_period_arg(args["period"])
    scheme = _month_of_monthly_scheme(period, _scheme_arg(args))
    rows = services.village_standings(
        db.session, period, township=args.get("township"), region_id=_region_arg(args), scheme=scheme
    )
    return prebuilt({"period": period, "items": [r.to_dict() for r in rows]})


class SchemeNameIn(Schema):
    """The scheme: ``village_id`` (its household scheme) or ``scheme_id``, one of the two."""

    village_id = fields.Integer(strict=True)
    scheme_id = fields.Integer(strict=True)


# ``scheme_id`` in place of ``village_id``: ``village_or_scheme``.
IN_PLACE = "in place of village_id (both given: the same scheme, else 422)"


class SchemeNameQuery(Schema):
    village_id = fields.Integer()
    scheme_id = fields.Integer(metadata={"description": IN_PLACE})


class PeriodOut(Schema):
    period = fields.String()
    scheme_id = fields.Integer()
    village_id = fields.Integer(allow_none=True)
    status = fields.String()
    notice_ends_on = fields.Date(allow_none=True)
    # dump_default: null, not absent, before the period is published.
    version = fields.Integer(attribute="publication.version", allow_none=True, dump_default=None)
    published_at = LocalTimestamp(attribute="publication.published_at", allow_none=True, dump_default=None)
    standings = fields.List(fields.Nested(StandingOut))


def _cycle_step(step, data, period):
    """Close or finalise ``period`` of the village or scheme named in ``data``."""
    return step(
        db.session,
        current_actor(),
        data.get("village_id"),
        period,
        scheme_id=data.get("scheme_id"),
        now=utcnow(),
        today=local_today(tz()),
    )


@blp.route("/periods/<period>/close", methods=["POST"])
@mutation
@blp.arguments(SchemeNameIn())
@blp.response(200, PeriodOut)
def close_period(data, period):
    return _cycle_step(periods.close_period, data, period)


@blp.route("/periods/<period>", methods=["GET"])
@blp.arguments(SchemeNameQuery(), location="query")
@blp.response(200, PeriodOut)
def get_period(args, period):
    if args.get("village_id") is None and args.get("scheme_id") is None:
        raise ValidationFailed({"village_id": [str(_l("须指定村（village_id）或积分方案（scheme_id），二选一"))]})
    return periods.get_period(
        db.session, current_actor(), args.get("village_id"), period, scheme_id=args.get("scheme_id")
    )


@blp.route("/periods/<period>/finalize", methods=["POST"])
@mutation
@blp.arguments(SchemeNameIn())
@blp.response(200, PeriodOut)
def finalize_period(data, period):
    return _cycle_step(periods.finalize_period, data, period)


class ObjectionIn(Schema):
    entry_id = fields.Integer(strict=True, allow_none=True)
    period = fields.String(allow_none=True)
    village_id = fields.Integer(strict=True, allow_none=True)
    scheme_id = fields.Integer(strict=True, allow_none=True, metadata={"description": IN_PLACE})
    household_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "the account objected for"})
    account_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "in place of household_id"})
    reason = fields.String(required=True)

    _check_account, _as_household = account_for_household("household_id", "account_id", required=False)


class DecisionIn(Schema):
    upheld = StrictBoolean(required=True)
    note = fields.String(required=True)


class ObjectionOut(Schema):
    id = fields.Integer()
    status = fields.String()
    scheme_id = fields.Integer()
    village_id = fields.Integer(allow_none=True)
    period = fields.String()
    entry_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    account_id = fields.Integer(attribute="household_id", allow_none=True, dump_only=True)
    reason = fields.String()
    filed_by = fields.Integer(attribute="filed_by_id", allow_none=True)
    filed_at = LocalTimestamp()
    decided_by = fields.Integer(attribute="decided_by_id", allow_none=True)
    decided_at = LocalTimestamp(allow_none=True)
    decision_note = fields.String()
    reversal_entry_id = fields.Integer(allow_none=True)


class ObjectionQuery(Schema):
    village_id = fields.Integer()
    scheme_id = fields.Integer(metadata={"description": f"that scheme's objections, {IN_PLACE}"})
    status = fields.String(validate=validate.OneOf(["open", "upheld", "dismissed"]))


OBJECTION_OUT = ObjectionOut()


@blp.route("/objections", methods=["POST"])
@mutation
@blp.arguments(ObjectionIn())
@blp.response(201, ObjectionOut)
def file_objection(data):
    o = objections.file_objection(db.session, current_actor(), now=utcnow(), **data)
    return o


@blp.route("/objections", methods=["GET"])
@blp.arguments(ObjectionQuery(), location="query")
@blp.response(200, list_of(ObjectionOut))
def list_objections(args):
    me = current_actor()
    args["village_id"], args["scheme_id"] = village_or_scheme(db.session, args.get("village_id"), args.get("scheme_id"))
    if args.get("scheme_id") is not None:  # its officials: every objection; others: their own
        scheme = periods.readable_scheme(db.session, me, scheme_id=args["scheme_id"])
        official = me.user.has_role("reviewer", "village_admin") and can_see_scheme(db.session, me.user, scheme)
        mine = {} if official else {"filed_by_id": me.user.id, "household_id": me.user.household_id or -1}
        stmt = objections.list_objections(None, status=args.get("status"), scheme_id=scheme.id, **mine)
    elif me.user.has_role("reviewer", "village_admin"):
        stmt = objections.list_objections(acting_village_id(me, args.get("village_id")), status=args.get("status"))
    else:
        acting_village_id(me, args.get("village_id"), residents=True)
        stmt = objections.list_objections(
            None, status=args.get("status"), filed_by_id=me.user.id, household_id=me.user.household_id or -1
        )
    return paginated(db.session, stmt, OBJECTION_OUT)


@blp.route("/objections/<int:objection_id>", methods=["GET"])
@blp.response(200, ObjectionOut)
def get_objection(objection_id):
    return objections.objection_in_scope(db.session, current_actor(), objection_id)


@blp.route("/objections/<int:objection_id>/decide", methods=["POST"])
@mutation
@blp.arguments(DecisionIn())
@blp.response(200, ObjectionOut)
def decide_objection(data, objection_id):
    o = objections.decide_objection(
        db.session, current_actor(), objection_id, upheld=data["upheld"], note=data["note"], now=utcnow()
    )
    return o


class AwardIn(Schema):
    period = fields.String(required=True)
    village_id = fields.Integer(strict=True)
    scheme_id = fields.Integer(strict=True, metadata={"description": "in place of village_id"})
    title = fields.String(required=True)
    top_n = fields.Integer(required=True, strict=True)
    bonus_points = fields.Integer(strict=True, load_default=0)
    # Read by the service as Decimal (never float): a JSON number or a string of yuan.
    fund_yuan = fields.Raw(
        metadata={"description": "a fund shared among the winners, in yuan (two decimals)", "type": "number"}
    )
    allocation = fields.String(metadata={"enum": ["equal", "proportional"]})


class AwardOut(Schema):
    id = fields.Integer()
    household_id = fields.Integer()
    account_id = fields.Integer(attribute="household_id", dump_only=True)
    scheme_id = fields.Integer()
    number = fields.String(attribute="household.number")
    head_name = fields.String(attribute="household.head_name")
    rank = fields.Integer()
    title = fields.String()
    points = fields.Integer()
    bonus_points = fields.Integer()
    period = fields.String()
    village_id = fields.Integer(allow_none=True)
    # Two decimals, as strings: exact, as a JSON number could not promise.
    fund_yuan = fields.Decimal(places=2, as_string=True, allow_none=True)
    allocation = fields.String(allow_none=True)
    amount_yuan = fields.Decimal(places=2, as_string=True, allow_none=True)


class AwardQuery(Schema):
    period = fields.String()
    village_id = fields.Integer()
    scheme_id = fields.Integer(metadata={"description": IN_PLACE})


AWARD_OUT = AwardOut()


@blp.route("/awards", methods=["POST"])
@mutation
@blp.arguments(AwardIn())
@blp.response(201, list_of(AwardOut))
def grant_awards(data):
    granted = awards.grant_awards(db.session, current_actor(), now=utcnow(), today=local_today(tz()), **data)
    return {"items": granted, "total": len(granted)}


@blp.route("/awards", methods=["GET"])
@blp.arguments(AwardQuery(), location="query")
@blp.response(200, list_of(AwardOut))
def list_awards(args):
    """Awards are public to logged-in users (residents included)."""
    period = validate_period_arg(args.get("period"), required=False)
    args["village_id"], args["scheme_id"] = village_or_scheme(db.session, args.get("village_id"), args.get("scheme_id"))
    scheme_id = _scheme_arg(args)
    if args.get("village_id") is not None:
        scheme_id = existing_village(args["village_id"]).household_scheme.id
    return paginated(db.session, awards.list_awards(scheme_id, period), AWARD_OUT)
