"""What every page shares: who acts, in which village, what day it is, where a
refusal is shown, and the one request boundary of a page that writes."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import current_app, flash, request, session, url_for
from flask_login import current_user

from app.clock import local_today
from app.errors import BadReference, DomainError, NotFound, ValidationFailed
from app.extensions import db
from app.scope import Actor, acting_village_id, require_role, village_in_scope

WORKING_VILLAGE = "working_village_id"


def current_actor() -> Actor:
    """The logged-in user (or nobody) and the client's address: pages and API alike."""
    return Actor(current_user if current_user.is_authenticated else None, request.remote_addr or "")


def landing_url(user) -> str:
    """Where a user starts after logging in: the page of their daily work. Admins
    start on the dashboard (首页, where every user can go back to from the menu)."""
    if user.is_admin or user.has_role("village_admin"):
        return url_for("home.dashboard")
    if user.has_role("recorder"):
        if user.region_id is not None and scores_villages(user):
            return url_for("county.index")  # a region's recorder scores its villages (村级考评)
        return url_for("points.record")
    if user.has_role("reviewer"):
        return url_for("points.approvals")
    if user.has_role("clerk"):
        return url_for("redemption.counter")
    if user.household_id:
        return url_for("home.household", household_id=user.household_id)
    return url_for("home.dashboard")


def scores_villages(user) -> bool:
    """Whether 村级考评 is the user's page: a region's official (or the administrator)
    with a village scheme in its scope."""
    if not (user.is_admin or user.region_id is not None) or not user.has_role("reviewer", "recorder"):
        return False
    from app.county.services import runs_village_scheme

    return runs_village_scheme(db.session, user)


def tz() -> str:
    return current_app.config["TIMEZONE"]


def today() -> date:
    return local_today(tz())


def secret() -> str:
    return current_app.config["SECRET_KEY"]


def chooses_village(user) -> bool:
    """Whether the user picks the village a page works in: the deployment's admin among
    every village, a region's official among the villages below its region."""
    return user.is_admin or user.region_id is not None


def working_village_id(actor: Actor) -> int | None:
    """The village a page works in: an official's own; for an admin (or a region's
    official), ``?village_id=`` when given (remembered in the session; empty forgets it),
    else the one remembered. A village named outside the actor's scope (or none that
    exists) is not found, never quietly the caller's own (API.md Conventions)."""
    user = actor.user
    if not chooses_village(user):
        return acting_village_id(actor, request.args.get("village_id", type=int))
    if "village_id" in request.args:
        chosen = request.args.get("village_id", type=int)
        if chosen:
            village_in_scope(db.session, actor, chosen)
            session[WORKING_VILLAGE] = chosen
        else:
            session.pop(WORKING_VILLAGE, None)
        return chosen
    return session.get(WORKING_VILLAGE)


def listed_villages(actor: Actor, village_id: int | None) -> int | frozenset[int] | None:
    """What a page's list covers, given the village it works in (``working_village_id``):
    that village; none chosen, every village the actor may see (an admin's: all, None; a
    region official's: those below its region, a set). Lists filter with ``in_villages``."""
    return village_id if village_id is not None else acting_village_id(actor, None)


def working_village(actor: Actor):
    """The working village, checked against the actor's scope; None while an admin has not chosen."""
    village_id = working_village_id(actor)
    return None if village_id is None else village_in_scope(db.session, actor, village_id)


def official_village(actor: Actor, *roles: str):
    """The village an official's page works in, for an actor holding one of ``roles``
    (else 403): its own, or the one an admin (or a region's official) chose (404 outside
    its scope); None while none is chosen."""
    require_role(actor, *roles)
    return working_village(actor)


def page_arg() -> int:
    """``?page=``, at least 1."""
    return max(1, request.args.get("page", 1, type=int))


def village_choices() -> list:
    """The villages of an admin's village picker: every village, or those below a region
    official's region."""
    from app.villages.services import list_villages

    region_id = None if current_user.is_admin else current_user.region_id
    return db.session.scalars(list_villages(region_id=region_id)).all()


