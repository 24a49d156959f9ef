from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.api import api_blueprint_login, image_response, list_of, paginated
from app.api.fields import LocalTimestamp, account_for_household
from app.api.idempotency import mutation
from app.clock import local_today, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.redemption import qr, services
from app.redemption import shops as shop_services
from app.scope import acting_village_id, household_in_scope
from app.web import current_actor, tz

blp = Blueprint("redemption_api", __name__, url_prefix="/api/v1", description="Points shop and QR cards")
api_blueprint_login(blp)


class ShopIn(Schema):
    village_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True)
    # The scheme whose cards the shop takes (default: the village's household scheme).
    scheme_id = fields.Integer(strict=True, allow_none=True)


class ShopOut(ShopIn):
    id = fields.Integer()
    active = fields.Boolean()


class ItemIn(Schema):
    shop_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True)
    price_points = fields.Integer(required=True, strict=True)
    stock = fields.Integer(strict=True, load_default=0)
    unit = fields.String()
    low_stock = fields.Integer(strict=True)


class ItemPatch(Schema):
    name = fields.String()
    unit = fields.String()
    price_points = fields.Integer(strict=True)
    stock = fields.Integer(strict=True)
    low_stock = fields.Integer(strict=True)
    active = fields.Boolean(truthy={True}, falsy={False})


class ItemOut(Schema):
    id = fields.Integer()
    shop_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    price_points = fields.Integer()
    stock = fields.Integer()
    low_stock = fields.Integer()
    active = fields.Boolean()


class ReceiptIn(Schema):
    quantity = fields.Integer(required=True, strict=True)
    reason = fields.String(load_default="receipt", validate=validate.OneOf(["receipt", "loss"]))
    note = fields.String(load_default="")


class LineIn(Schema):
    item_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(strict=True, load_default=1)


class RedemptionIn(Schema):
    shop_id = fields.Integer(required=True, strict=True)
    qr_token = fields.String(allow_none=True)
    household_id = fields.Integer(strict=True, allow_none=True)
    account_id = fields.Integer(strict=True, allow_none=True, metadata={"description": "in place of household_id"})
    lines = fields.List(fields.Nested(LineIn), required=True)

    _check_account, _as_household = account_for_household("household_id", "account_id", required=False)


class LineOut(Schema):
    item_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    quantity = fields.Integer()
    price_points = fields.Integer()
    points = fields.Integer()


class RedemptionOut(Schema):
    id = fields.Integer()
    number = fields.String()
    shop_id = fields.Integer()
    household_id = fields.Integer()
    account_id = fields.Integer(attribute="household_id", dump_only=True)
    total_points = fields.Integer()
    yuan_value = fields.Float()
    balance_after = fields.Integer()
    status = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    entry_id = fields.Integer()
    refund_entry_id = fields.Integer(allow_none=True)
    created_at = LocalTimestamp()
    cancelled_at = LocalTimestamp(allow_none=True)
    cancel_reason = fields.String()


class CancelIn(Schema):
    reason = fields.String(required=True)


class CardTokenOut(Schema):
    token = fields.String()


class ShopQuery(Schema):
    village_id = fields.Integer()


class ItemQuery(Schema):
    shop_id = fields.Integer(required=True)


class RedemptionQuery(Schema):
    shop_id = fields.Integer()
    household_id = fields.Integer()
    account_id = fields.Integer(metadata={"description": "in place of household_id"})

    _check_account, _as_household = account_for_household("household_id", "account_id", required=False)


SHOP_OUT = ShopOut()
ITEM_OUT = ItemOut()
REDEMPTION_OUT = RedemptionOut()


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


@blp.route("/shops", methods=["POST"])
@mutation
@blp.arguments(ShopIn())
@blp.response(201, ShopOut)
def create_shop(data):
    return shop_services.create_shop(
        db.session, current_actor(), data["village_id"], data["name"], scheme_id=data.get("scheme_id")
    )


@blp.route("/shops", methods=["GET"])
@blp.arguments(ShopQuery(), location="query")
@blp.response(200, list_of(ShopOut))
def list_shops(args):
    village_id = acting_village_id(current_actor(), args.get("village_id"), residents=True)
    return paginated(db.session, shop_services.list_shops(village_id), SHOP_OUT)


@blp.route("/items", methods=["POST"])
@mutation
@blp.arguments(ItemIn())
@blp.response(201, ItemOut)
def create_item(data):
    shop_id = data.pop("shop_id")
    return shop_services.create_item(db.session, current_actor(), shop_id, data, now=utcnow())


