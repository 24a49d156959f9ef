"""Many taps of one cell at the same moment (a double tap, two officials): one entry.
Each thread has its own app context and connection; on PostgreSQL the taps queue on
the account's row lock, on SQLite on the write lock."""

from sqlalchemy import func, select

from app.clock import local_today, month_of, utcnow
from app.county import services
from app.extensions import db
from app.points.models import Entry
from app.points.proof import verify
from app.schemes.models import Scheme
from tests.points.test_concurrency import as_actor, release, run_threads

THREADS = 8


def test_simultaneous_taps_of_one_cell_record_once(county, app, session):
    scheme_id, account_id = county.scheme.id, county.accounts["HP"].id
    rule_id = county.rules["零事故"].id
    today = local_today("Asia/Shanghai")
    release(session)

    def work(i):
        actor = as_actor("dk_recorder" if i % 2 else "dk_admin")
        scheme = db.session.get(Scheme, scheme_id)
        _entry, new = services.tap(
            db.session,
            actor,
            scheme,
            account_id=account_id,
            rule_id=rule_id,
            month=month_of(today),
            today=today,
            now=utcnow(),
        )
        db.session.commit()
        return "new" if new else "seen"

    results = run_threads(app, THREADS, work)
    assert sorted(results) == ["new"] + ["seen"] * (THREADS - 1)
    count = session.scalar(select(func.count()).select_from(Entry).where(Entry.household_id == account_id))
    assert count == 1
    assert verify(session) == []
