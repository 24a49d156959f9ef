"""Rankings pages: the standings (public to every logged-in user, residents included) and
the quarterly cycle's pages and printouts — period management, the notice board (公示栏),
the hall's big screen, certificates (奖状), the yearly passbook, objections (异议),
statistics and the standings exports."""

import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from openpyxl import Workbook
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.clock import normalize_period, parse_period, quarter_of, utcnow
from app.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.points import services as points
from app.points.models import APPROVED, KIND_RULE, Entry
from app.rankings import periods as cycle
from app.rankings import services
from app.rankings.forms import OTHER_TITLE, AwardForm, ConfirmForm, DecisionForm, ObjectionForm
from app.rankings.models import DISMISSED, OPEN, UPHELD, Award, Objection
from app.rankings.services import household_standings
from app.scope import OFFICIAL_ROLES, household_in_scope, require_role
from app.villages.models import Village
from app.web import (
    current_actor,
    mutate,
    show_error,
    today,
    village_args,
    village_choices,
    working_village,
    working_village_id,
)

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
    day = today()
    quarters, years = recent_periods(day)
    period = quarter_of(day)
    if request.args.get("period"):
        try:
            period = normalize_period(request.args["period"])
        except ValueError:
            flash(_("期间格式须为 2026Q3 或 2026，已显示本季度"), "error")
    if period not in quarters + years:
        (years if len(period) == 4 else quarters).append(period)
    villages = village_choices()
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


# --- the quarterly cycle's pages --------------------------------------------------------------

OBJECTION_STATUS = {OPEN: _l("待处理"), UPHELD: _l("异议成立"), DISMISSED: _l("异议不成立")}
PERIOD_STATUS = {"open": _l("未公示"), cycle.NOTICE: _l("公示中"), cycle.FINAL: _l("已定稿")}
CN_QUARTERS = ("一", "二", "三", "四")


def quarter_numeral(q: int) -> str:
    """一…四 in Chinese, 1…4 in any other language."""
    return CN_QUARTERS[q - 1] if str(get_locale() or "zh_CN").startswith("zh") else str(q)


BIGSCREEN_TOP = 20
BIGSCREEN_REFRESH_SECONDS = 60
CERTIFICATES_MAX = 500
OBJECTIONS_PER_PAGE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_CHUNK_ROWS = 500


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
    return _("%(y)s 年第%(q)s季度", y=period[:4], q=quarter_numeral(int(period[5])))


def mask_name(name: str) -> str:
    """王建国 → 王*国, 李明 → 李*: enough for neighbours, not for strangers."""
    name = name or ""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _mask_names() -> bool:
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


def _period_arg(default: str) -> str:
    """``?period=`` normalised; a malformed one is reported and the default shown."""
    text = request.args.get("period", "")
    if not text:
        return default
    try:
        return normalize_period(text)
    except ValueError:
        flash(_("期间格式须为 2026Q3 或 2026，已显示 %(p)s", p=default), "error")
        return default


def _reader_village(actor, village_id: int | None) -> Village | None:
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


def _pick_village(title: str):
    return render_template("rankings/pick_village.html", title=title, villages=village_choices())


def _standing_rows(standings: list[dict], mask: bool) -> list[dict]:
    """Published rows with the name to show and whether the rank is shared (a tie)."""
    counts: dict[int, int] = {}
    for s in standings:
        counts[s["rank"]] = counts.get(s["rank"], 0) + 1
    return [
        {**s, "name": mask_name(s["head_name"]) if mask else s["head_name"], "tied": counts[s["rank"]] > 1}
        for s in standings
    ]