@blp.route("/items", methods=["GET"])
@blp.arguments(ItemQuery(), location="query")
@blp.response(200, list_of(ItemOut))
def list_items(args):
    """The catalogue: officials of the village and its residents."""
    shop = shop_services.shop_in_scope(db.session, current_actor(), args["shop_id"], residents=True)
    return paginated(db.session, shop_services.list_items(shop.id), ITEM_OUT)


@blp.route("/items/<int:item_id>", methods=["PATCH"])
@mutation
@blp.arguments(ItemPatch())
@blp.response(200, ItemOut)
def patch_item(data, item_id):
    return shop_services.update_item(db.session, current_actor(), item_id, data, now=utcnow())


@blp.route("/items/<int:item_id>/receipts", methods=["POST"])
@mutation
@blp.arguments(ReceiptIn())
@blp.response(201, ItemOut)
def receive(data, item_id):
    """Goods received (入库) or written off (``reason: loss``): a stock movement."""
    item = shop_services.receive_stock(
        db.session, current_actor(), item_id, data["quantity"], reason=data["reason"], note=data["note"], now=utcnow()
    )
    return item


@blp.route("/redemptions", methods=["POST"])
@mutation
@blp.arguments(RedemptionIn())
@blp.response(201, RedemptionOut)
def create_redemption(data):
    if not data.get("qr_token") and data.get("household_id") is None:
        raise ValidationFailed({"qr_token": ["须提供 qr_token、household_id 或 account_id"]})
    r = services.redeem(
        db.session,
        current_actor(),
        shop_id=data["shop_id"],
        lines=data["lines"],
        qr_token=data.get("qr_token"),
        household_id=data.get("household_id"),
        now=utcnow(),
        today=local_today(tz()),
        secret=_secret(),
    )
    return r


@blp.route("/redemptions", methods=["GET"])
@blp.arguments(RedemptionQuery(), location="query")
@blp.response(200, list_of(RedemptionOut))
def list_redemptions(args):
    me = current_actor()
    # A shop or household filter names one the caller may see, or the answer is 404.
    if args.get("shop_id") is not None:
        shop_services.shop_in_scope(db.session, me, args["shop_id"], residents=True)
    if args.get("household_id") is not None:
        household_in_scope(db.session, me, args["household_id"])
    if me.user.has_role("village_admin", "reviewer", "clerk"):
        stmt = services.redemptions(
            shop_id=args.get("shop_id"), household_id=args.get("household_id"), village_id=acting_village_id(me, None)
        )
    else:
        # A resident's own household's, or a person's linked to it when named.
        mine = args.get("household_id") or me.user.household_id or -1
        stmt = services.redemptions(shop_id=args.get("shop_id"), household_id=mine)
    return paginated(db.session, stmt, REDEMPTION_OUT)


@blp.route("/redemptions/<int:redemption_id>", methods=["GET"])
@blp.response(200, RedemptionOut)
def get_redemption(redemption_id):
    return services.redemption_in_scope(db.session, current_actor(), redemption_id)


@blp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@mutation
@blp.arguments(CancelIn())
@blp.response(200, RedemptionOut)
def cancel(data, redemption_id):
    r = services.cancel_redemption(
        db.session, current_actor(), redemption_id, reason=data["reason"], now=utcnow(), tz=tz()
    )
    return r


@blp.route("/households/<int:household_id>/qr", methods=["GET"])
@blp.response(200, CardTokenOut)
def card(household_id):
    household = household_in_scope(db.session, current_actor(), household_id)
    return {"token": services.card_token(_secret(), household)}


@blp.route("/households/<int:household_id>/qr.png", methods=["GET"])
@blp.doc(responses=image_response("image/png"))
def card_png(household_id):
    household = household_in_scope(db.session, current_actor(), household_id)
    return Response(qr.png(services.card_token(_secret(), household)), mimetype="image/png")


@blp.route("/households/<int:household_id>/qr.svg", methods=["GET"])
@blp.doc(responses=image_response("image/svg+xml"))
def card_svg(household_id):
    household = household_in_scope(db.session, current_actor(), household_id)
    return Response(qr.svg(services.card_token(_secret(), household)), mimetype="image/svg+xml")


@blp.route("/households/<int:household_id>/qr/revoke", methods=["POST"])
@mutation
@blp.response(200, CardTokenOut)
def revoke(household_id):
    return {"token": services.revoke_card(db.session, current_actor(), household_id, _secret())}