def scheme_choices() -> list:
    """The schemes of a scheme picker: every scheme the user may see but the villages'
    household schemes (a village's households are picked by their village). None for a
    resident."""
    from app.schemes.models import Scheme
    from app.schemes.services import list_schemes

    stmt = list_schemes(db.session, current_actor()).where(Scheme.account_kind != "household")
    return db.session.scalars(stmt).all()


def picked_scheme(actor: Actor):
    """``?scheme_id=``: the scheme, checked against the actor's scope (404 outside it);
    None when none is picked."""
    from app.schemes.services import scheme_in_scope

    scheme_id = request.args.get("scheme_id", type=int)
    if "scheme_id" in request.args and request.args["scheme_id"] and scheme_id is None:
        raise NotFound()
    return None if scheme_id is None else scheme_in_scope(db.session, actor, scheme_id)


def region_choices() -> list:
    """The regions of a region picker: the deployment's admin's every region, a region
    official's region and those below; none for anyone else."""
    from app.regions.services import list_regions

    if not chooses_village(current_user):
        return []
    return db.session.scalars(list_regions(db.session, current_actor())).all()


def picked_region(actor: Actor):
    """``?region_id=``: the region, checked against the actor's scope (404 outside it);
    None when none is picked."""
    from app.regions.services import region_in_scope

    region_id = request.args.get("region_id", type=int)
    if "region_id" in request.args and request.args["region_id"] and region_id is None:
        raise NotFound()
    return None if region_id is None else region_in_scope(db.session, actor, region_id)


def village_args(village_id: int | None) -> dict:
    """Query arguments that keep an admin (or a region's official) in the village it works in."""
    return {"village_id": village_id} if chooses_village(current_user) and village_id else {}


def error_text(exc: DomainError) -> str:
    """A refusal in one line: the field messages of a ValidationFailed, else its message."""
    if isinstance(exc, ValidationFailed):
        parts = [str(m) for msgs in exc.details.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
        return "；".join(parts) or exc.render_message()
    return exc.render_message()


def show_error(form, exc: DomainError, *, rename: dict | None = None, fields: dict | None = None) -> int:
    """Put a refusal beside its field of ``form`` (or atop it; a flash without a form);
    returns the status to answer. ``rename`` maps a service's field names to the form's;
    ``fields`` maps an error class, or the field a ``BadReference`` names, to a form
    field, or to ``(field, message)`` to say it the page's way."""
    if form is None:
        flash(error_text(exc), "error")
        return exc.status

    def attach(name, messages):
        target = form._fields.get(name)
        if target is not None:
            target.errors = [*target.errors, *map(str, messages)]
        else:
            form.form_errors.extend(map(str, messages))

    fields = fields or {}
    target = None
    for cls in type(exc).__mro__:  # the nearest class named; a ValidationFailed keeps its fields
        if cls in fields or cls is ValidationFailed:
            target = fields.get(cls)
            break
    if isinstance(exc, BadReference) and exc.details.get("field") in fields:
        target = fields[exc.details["field"]]
    if isinstance(exc, ValidationFailed) and target is None:
        for name, messages in exc.details.items():
            attach((rename or {}).get(name, name), messages if isinstance(messages, list) else [messages])
    elif isinstance(target, tuple):
        attach(target[0], [target[1]])
    elif target is not None:
        attach(target, [exc.render_message()])
    else:
        form.form_errors.append(exc.render_message())
    return exc.status


@dataclass
class Outcome:
    """What a page's write came to: its value, or the refusal (already shown) and its status."""

    value: object = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> int:
        return 200 if self.error is None else self.error.status


def mutate(
    work: Callable,
    form=None,
    *,
    rename: dict | None = None,
    fields: dict | None = None,
    reraise: tuple = (),
    on_error: Callable | None = None,
) -> Outcome:
    """Run a page's write (``work()``, its service calls) and commit once; on a
    ``DomainError`` roll back and show it beside its field of ``form`` (a flash without
    one). Errors of the classes in ``reraise`` propagate (a 404 stays a 404);
    ``on_error()`` undoes what the database does not (a stored file)."""
    try:
        value = work()
        db.session.commit()
    except reraise:
        db.session.rollback()
        raise
    except DomainError as exc:
        db.session.rollback()
        if on_error is not None:
            on_error()
        show_error(form, exc, rename=rename, fields=fields)
        return Outcome(error=exc)
    return Outcome(value)