def _render_periods(actor, village: Village, forms: dict | None = None, status: int = 200):
    day = today()
    names = cycle.periods_of(day)
    pending = services.pending_by_period(db.session, village.id)
    open_objections = db.session.scalars(cycle.list_objections(village.id, status=OPEN)).all()
    awards_by_period: dict[str, list] = {}
    for award in db.session.scalars(cycle.list_awards(village.id).where(Award.period.in_(names))):
        awards_by_period.setdefault(award.period, []).append(award)
    forms = forms or {}
    rows = []
    for name in names:
        view = cycle.view_period(db.session, village.id, name)
        rows.append(
            {
                "period": name,
                "view": view,
                "ended": parse_period(name)[1] < day,
                "pending": pending.get(name, 0),
                "objections": sum(
                    1 for o in open_objections if o.period == name or (len(name) == 4 and o.period[:4] == name)
                ),
                "awards": awards_by_period.get(name, []),
                "form": forms.get(name) or AwardForm(prefix=f"award-{name}", formdata=None),
                "notice_over": view.notice_ends_on is not None and day > view.notice_ends_on,
            }
        )
    return (
        render_template(
            "rankings/periods.html",
            village=village,
            rows=rows,
            confirm=ConfirmForm(),
            admin_args=village_args(working_village_id(actor)),
            today=day,
        ),
        status,
    )


@bp.route("/periods")
@login_required
def periods():
    actor = current_actor()
    require_role(actor, "reviewer")
    village = working_village(actor)
    if village is None:
        return _pick_village(_("公示与评优"))
    return _render_periods(actor, village)


def _cycle_action(action, period: str, done):
    """Run a 公示/定稿 button: one service call, commit, a flash, back to the list."""
    actor = current_actor()
    require_role(actor, "reviewer")
    village = working_village(actor)
    if village is None:
        raise NotFound()
    if not ConfirmForm().validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "error")
    else:
        outcome = mutate(
            lambda: action(db.session, actor, village.id, period, now=utcnow(), today=today()),
            reraise=(NotFound, Forbidden),
        )
        if outcome.ok:
            flash(done(outcome.value))
    return redirect(url_for(".periods", **village_args(working_village_id(actor))))


@bp.route("/periods/<period>/close", methods=["POST"])
@login_required
def close_period(period):
    return _cycle_action(
        cycle.close_period,
        period,
        lambda v: _(
            "%(p)s 的排名已公示（%(n)s 户），公示期至 %(d)s",
            p=period_label(v.period),
            n=len(v.standings),
            d=v.notice_ends_on.isoformat(),
        ),
    )


@bp.route("/periods/<period>/finalize", methods=["POST"])
@login_required
def finalize_period(period):
    return _cycle_action(
        cycle.finalize_period, period, lambda v: _("%(p)s 的排名已定稿，可以评优了", p=period_label(v.period))
    )


@bp.route("/periods/<period>/awards", methods=["POST"])
@login_required
def grant_awards(period):
    actor = current_actor()
    require_role(actor, "reviewer")
    village = working_village(actor)
    if village is None:
        raise NotFound()
    try:
        period = normalize_period(period)
    except ValueError as exc:
        raise NotFound() from exc
    form = AwardForm(prefix=f"award-{period}")
    if not form.validate_on_submit():
        return _render_periods(actor, village, {period: form}, 422)
    title_field = "title_other" if form.title_choice.data == OTHER_TITLE else "title_choice"
    done = mutate(
        lambda: cycle.grant_awards(
            db.session, actor, period=period, village_id=village.id, now=utcnow(), today=today(), **form.values()
        ),
        form,
        rename={"title": title_field},
        reraise=(NotFound, Forbidden),
    )
    if not done.ok:
        return _render_periods(actor, village, {period: form}, done.status)
    awards = done.value
    values = form.values()
    flash(
        _(
            "已评出 %(n)s 户“%(t)s”%(bonus)s",
            n=len(awards),
            t=values["title"],
            bonus=_("，每户奖励 %(b)s 分", b=values["bonus_points"]) if values["bonus_points"] else "",
        )
    )
    return redirect(url_for(".periods", **village_args(working_village_id(actor))))


@bp.route("/notice")
@login_required
def notice_latest():
    """The village's most recent publication (or this quarter, not yet published)."""
    actor = current_actor()
    village = _reader_village(actor, request.args.get("village_id", type=int))
    if village is None:
        return _pick_village(_("公示栏"))
    names = cycle.periods_of(today())
    chosen = next((p for p in names if cycle.view_period(db.session, village.id, p).publication), names[0])
    return redirect(url_for(".notice", period=chosen, village_id=village.id))


