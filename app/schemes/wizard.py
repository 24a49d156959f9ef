"""The new-scheme wizard: whose accounts, the cadence, the categories, the money, then a
last look before it is created. The steps are GET forms carrying every answer (the
browser's back button returns to the step before, as typed); only creating posts."""

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.clock import utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.regions.services import list_regions
from app.schemes import services
from app.schemes.forms import WizardForm
from app.schemes.models import CADENCES, STANDARD_CATEGORIES
from app.schemes.views import bp
from app.scope import require_role
from app.web import current_actor, mutate, today, working_village

STEPS = (
    (_l("谁的账户"), ("owner", "account_kind", "name")),
    (_l("评比周期"), ("cadence",)),
    (_l("类别"), ("categories",)),
    (
        _l("分值与兑换"),
        ("base_points", "redeem_floor", "yuan_per_point", "approval_required", "notice_days", "annual_reset"),
    ),
    (_l("确认"), ()),
)
LAST = len(STEPS)


@dataclass(frozen=True)
class Owner:
    """A village or region the user may set a scheme up for."""

    value: str
    name: str
    village_id: int | None = None
    region_id: int | None = None


def owner_choices(actor) -> list[Owner]:
    """A region's admin: its region and those below (then the village it works in);
    a village admin: its village."""
    user = actor.user
    owners = []
    if "admin" in user.roles:
        for region in db.session.scalars(list_regions(db.session, actor)):
            owners.append(Owner(f"region:{region.id}", region.name, region_id=region.id))
    village = working_village(actor)
    if village is not None:
        owners.append(Owner(f"village:{village.id}", village.name, village_id=village.id))
    return owners


def step_errors(form: WizardForm, step: int, owners: dict[str, Owner]) -> dict[str, list[str]]:
    """What is wrong with one step's answers, by field, as the service would say it."""
    errors: dict[str, list[str]] = {}
    if step == 1:
        owner = owners.get(form.owner.data or "")
        if owner is None:
            errors["owner"] = [_("请选择方案属于哪个村或区域")]
        name = (form.name.data or "").strip()
        if not name or len(name) > 100:
            errors["name"] = [_("请填写方案名称（100 字以内）")]
        by_village = owner is not None and owner.village_id is not None
        kind_error = services.account_kind_error(form.account_kind.data, by_village)
        if kind_error:
            errors["account_kind"] = [kind_error]
    elif step == 2:
        if form.cadence.data not in CADENCES:
            errors["cadence"] = [_("请选择评比周期")]
    elif step in (3, 4):
        try:
            if step == 3:
                services.validate_categories(form.category_list())
            else:
                services.validate_settings(form.settings())
        except ValidationFailed as exc:
            errors.update(exc.details)
    return errors


def first_failing_step(form: WizardForm, owners: dict[str, Owner], upto: int) -> int | None:
    """The first step before ``upto`` whose answers are wrong (their errors put on the form)."""
    for step in range(1, upto):
        errors = step_errors(form, step, owners)
        if errors:
            for name, messages in errors.items():
                getattr(form, name).errors = [str(m) for m in messages]
            return step
    return None


def _step_of(field: str) -> int:
    return next((i for i, (_t, fields) in enumerate(STEPS, 1) if field in fields), LAST)


def _render(form, step, owners, status=200):
    return render_template(
        "schemes/new.html",
        form=form,
        step=step,
        steps=STEPS,
        last=LAST,
        owners=owners,
        owner=next((o for o in owners if o.value == form.owner.data), None),
        step_fields=STEPS[step - 1][1],
    ), status


@bp.route("/schemes/new", methods=["GET", "POST"])
@login_required
def new():
    actor = current_actor()
    require_role(actor, "village_admin")
    owners = owner_choices(actor)
    by_value = {o.value: o for o in owners}
    if request.method == "POST":
        return _create(actor, owners, by_value)
    fresh = "step" not in request.args
    form = WizardForm(formdata=None if fresh else request.args, meta={"csrf": False})
    if fresh:
        form.categories.data = "\n".join(STANDARD_CATEGORIES)
        form.owner.data = owners[0].value if owners else ""
    step = min(max(request.args.get("step", 1, type=int), 1), LAST)
    go = request.args.get("go", type=int)
    if request.args.get("standard"):  # back to the standard eight, on the same step
        form.categories.data = "\n".join(STANDARD_CATEGORIES)
        go = step
    if go is None:
        return _render(form, step, owners)
    go = min(max(go, 1), LAST)
    if go <= step:  # going back checks nothing
        return _render(form, go, owners)
    failing = first_failing_step(form, by_value, go)
    if failing is not None:
        return _render(form, failing, owners, 422)
    return _render(form, go, owners)


def _create(actor, owners, by_value):
    form = WizardForm()
    if not form.validate():
        form.form_errors.append(_("页面已过期，请再点一次“创建方案”"))
        return _render(form, LAST, owners, 400)
    failing = first_failing_step(form, by_value, LAST)
    if failing is not None:
        return _render(form, failing, owners, 422)
    owner = by_value[form.owner.data]
    values = {
        "name": form.name.data,
        "account_kind": form.account_kind.data,
        "cadence": form.cadence.data,
        "categories": form.category_list(),
        **form.settings(),
        **({"village_id": owner.village_id} if owner.village_id else {"region_id": owner.region_id}),
    }
    owner_field = {"village_id": "owner", "region_id": "owner"}
    done = mutate(
        lambda: services.create_scheme(db.session, actor, values, today=today(), now=utcnow()),
        form,
        rename=owner_field,
        fields=owner_field,
        reraise=(Forbidden, NotFound),
    )
    if not done.ok:
        failing = min((_step_of(f.name) for f in form if f.errors), default=LAST)
        return _render(form, failing, owners, done.status)
    flash(_("已创建积分方案：%(name)s。下一步：为它添加积分规则。", name=done.value.name))
    return redirect(url_for(".show", scheme_id=done.value.id))
