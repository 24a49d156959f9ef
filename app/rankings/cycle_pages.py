"""The reviewer's pages of the quarterly cycle: publishing (公示), finalising (定稿) and awards."""

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import normalize_period, parse_period, utcnow
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.points.models import APPROVED, PENDING
from app.rankings import awards as prizes
from app.rankings import objections, statistics
from app.rankings import periods as cycle
from app.rankings.boards import Board, pick_board, working_board
from app.rankings.forms import OTHER_TITLE, AwardForm, ConfirmForm
from app.rankings.models import OPEN, Award
from app.rankings.views import bp, period_label
from app.scope import require_role
from app.web import current_actor, mutate, scheme_choices, today, village_args, working_village_id


def _render_periods(actor, board: Board, forms: dict | None = None, status: int = 200):
    day = today()
    scheme = board.scheme
    names = cycle.scheme_periods(scheme, day)
    pending = statistics.entries_by_period(db.session, scheme.id, (PENDING,))
    recorded = statistics.entries_by_period(db.session, scheme.id, (PENDING, APPROVED))
    open_objections = db.session.scalars(objections.list_objections(None, scheme_id=scheme.id, status=OPEN)).all()
    awards_by_period: dict[str, list] = {}
    for award in db.session.scalars(prizes.list_awards(scheme.id).where(Award.period.in_(names))):
        awards_by_period.setdefault(award.period, []).append(award)
    forms = forms or {}
    rows = []
    for name in names:
        view = cycle.view_period(db.session, scheme, name)
        rows.append(
            {
                "period": name,
                "view": view,
                "ended": parse_period(name)[1] < day,
                "ends_on": parse_period(name)[1],
                "pending": pending.get(name, 0),
                "recorded": recorded.get(name, 0),
                "objections": sum(
                    1 for o in open_objections if o.period == name or (len(name) == 4 and o.period[:4] == name)
                ),
                "awards": awards_by_period.get(name, []),
                "form": forms.get(name) or AwardForm(prefix=f"award-{name}", formdata=None),
                "notice_over": view.notice_ends_on is not None and day > view.notice_ends_on,
                # finalising opens the day after the notice ends (an admin may finalise early)
                "can_finalize": "admin" in actor.user.roles
                or (view.notice_ends_on is not None and day > view.notice_ends_on),
                "final_from": view.notice_ends_on + timedelta(days=1) if view.notice_ends_on else None,
            }
        )
    return (
        render_template(
            "rankings/periods.html",
            board=board,
            rows=rows,
            confirm=ConfirmForm(),
            admin_args=_board_args(actor, board),
            schemes=scheme_choices(),
            today=day,
        ),
        status,
    )


def _board_args(actor, board: Board) -> dict:
    """What keeps the reviewer on this scheme: ``?scheme_id=`` when one was picked, else
    the working village as before."""
    if not board.households or "scheme_id" in request.args:
        return {"scheme_id": board.scheme.id}
    return village_args(working_village_id(actor))


@bp.route("/periods")
@login_required
def periods():
    actor = current_actor()
    require_role(actor, "reviewer")
    board = working_board(actor)
    if board is None:
        return pick_board(_("公示与评优"))
    return _render_periods(actor, board)


def _cycle_action(action, period: str, done):
    """Run a 公示/定稿 button: one service call, commit, a flash, back to the list."""
    actor = current_actor()
    require_role(actor, "reviewer")
    board = working_board(actor)
    if board is None:
        raise NotFound()
    if not ConfirmForm().validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "error")
    else:
        outcome = mutate(
            lambda: action(db.session, actor, None, period, now=utcnow(), today=today(), scheme_id=board.scheme.id),
            reraise=(NotFound, Forbidden),
        )
        if outcome.ok:
            flash(done(outcome.value))
    return redirect(url_for(".periods", **_board_args(actor, board)))


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
    board = working_board(actor)
    if board is None:
        raise NotFound()
    try:
        period = normalize_period(period)
    except ValueError as exc:
        raise NotFound() from exc
    form = AwardForm(prefix=f"award-{period}")
    if not form.validate_on_submit():
        return _render_periods(actor, board, {period: form}, 422)
    title_field = "title_other" if form.title_choice.data == OTHER_TITLE else "title_choice"
    done = mutate(
        lambda: prizes.grant_awards(
            db.session, actor, period=period, scheme_id=board.scheme.id, now=utcnow(), today=today(), **form.values()
        ),
        form,
        rename={"title": title_field},
        reraise=(NotFound, Forbidden),
    )
    if not done.ok:
        return _render_periods(actor, board, {period: form}, done.status)
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
    return redirect(url_for(".periods", **_board_args(actor, board)))
