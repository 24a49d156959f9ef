"""Rankings pages: the standings (public to every logged-in user, residents included) and
the helpers the cycle's pages share; those pages are in ``cycle_pages.py`` (periods and
awards), ``notice_pages.py`` (notice board, big screen, certificates),
``objection_pages.py`` (objections, the yearly passbook) and ``exports.py``."""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    render_template,
    request,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.clock import normalize_period, quarter_of, utcnow
from app.errors import NotFound
from app.extensions import db
from app.rankings import periods as cycle
from app.rankings.models import DISMISSED, OPEN, UPHELD
from app.rankings.services import household_standings
from app.regions.models import Region
from app.villages.models import Village
from app.web import (
    current_actor,
    picked_region,
    picked_scheme,
    region_choices,
    scheme_choices,
    today,
    village_choices,
)

bp = Blueprint("rankings", __name__, template_folder="templates")

PER_PAGE = 50
RECENT_QUARTERS = 4
RECENT_YEARS = 2
RECENT_MONTHS = 6


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
    if period[4:5] == "-":  # a month of a monthly scheme
        return _("%(y)s 年 %(m)s 月", y=period[:4], m=int(period[5:]))
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


def recent_months(today, count: int = RECENT_MONTHS) -> list[str]:
    """This month and the ones before it, for a monthly scheme: ``2026-11``, ``2026-10``, …"""
    year, month = today.year, today.month
    months = []
    for _i in range(count):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def scope_arg(villages) -> tuple[str, int | None, str | None]:
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
    if kind == "village":
        raise NotFound()  # a village not offered (another region's, or none): never quietly one's own
    if kind == "township" and value in {v.township for v in villages}:
        return scope, None, value
    if kind == "township":
        raise NotFound()  # likewise a township not offered
    if kind == "all":
        return "all", None, None
    if current_user.village_id in by_id:
        return f"village:{current_user.village_id}", current_user.village_id, None
    return "all", None, None


@dataclass
class StandingsScope:
    """What a standings page (or its export) ranks: a scheme's accounts (``?scheme_id=``,
    404 outside the user's scope), a region's households (``?region_id=``, likewise), or
    the households of ``scope``'s village, township or every village."""

    scope: str
    label: str
    scheme: object = None
    region: object = None
    village_id: int | None = None
    township: str | None = None

    def filters(self) -> dict:
        """The keyword arguments of ``household_standings`` for this scope."""
        if self.scheme is not None and self.scheme.account_kind != "household":
            return {"scheme_id": self.scheme.id}
        if self.region is not None:
            return {"region_id": self.region.id}
        return {"village_id": self.village_id, "township": self.township}

    def args(self) -> dict:
        """The query arguments that name this scope again (links, pager, export)."""
        if self.scheme is not None:
            return {"scheme_id": self.scheme.id}
        if self.region is not None and self.scope != "all":
            return {"region_id": self.region.id}
        return {"scope": self.scope}


def standings_scope(actor, villages) -> StandingsScope:
    scheme = picked_scheme(actor)
    if scheme is not None:
        if scheme.account_kind == "household":  # a village's households
            return StandingsScope(f"village:{scheme.village_id}", scheme.name, scheme, village_id=scheme.village_id)
        return StandingsScope("", scheme.name, scheme)
    region = picked_region(actor)
    if region is not None:
        return StandingsScope("", region.name, region=region)
    scope, village_id, township = scope_arg(villages)
    user = actor.user
    if scope == "all" and user.region_id is not None and not user.is_admin:
        # A region official's 全部村 are the villages below its region, as its picker lists them.
        region = db.session.get(Region, user.region_id)
        return StandingsScope("all", region.name, region=region)
    if village_id is not None:
        label = next(v.name for v in villages if v.id == village_id)
    else:
        label = township or _("全部村")
    return StandingsScope(scope, label, village_id=village_id, township=township)


