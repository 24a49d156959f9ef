"""A region's overview for its officials: its villages with households, participation,
points per household and pending approvals, the best households and villages, and a
way down to each village (and to the regions below)."""

from flask import abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from app.api import validate_period_arg
from app.clock import quarter_of
from app.errors import ValidationFailed
from app.extensions import db
from app.home.views import bp
from app.points.services import pending_by_village
from app.rankings.periods import periods_of
from app.rankings.services import household_standings, village_standings
from app.regions.models import Region
from app.regions.services import can_see_region, region_in_scope, village_ids_below
from app.schemes.models import Scheme
from app.schemes.services import list_schemes
from app.schemes.views import CADENCE_NAMES, KIND_NAMES
from app.scope import require_role
from app.web import current_actor, today

TOP = 10
LEVEL_NAMES = {"city": _l("市"), "county": _l("县（区）"), "township": _l("乡镇（街道）")}


@bp.context_processor
def _level_names():
    return {"level_names": LEVEL_NAMES, "scheme_kinds": KIND_NAMES, "scheme_cadences": CADENCE_NAMES}


@bp.route("/region")
@login_required
def my_region():
    """A region's official: its region; the deployment's administrator: the top regions."""
    actor = current_actor()
    require_role(actor, "reviewer", "recorder")
    user = actor.user
    if user.region_id is not None:
        return redirect(url_for(".region", region_id=user.region_id))
    if not user.is_admin:
        abort(404)
    tops = db.session.scalars(select(Region).where(Region.parent_id.is_(None)).order_by(Region.level, Region.code))
    return render_template("home/regions.html", regions=tops.all())


@bp.route("/regions/<int:region_id>")
@login_required
def region(region_id: int):
    actor = current_actor()
    require_role(actor, "reviewer", "recorder")
    region = region_in_scope(db.session, actor, region_id)
    day = today()
    try:
        period = validate_period_arg(request.args.get("period"), required=False) or quarter_of(day)
    except ValidationFailed:
        period = quarter_of(day)
    villages = village_standings(db.session, period, region_id=region.id)
    village_ids = village_ids_below(db.session, region.id)
    pending = pending_by_village(db.session, village_ids, published=False)  # what the queue can approve
    frozen = pending_by_village(db.session, village_ids, published=True)  # its folded box: reject only
    households = sum(v.households for v in villages)
    points = sum(v.points for v in villages)
    participants = sum(v.participants for v in villages)
    children = db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.code)).all()
    parent = db.session.get(Region, region.parent_id) if region.parent_id else None
    if parent is not None and not can_see_region(db.session, actor.user, parent.id):
        parent = None
    # Every village's household scheme is reached through the village; the others are listed.
    schemes = db.session.scalars(
        list_schemes(db.session, actor, region_id=region.id).where(Scheme.account_kind != "household")
    ).all()
    return render_template(
        "home/region.html",
        region=region,
        schemes=schemes,
        parent=parent,
        children=children,
        period=period,
        periods=periods_of(day),
        villages=villages,
        top_villages=villages[:5],
        top_households=household_standings(db.session, period, region_id=region.id, limit=TOP),
        pending=pending,
        pending_total=sum(pending.values()),
        frozen=frozen,
        frozen_total=sum(frozen.values()),
        households=households,
        points_per_household=round(points / households, 2) if households else 0.0,
        participation=round(participants / households, 4) if households else 0.0,
    )
