"""Which scheme a cycle page (periods, notice board, big screen, awards, certificates)
works on: ``?scheme_id=`` (a scheme picked; 404 outside the user's scope), else a
village's household scheme as before (``?village_id=``, or the user's own village)."""

from dataclasses import dataclass

from flask import render_template, request
from flask_babel import gettext as _

from app.errors import NotFound
from app.extensions import db
from app.rankings import periods as cycle
from app.rankings.views import reader_village
from app.regions.models import Region
from app.villages.models import Village
from app.web import picked_scheme, scheme_choices, village_choices, working_village


@dataclass
class Board:
    """A scheme as its cycle pages show it: its name, the place above it, the committee
    that signs its notices and certificates, and the query arguments naming it again."""

    scheme: object
    name: str
    above: str
    committee: str
    args: dict
    village: Village | None = None  # a household scheme's village

    @property
    def households(self) -> bool:
        return self.scheme.account_kind == "household"

    def standing_filters(self) -> dict:
        """``household_standings``'s arguments for this scheme's accounts."""
        return {"village_id": self.village.id} if self.households else {"scheme_id": self.scheme.id}


def board_of(scheme) -> Board:
    village = db.session.get(Village, scheme.village_id) if scheme.village_id is not None else None
    if scheme.account_kind == "household":
        committee = _("%(v)s村民委员会", v=village.name)
        return Board(scheme, village.name, village.township, committee, {"village_id": village.id}, village)
    if village is not None:  # a village's person scheme
        committee = _("%(v)s村民委员会", v=village.name)
        return Board(scheme, scheme.name, village.name, committee, {"scheme_id": scheme.id})
    region = db.session.get(Region, scheme.region_id)
    return Board(scheme, scheme.name, region.name, region.name, {"scheme_id": scheme.id})


def reader_board(actor, scheme_id=None) -> Board | None:
    """The scheme whose public pages the user reads: ``?scheme_id=``'s (any user of its
    village or region, residents included; else 404), or a village's household scheme
    (None while an admin has not chosen)."""
    if scheme_id is None and "scheme_id" in request.args and request.args["scheme_id"]:
        scheme_id = request.args.get("scheme_id", type=int)
        if scheme_id is None:
            raise NotFound()
    if scheme_id is not None:
        return board_of(cycle.readable_scheme(db.session, actor, scheme_id=scheme_id))
    village = reader_village(actor, request.args.get("village_id", type=int))
    return None if village is None else board_of(village.household_scheme)


def working_board(actor) -> Board | None:
    """The scheme a reviewer's cycle page works on: ``?scheme_id=`` (in the user's scope,
    else 404), or the working village's household scheme (None while not chosen)."""
    scheme = picked_scheme(actor)
    if scheme is not None:
        return board_of(scheme)
    village = working_village(actor)
    return None if village is None else board_of(village.household_scheme)


def pick_board(title: str):
    """The page that asks for a village (or one of the schemes) first."""
    return render_template(
        "rankings/pick_village.html", title=title, villages=village_choices(), schemes=scheme_choices()
    )
