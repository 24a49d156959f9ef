"""Accounts in the API (API.md "Accounts (积分账户)"): a person's account is opened
here; any account, households included, is shown here; the QR card endpoints are the
households' own views, served under ``/accounts`` too."""

import functools

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.accounts import services
from app.api import api_blueprint_login, list_of, paginated
from app.api.idempotency import mutation
from app.clock import local_today, utcnow
from app.extensions import db
from app.redemption import api as cards
from app.web import current_actor, tz

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="Accounts (积分账户) of every scheme")
api_blueprint_login(blp)


class AccountIn(Schema):
    scheme_id = fields.Integer(required=True, strict=True, metadata={"description": "a scheme of persons"})
    number = fields.String(required=True, metadata={"description": "unique in the scheme, ignoring case"})
    name = fields.String(required=True)
    phone = fields.String(allow_none=True)
    village_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "the person's village"})
    household_id = fields.Integer(
        strict=True, allow_none=True, metadata={"description": "the person's household (its resident sees the account)"}
    )


class AccountOut(Schema):
    id = fields.Integer(metadata={"description": "a household's account has the household's id"})
    scheme_id = fields.Integer()
    kind = fields.String(metadata={"enum": ["household", "person", "village"]})
    number = fields.String()
    name = fields.String()
    village_id = fields.Integer(allow_none=True, metadata={"description": "the account's village"})
    household_id = fields.Integer(allow_none=True, metadata={"description": "a person's household"})
    phone = fields.String(allow_none=True)
    balance = fields.Integer()
    redeemable = fields.Integer()


class AccountPeriodPoints(Schema):
    quarter = fields.Integer()
    year = fields.Integer()
    month = fields.Integer(metadata={"description": "monthly schemes only"})


class AccountDetail(AccountOut):
    period_points = fields.Nested(AccountPeriodPoints)


class AccountQuery(Schema):
    scheme_id = fields.Integer()
    q = fields.String()


@blp.route("/accounts", methods=["POST"])
@mutation
@blp.arguments(AccountIn())
@blp.response(201, AccountDetail)
def create_account(data):
    today = local_today(tz())
    account = services.create_account(db.session, current_actor(), data, today=today, now=utcnow())
    return services.account_view(db.session, account, today=today)


@blp.route("/accounts", methods=["GET"])
@blp.arguments(AccountQuery(), location="query")
@blp.response(200, list_of(AccountOut))
def list_accounts(args):
    stmt = services.list_accounts(db.session, current_actor(), args.get("scheme_id"), args.get("q", ""))
    return paginated(db.session, stmt, services.account_row)


@blp.route("/accounts/<int:account_id>", methods=["GET"])
@blp.response(200, AccountDetail)
def get_account(account_id):
    account = services.account_in_scope(db.session, current_actor(), account_id)
    return services.account_view(db.session, account, today=local_today(tz()))


def _by_account(view):
    """A households' card view under ``/accounts/{account_id}``: the same view (its
    documentation too), its path parameter named as on the other ``/accounts`` paths."""

    @functools.wraps(view)
    def by_account(account_id):
        return view(household_id=account_id)

    return by_account


# A card is a card, whatever the account's kind: the households' views, not a copy.
blp.route("/accounts/<int:account_id>/qr", methods=["GET"])(_by_account(cards.card))
blp.route("/accounts/<int:account_id>/qr.png", methods=["GET"])(_by_account(cards.card_png))
blp.route("/accounts/<int:account_id>/qr.svg", methods=["GET"])(_by_account(cards.card_svg))
blp.route("/accounts/<int:account_id>/qr/revoke", methods=["POST"])(_by_account(cards.revoke))