@bp.route("/notice/<period>")
@login_required
def notice(period):
    actor = current_actor()
    village = _reader_village(actor, request.args.get("village_id", type=int))
    if village is None:
        return _pick_village(_("公示栏"))
    try:
        period = normalize_period(period)
    except ValueError as exc:
        raise NotFound() from exc
    view = cycle.get_period(db.session, actor, village.id, period)
    mask = _mask_names()
    show_names = bool(current_app.config.get("NOTICE_SHOW_DEDUCTION_NAMES", False))
    deductions = services.deductions_in_period(db.session, village.id, period) if view.publication else []
    return render_template(
        "rankings/notice.html",
        village=village,
        view=view,
        rows=_standing_rows(view.standings, mask),
        awards=db.session.scalars(cycle.list_awards(village.id, period)).all(),
        deductions=deductions,
        deduction_entries=sum(d["entries"] for d in deductions),
        deduction_points=sum(d["points"] for d in deductions),
        show_deduction_names=show_names,
        mask=mask,
        mask_name=mask_name,
        objection_url=url_for(".new_objection", period=period, village_id=village.id, _external=True),
        periods=cycle.periods_of(today()),
        printed_on=today(),
    )


@bp.route("/bigscreen")
@login_required
def bigscreen():
    """The village hall's television: top 20 and the latest awards, reloading itself."""
    actor = current_actor()
    village = _reader_village(actor, request.args.get("village_id", type=int))
    if village is None:
        return _pick_village(_("大屏展示"))
    period = _period_arg(quarter_of(today()))
    view = cycle.view_period(db.session, village.id, period)
    if view.publication:
        standings = [s for s in view.standings if s["rank"] <= BIGSCREEN_TOP]
    else:
        standings = [
            s.to_dict() for s in services.household_standings(db.session, period, village_id=village.id, limit=20)
        ]
    awards = db.session.scalars(cycle.list_awards(village.id).limit(200)).all()
    latest = awards[0].period if awards else None
    return render_template(
        "rankings/bigscreen.html",
        village=village,
        view=view,
        period=period,
        rows=_standing_rows(standings, _mask_names()),
        awards=[a for a in awards if a.period == latest][:BIGSCREEN_TOP],
        awards_period=latest,
        mask=_mask_names(),
        mask_name=mask_name,
        refresh=BIGSCREEN_REFRESH_SECONDS,
        now=_local(utcnow()),
    )


@bp.route("/awards")
@login_required
def awards():
    actor = current_actor()
    village = _reader_village(actor, request.args.get("village_id", type=int))
    if village is None:
        return _pick_village(_("评优结果"))
    period = _period_arg("") or None
    rows = db.session.scalars(cycle.list_awards(village.id, period).limit(CERTIFICATES_MAX)).all()
    return render_template(
        "rankings/awards.html",
        village=village,
        period=period,
        awards=rows,
        periods=cycle.periods_of(today()),
        mask=_mask_names(),
        mask_name=mask_name,
    )


def _certificate_context(village: Village) -> dict:
    return {"committee": _("%(v)s村民委员会", v=village.name)}


@bp.route("/awards/<int:award_id>/certificate")
@login_required
def certificate(award_id):
    actor = current_actor()
    award = db.session.get(Award, award_id)
    if award is None:
        raise NotFound()
    village = _reader_village(actor, award.village_id)
    return render_template(
        "rankings/certificates.html", village=village, awards=[award], single=True, **_certificate_context(village)
    )


@bp.route("/awards/certificates")
@login_required
def certificates():
    """Every certificate of a period (or of the village), one per A4 page."""
    actor = current_actor()
    village = _reader_village(actor, request.args.get("village_id", type=int))
    if village is None:
        return _pick_village(_("打印奖状"))
    period = _period_arg("") or None
    rows = db.session.scalars(cycle.list_awards(village.id, period).limit(CERTIFICATES_MAX)).all()
    return render_template(
        "rankings/certificates.html",
        village=village,
        awards=rows,
        period=period,
        single=False,
        **_certificate_context(village),
    )


@bp.route("/passbook/<int:household_id>")
@login_required
def passbook_this_year(household_id):
    return redirect(url_for(".passbook", household_id=household_id, year=today().year))


