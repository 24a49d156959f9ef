"""The shop's pages: the counter (scan a card, fill a cart, confirm, print the receipt),
shops and stock, reports for settlement, the resident's card and catalogue, and
printable cards."""

import hashlib
import json
import re
import secrets
from datetime import UTC, date
from io import BytesIO
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from app.api import domain_error_response, refuse_unstorable_input
from app.api.idempotency import IdempotencyRecord
from app.clock import utcnow
from app.errors import DomainError, IdempotencyConflict, NotFound
from app.extensions import db
from app.households.models import Household
from app.redemption import qr, services
from app.redemption.forms import (
    CancelForm,
    CartForm,
    ItemForm,
    LookupForm,
    RevokeForm,
    ShopForm,
    StockForm,
    as_int,
)
from app.redemption.models import (
    ADJUSTMENT,
    COMPLETED,
    LOSS,
    RECEIPT,
    RETURN,
    SALE,
    Item,
    Redemption,
    Shop,
    StockMovement,
)
from app.redirects import same_site_path
from app.scope import household_in_scope, require_role, village_in_scope
from app.villages.models import Village
from app.villages.services import list_villages
from app.web import current_actor, error_text, mutate, secret, today, tz, village_choices, working_village_id

bp = Blueprint("redemption", __name__, template_folder="templates")

SHOP_STAFF = ("village_admin", "clerk", "reviewer")
REPORT_ROLES = ("village_admin", "reviewer", "clerk")
COUNTER_SHOP = "counter_shop_id"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MOVEMENTS_PER_PAGE = 30
HISTORY_PER_PAGE = 20
REASON_LABELS = {
    RECEIPT: _l("入库"),
    SALE: _l("兑换"),
    RETURN: _l("撤销退回"),
    ADJUSTMENT: _l("盘点调整"),
    LOSS: _l("报损"),
}


@bp.context_processor
def _template_helpers():
    zone = ZoneInfo(tz())

    def local(value, fmt="%Y-%m-%d %H:%M"):
        return value.replace(tzinfo=UTC).astimezone(zone).strftime(fmt) if value else ""

    return {"local": local, "reason_labels": REASON_LABELS}


def card_svg(token: str) -> Markup:
    """The card's QR code as inline SVG, sized by the page's CSS."""
    text = qr.svg(token).decode()
    text = text[text.index("<svg") :]
    text = re.sub(r'\s(?:width|height)="[^"]*"', "", text, count=2).replace(' id="qr-path"', "")
    return Markup(text.replace("<svg", '<svg role="img" aria-label="QR"', 1))


def _safe_next(default: str) -> str:
    return same_site_path(request.values.get("next")) or default


def _counter_shops(actor) -> list[Shop]:
    """The shops the actor may sell at: its own when bound to one, else its village's."""
    require_role(actor, "clerk")
    user = actor.user
    if user.shop_id and not user.is_admin:
        return [services.counter_shop(db.session, actor, user.shop_id)]
    stmt = services.list_shops(working_village_id(actor) if not actor.user.is_admin else None).where(
        Shop.active.is_(True)
    )
    return list(db.session.scalars(stmt))


def _chosen_shop(shops: list[Shop], wanted: int | None) -> Shop | None:
    """The shop asked for, else the one remembered in the session, else the only one."""
    by_id = {s.id: s for s in shops}
    shop = by_id.get(wanted) or by_id.get(session.get(COUNTER_SHOP))
    if shop is None and len(shops) == 1:
        shop = shops[0]
    if shop is not None:
        session[COUNTER_SHOP] = shop.id
    return shop


def _household_json(household: Household, card: str) -> dict:
    return {
        "household_id": household.id,
        "number": household.number,
        "head_name": household.head_name,
        "balance": household.balance,
        "redeemable": household.redeemable,
        "qr_token": card.strip() if card.strip().startswith(qr.PREFIX + ".") else None,
    }


