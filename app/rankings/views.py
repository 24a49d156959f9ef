"""The standings page: public to every logged-in user, residents included."""

from dataclasses import dataclass

from flask import Blueprint, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.clock import local_today, normalize_period, quarter_of
from app.extensions import db
from app.rankings.services import household_standings
from app.villages.services import list_villages

bp = Blueprint("rankings", __name__, template_folder="templates")

PER_PAGE = 50
RECENT_QUARTERS = 4
RECENT_YEARS = 2


@dataclass
class ListPage:
    """A page of an in-memory list, shaped like ``db.paginate`` for the ``pager`` macro."""

    items: list
    page: int
    per_page: int
    total: int

    @classmethod
    def of(cls, rows: list, page: int, per_page: int) -> "ListPage":
        pages = max(1, -(-len(rows) // per_page))
        page = min(max(page, 1), pages)
        return cls(rows[(page - 1) * per_page : page * per_page], page, per_page, len(rows))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def period_label(period: str) -> str:
    if len(period) == 4:
        return _("%(y)s 年度", y=period)
    return _("%(y)s 年第 %(q)s 季度", y=period[:4], q=period[5])


def recent_periods(today) -> tuple[list[str], list[str]]:
    """This quarter and the ones before it; this year and the last."""
    year, q = today.year, (today.month - 1) // 3 + 1
    quarters = []
    for _i in range(RECENT_QUARTERS):
        quarters.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    years = [str(today.year - i) for i in range(RECENT_YEARS)]
    return quarters, years


def _scope(villages) -> tuple[str, int | None, str | None]:
    """``scope`` is ``village:<id>``, ``township:<name>`` or ``all``; ``?village_id=`` and
    ``?township=`` are accepted too. The default is the user's own village."""
    scope = request.args.get("scope", "")
    if not scope:
        if request.args.get("township"):
            scope = "township:" + request.args["township"]
        elif request.args.get("village_id", type=int):
            scope = f"village:{request.args.get('village_id', type=int)}"
    kind, _sep, value = scope.partition(":")
    by_id = {v.id: v for v in villages}
    if kind == "village" and value.isdigit() and int(value) in by_id:
        return scope, int(value), None
    if kind == "township" and value in {v.township for v in villages}:
        return scope, None, value
    if kind == "all":
        return "all", None, None
    if current_user.village_id in by_id:
        return f"village:{current_user.village_id}", current_user.village_id, None
    return "all", None, None


@bp.route("/standings")
@login_required
def standings():
    today = local_today(current_app.config["TIMEZONE"])
    quarters, years = recent_periods(today)
    period = quarter_of(today)
    if request.args.get("period"):
        try:
            period = normalize_period(request.args["period"])
        except ValueError:
            flash(_("期间格式须为 2026Q3 或 2026，已显示本季度"), "error")
    if period not in quarters + years:
        (years if len(period) == 4 else quarters).append(period)
    villages = db.session.scalars(list_villages()).all()
    scope, village_id, township = _scope(villages)
    rows = household_standings(db.session, period, village_id=village_id, township=township)
    page = ListPage.of(rows, request.args.get("page", 1, type=int), PER_PAGE)
    if village_id is not None:
        scope_label = next(v.name for v in villages if v.id == village_id)
    else:
        scope_label = township or _("全部村")
    return render_template(
        "rankings/standings.html",
        period=period,
        period_label=period_label,
        quarters=quarters,
        years=years,
        villages=villages,
        townships=sorted({v.township for v in villages}),
        scope=scope,
        scope_label=scope_label,
        pagination=page,
    )
