"""The county's monthly scoring page: every village of a township on one screen, one
row per village, one column per indicator (the scheme's rules), one tap per cell."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm

from app.clock import utcnow
from app.county import services
from app.errors import BadReference, DomainError, NotFound
from app.extensions import db
from app.rankings.views import local_date, period_label
from app.regions.models import Region
from app.scope import require_role
from app.web import current_actor, error_text, today

bp = Blueprint("county", __name__, template_folder="templates", url_prefix="/county")

STATUS_NAMES = {"open": _l("未公示"), "notice": _l("公示中"), "final": _l("已定稿")}


class TapForm(FlaskForm):
    """The scoring table's one form: only the CSRF token; each cell's button names its
    account and rule (``tap=<account>-<rule>``), the month and township ride along."""


def official():
    actor = current_actor()
    require_role(actor, "reviewer", "recorder")
    return actor


@bp.context_processor
def _helpers():
    return {"status_names": STATUS_NAMES, "local_date": local_date, "period_label": period_label}


@bp.route("/")
@login_required
def index():
    """The village schemes the official may open; straight to the only one."""
    actor = official()
    schemes = services.village_schemes(db.session, actor.user)
    if len(schemes) == 1:
        return redirect(url_for(".score", scheme_id=schemes[0].id))
    if not schemes and not actor.user.is_admin and actor.user.region_id is None:
        abort(404)
    regions = {r.id: r for r in db.session.query(Region).filter(Region.id.in_([s.region_id for s in schemes]))}
    mine = db.session.get(Region, actor.user.region_id) if actor.user.region_id is not None else None
    return render_template("county/index.html", schemes=schemes, regions=regions, mine=mine)


def village_scheme(actor, scheme_id: int):
    """The village scheme of the page; another scheme the official sees goes to its own page."""
    try:
        return services.village_scheme(db.session, actor, scheme_id)
    except services.NotVillageScheme as exc:
        abort(redirect(url_for("schemes.show", scheme_id=exc.scheme.id)))


def _month_arg(source) -> str:
    day = today()
    month = source.get("month") or services.month_choices(day)[0]
    try:
        return services.check_month(month, day)
    except DomainError as exc:
        raise NotFound() from exc


def _render(actor, scheme, township, month, *, errors=None, status=200):
    accounts = services.township_accounts(db.session, scheme, township)
    rules = services.indicators(db.session, scheme)
    grid = services.month_grid(db.session, scheme, [a.id for a in accounts], month)
    return (
        render_template(
            "county/score.html",
            scheme=scheme,
            region=db.session.get(Region, scheme.region_id),
            township=township,
            townships=services.townships(db.session, actor.user, scheme),
            month=month,
            months=services.month_choices(today()),
            lock=services.month_lock(db.session, scheme, month),
            accounts=accounts,
            rules=rules,
            grid=grid,
            errors=errors or {},
            can_record=actor.user.has_role("recorder"),
            can_correct=actor.user.has_role("reviewer"),
            form=TapForm(),
        ),
        status,
    )


@bp.route("/schemes/<int:scheme_id>/score")
@login_required
def score(scheme_id: int):
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    township = services.township_of(db.session, actor.user, scheme, request.args.get("township_id", type=int))
    return _render(actor, scheme, township, _month_arg(request.args))


def _tap_target(value: str) -> tuple[int | None, int | None]:
    account, _sep, rule = (value or "").partition("-")
    return (int(account) if account.isdigit() else None, int(rule) if rule.isdigit() else None)


@bp.route("/schemes/<int:scheme_id>/score", methods=["POST"])
@login_required
def tap(scheme_id: int):
    """One cell's tap: records the indicator for the village in the month, once."""
    actor = official()
    scheme = village_scheme(actor, scheme_id)
    township = services.township_of(db.session, actor.user, scheme, request.form.get("township_id", type=int))
    month = _month_arg(request.form)
    back = url_for(".score", scheme_id=scheme.id, township_id=township.id, month=month)
    if not TapForm().validate_on_submit():
        flash(_("页面已过期，请刷新后重试"), "error")
        return redirect(back)
    account_id, rule_id = _tap_target(request.form.get("tap", ""))
    if not request.form.get("confirmed"):
        try:
            account, rule = services.tap_target(db.session, actor, scheme, account_id, rule_id)
        except DomainError as exc:
            flash(error_text(exc), "error")
            return redirect(back)
        if rule.points < 0:  # a deduction is asked again before it is recorded
            back_to_cell = f"{back}#c-{account.id}-{rule.id}"
            return render_template(
                "county/confirm_tap.html",
                scheme=scheme,
                township=township,
                month=month,
                account=account,
                rule=rule,
                back=back_to_cell,
                form=TapForm(),
            )
    try:
        entry, new = services.tap(
            db.session, actor, scheme, account_id=account_id, rule_id=rule_id, month=month, today=today(), now=utcnow()
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, BadReference) or account_id is None or rule_id is None:
            flash(error_text(exc), "error")
            return redirect(back)
        return _render(
            actor, scheme, township, month, errors={(account_id, rule_id): error_text(exc)}, status=exc.status
        )
    name = entry.household.name
    if new:
        flash(_("已记：%(v)s · %(r)s %(p)s 分", v=name, r=entry.title, p=entry.points))
    else:
        flash(_("%(v)s 本月已记过“%(r)s”，未重复记分", v=name, r=entry.title))
    return redirect(f"{back}#c-{entry.household_id}-{entry.rule_id}")


from app.county import period_pages  # noqa: E402,F401  (its routes are on this blueprint)