def _render_counter(shops, shop, *, household=None, card="", lookup_form=None, typed=None, error=None, status=200):
    items = list(db.session.scalars(services.list_items(shop.id, active_only=True))) if shop else []
    page = render_template(
        "redemption/counter.html",
        shops=shops,
        shop=shop,
        items=items,
        household=household,
        household_json=_household_json(household, card) if household else None,
        card=card,
        lookup_form=lookup_form or LookupForm(formdata=None, shop_id=shop.id if shop else ""),
        cart_form=CartForm(formdata=None, shop_id=shop.id if shop else "", card=card, key=secrets.token_hex(16)),
        typed=typed or {},
        error=error,
        yuan_per_point=float(shop.village.yuan_per_point) if shop else 1.0,
    )
    return page, status


@bp.route("/shop/counter")
@login_required
def counter():
    shops = _counter_shops(current_actor())
    return _render_counter(shops, _chosen_shop(shops, request.args.get("shop_id", type=int)))


@bp.route("/shop/counter/lookup", methods=["POST"])
@login_required
def counter_lookup():
    """The household of a scanned card or typed number: JSON for the counter's script,
    the counter page itself for a browser without it."""
    actor = current_actor()
    if request.is_json:
        refused = refuse_unstorable_input()  # a body too deep to parse, a lone surrogate: the API's answer
        if refused is not None:
            return refused
        data = request.get_json(silent=True)
        data = data if isinstance(data, dict) else {}
        card = str(data.get("card") or "")
        try:
            shop = services.counter_shop(db.session, actor, as_int(str(data.get("shop_id") or "")))
            household = services.household_at_counter(db.session, actor, shop, card, secret())
        except DomainError as exc:
            db.session.rollback()
            return domain_error_response(exc)
        return jsonify(_household_json(household, card))
    shops = _counter_shops(actor)
    form = LookupForm()
    shop = _chosen_shop(shops, as_int(form.shop_id.data or ""))
    if shop is None:
        return redirect(url_for(".counter"))
    if form.validate_on_submit():
        try:
            household = services.household_at_counter(db.session, actor, shop, form.card.data or "", secret())
        except DomainError as exc:
            db.session.rollback()
            form.card.errors = [error_text(exc)]
            return _render_counter(shops, shop, lookup_form=form, status=exc.status)
        return _render_counter(shops, shop, household=household, card=form.card.data or "")
    return _render_counter(shops, shop, lookup_form=form)


def _redeem_once(key: str, run) -> int:
    """Run ``run`` (a redemption, returning its id) once per cart key: a double tap posts
    the same cart twice, and the second posting gets the first one's receipt."""
    key = "page-counter:" + ((key or "")[:64] or secrets.token_hex(16))
    fields = sorted((k, v) for k, v in request.form.items(multi=True) if k != "csrf_token")
    digest = hashlib.sha256(json.dumps(fields).encode()).hexdigest()
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.user_id == current_user.id, IdempotencyRecord.key == key)
    existing = db.session.scalar(stmt)
    if existing is None:
        record = IdempotencyRecord(user_id=current_user.id, key=key, request_hash=digest)
        db.session.add(record)
        try:
            db.session.flush()
        except IntegrityError:  # the twin committed first while we waited
            db.session.rollback()
            existing = db.session.scalar(stmt)
        else:
            redemption_id = run()
            record.status_code, record.response_body = 201, json.dumps({"id": redemption_id})
            return redemption_id
    if existing.request_hash != digest or existing.status_code is None:
        raise IdempotencyConflict()
    return json.loads(existing.response_body)["id"]


@bp.route("/shop/counter/redeem", methods=["POST"])
@login_required
def counter_redeem():
    """The cart posted as a form (the counter's script uses the API instead)."""
    actor = current_actor()
    shops = _counter_shops(actor)
    form = CartForm()
    shop = _chosen_shop(shops, as_int(form.shop_id.data or ""))
    if shop is None or not form.validate_on_submit():
        flash(_("页面已过期，请重新扫卡"), "error")
        return redirect(url_for(".counter"))
    card = form.card.data or ""
    try:
        household = services.household_at_counter(db.session, actor, shop, card, secret())
    except DomainError as exc:
        db.session.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for(".counter"))
    lines = form.lines(request.form)
    household_id = household.id
    try:
        redemption_id = _redeem_once(
            form.key.data,
            lambda: (
                services.redeem(
                    db.session,
                    actor,
                    shop_id=shop.id,
                    lines=lines,
                    household_id=household_id,
                    now=utcnow(),
                    today=today(),
                    secret=secret(),
                ).id
            ),
        )
    except DomainError as exc:
        db.session.rollback()
        return _render_counter(
            shops,
            shop,
            household=db.session.get(Household, household_id),
            card=card,
            typed=form.quantities(request.form),
            error=error_text(exc),
            status=exc.status,
        )
    db.session.commit()
    return redirect(url_for(".receipt", redemption_id=redemption_id))


