"""The standings as a spreadsheet (CSV or XLSX), streamed: memory stays flat however
many households there are."""

from flask import Response, request, stream_with_context
from flask_babel import gettext as _
from flask_login import login_required

from app.clock import normalize_period, quarter_of
from app.errors import BadRequest
from app.extensions import db
from app.rankings import services
from app.rankings.views import bp, standings_scope
from app.schemes.services import account_headings
from app.scope import OFFICIAL_ROLES, require_role
from app.spreadsheet import XLSX, attachment, csv_chunks, xlsx_file
from app.web import current_actor, today, village_choices


def _export():
    """The standings to export: ``?period=`` and ``?scheme_id=``/``?region_id=``/``?scope=``/
    ``?village_id=``/``?township=`` as on the standings page. Officials only: it is the
    whole register's names at once."""
    actor = current_actor()
    require_role(actor, *OFFICIAL_ROLES)
    try:
        period = normalize_period(request.args.get("period") or quarter_of(today()))
    except ValueError as exc:
        raise BadRequest() from exc
    picked = standings_scope(actor, village_choices())
    standings = services.iter_household_standings(db.session, period, **picked.filters())
    number, name = account_headings(picked.scheme.account_kind if picked.scheme is not None else "household")
    headers = [_("名次"), _("村"), number, name, _("积分"), _("可参评")]
    rows = (
        [s.rank, s.village_name, s.number, s.head_name, s.points, _("是") if s.eligible else _("否")] for s in standings
    )
    return period, headers, rows


@bp.route("/standings/export.csv")
@login_required
def export_csv():
    period, headers, rows = _export()
    return Response(
        stream_with_context(csv_chunks(headers, rows)),
        mimetype="text/csv",
        headers=attachment(_("积分排名-%(p)s.csv", p=period), f"standings-{period}.csv"),
    )


@bp.route("/standings/export.xlsx")
@login_required
def export_xlsx():
    """The workbook goes to a temporary file as its rows come, then out in chunks."""
    period, headers, rows = _export()
    spool = xlsx_file((period, headers, rows))
    response = Response(
        iter(lambda: spool.read(64 * 1024), b""),
        mimetype=XLSX,
        headers=attachment(_("积分排名-%(p)s.xlsx", p=period), f"standings-{period}.xlsx"),
    )
    response.call_on_close(spool.close)
    return response
