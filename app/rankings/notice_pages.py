"""What the village (or a scheme's people) reads: the notice board (公示栏), the hall's
big screen, the awards and their certificates (奖状). Each works on a village's
household scheme or on a scheme picked (``?scheme_id=``)."""

from flask import Response, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import normalize_period, quarter_of
from app.errors import NotFound
from app.extensions import db
from app.rankings import awards as prizes
from app.rankings import periods as cycle
from app.rankings import services
from app.rankings.boards import pick_board, reader_board
from app.rankings.models import Award
from app.rankings.views import (
    bp,
    local_now,
    mask_name,
    mask_names,
    period_arg,
    standing_rows,
)
from app.schemes.services import account_headings
from app.spreadsheet import XLSX, attachment, xlsx_bytes
from app.web import current_actor, scheme_choices, today

BIGSCREEN_TOP = 20


BIGSCREEN_REFRESH_SECONDS = 60


CERTIFICATES_MAX = 500


@bp.route("/notice")
@login_required
def notice_latest():
    """The scheme's most recent publication (or this period, not yet published)."""
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        return pick_board(_("公示栏"))
    names = cycle.scheme_periods(board.scheme, today())
    chosen = next((p for p in names if cycle.view_period(db.session, board.scheme, p).publication), names[0])
    return redirect(url_for(".notice", period=chosen, **board.args))


@bp.route("/notice/<period>")
@login_required
def notice(period):
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        return pick_board(_("公示栏"))
    try:
        period = normalize_period(period)
    except ValueError as exc:
        raise NotFound() from exc
    view = cycle.get_period(db.session, actor, None, period, scheme_id=board.scheme.id)
    mask = mask_names()
    show_names = bool(current_app.config.get("NOTICE_SHOW_DEDUCTION_NAMES", False))
    deductions = (
        services.deductions_in_period(db.session, board.village.id, period)
        if view.publication and board.households
        else []
    )
    return render_template(
        "rankings/notice.html",
        board=board,
        view=view,
        rows=standing_rows(view.standings, mask),
        awards=db.session.scalars(prizes.list_awards(board.scheme.id, period)).all(),
        deductions=deductions,
        deduction_entries=sum(d["entries"] for d in deductions),
        deduction_points=sum(d["points"] for d in deductions),
        show_deduction_names=show_names,
        mask=mask,
        mask_name=mask_name,
        # objections are filed by the households of a village (``new_objection``)
        objection_url=url_for(".new_objection", period=period, village_id=board.village.id, _external=True)
        if board.households
        else None,
        periods=cycle.scheme_periods(board.scheme, today()),
        schemes=scheme_choices(),
        printed_on=today(),
    )


@bp.route("/bigscreen")
@login_required
def bigscreen():
    """The village hall's television: top 20 and the latest awards, reloading itself."""
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        return pick_board(_("大屏展示"))
    period = period_arg(quarter_of(today()))
    view = cycle.view_period(db.session, board.scheme, period)
    if view.publication:
        standings = [s for s in view.standings if s["rank"] <= BIGSCREEN_TOP]
    else:
        standings = [
            s.to_dict()
            for s in services.household_standings(db.session, period, **board.standing_filters(), limit=BIGSCREEN_TOP)
        ]
    awards = db.session.scalars(prizes.list_awards(board.scheme.id).limit(200)).all()
    latest = awards[0].period if awards else None
    return render_template(
        "rankings/bigscreen.html",
        board=board,
        view=view,
        period=period,
        rows=standing_rows(standings, mask_names()),
        awards=[a for a in awards if a.period == latest][:BIGSCREEN_TOP],
        awards_period=latest,
        mask=mask_names(),
        mask_name=mask_name,
        refresh=BIGSCREEN_REFRESH_SECONDS,
        now=local_now(),
    )


@bp.route("/awards")
@login_required
def awards():
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        return pick_board(_("评优结果"))
    period = period_arg("") or None
    rows = db.session.scalars(prizes.list_awards(board.scheme.id, period).limit(CERTIFICATES_MAX)).all()
    return render_template(
        "rankings/awards.html",
        board=board,
        period=period,
        awards=rows,
        funded=any(a.amount_yuan is not None for a in rows),
        periods=cycle.scheme_periods(board.scheme, today()),
        schemes=scheme_choices(),
        mask=mask_names(),
        mask_name=mask_name,
    )


@bp.route("/awards/export.xlsx")
@login_required
def awards_xlsx():
    """The awards as a workbook, with each winner's share of a fund (两位小数)."""
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        raise NotFound()
    period = period_arg("") or None
    rows = db.session.scalars(prizes.list_awards(board.scheme.id, period)).all()
    mask = mask_names()
    headers = [
        _("期间"),
        _("项目名称") if board.scheme.account_kind == "village" else _("称号"),
        _("名次"),
        *account_headings(board.scheme.account_kind),
        _("积分"),
        _("奖励积分"),
        _("奖金（元）"),
        _("分配方式"),
    ]
    ways = {"equal": _("平均分配"), "proportional": _("按积分分配")}
    lines = [
        [
            a.period,
            a.title,
            a.rank,
            a.household.number,
            mask_name(a.household.head_name) if mask else a.household.head_name,
            a.points,
            a.bonus_points,
            a.amount_yuan if a.amount_yuan is not None else "",
            ways.get(a.allocation, ""),
        ]
        for a in rows
    ]
    name = period or "all"
    return Response(
        xlsx_bytes((_("评优结果"), headers, lines)),
        mimetype=XLSX,
        headers=attachment(_("评优结果-%(p)s.xlsx", p=name), f"awards-{name}.xlsx"),
    )


@bp.route("/awards/<int:award_id>/certificate")
@login_required
def certificate(award_id):
    actor = current_actor()
    award = db.session.get(Award, award_id)
    if award is None or award.village_id is None:  # a region's award has no village committee
        raise NotFound()
    board = reader_board(actor, award.scheme_id)
    return render_template("rankings/certificates.html", board=board, awards=[award], single=True)


@bp.route("/awards/certificates")
@login_required
def certificates():
    """Every certificate of a period (or of the scheme), one per A4 page."""
    actor = current_actor()
    board = reader_board(actor)
    if board is None:
        return pick_board(_("打印奖状"))
    if board.scheme.village_id is None:  # a region's awards have no village committee to sign
        raise NotFound()
    period = period_arg("") or None
    rows = db.session.scalars(prizes.list_awards(board.scheme.id, period).limit(CERTIFICATES_MAX)).all()
    return render_template("rankings/certificates.html", board=board, awards=rows, period=period, single=False)