@bp.route("/passbook/<int:household_id>/<int:year>")
@login_required
def passbook(household_id, year):
    actor = current_actor()
    household = household_in_scope(db.session, actor, household_id)
    if not 2000 <= year <= 2100:
        raise NotFound()
    opening, entries = services.passbook_year(db.session, household.id, year)
    balance, lines = opening, []
    for entry in entries:
        counted = entry.status == APPROVED
        if counted:
            balance += entry.points
        lines.append({"entry": entry, "balance": balance if counted else None})
    user = actor.user
    may_object = user.household_id == household.id or (
        user.has_role("reviewer") and user.can_see_village(household.village_id)
    )
    final = services.final_periods(db.session, household.village_id) if may_object else set()
    objectable = {
        e.id
        for e in entries
        if may_object
        and e.kind == KIND_RULE
        and e.status == APPROVED
        and e.reversed_by is None
        and e.period not in final
        and e.period[:4] not in final
    }
    day = today()
    return render_template(
        "rankings/passbook.html",
        household=household,
        year=year,
        opening=opening,
        closing=balance,
        lines=lines,
        objectable=objectable,
        official=user.can_see_village(household.village_id),
        this_year=day.year,
        printed_on=day,
    )


def _entries_by_id(ids) -> dict:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(ids)))}


@bp.route("/objections/new", methods=["GET", "POST"])
@login_required
def new_objection():
    actor = current_actor()
    user = actor.user
    if not (user.household_id or user.has_role("reviewer")):
        raise Forbidden()
    form = ObjectionForm()
    entry_id = request.args.get("entry_id", type=int) or (
        int(form.entry_id.data) if (form.entry_id.data or "").isdigit() else None
    )
    entry = points.get_entry(db.session, actor, entry_id) if entry_id else None
    village_id = request.args.get("village_id", type=int) or (
        int(form.village_id.data) if (form.village_id.data or "").isdigit() else user.village_id
    )
    day = today()
    names = cycle.periods_of(day)
    form.period.choices = [SelectChoice(p, period_label(p)) for p in names]
    if request.method == "GET":
        form.entry_id.data = str(entry.id) if entry else ""
        form.village_id.data = str(village_id or "")
        form.period.data = _period_arg(names[1] if len(names) > 1 else names[0])
        if form.period.data not in names:
            form.period.choices.append(SelectChoice(form.period.data, period_label(form.period.data)))
    # Only a rule entry can be contested: any other entry is shown with the reason beside
    # it and without the form (a POST naming one anyway gets the service's refusal).
    contestable = entry is None or cycle.contestable(entry)
    status = 200
    if form.validate_on_submit():
        target = {"entry_id": entry.id} if entry else {"period": form.period.data, "village_id": village_id}
        done = mutate(
            lambda: cycle.file_objection(db.session, actor, reason=form.reason.data, now=utcnow(), **target), form
        )
        status = done.status
        if done.ok:
            flash(_("异议已提交（第 %(id)s 号），村评议会将尽快处理", id=done.value.id))
            return redirect(url_for(".my_objections"))
    elif form.is_submitted():
        status = 422
    if not contestable and not form.entry_id.errors:
        form.entry_id.errors = [str(cycle.NOT_CONTESTABLE)]
    village = db.session.get(Village, entry.village_id if entry else village_id) if (entry or village_id) else None
    return (
        render_template(
            "rankings/objection_new.html", form=form, entry=entry, village=village, contestable=contestable
        ),
        status,
    )


@bp.route("/objections/mine")
@login_required
def my_objections():
    actor = current_actor()
    user = actor.user
    stmt = cycle.list_objections(None, filed_by_id=user.id, household_id=user.household_id or -1)
    pagination = db.paginate(stmt, page=max(1, request.args.get("page", 1, type=int)), per_page=OBJECTIONS_PER_PAGE)
    return render_template(
        "rankings/objections_mine.html",
        pagination=pagination,
        entries=_entries_by_id(o.entry_id for o in pagination.items),
    )


def _render_queue(actor, forms: dict | None = None, status: int = 200):
    village_id = working_village_id(actor)
    open_rows = list(reversed(db.session.scalars(cycle.list_objections(village_id, status=OPEN)).all()))
    decided = db.paginate(
        cycle.list_objections(village_id).where(Objection.status != OPEN),
        page=max(1, request.args.get("page", 1, type=int)),
        per_page=OBJECTIONS_PER_PAGE,
        error_out=False,
    )
    forms = forms or {}
    for o in open_rows:
        forms.setdefault(o.id, DecisionForm(prefix=f"o{o.id}", formdata=None))
    return (
        render_template(
            "rankings/objections.html",
            open_rows=open_rows,
            decided=decided,
            forms=forms,
            entries=_entries_by_id([o.entry_id for o in open_rows] + [o.entry_id for o in decided.items]),
            admin_args=village_args(working_village_id(actor)),
            villages=village_choices() if actor.user.is_admin else [],
            village_id=village_id,
        ),
        status,
    )