@bp.route("/shop/redemptions/<int:redemption_id>/receipt")
@login_required
def receipt(redemption_id):
    actor = current_actor()
    r = services.redemption_in_scope(db.session, actor, redemption_id)
    official = actor.user.can_see_village(r.village_id)
    return render_template(
        "redemption/receipt.html",
        r=r,
        village=r.shop.village,
        can_cancel=official and r.status == COMPLETED and actor.user.has_role("clerk", "reviewer"),
        cancel_form=CancelForm(formdata=None),
        official=official,
    )


@bp.route("/shop/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@login_required
def cancel(redemption_id):
    actor = current_actor()
    form = CancelForm()
    back = _safe_next(url_for(".receipt", redemption_id=redemption_id))
    if not form.validate_on_submit():
        flash(_("页面已过期，请重试"), "error")
        return redirect(back)
    done = mutate(
        lambda: services.cancel_redemption(
            db.session, actor, redemption_id, reason=form.reason.data or "", now=utcnow(), tz=tz()
        )
    )
    if done.ok:
        r = done.value
        flash(_("已撤销兑换 %(number)s：%(points)s 分和商品已退回", number=r.number, points=r.total_points))
    return redirect(back)


def _staff_shop(actor, shop_id) -> Shop:
    """A shop whose pages the actor may open; a clerk bound to a shop sees only that one."""
    require_role(actor, *SHOP_STAFF)
    shop = services.shop_in_scope(db.session, actor, shop_id)
    user = actor.user
    if user.shop_id and shop.id != user.shop_id and not user.has_role("village_admin", "reviewer"):
        raise NotFound()
    return shop


@bp.route("/shop/shops", methods=["GET", "POST"])
@login_required
def shops():
    actor = current_actor()
    require_role(actor, *SHOP_STAFF)
    user = actor.user
    if user.shop_id and not user.has_role("village_admin", "reviewer"):
        return redirect(url_for(".shop", shop_id=user.shop_id))
    village_id = working_village_id(actor)
    form, status = None, 200
    if user.has_role("village_admin"):
        form = ShopForm()
        if user.is_admin:
            form.village_id.choices = [
                SelectChoice(v.id, f"{v.name}（{v.township}）") for v in db.session.scalars(list_villages())
            ]
            if request.method == "GET" and village_id:
                form.village_id.data = village_id
        else:
            del form.village_id
        if form.validate_on_submit():
            target = form.village_id.data if "village_id" in form else user.village_id
            done = mutate(lambda: services.create_shop(db.session, actor, target, form.name.data or ""), form)
            status = done.status
            if done.ok:
                flash(_("已新建积分超市：%(name)s", name=done.value.name))
                return redirect(url_for(".shop", shop_id=done.value.id))
    shop_list = list(db.session.scalars(services.list_shops(village_id)))
    return render_template("redemption/shops.html", shops=shop_list, form=form, village_id=village_id), status


def _day_arg() -> date:
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return today()


@bp.route("/shop/shops/<int:shop_id>", methods=["GET", "POST"])
@login_required
def shop(shop_id):
    """A shop's shelf, low-stock list and one day's redemptions; POST adds an item."""
    actor = current_actor()
    shop = _staff_shop(actor, shop_id)
    form, status = ItemForm(), 200
    if form.validate_on_submit():
        done = mutate(lambda: services.create_item(db.session, actor, shop.id, form.values(), now=utcnow()), form)
        status = done.status
        if done.ok:
            item = done.value
            flash(
                _("已上架 %(name)s（%(price)s 分/%(unit)s）", name=item.name, price=item.price_points, unit=item.unit)
            )
            return redirect(url_for(".shop", shop_id=shop.id))
    day = _day_arg()
    day_redemptions = list(
        db.session.scalars(
            services.redemptions(shop_id=shop.id, day=day).options(
                joinedload(Redemption.household), joinedload(Redemption.clerk)
            )
        ).unique()
    )
    page = render_template(
        "redemption/shop.html",
        shop=shop,
        items=list(db.session.scalars(services.list_items(shop.id))),
        low=list(db.session.scalars(services.low_stock_items(shop.id))),
        form=form,
        day=day,
        today=today(),
        redemptions=day_redemptions,
        day_points=sum(r.total_points for r in day_redemptions if r.status == COMPLETED),
        cancel_form=CancelForm(formdata=None),
        can_manage=actor.user.has_role("village_admin", "clerk"),
        can_cancel=actor.user.has_role("clerk", "reviewer"),
    )
    return page, status


def _render_item(actor, item: Item, form=None, stock_form=None, status=200):
    movements = db.paginate(
        services.movements(item.id).options(joinedload(StockMovement.by)),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=MOVEMENTS_PER_PAGE,
        error_out=False,
    )
    if form is None:
        form = ItemForm(
            formdata=None,
            data={
                "name": item.name,
                "unit": item.unit,
                "price_points": str(item.price_points),
                "low_stock": str(item.low_stock),
                "active": item.active,
            },
        )
    if "stock" in form:
        del form.stock  # the shelf count changes only by movements (goods in, losses, sales)
    page = render_template(
        "redemption/item.html",
        item=item,
        shop=item.shop,
        form=form,
        stock_form=stock_form or StockForm(formdata=None),
        movements=movements,
        can_manage=actor.user.has_role("village_admin", "clerk"),
    )
    return page, status


@bp.route("/shop/items/<int:item_id>", methods=["GET", "POST"])
@login_required
def item(item_id):
    """An item: its edit form, goods in and losses, and its stock movements; POST edits."""
    actor = current_actor()
    item = services.item_in_scope(db.session, actor, item_id)
    _staff_shop(actor, item.shop_id)
    if request.method == "GET":
        return _render_item(actor, item)
    form = ItemForm()
    del form.stock
    if form.validate_on_submit():
        done = mutate(lambda: services.update_item(db.session, actor, item.id, form.values(), now=utcnow()), form)
        if not done.ok:
            return _render_item(actor, item, form=form, status=done.status)
        flash(_("已保存 %(name)s", name=item.name))
        return redirect(url_for(".shop", shop_id=item.shop_id))
    return _render_item(actor, item, form=form)


@bp.route("/shop/items/<int:item_id>/stock", methods=["POST"])
@login_required
def item_stock(item_id):
    """Goods received (入库) or written off (报损)."""
    actor = current_actor()
    item = services.item_in_scope(db.session, actor, item_id)
    _staff_shop(actor, item.shop_id)
    form = StockForm()
    if form.validate_on_submit():
        done = mutate(
            lambda: services.receive_stock(
                db.session,
                actor,
                item.id,
                as_int(form.quantity.data or ""),
                reason=form.reason.data,
                note=(form.note.data or "").strip(),
                now=utcnow(),
            ),
            form,
            fields={DomainError: "quantity"},
        )
        if not done.ok:
            return _render_item(actor, item, stock_form=form, status=done.status)
        item = done.value
        flash(_("%(name)s 现有库存 %(stock)s%(unit)s", name=item.name, stock=item.stock, unit=item.unit))
        return redirect(url_for(".item", item_id=item.id))
    return _render_item(actor, item, stock_form=form)


def _report_scope(actor) -> tuple[int | None, str | None]:
    require_role(actor, *REPORT_ROLES)
    village_id = working_village_id(actor)
    month = request.args.get("month", "")
    return village_id, month if re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", month) else None


@bp.route("/shop/reports")
@login_required
def reports():
    actor = current_actor()
    village_id, month = _report_scope(actor)
    rows = services.monthly_report(db.session, village_id)
    months = sorted({r.month for r in rows}, reverse=True)
    if month:
        rows = [r for r in rows if r.month == month]
    shops_by_id = {s.id: s for s in db.session.scalars(services.list_shops(village_id))}
    return render_template(
        "redemption/reports.html",
        rows=rows,
        months=months,
        month=month,
        village_id=village_id,
        villages=village_choices() if actor.user.is_admin else [],
        shops_by_id=shops_by_id,
        totals={
            "redemptions": sum(r.redemptions for r in rows),
            "points": sum(r.points for r in rows),
            "yuan": round(sum(r.yuan for r in rows), 2),
        },
        top=services.top_items(db.session, village_id),
    )


@bp.route("/shop/reports.xlsx")
@login_required
def reports_xlsx():
    actor = current_actor()
    village_id, month = _report_scope(actor)
    village = db.session.get(Village, village_id) if village_id else None
    data = services.settlement_xlsx(db.session, village_id, tz(), month)
    name = _(
        "兑换结算-%(village)s-%(month)s.xlsx",
        village=village.name if village else _("全部村"),
        month=month or _("全部"),
    )
    return send_file(BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


def _own_household(actor) -> Household:
    if not actor.user.household_id:
        raise NotFound(_l("您的账号没有关联农户"))
    return household_in_scope(db.session, actor, actor.user.household_id)


@bp.route("/shop/my-card")
@login_required
def my_card():
    household = _own_household(current_actor())
    return render_template(
        "redemption/my_card.html", household=household, qr_svg=card_svg(services.card_token(secret(), household))
    )


@bp.route("/shop/catalogue")
@login_required
def catalogue():
    """The village's shops and what they have, for residents and officials."""
    actor = current_actor()
    user = actor.user
    household = _own_household(actor) if user.household_id else None
    if user.is_admin:
        village_id = request.args.get("village_id", type=int)
    else:
        village_id = household.village_id if household else user.village_id
    village = db.session.get(Village, village_id) if village_id else None
    shop_items = []
    if village is not None:
        for shop in db.session.scalars(services.list_shops(village.id).where(Shop.active.is_(True))):
            shop_items.append((shop, list(db.session.scalars(services.list_items(shop.id, active_only=True)))))
    return render_template(
        "redemption/catalogue.html",
        village=village,
        household=household,
        shop_items=shop_items,
        villages=village_choices() if user.is_admin else [],
    )


@bp.route("/shop/my-redemptions")
@login_required
def my_redemptions():
    household = _own_household(current_actor())
    pagination = db.paginate(
        services.redemptions(household_id=household.id).options(joinedload(Redemption.shop)),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=HISTORY_PER_PAGE,
        error_out=False,
    )
    return render_template("redemption/my_redemptions.html", household=household, pagination=pagination)


@bp.route("/shop/cards/<int:household_id>")
@login_required
def card(household_id):
    """One household's card, ID-1 size: for the village's officials and the household."""
    actor = current_actor()
    household = household_in_scope(db.session, actor, household_id)
    return render_template(
        "redemption/card.html",
        household=household,
        qr_svg=card_svg(services.card_token(secret(), household)),
        can_revoke=actor.user.has_role("village_admin") and actor.user.can_see_village(household.village_id),
        revoke_form=RevokeForm(formdata=None),
    )


@bp.route("/shop/cards/<int:household_id>/revoke", methods=["POST"])
@login_required
def revoke_card(household_id):
    """补办: a new card; the old one is refused at the counter from now on."""
    actor = current_actor()
    form = RevokeForm()
    if form.validate_on_submit() and mutate(lambda: services.revoke_card(db.session, actor, household_id, secret())).ok:
        flash(_("已补办新卡，旧卡从现在起作废。请打印新卡交给农户。"))
    return redirect(url_for(".card", household_id=household_id))


@bp.route("/shop/cards")
@login_required
def cards():
    """Every card of a village on A4 sheets, ten to a page."""
    actor = current_actor()
    require_role(actor, "village_admin")
    village_id = working_village_id(actor)
    if village_id is None:
        return render_template("redemption/cards.html", village=None, cards=[], villages=village_choices())
    village = village_in_scope(db.session, actor, village_id)
    key = secret()
    households = db.session.scalars(services.card_households(village.id))
    cards = [(h, card_svg(services.card_token(key, h))) for h in households]
    return render_template("redemption/cards.html", village=village, cards=cards, villages=[])
