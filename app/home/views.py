"""The composed pages: the dashboard, a household's page and the statistics."""

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy.orm import joinedload

from app.clock import local_today, month_of, quarter_of, utcnow, year_of
from app.errors import NotFound
from app.extensions import db
from app.households.models import Household
from app.points import decisions
from app.points import services as points
from app.points import views as points_views
from app.points.models import CATEGORIES
from app.points.views import choose_village
from app.rankings import charts, objections, statistics
from app.rankings import views as rankings_views
from app.rankings.services import household_standings, village_standings
from app.rankings.views import quarter_numeral
from app.redemption import reports as shop_reports
from app.regions.services import village_ids_below
from app.scope import OFFICIAL_ROLES, household_in_scope, require_role, village_in_scope
from app.villages.models import Village
from app.web import (
    chooses_village,
    current_actor,
    page_arg,
    picked_region,
    picked_scheme,
    region_choices,
    scheme_choices,
    today,
    tz,
    village_args,
    village_choices,
    working_village,
)

bp = Blueprint("home", __name__, template_folder="templates")


@bp.context_processor
def _template_helpers():
    """The helpers of the domains' templates these pages include."""
    return {**points_views.template_helpers(), **rankings_views.template_helpers()}


@bp.route("/")
@login_required
def dashboard():
    actor = current_actor()
    if not actor.user.has_role(*OFFICIAL_ROLES):
        if actor.user.household_id:
            return redirect(url_for(".household", household_id=actor.user.household_id))
        return redirect(url_for("rankings.standings"))
    village = working_village(actor)
    day = today()
    period = quarter_of(day)
    if village is None:  # an admin or a region's official: the overview, then pick a village
        overview = village_standings(
            db.session, period, region_id=None if actor.user.is_admin else actor.user.region_id
        )
        return choose_village("home.dashboard", _("首页"), overview=overview, period=period)
    # by the clock, as the entries' timestamps are (the working day may be pinned in tests)
    now_day = local_today(tz(), utcnow())
    todays = db.session.scalars(points.entries_recorded_on(village.id, now_day, tz()).limit(50)).all()
    pending_count = points.count_pending(db.session, village.id, published=False)  # as the queue counts
    frozen_count = points.count_pending(db.session, village.id, published=True)  # its folded box
    pending = (
        db.session.scalars(points.approval_queue(village.id, published=False).limit(5)).all() if pending_count else []
    )
    top = household_standings(db.session, period, village_id=village.id, limit=10)
    return render_template(
        "home/dashboard.html",
        village=village,
        today=day,
        period=period,
        todays=todays,
        pending_count=pending_count,
        frozen_count=frozen_count,
        pending=pending,
        top=top,
        vargs=village_args(village.id),
        chooses_village=chooses_village(actor.user),
    )


PASSBOOK_PER_PAGE = 20


PASSBOOK_PRINT_MAX = 2000


class CountedPagination(SelectPagination):
    """A page of ``select`` whose total the caller already knows (``total=``)."""

    def _query_count(self) -> int:
        return self._query_args["total"]


@bp.route("/households/<int:household_id>")
@login_required
def household(household_id):
    actor = current_actor()
    household = household_in_scope(db.session, actor, household_id, options=[joinedload(Household.members)])
    official = people.sees_as_official(actor.user, household)
    day = today()
    periods = {"quarter": quarter_of(day), "year": year_of(day)}
    if household.scheme.cadence == "month":
        periods = {"month": month_of(day)} | periods
    mine = people.account_standing(db.session, household, periods.values())
    standing = {
        key: {"period": p, "points": s.points, "eligible": s.eligible, "rank": s.rank, "accounts": s.accounts}
        for key, p in periods.items()
        for s in (mine[p],)
    }
    stmt = points.household_entries(household.id).options(*points.PASSBOOK_ROW_LOADS)
    show_all = request.args.get("all") == "1"
    if show_all:
        pagination, entries = None, db.session.scalars(stmt.limit(PASSBOOK_PRINT_MAX)).all()
    else:
        # The chain head already counts the passbook: no COUNT over its rows.
        pagination = CountedPagination(
            select=stmt,
            session=db.session,
            total=household.entry_count,
            page=page_arg(),
            per_page=PASSBOOK_PER_PAGE,
            error_out=False,
        )
        entries = pagination.items
    return render_template(
        "home/household.html",
        household=household,
        official=official,
        standing=standing,
        entries=entries,
        pagination=pagination,
        show_all=show_all,
        can_reverse=official and actor.user.has_role(*points.REVIEWERS),
        can_edit_person=official and household.kind == "person" and people.manages(actor, household.scheme),
        reversible_kinds=decisions.REVERSIBLE_KINDS,
        # only the household itself is offered objection links (one query less for officials)
        objections_closed=objections.objections_closed_at(db.session, household.scheme_id)
        if actor.user.household_id == household.id
        else {},
        objection_closed_at=objections.entry_objection_closed_at,
        local_date=rankings_views.local_date,
        printed_on=day,
        linked=people.linked_people(household),
    )


