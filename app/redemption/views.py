"""The shop's pages: the counter (scan a card, fill a cart, confirm, print the receipt)
and a redemption's receipt and cancellation; the staff's pages are in ``shop_admin.py``,
a household's in ``resident.py``."""

import re
import secrets
from datetime import UTC
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup

from app.api import domain_error_response, refuse_unstorable_input
from app.api.idempotency import once
from app.clock import utcnow
from app.errors import DomainError, NotFound
from app.extensions import db
from app.households.models import Household
from app.redemption import qr, services
from app.redemption import shops as shop_services
from app.redemption.forms import (
    CancelForm,
    CartForm,
    LookupForm,
    as_int,
)
from app.redemption.models import (
    ADJUSTMENT,
    COMPLETED,
    LOSS,
    RECEIPT,
    RETURN,
    SALE,
    Shop,
)
from app.redirects import same_site_path
from app.scope import require_role
from app.web import current_actor, error_text, listed_villages, mutate, secret, today, tz, working_village_id

bp = Blueprint("redemption", __name__, template_folder="templates")

COUNTER_SHOP = "counter_shop_id"
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
    villages = None if user.is_admin else listed_villages(actor, working_village_id(actor))
    stmt = shop_services.list_shops(villages).where(Shop.active.is_(True))
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


def _candidate_json(household: Household) -> dict:
    """One of the households a typed name, phone or number may mean: enough to tell them apart."""
    return {
        "number": household.number,
        "head_name": household.head_name,
        "members": [m.name for m in household.members][:4],
        "phone_tail": (household.phone or "")[-4:],
    }


def _render_counter(
    shops, shop, *, household=None, card="", lookup_form=None, typed=None, error=None, candidates=None, status=200
):
    items = list(db.session.scalars(shop_services.list_items(shop.id, active_only=True))) if shop else []
    lookup_form = lookup_form or LookupForm(formdata=None, shop_id=shop.id if shop else "")
    if shop and shop.scheme.account_kind != "household":  # a person's 编号, not a household's 户号
        lookup_form.card.label.text = _("编号或卡上的编码")
    page = render_template(
        "redemption/counter.html",
        shops=shops,
        shop=shop,
        items=items,
        household=household,
        household_json=_household_json(household, card) if household else None,
        candidates=[_candidate_json(h) for h in candidates or []],
        card=card,
        lookup_form=lookup_form,
        cart_form=CartForm(formdata=None, shop_id=shop.id if shop else "", card=card, key=secrets.token_hex(16)),
        typed=typed or {},
        error=error,
        yuan_per_point=float(shop.scheme.yuan_per_point) if shop else 1.0,
    )
    return page, status


@bp.route("/shop/counter")
@login_required
def counter():
    shops = _counter_shops(current_actor())
    wanted = request.args.get("shop_id", type=int)
    if wanted is not None and wanted not in {s.id for s in shops}:
        raise NotFound()  # another's shop (or none): never quietly one's own
    return _render_counter(shops, _chosen_shop(shops, wanted))


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
            household, candidates = services.counter_lookup(db.session, actor, shop, card, secret())
        except DomainError as exc:
            db.session.rollback()
            return domain_error_response(exc)
        if household is None:
            return jsonify({"candidates": [_candidate_json(h) for h in candidates]})
        return jsonify(_household_json(household, card))
    shops = _counter_shops(actor)
    form = LookupForm()
    shop = _chosen_shop(shops, as_int(form.shop_id.data or ""))
    if shop is None:
        return redirect(url_for(".counter"))
    if form.validate_on_submit():
        try:
            household, candidates = services.counter_lookup(db.session, actor, shop, form.card.data or "", secret())
        except DomainError as exc:
            db.session.rollback()
            form.card.errors = [error_text(exc)]
            return _render_counter(shops, shop, lookup_form=form, status=exc.status)
        if household is None:
            return _render_counter(shops, shop, lookup_form=form, candidates=candidates)
        return _render_counter(shops, shop, household=household, card=form.card.data or "")
    return _render_counter(shops, shop, lookup_form=form)


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
    # A double tap posts the same cart with the same key: the API's idempotency gives
    # the second posting the first one's receipt.
    key = "page-counter:" + ((form.key.data or "")[:64] or secrets.token_hex(16))

    def work():
        redemption = services.redeem(
            db.session,
            actor,
            shop_id=shop.id,
            lines=lines,
            household_id=household_id,
            now=utcnow(),
            today=today(),
            secret=secret(),
        )
        return jsonify(id=redemption.id), 201

    try:
        redemption_id = once(key, work).get_json()["id"]
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
    require_role(actor, "clerk", "reviewer")  # a clerk too late is told so; anyone else is refused
    form = CancelForm()
    back = _safe_next(url_for(".receipt", redemption_id=redemption_id))
    if not form.validate_on_submit():
        flash(_("页面已过期，请重试"), "error")
        return redirect(back)
    done = mutate(
        lambda: services.cancel_redemption(
            db.session, actor, redemption_id, reason=form.reason.data or "", now=utcnow(), tz=tz()
        ),
        reraise=(NotFound,),
    )
    if done.ok:
        r = done.value
        flash(_("已撤销兑换 %(number)s：%(points)s 分和商品已退回", number=r.number, points=r.total_points))
    return redirect(back)


from app.redemption import resident, shop_admin  # noqa: E402, F401  (their routes are on bp)