@bp.route("/standings")
@login_required
def standings():
    actor = current_actor()
    day = today()
    villages = village_choices()
    picked = standings_scope(actor, villages)
    quarters, years = recent_periods(day)
    months = recent_months(day) if picked.scheme is not None and picked.scheme.cadence == "month" else []
    period = quarter_of(day)
    if request.args.get("period"):
        try:
            period = normalize_period(request.args["period"])
        except ValueError:
            flash(_("期间格式须为 2026Q3 或 2026，已显示本季度"), "error")
    if period not in quarters + years + months:
        (years if len(period) == 4 else months if "-" in period else quarters).append(period)
    rows = household_standings(db.session, period, **picked.filters())
    page = ListPage.of(rows, request.args.get("page", 1, type=int), PER_PAGE)
    return render_template(
        "rankings/standings.html",
        period=period,
        period_label=period_label,
        quarters=quarters,
        years=years,
        months=months,
        villages=villages,
        townships=sorted({v.township for v in villages}),
        picked=picked,
        accounts=picked.scheme is not None and picked.scheme.account_kind != "household",
        scope=picked.scope,
        scope_label=picked.label,
        schemes=scheme_choices(),
        regions=region_choices(),
        pagination=page,
    )


OBJECTION_STATUS = {OPEN: _l("待处理"), UPHELD: _l("异议成立"), DISMISSED: _l("异议不成立")}
PERIOD_STATUS = {"open": _l("未公示"), cycle.NOTICE: _l("公示中"), cycle.FINAL: _l("已定稿")}
CN_QUARTERS = ("一", "二", "三", "四")


def quarter_numeral(q: int) -> str:
    """一…四 in Chinese, 1…4 in any other language."""
    return CN_QUARTERS[q - 1] if str(get_locale() or "zh_CN").startswith("zh") else str(q)


def local_now() -> datetime:
    return _local(utcnow())


def _local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def local_date(value: datetime | None) -> str:
    local = _local(value)
    return local.strftime("%Y-%m-%d") if local else ""


def local_time(value: datetime | None) -> str:
    local = _local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else ""


def cn_date(value) -> str:
    """``2026 年 11 月 20 日`` of a date or a naive UTC datetime (shown in local time)."""
    day = _local(value).date() if isinstance(value, datetime) else value
    return _("%(y)s 年 %(m)s 月 %(d)s 日", y=day.year, m=day.month, d=day.day)


def period_title(period: str) -> str:
    """The period as a certificate writes it: ``2026 年第三季度`` or ``2026 年度``."""
    if len(period) == 4:
        return _("%(y)s 年度", y=period)
    if "-" in period:
        return _("%(y)s 年 %(m)s 月", y=period[:4], m=int(period[5:7]))
    return _("%(y)s 年第%(q)s季度", y=period[:4], q=quarter_numeral(int(period[5])))


def mask_name(name: str) -> str:
    """王建国 → 王*国, 李明 → 李*: enough for neighbours, not for strangers."""
    name = name or ""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_names() -> bool:
    """Masked where the deployment says so (``NOTICE_MASK_NAMES``); ``?mask=1`` masks a
    single printout, but no query unmasks what the deployment masks."""
    return bool(current_app.config.get("NOTICE_MASK_NAMES", False)) or request.args.get("mask") == "1"


@bp.context_processor
def template_helpers():
    return {
        "period_label": period_label,
        "period_title": period_title,
        "local_date": local_date,
        "local_time": local_time,
        "cn_date": cn_date,
        "objection_status": OBJECTION_STATUS,
        "period_status": PERIOD_STATUS,
    }


def period_arg(default: str) -> str:
    """``?period=`` normalised; a malformed one is reported and the default shown."""
    text = request.args.get("period", "")
    if not text:
        return default
    try:
        return normalize_period(text)
    except ValueError:
        flash(_("期间格式须为 2026Q3 或 2026，已显示 %(p)s", p=default), "error")
        return default


def reader_village(actor, village_id: int | None) -> Village | None:
    """A village whose public pages (notice board, big screen, awards) the user may read:
    its own, for officials and residents alike; any for an admin (None until one is
    chosen). Another village's is 404, as if it did not exist."""
    user = actor.user
    if village_id is None:
        village_id = user.village_id
        if village_id is None:
            if user.is_admin:
                return None
            raise NotFound()
    village = db.session.get(Village, village_id)
    if village is None or not (user.can_see_village(village.id) or user.village_id == village.id):
        raise NotFound()
    return village


def standing_rows(standings: list[dict], mask: bool) -> list[dict]:
    """Published rows with the name to show and whether the rank is shared (a tie)."""
    counts: dict[int, int] = {}
    for s in standings:
        counts[s["rank"]] = counts.get(s["rank"], 0) + 1
    return [
        {**s, "name": mask_name(s["head_name"]) if mask else s["head_name"], "tied": counts[s["rank"]] > 1}
        for s in standings
    ]


from app.rankings import cycle_pages, exports, notice_pages, objection_pages  # noqa: E402, F401  (routes on bp)
