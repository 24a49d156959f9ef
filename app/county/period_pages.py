"""A village scheme's month (or year): its standings, 公示 (close → notice → final),
the printable notice, and the award of the project fund (积分换项目) with each village's
amount, printable and as XLSX. The cycle is the ordinary one, by scheme."""

from decimal import Decimal, InvalidOperation

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.clock import normalize_period, parse_period, utcnow
from app.county import periods as scheme_cycle
from app.county import services
from app.county.views import bp, official, village_scheme
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.rankings.views import period_label
from app.regions.models import Region
from app.spreadsheet import XLSX, attachment, xlsx_bytes
from app.web import mutate, today

ALLOCATIONS = {"equal": _l("平均分配"), "proportional": _l("按积分比例")}


class ConfirmForm(FlaskForm):
    """公示 and 定稿: only the CSRF token."""


class FundForm(FlaskForm):
    title = StringField(_l("项目名称"), default="积分换项目", validators=[InputRequired(message=_l("请填写项目名称"))])
    top_n = IntegerField(_l("名额（前几名）"), default=10, validators=[InputRequired(message=_l("请填写名额"))])
    fund_yuan = DecimalField(
        _l("项目资金（元）"), places=2, validators=[InputRequired(message=_l("请填写资金总额（元）"))]
    )
    allocation = SelectField(
        _l("分配方式"), choices=[SelectChoice(k, v) for k, v in ALLOCATIONS.items()], default="proportional"
    )

    def values(self) -> dict:
        return {
            "title": (self.title.data or "").strip(),
            "top_n": self.top_n.data,
            "fund_yuan": self.fund_yuan.data,
            "allocation": self.allocation.data,
        }


def _period(text) -> str:
    try:
        return normalize_period(text)
    except ValueError as exc:
        raise NotFound() from exc


def _context(actor, scheme, period):
    view = scheme_cycle.scheme_period(db.session, scheme, period)
    rows = scheme_cycle.period_standings(db.session, scheme, period, view)
    awards = scheme_cycle.awards_of(db.session, scheme, period)
    day = today()
    return {
        "ends_on": parse_period(period)[1],
        "ended": parse_period(period)[1] < day,
        "notice_running": view.notice_ends_on is not None and day <= view.notice_ends_on,
        "finalises_early": "admin" in actor.user.roles,
        "scheme": scheme,
        "region": db.session.get(Region, scheme.region_id),
        "period": period,
        "label": period_label(period),
        "view": view,
        "rows": rows,
        "awards": awards,
        "award_total": sum((a.amount_yuan or Decimal(0) for a in awards), Decimal(0)),
        "award_subtotals": fund_subtotals(awards),
        "allocations": ALLOCATIONS,
        "can_review": actor.user.has_role("reviewer"),
        "months": services.month_choices(today()),
    }


def _render(actor, scheme, period, *, form=None, status=200):
    context = _context(actor, scheme, period)
    form = form or FundForm(formdata=None)
    return render_template("county/period.html", form=form, confirm=ConfirmForm(), **context), status


@bp.route("/schemes/<int:scheme_id>/periods/<period>")
@login_required
def period(scheme_id: int, period: str):
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    return _render(actor, scheme, _period(period))


@bp.route("/schemes/<int:scheme_id>/periods")
@login_required
def period_pick(scheme_id: int):
    """The period chosen in the picker (``?period=``; this month without one)."""
    scheme = village_scheme(official(), scheme_id)
    period = _period(request.args.get("period") or services.month_choices(today())[0])
    return redirect(url_for(".period", scheme_id=scheme.id, period=period))


def _cycle_action(scheme_id: int, period: str, action, done):
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    period = _period(period)
    if not ConfirmForm().validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "error")
    else:
        outcome = mutate(
            lambda: action(db.session, actor, scheme, period, now=utcnow(), today=today()),
            reraise=(NotFound,),
        )
        if outcome.ok:
            flash(done(outcome.value))
    return redirect(url_for(".period", scheme_id=scheme.id, period=period))