@bp.route("/objections")
@login_required
def objections():
    actor = current_actor()
    require_role(actor, "reviewer")
    return _render_queue(actor)


@bp.route("/objections/<int:objection_id>/decide", methods=["POST"])
@login_required
def decide_objection(objection_id):
    actor = current_actor()
    require_role(actor, "reviewer")
    form = DecisionForm(prefix=f"o{objection_id}")
    if not form.validate_on_submit():
        objection = cycle.objection_in_scope(db.session, actor, objection_id)
        if not actor.user.can_see_village(objection.village_id):
            raise NotFound()
        return _render_queue(actor, {objection_id: form}, 422)
    upheld = form.upheld.data == "yes"
    done = mutate(
        lambda: cycle.decide_objection(
            db.session, actor, objection_id, upheld=upheld, note=form.note.data, now=utcnow()
        ),
        reraise=(NotFound, Forbidden),
    )
    if isinstance(done.error, ValidationFailed):
        show_error(form, done.error)
        return _render_queue(actor, {objection_id: form}, 422)
    if not done.ok:
        return redirect(url_for(".objections", **village_args(working_village_id(actor))))
    objection = done.value
    if upheld and objection.reversal_entry_id:
        flash(_("第 %(id)s 号异议成立：该笔记录已冲正，排名已重新公示", id=objection.id))
    elif upheld:
        flash(_("第 %(id)s 号异议成立", id=objection.id))
    else:
        flash(_("第 %(id)s 号异议不成立，已答复", id=objection.id))
    return redirect(url_for(".objections", **village_args(working_village_id(actor))))


def _export_rows():
    """The standings to export: ``?period=`` and ``?scope=``/``?village_id=``/``?township=``
    as on the standings page. Officials only: it is the whole register's names at once."""
    require_role(current_actor(), *OFFICIAL_ROLES)
    try:
        period = normalize_period(request.args.get("period") or quarter_of(today()))
    except ValueError as exc:
        raise BadRequest() from exc
    _label, village_id, township = _scope(village_choices())
    rows = services.iter_household_standings(db.session, period, village_id=village_id, township=township)
    return period, rows


def _export_headers() -> list[str]:
    return [_("名次"), _("村"), _("户号"), _("户主"), _("积分"), _("可参评")]


def _text_cell(value: str) -> str:
    """A name as text, never a formula: Excel (and openpyxl) would evaluate ``=…``."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _export_values(s) -> list:
    return [
        s.rank,
        _text_cell(s.village_name),
        _text_cell(s.number),
        _text_cell(s.head_name),
        s.points,
        _("是") if s.eligible else _("否"),
    ]


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


@bp.route("/standings/export.csv")
@login_required
def export_csv():
    period, rows = _export_rows()
    headers = _export_headers()

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        yield "\ufeff" + buffer.getvalue()  # the BOM: Excel then reads the Chinese as UTF-8
        buffer.seek(0)
        buffer.truncate()
        for i, s in enumerate(rows, start=1):
            writer.writerow(_export_values(s))
            if i % EXPORT_CHUNK_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers=_attachment(f"standings-{period}.csv"),
    )


@bp.route("/standings/export.xlsx")
@login_required
def export_xlsx():
    """A write-only workbook (rows go to a temporary file as they come), then the file
    is streamed in chunks: memory stays flat however many households there are."""
    period, rows = _export_rows()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(period)
    sheet.append(_export_headers())
    for s in rows:
        sheet.append(_export_values(s))
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the response, below
    workbook.save(spool)
    spool.seek(0)
    response = Response(
        iter(lambda: spool.read(64 * 1024), b""), mimetype=XLSX, headers=_attachment(f"standings-{period}.xlsx")
    )
    response.call_on_close(spool.close)
    return response
