"""The ledger's proof: every cached figure recomputed from the entries, and every
household's hash chain walked. Read only; the write path is ``app.points.ledger``."""

from collections import namedtuple
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from multiprocessing import get_context

from sqlalchemy import Connection, create_engine, func, make_url, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.clock import month_of
from app.database import configure_engine, read_only
from app.households.models import Household
from app.points.ledger import content_hash, decision_hash
from app.points.models import APPROVED, KIND_REVERSAL, PENDING, Entry, PeriodTotal
from app.schemes.models import Scheme


@dataclass
class Problem:
    what: str
    household_id: int | None = None
    entry_id: int | None = None

    def __str__(self) -> str:
        where = []
        if self.household_id is not None:
            where.append(f"household {self.household_id}")
        if self.entry_id is not None:
            where.append(f"entry {self.entry_id}")
        return f"{', '.join(where)}: {self.what}" if where else self.what


def verify(session: Session, *, url: str | None = None, jobs: int = 1) -> list[Problem]:
    """Recompute every cache from the ledger and walk every hash chain.

    With ``jobs`` > 1 and a ``url`` other processes can open, the chain walk (two SHA-256
    per entry: most of the time over millions of entries) is split into household-id
    ranges over a pool of processes while this one recomputes the caches. Each range
    reads its households' chain heads and entries in one transaction, so a writer
    committing meanwhile cannot make a chain look broken.
    """
    pool, futures = None, []
    if jobs > 1 and url and not _in_memory(url):
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
        futures = [pool.submit(_walk_range, url, lo, hi) for lo, hi in _ranges(session, parts=jobs * 4)]
    try:
        problems = _verify_caches(session)
        if pool is None:
            problems.extend(_verify_chains(session.connection()))
        for future in futures:
            problems.extend(future.result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return problems


def _verify_caches(session: Session) -> list[Problem]:
    """Each household's balance and period totals against its approved entries."""
    conn = session.connection()  # plain tuples: up to a million rows, no ORM needed
    balances, expected = _expected_caches(conn)
    problems: list[Problem] = []
    for hid, balance in conn.execute(select(Household.id, Household.balance)):
        ledger = balances.get(hid, 0)
        if balance != ledger:
            problems.append(Problem(f"balance {balance} but ledger says {ledger}", hid))
    seen = set()
    columns = (PeriodTotal.points, PeriodTotal.veto_count, PeriodTotal.positive_count)
    for hid, period, *cached in conn.execute(select(PeriodTotal.household_id, PeriodTotal.period, *columns)):
        seen.add((hid, period))
        exp = expected.get((hid, period), [0, 0, 0])
        if cached != exp:
            pts, veto, positive = cached
            problems.append(
                Problem(
                    f"period {period}: cached points {pts}, vetoes {veto}, positive entries {positive}; "
                    f"ledger says {exp[0]}, {exp[1]}, {exp[2]}",
                    hid,
                )
            )
    for (hid, period), exp in expected.items():
        if (hid, period) not in seen and exp != [0, 0, 0]:
            problems.append(Problem(f"period {period}: no cached total; ledger says {exp[0]}", hid))
    return problems


def _expected_caches(conn: Connection) -> tuple[dict[int, int], dict[tuple[int, str], list[int]]]:
    """What the approved entries say: ``{household: balance}`` and ``{(household,
    period): [points, vetoes, positive entries]}`` for quarters and years (and months, in
    a monthly scheme).

    One read of the entries, per quarter and household; a balance is the sum of its
    household's quarters. Grouped by period first: grouped by household first, SQLite
    reads the entries through the household index, one lookup per entry, several times
    slower than reading the table.
    """
    reversal = Entry.kind == KIND_REVERSAL
    per_quarter = conn.execute(
        select(
            Entry.household_id,
            Entry.period,
            func.sum(Entry.points),
            func.sum(Entry.points).filter(Entry.ranked),
            func.count(Entry.id).filter(Entry.veto, ~reversal),
            func.count(Entry.id).filter(Entry.veto, reversal),
            func.count(Entry.id).filter(Entry.ranked, ~reversal, Entry.points > 0),
            func.count(Entry.id).filter(Entry.ranked, reversal, Entry.points < 0),
        )
        .where(Entry.status == APPROVED)
        .group_by(Entry.period, Entry.household_id)
    )
    balances: dict[int, int] = {}
    expected: dict[tuple[int, str], list[int]] = {}
    for hid, quarter, points, ranked, vetoes, unvetoes, positives, unpositives in per_quarter:
        balances[hid] = balances.get(hid, 0) + int(points or 0)
        pts, veto, positive = int(ranked or 0), int(vetoes or 0) - int(unvetoes or 0), int(positives or 0)
        positive -= int(unpositives or 0)
        if not (pts or veto or positive):
            continue  # adds nothing: a total of zeros is the same as none
        for period in (quarter, quarter[:4]):
            acc = expected.setdefault((hid, period), [0, 0, 0])
            acc[0] += pts
            acc[1] += veto
            acc[2] += positive
    # A monthly scheme's accounts have month totals too: their entries by day, added up
    # per month here (a day is the one grouping both engines spell the same way).
    monthly = select(Household.id).join(Scheme, Scheme.id == Household.scheme_id).where(Scheme.cadence == "month")
    per_day = conn.execute(
        select(
            Entry.household_id,
            Entry.occurred_on,
            func.sum(Entry.points).filter(Entry.ranked),
            func.count(Entry.id).filter(Entry.veto, ~reversal),
            func.count(Entry.id).filter(Entry.veto, reversal),
            func.count(Entry.id).filter(Entry.ranked, ~reversal, Entry.points > 0),
            func.count(Entry.id).filter(Entry.ranked, reversal, Entry.points < 0),
        )
        .where(Entry.status == APPROVED, (Entry.ranked | Entry.veto), Entry.household_id.in_(monthly))
        .group_by(Entry.household_id, Entry.occurred_on)
    )
    for hid, day, ranked, vetoes, unvetoes, positives, unpositives in per_day:
        acc = expected.setdefault((hid, month_of(day)), [0, 0, 0])
        acc[0] += int(ranked or 0)
        acc[1] += int(vetoes or 0) - int(unvetoes or 0)
        acc[2] += int(positives or 0) - int(unpositives or 0)
    return balances, expected


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _ranges(session: Session, parts: int) -> list[tuple[int | None, int | None]]:
    """Half-open household-id ranges ``[lo, hi)`` holding about equal numbers of entries;
    the first and last are open-ended, so entries of unknown households are walked too."""
    rows = session.execute(select(Household.id, Household.entry_count).order_by(Household.id)).all()
    total = sum(count or 0 for _, count in rows)
    bounds: list[int | None] = [None]
    done = 0
    for hid, count in rows:
        if done >= total * len(bounds) / parts and hid != bounds[-1]:
            bounds.append(hid)
        done += count or 0
    bounds.append(None)
    return list(pairwise(bounds))


def _walk_range(url: str, lo: int | None, hi: int | None) -> list[Problem]:
    """One pool process's share of the chain walk, on its own connection."""
    engine = create_engine(url, poolclass=NullPool)
    configure_engine(engine)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        with read_only(), engine.begin() as conn:
            return _verify_chains(conn, lo, hi)
    finally:
        engine.dispose()


def _entry_problems(entry, prev: str) -> list[Problem]:
    """What is wrong with one entry of a chain, ``prev`` being the hash before it."""
    found = []
    if entry.prev_hash != prev:
        found.append("previous-hash link broken")
    if content_hash(entry) != entry.hash:
        found.append("content changed after it was written")
    if entry.status == PENDING:
        if entry.decision_hash is not None:
            found.append("pending but carries a decision")
    elif entry.decision_hash != decision_hash(entry):
        found.append("status or approver changed after the decision")
    return [Problem(what, entry.household_id, entry.id) for what in found] if found else found


def _verify_chains(conn: Connection, lo: int | None = None, hi: int | None = None) -> list[Problem]:
    problems: list[Problem] = []

    def in_range(column) -> list:
        return [*([column >= lo] if lo is not None else []), *([column < hi] if hi is not None else [])]

    heads = {
        hid: (count, head)
        for hid, count, head in conn.execute(
            select(Household.id, Household.entry_count, Household.chain_hash).where(*in_range(Household.id))
        )
    }
    current, expected_seq, prev = None, 0, ""

    def close(hid):
        count, head = heads.pop(hid, (None, None))
        if count is None:
            problems.append(Problem("entries of a household that does not exist", hid))
        elif count != expected_seq or (head or "") != prev:
            problems.append(
                Problem(
                    f"chain head differs: household says {count} entries, ledger has {expected_seq}"
                    " (entries deleted or added behind the application's back)",
                    hid,
                )
            )

    # Plain rows, not ORM objects: this walks millions of entries.
    stmt = select(*Entry.__table__.c).where(*in_range(Entry.household_id)).order_by(Entry.household_id, Entry.seq)
    # On the Core connection: plain tuples, without the ORM result machinery.
    # (The option goes on the statement: on the connection it would outlive this walk.)
    rows = conn.execute(stmt.execution_options(yield_per=10000))
    # Each entry's twenty-odd columns are read by name; a named tuple's attributes cost
    # a fraction of a Row's.
    as_entry = namedtuple("EntryRow", rows.keys())._make
    for entry in map(as_entry, rows):
        if entry.household_id != current:
            if current is not None:
                close(current)
            current, expected_seq, prev = entry.household_id, 0, ""
        expected_seq += 1
        if entry.seq != expected_seq:
            problems.append(
                Problem(f"sequence jumps from {expected_seq - 1} to {entry.seq} (entries deleted)", current, entry.id)
            )
            expected_seq = entry.seq
        problems += _entry_problems(entry, prev)
        prev = entry.hash
    if current is not None:
        close(current)
    for hid, (count, head) in heads.items():
        if count or head:
            problems.append(Problem(f"household says {count} entries but the ledger has none", hid))
    return problems