@bp.route("/schemes/<int:scheme_id>/periods/<period>/close", methods=["POST"])
@login_required
def close(scheme_id: int, period: str):
    return _cycle_action(
        scheme_id,
        period,
        scheme_cycle.close_period,
        lambda v: _("%(p)s 已公示，公示期至 %(d)s", p=period_label(v.period), d=v.notice_ends_on.isoformat()),
    )


@bp.route("/schemes/<int:scheme_id>/periods/<period>/finalize", methods=["POST"])
@login_required
def finalize(scheme_id: int, period: str):
    return _cycle_action(
        scheme_id, period, scheme_cycle.finalize_period, lambda v: _("%(p)s 已定稿", p=period_label(v.period))
    )


@bp.route("/schemes/<int:scheme_id>/periods/<period>/awards", methods=["POST"])
@login_required
def grant(scheme_id: int, period: str):
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    period = _period(period)
    form = FundForm()
    if not form.validate_on_submit():
        return _render(actor, scheme, period, form=form, status=422)
    values = form.values()
    done = mutate(
        lambda: scheme_cycle.grant_fund(db.session, actor, scheme, period, values, now=utcnow(), today=today()),
        form,
        reraise=(NotFound, Forbidden),
    )
    if not done.ok:
        return _render(actor, scheme, period, form=form, status=done.status)
    flash(
        _(
            "已评出 %(n)s 个村“%(t)s”，共分配 %(f)s 元",
            n=len(done.value),
            t=values["title"],
            f=f"{Decimal(values['fund_yuan']):.2f}",
        )
    )
    return redirect(url_for(".period", scheme_id=scheme.id, period=period) + "#awards")


@bp.route("/schemes/<int:scheme_id>/periods/<period>/notice")
@login_required
def notice(scheme_id: int, period: str):
    """The printable 公示: the published standings and the awards with their amounts."""
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    context = _context(actor, scheme, _period(period))
    if context["view"].publication is None:
        raise NotFound()
    return render_template("county/notice.html", **context)


@bp.route("/schemes/<int:scheme_id>/periods/<period>/awards.xlsx")
@login_required
def awards_xlsx(scheme_id: int, period: str):
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    period = _period(period)
    awards = scheme_cycle.awards_of(db.session, scheme, period)
    townships = scheme_cycle.township_names(db.session, [a.household.home_village_id for a in awards])
    headers = [_("项目名称"), _("名次"), _("村"), _("乡镇"), _("积分"), _("分配方式"), _("金额（元）")]
    rows = [
        [
            a.title,
            a.rank,
            a.household.name,
            townships.get(a.household.home_village_id, ""),
            a.points,
            str(ALLOCATIONS.get(a.allocation, a.allocation or "")),
            _money(a.amount_yuan),
        ]
        for a in awards
    ]
    for title, subtotal in fund_subtotals(awards):
        rows.append([_("%(t)s 小计", t=title), "", "", "", "", "", _money(subtotal)])
    total = sum((a.amount_yuan or Decimal(0) for a in awards), Decimal(0))
    rows.append([_("合计"), "", "", "", "", "", _money(total)])
    body = xlsx_bytes((period, headers, rows))
    return Response(
        body,
        mimetype=XLSX,
        headers=attachment(_("积分换项目-%(p)s.xlsx", p=period), f"village-awards-{period}.xlsx"),
    )


def fund_subtotals(awards) -> list[tuple[str, Decimal]]:
    """Each project's share of the period's funds, in the order the awards come, where
    the period has more than one project (one alone is its 合计)."""
    totals: dict[str, Decimal] = {}
    for a in awards:
        totals[a.title] = totals.get(a.title, Decimal(0)) + (a.amount_yuan or Decimal(0))
    return list(totals.items()) if len(totals) > 1 else []


def _money(value) -> Decimal:
    """Yuan to the fen, as a number the spreadsheet can add up (shown as 0.00)."""
    try:
        return Decimal(value or 0).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError):
        return Decimal("0.00")