@dataclass
class StatsScope:
    """What the statistics count: a village, a set of villages (a region's), a township,
    every village, or one scheme's accounts (``scheme``)."""

    label: str
    village_id: int | frozenset[int] | None = None
    township: str | None = None
    region: object = None
    scheme: object = None
    categories: tuple = CATEGORIES

    def export_args(self) -> dict:
        if self.scheme is not None:
            return {"scheme_id": self.scheme.id}
        if self.region is not None:
            return {"region_id": self.region.id}
        if self.village_id is not None:
            return {"village_id": self.village_id}
        return {"township": self.township} if self.township else {"scope": "all"}


def _stats_scope(actor) -> StatsScope:
    """``?scheme_id=`` or ``?region_id=`` (404 outside the user's scope); else an
    official's own village, a region official's working village, an admin's choice."""
    scheme = picked_scheme(actor)
    if scheme is not None and scheme.account_kind != "household":
        return StatsScope(scheme.name, scheme=scheme, categories=tuple(scheme.categories))
    if scheme is not None:
        village = village_in_scope(db.session, actor, scheme.village_id)
        return StatsScope(village.name, village.id, categories=tuple(scheme.categories))
    area = picked_region(actor)
    if area is not None:
        return StatsScope(area.name, village_ids_below(db.session, area.id), region=area)
    user = actor.user
    if user.is_admin:
        village_id = request.args.get("village_id", type=int)
        if village_id:
            village = db.session.get(Village, village_id)
            if village is None:
                raise NotFound()
            return StatsScope(village.name, village.id, categories=tuple(village.household_scheme.categories))
        township = (request.args.get("township") or "").strip()[:100]
        if township:
            return StatsScope(township, township=township)
        return StatsScope(_("全部村"))
    if user.region_id is not None:  # the village it works in (or its first), below its region
        village = working_village(actor) or next(iter(village_choices()), None)
        if village is None:
            raise NotFound()
    else:
        village = village_in_scope(db.session, actor, user.village_id)
    return StatsScope(village.name, village.id, categories=tuple(village.household_scheme.categories))


@bp.route("/stats")
@login_required
def stats():
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    picked = _stats_scope(actor)
    village_id, township = picked.village_id, picked.township
    scheme_id = picked.scheme.id if picked.scheme is not None else None
    day = today()
    year = request.args.get("year", day.year, type=int)
    if not 2000 <= year <= 2100:
        year = day.year
    months = list(range(1, 13))
    month_labels = [_("%(m)s月", m=m) for m in months]

    series = statistics.category_series(
        db.session, year, village_id=village_id, township=township, scheme_id=scheme_id, categories=picked.categories
    )
    cat_series = [(c or _("未分类"), values) for c, values in series]
    category_chart = charts.stacked_bar_chart(
        month_labels, cat_series, title=_("%(y)s 年各月积分（按类别）", y=year), unit=_("分")
    )
    quarters, village_list, participation_chart = [f"{year}Q{q}" for q in range(1, 5)], [], None
    if picked.scheme is None:  # the households' participation, village by village
        quarters, village_list = statistics.participation_by_quarter(
            db.session,
            year,
            village_id=village_id if isinstance(village_id, int) else None,
            township=township,
            region_id=picked.region.id if picked.region is not None else None,
        )
        participation_chart = charts.grouped_bar_chart(
            [v["name"] for v in village_list],
            [
                (_("第%(q)s季度", q=quarter_numeral(i + 1)), [v["rates"].get(q, 0) for v in village_list])
                for i, q in enumerate(quarters)
            ],
            title=_("%(y)s 年各村各季度参与率", y=year),
            unit="%",
        )
    yuan = shop_reports.yuan_by_month(db.session, year, village_id=village_id, township=township, scheme_id=scheme_id)
    redemption_chart = charts.bar_chart(
        month_labels, [round(yuan[m], 2) for m in months], title=_("%(y)s 年各月兑换金额", y=year), unit=_("元")
    )

    export_period = quarter_of(day) if year == day.year else f"{year}Q4"
    return render_template(
        "home/stats.html",
        year=year,
        years=list(range(day.year, day.year - 5, -1)),
        scope_label=picked.label,
        village_id=village_id if isinstance(village_id, int) else None,
        township=township,
        villages=village_choices() if actor.user.is_admin else [],
        schemes=scheme_choices(),
        regions=region_choices(),
        picked=picked,
        category_chart=category_chart,
        cat_series=cat_series,
        month_labels=month_labels,
        participation_chart=participation_chart,
        village_list=village_list,
        quarters=quarters,
        redemption_chart=redemption_chart,
        yuan=yuan,
        months=months,
        export_period=export_period,
        export_args={"period": export_period, **picked.export_args()},
    )


from app.home import people, region, registration  # noqa: E402, F401  (their routes are on bp)
