"""The shop staff's pages: shops, items and stock, and the reports for settlement."""

import re
from datetime import date
from typing import NamedTuple

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from app.clock import utcnow
from app.errors import DomainError, Forbidden, NotFound
from app.extensions import db
from app.redemption import reports as shop_reports
from app.redemption import services
from app.redemption import shops as shop_services
from app.redemption.forms import CancelForm, ItemForm, ShopForm, StockForm, as_int
from app.redemption.models import COMPLETED, Item, Redemption, Shop, StockMovement
from app.redemption.views import bp
from app.schemes.models import Scheme
from app.schemes.services import list_schemes
from app.scope import require_role
from app.spreadsheet import XLSX, attachment
from app.villages.models import Village
from app.villages.services import list_villages
from app.web import current_actor, listed_villages, mutate, today, tz, village_choices, working_village_id

SHOP_STAFF = ("village_admin", "clerk", "reviewer")
REPORT_ROLES = ("village_admin", "reviewer", "clerk")
MOVEMENTS_PER_PAGE = 30


def _staff_shop(actor, shop_id) -> Shop:
    """A shop whose pages the actor may open; a clerk bound to a shop sees only that one."""
    require_role(actor, *SHOP_STAFF)
    shop = shop_services.shop_in_scope(db.session, actor, shop_id)
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
    if request.method == "POST" and not user.has_role("village_admin"):
        raise Forbidden()  # only a village admin opens a shop: another's POST is refused, not ignored
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
        form.scheme_id.choices = _scheme_choices(actor)
        if form.validate_on_submit():
            # the village chosen (an admin), else the one worked in (a region's admin: the
            # village it named; a village admin: its own)
            target = form.village_id.data if "village_id" in form else village_id
            scheme_id = form.scheme_id.data or None
            done = mutate(
                lambda: shop_services.create_shop(db.session, actor, target, form.name.data or "", scheme_id=scheme_id),
                form,
            )
            status = done.status
            if done.ok:
                flash(_("已新建积分超市：%(name)s", name=done.value.name))
                return redirect(url_for(".shop", shop_id=done.value.id))
    shop_list = list(db.session.scalars(shop_services.list_shops(listed_villages(actor, village_id))))
    return render_template("redemption/shops.html", shops=shop_list, form=form, village_id=village_id), status


def _scheme_choices(actor) -> list[SelectChoice]:
    """The schemes a new shop may take the cards of: the village's household scheme (the
    default), or another scheme the actor sees (the service checks it fits the village)."""
    others = db.session.scalars(list_schemes(db.session, actor).where(Scheme.account_kind != "household")).all()
    return [SelectChoice(0, _("本村户积分（默认）"))] + [SelectChoice(s.id, s.name) for s in others]


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
        done = mutate(lambda: shop_services.create_item(db.session, actor, shop.id, form.values(), now=utcnow()), form)
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
        items=list(db.session.scalars(shop_services.list_items(shop.id))),
        low=list(db.session.scalars(shop_services.low_stock_items(shop.id))),
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
        shop_services.movements(item.id).options(joinedload(StockMovement.by)),
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
    item = shop_services.item_in_scope(db.session, actor, item_id)
    _staff_shop(actor, item.shop_id)
    if request.method == "GET":
        return _render_item(actor, item)
    form = ItemForm()
    del form.stock
    if form.validate_on_submit():
        done = mutate(lambda: shop_services.update_item(db.session, actor, item.id, form.values(), now=utcnow()), form)
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
    item = shop_services.item_in_scope(db.session, actor, item_id)
    _staff_shop(actor, item.shop_id)
    form = StockForm()
    if form.validate_on_submit():
        done = mutate(
            lambda: shop_services.receive_stock(
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


class _ReportScope(NamedTuple):
    village_id: int | None  # the village worked in
    villages: int | frozenset[int] | None  # the villages reported on
    month: str | None
    shop: Shop | None  # one shop alone, or every shop of those villages


def _report_scope(actor) -> _ReportScope:
    require_role(actor, *REPORT_ROLES)
    village_id = working_village_id(actor)
    villages = listed_villages(actor, village_id)
    month = request.args.get("month", "")
    shop = None
    if request.args.get("shop_id"):
        shop = shop_services.shop_in_scope(db.session, actor, request.args.get("shop_id", type=int))
        if village_id is not None and shop.village_id != village_id:
            raise NotFound()
    return _ReportScope(village_id, villages, month if re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", month) else None, shop)


@bp.route("/shop/reports")
@login_required
def reports():
    actor = current_actor()
    scope = _report_scope(actor)
    shop_id = scope.shop.id if scope.shop else None
    rows = shop_reports.monthly_report(db.session, scope.villages, shop_id=shop_id)
    months = sorted({r.month for r in rows}, reverse=True)
    if scope.month:
        rows = [r for r in rows if r.month == scope.month]
    shops = db.session.scalars(shop_services.list_shops(scope.villages)).all()
    return render_template(
        "redemption/reports.html",
        rows=rows,
        months=months,
        month=scope.month,
        village_id=scope.village_id,
        villages=village_choices() if actor.user.is_admin else [],
        shops=shops,
        shop_id=shop_id,
        shops_by_id={s.id: s for s in shops},
        totals={
            "redemptions": sum(r.redemptions for r in rows),
            "points": sum(r.points for r in rows),
            "yuan": round(sum(r.yuan for r in rows), 2),
        },
        top=shop_reports.top_items(db.session, scope.villages, shop_id=shop_id),
    )


@bp.route("/shop/reports.xlsx")
@login_required
def reports_xlsx():
    actor = current_actor()
    scope = _report_scope(actor)
    village = db.session.get(Village, scope.village_id) if scope.village_id else None
    shop = scope.shop
    data = shop_reports.settlement_xlsx(db.session, scope.villages, tz(), scope.month, shop.id if shop else None)
    name = _(
        "兑换结算-%(village)s-%(month)s.xlsx",
        village=shop.name if shop else village.name if village else _("全部村"),
        month=scope.month or _("全部"),
    )
    where = f"shop{shop.id}" if shop else village.code if village else "all"
    ascii_name = f"settlement-{where}-{scope.month or 'all'}.xlsx"
    return Response(data, mimetype=XLSX, headers=attachment(name, ascii_name))
