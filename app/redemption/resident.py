"""A household's shop pages (its card, the catalogue, its redemptions) and the
printable cards."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.errors import NotFound
from app.extensions import db
from app.households.models import Household
from app.redemption import services
from app.redemption import shops as shop_services
from app.redemption.forms import RevokeForm
from app.redemption.models import Shop
from app.redemption.views import bp, card_svg
from app.schemes.services import can_see_scheme
from app.scope import household_in_scope, require_role
from app.villages.models import Village
from app.web import current_actor, mutate, official_village, secret, village_choices

HISTORY_PER_PAGE = 20


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
    if village_id and village is None:
        raise NotFound()  # a village named that does not exist
    # "够换" is judged per shop, against the resident's accounts of that shop's scheme.
    accounts = list(db.session.scalars(services.household_accounts(household.id))) if household else []
    shop_items = []
    if village is not None:
        for shop in db.session.scalars(shop_services.list_shops(village.id).where(Shop.active.is_(True))):
            items = list(db.session.scalars(shop_services.list_items(shop.id, active_only=True)))
            shop_items.append((shop, items, [a for a in accounts if a.scheme_id == shop.scheme_id]))
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
        services.household_redemptions(household.id),
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
        shop_names=[] if household.is_household else shop_services.scheme_shop_names(db.session, household.scheme_id),
        can_revoke=actor.user.has_role("village_admin") and can_see_scheme(db.session, actor.user, household.scheme),
        revoke_form=RevokeForm(formdata=None),
    )


@bp.route("/shop/cards/<int:household_id>/revoke", methods=["POST"])
@login_required
def revoke_card(household_id):
    """补办: a new card; the old one is refused at the counter from now on."""
    actor = current_actor()
    require_role(actor, "village_admin")
    form = RevokeForm()
    if form.validate_on_submit():
        done = mutate(lambda: services.revoke_card(db.session, actor, household_id, secret()), reraise=(NotFound,))
        if done.ok:
            flash(_("已补办新卡，旧卡从现在起作废。请打印新卡交给农户。"))
    return redirect(url_for(".card", household_id=household_id))


@bp.route("/shop/cards")
@login_required
def cards():
    """Every card of a village on A4 sheets, ten to a page."""
    actor = current_actor()
    village = official_village(actor, "village_admin")
    if village is None:
        return render_template("redemption/cards.html", village=None, cards=[], villages=village_choices())
    key = secret()
    households = db.session.scalars(services.card_households(village.id))
    cards = [(h, card_svg(services.card_token(key, h))) for h in households]
    return render_template("redemption/cards.html", village=village, cards=cards, villages=[])
