"""The ledger's write path and its proof.

Every balance-moving row goes through ``LedgerWriter.append`` while its household row
is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write transactions begin
IMMEDIATE, which serialises writers). The entry, the household's balance and chain
head, and the period totals change in that one transaction.

The rows are written below the ORM's unit of work, which cost more than the rest of
recording an entry: new entries, and the balances and totals they move, wait in the
session (``session.info``) and go out as a few prepared Core statements (executemany)
when the session flushes — explicitly, before a query (autoflush) or at commit. New
entries are ``session.add``-ed like any object, so a flush always follows an append;
the flush hook (``_write_ledger``) writes them first and hands them back to the session
as persistent objects with their ids. Balances are set in memory with
``set_committed_value`` and written as absolute values, which is safe because the
household row is locked. Period totals are never read: their changes are added up per
(household, period) and written as one upsert (``INSERT … ON CONFLICT DO UPDATE SET
points = points + …``), which also creates a household's first row of a period. On
PostgreSQL a flush of one entry (or one decision) sends all of it as one statement of
data-modifying CTEs: one round trip instead of three.
"""

import hashlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from multiprocessing import get_context

from sqlalchemy import (
    Connection,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    literal,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import NullPool

from app.clock import quarter_of, year_of
from app.database import configure_engine, read_only
from app.households.models import Household
from app.points.models import APPROVED, KIND_REVERSAL, PENDING, Entry, PeriodTotal


def lock_households(session: Session, ids) -> dict[int, Household]:
    """Lock household rows in id order (a fixed order cannot deadlock).

    ``FOR UPDATE OF households``: ``Household.village`` is eager-joined (LEFT OUTER
    JOIN), and PostgreSQL refuses a plain FOR UPDATE on the nullable side of one.
    """
    ids = sorted({i for i in ids if isinstance(i, int)})
    if not ids:
        return {}
    rows = session.scalars(
        select(Household)
        .where(Household.id.in_(ids))
        .order_by(Household.id)
        .with_for_update(of=Household)
        .execution_options(populate_existing=True)
    ).all()
    return {h.id: h for h in rows}


def content_hash(entry) -> str:
    """Hash of what an entry says; ``entry`` is an ``Entry`` or a row of its table."""
    parts = (
        entry.household_id,
        entry.seq,
        entry.kind,
        entry.rule_id or "",
        entry.title or "",
        entry.category or "",
        entry.quantity,
        entry.points,
        int(entry.ranked),
        int(entry.veto),
        entry.occurred_on.isoformat(),
        entry.period,
        entry.note or "",
        entry.member_name or "",
        entry.evidence or "",
        entry.recorded_by_id or "",
        entry.reverses_id or "",
        entry.created_at.isoformat(timespec="microseconds"),
        entry.prev_hash or "",
    )
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def decision_hash(entry) -> str:
    parts = (
        entry.hash,
        entry.status,
        entry.approved_by_id or "",
        entry.decided_at.isoformat(timespec="microseconds") if entry.decided_at else "",
        entry.reject_reason or "",
    )
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


class LedgerWriter:
    """Appends entries and keeps the caches; one per transaction."""

    def __init__(self, session: Session, now: datetime):
        self.session = session
        self.now = now
        self._pending = _pending(session)

    def append(
        self,
        household: Household,
        *,
        kind: str,
        points: int,
        occurred_on: date,
        status: str = APPROVED,
        recorded_by_id: int | None,
        approved_by_id: int | None = None,
        rule=None,
        quantity: int = 1,
        title: str = "",
        category: str | None = None,
        ranked: bool = False,
        veto: bool = False,
        note: str = "",
        member_name: str = "",
        evidence: str | None = None,
        reverses: Entry | None = None,
    ) -> Entry:
        if inspect(household).pending:  # a new household: its row (and id) first
            self.session.flush()
        seq = household.entry_count + 1
        entry = Entry(
            household_id=household.id,
            village_id=household.village_id,
            seq=seq,
            kind=kind,
            rule_id=rule.id if rule is not None else None,
            title=title,
            category=category,
            quantity=quantity,
            points=points,
            ranked=ranked,
            veto=veto,
            occurred_on=occurred_on,
            period=quarter_of(occurred_on),
            status=status,
            note=note or "",
            member_name=member_name or "",
            evidence=evidence,
            recorded_by_id=recorded_by_id,
            reverses_id=reverses.id if reverses is not None else None,
            created_at=self.now,
            prev_hash=household.chain_hash or "",
            reject_reason="",
        )
        entry.hash = content_hash(entry)
        set_committed_value(entry, "reversed_by", None)  # new: nothing reverses it yet
        self._set(household, entry_count=seq, chain_hash=entry.hash)
        if status != PENDING:
            self.decide(household, entry, status, approved_by_id)
        self._pending.entries.append(entry)
        self.session.add(entry)  # the next flush writes it (_write_ledger)
        return entry

    def _set(self, household: Household, **values) -> None:
        """Change a household's cached columns: in memory as if loaded, and queued for
        the flush (a row not yet inserted is left to the ORM)."""
        if inspect(household).pending:
            for key, value in values.items():
                setattr(household, key, value)
            return
        for key, value in values.items():
            set_committed_value(household, key, value)
        self._pending.dirty[id(household)] = household
        self._pending.touched.append(household)

    def _add_to_total(self, household: Household, period: str, points: int, vetoes: int, positives: int) -> None:
        """Queue a change of one period total, added up with the others of this flush."""
        key = (household.id, period)
        total = self._pending.totals.get(key)
        if total is None:
            self._pending.totals[key] = {
                "household_id": household.id,
                "village_id": household.village_id,
                "period": period,
                "points": points,
                "veto_count": vetoes,
                "positive_count": positives,
            }
        else:
            total["points"] += points
            total["veto_count"] += vetoes
            total["positive_count"] += positives

    def decide(self, household: Household, entry: Entry, status: str, by_id: int | None, reason: str = "") -> None:
        """Seal the entry's one decision; an approval moves the caches."""
        entry.status = status
        entry.approved_by_id = by_id  # the decider, whether approving or rejecting
        entry.decided_at = self.now
        entry.reject_reason = reason
        entry.decision_hash = decision_hash(entry)
        if status == APPROVED:
            self._apply(household, entry)

    def _apply(self, household: Household, entry: Entry) -> None:
        self._set(household, balance=household.balance + entry.points)
        if not (entry.ranked or entry.veto):
            return
        sign = -1 if entry.kind == KIND_REVERSAL else 1
        veto_delta = sign if entry.veto else 0
        positive_delta = sign if entry.ranked and entry.points * sign > 0 else 0
        points = entry.points if entry.ranked else 0
        for period in (quarter_of(entry.occurred_on), year_of(entry.occurred_on)):
            self._add_to_total(household, period, points, veto_delta, positive_delta)


@dataclass
class _Pending:
    entries: list  # new Entry objects, in append order
    dirty: dict  # id(household) -> Household whose cached columns changed
    totals: dict  # (household_id, period) -> the period total's change, as a row
    written: list  # (transaction, entry) written and not yet committed
    touched: list  # households changed in memory and not yet committed


def _pending(session: Session) -> _Pending:
    pending = session.info.get("ledger_pending")
    if pending is None:
        pending = session.info["ledger_pending"] = _Pending([], {}, {}, [], [])
    return pending


_ENTRY_COLUMNS = [c.key for c in Entry.__table__.columns if c.key != "id"]
_INSERT_ENTRY = insert(Entry.__table__).returning(Entry.__table__.c.id, sort_by_parameter_order=True)
_UPDATE_HOUSEHOLD = (
    update(Household.__table__)
    .where(Household.__table__.c.id == bindparam("row_id"))
    .values(balance=bindparam("balance"), entry_count=bindparam("entry_count"), chain_hash=bindparam("chain_hash"))
)


def _household_row(h: Household) -> dict:
    """The parameters of ``_UPDATE_HOUSEHOLD`` for one household's cached columns."""
    return {"row_id": h.id, "balance": h.balance, "entry_count": h.entry_count, "chain_hash": h.chain_hash}


def _upsert_totals(dialect: str):
    """Add each row's counters to its period total, creating the total if it is new."""
    table = PeriodTotal.__table__
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.household_id, table.c.period],
        set_={c: table.c[c] + stmt.excluded[c] for c in ("points", "veto_count", "positive_count")},
    )


_UPSERT_TOTALS = {name: _upsert_totals(name) for name in ("postgresql", "sqlite")}
_TOTAL_COLUMNS = ("household_id", "village_id", "period", "points", "veto_count", "positive_count")
_ONE_ROUND_TRIP: dict[tuple[bool, bool, int], object] = {}


def _one_round_trip(entry: bool, household: bool, totals: int):
    """PostgreSQL: one entry, its household and its period totals in one statement.

    Recording one entry is three writes (the entry, the balance, the totals). Sent one by
    one they were three round trips to the server, the largest part of the request's
    cost; as the data-modifying CTEs of one statement they are one. The parts touch
    different tables, so that they run on one snapshot changes nothing. The statement
    returns the new entry's id (or 1 without an entry). Built once per shape.
    """
    key = (entry, household, totals)
    stmt = _ONE_ROUND_TRIP.get(key)
    if stmt is not None:
        return stmt
    parts = []
    if household:
        parts.append(_UPDATE_HOUSEHOLD.cte("household_row"))
    for i in range(totals):  # one upsert per row: SQLAlchemy caches no multi-row VALUES
        table = PeriodTotal.__table__
        upsert = postgresql.insert(table).values(
            {c: bindparam(f"t{i}_{c}", type_=table.c[c].type) for c in _TOTAL_COLUMNS}
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.household_id, table.c.period],
            set_={c: table.c[c] + upsert.excluded[c] for c in ("points", "veto_count", "positive_count")},
        )
        parts.append(upsert.cte(f"period_total_{i}"))
    if entry:
        table = Entry.__table__
        new_entry = (
            insert(table)
            .values({c: bindparam(f"e_{c}", type_=table.c[c].type) for c in _ENTRY_COLUMNS})
            .returning(table.c.id)
            .cte("new_entry")
        )
        stmt = select(new_entry.c.id)
    else:
        stmt = select(literal(1))
    stmt = _ONE_ROUND_TRIP[key] = stmt.add_cte(*parts)
    return stmt


def _write_in_one_round_trip(conn: Connection, entries: list, households: list, totals: list) -> list[int] | None:
    """Write what one entry (or one decision) queued in one statement, where the engine
    allows it (PostgreSQL) and it is that small; else None."""
    if conn.dialect.name != "postgresql" or len(entries) > 1 or len(households) > 1 or len(totals) > 2:
        return None
    params = {}
    if entries:
        params.update({f"e_{k}": getattr(entries[0], k) for k in _ENTRY_COLUMNS})
    if households:
        params.update(_household_row(households[0]))
    for i, total in enumerate(totals):
        params.update({f"t{i}_{k}": v for k, v in total.items()})
    ids = conn.execute(_one_round_trip(bool(entries), bool(households), len(totals)), params).scalars().all()
    return ids if entries else []


@event.listens_for(Session, "before_flush")
def _write_ledger(session: Session, _flush_context, _instances) -> None:
    """Write what LedgerWriters queued, before the unit of work runs."""
    pending = session.info.get("ledger_pending")
    if pending is None or not (pending.entries or pending.dirty or pending.totals):
        return
    entries, households, totals = pending.entries, list(pending.dirty.values()), list(pending.totals.values())
    pending.entries, pending.dirty, pending.totals = [], {}, {}
    conn = session.connection()
    transaction = session.get_nested_transaction() or session.get_transaction()
    ids = _write_in_one_round_trip(conn, entries, households, totals)
    if ids is None:
        ids = _write_apart(conn, entries, households, totals)
    if entries:
        for entry, entry_id in zip(entries, ids, strict=True):
            session.expunge(entry)  # pending -> transient ...
            entry.id = entry_id
            make_transient_to_detached(entry)  # ... -> as if loaded
            session.add(entry)
        pending.written.extend((transaction, e) for e in entries)
    if totals:  # a total loaded into this session is now behind its row
        for obj in session.identity_map.values():
            if isinstance(obj, PeriodTotal):
                session.expire(obj)


def _write_apart(conn: Connection, entries: list, households: list, totals: list) -> list[int]:
    """Each kind of row as one prepared statement (executemany): any number of rows."""
    ids = []
    if entries:
        ids = conn.execute(_INSERT_ENTRY, [{k: getattr(e, k) for k in _ENTRY_COLUMNS} for e in entries]).scalars().all()
    if households:
        conn.execute(_UPDATE_HOUSEHOLD, [_household_row(h) for h in households])
    if totals:
        conn.execute(_UPSERT_TOTALS[conn.dialect.name], totals)
    return ids


@event.listens_for(Session, "after_soft_rollback")
def _forget_ledger(session: Session, previous_transaction) -> None:
    """Undo in the session what the rolled-back transaction (or savepoint) wrote: its
    entries leave the session, as the ORM's own new objects do (their ids may be handed
    out again), and the balances and totals set in memory are reloaded."""
    pending = session.info.get("ledger_pending")
    if pending is None:
        return

    def undone(transaction) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    dropped = [e for e in pending.entries] + [e for t, e in pending.written if undone(t)]
    pending.written = [(t, e) for t, e in pending.written if not undone(t)]
    for entry in dropped:
        if entry in session:
            session.expunge(entry)
    for obj in pending.touched:
        if obj in session:
            session.expire(obj)
    pending.entries, pending.dirty, pending.totals, pending.touched = [], {}, {}, []


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop("ledger_pending", None)


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
    problems: list[Problem] = []
    balances = dict(
        session.execute(
            select(Entry.household_id, func.sum(Entry.points))
            .where(Entry.status == APPROVED)
            .group_by(Entry.household_id)
        ).all()
    )
    for hid, balance in session.execute(select(Household.id, Household.balance)):
        expected = int(balances.get(hid) or 0)
        if balance != expected:
            problems.append(Problem(f"balance {balance} but ledger says {expected}", hid))

    expected_totals: dict[tuple[int, str], list[int]] = {}
    reversal = Entry.kind == KIND_REVERSAL
    ranked = session.execute(
        select(
            Entry.household_id,
            Entry.period,
            func.sum(Entry.points).filter(Entry.ranked),
            func.count(Entry.id).filter(Entry.veto, ~reversal),
            func.count(Entry.id).filter(Entry.veto, reversal),
            func.count(Entry.id).filter(Entry.ranked, ~reversal, Entry.points > 0),
            func.count(Entry.id).filter(Entry.ranked, reversal, Entry.points < 0),
        )
        .where(Entry.status == APPROVED, (Entry.ranked | Entry.veto))
        .group_by(Entry.household_id, Entry.period)
    )
    for hid, quarter, pts, vetoes, unvetoes, positives, unpositives in ranked:
        veto = int(vetoes or 0) - int(unvetoes or 0)
        positive = int(positives or 0) - int(unpositives or 0)
        for period in (quarter, quarter[:4]):
            acc = expected_totals.setdefault((hid, period), [0, 0, 0])
            acc[0] += int(pts or 0)
            acc[1] += veto
            acc[2] += positive
    seen = set()
    for hid, period, pts, veto, positive in session.execute(
        select(
            PeriodTotal.household_id,
            PeriodTotal.period,
            PeriodTotal.points,
            PeriodTotal.veto_count,
            PeriodTotal.positive_count,
        )
    ):
        seen.add((hid, period))
        exp = expected_totals.get((hid, period), [0, 0, 0])
        if [pts, veto, positive] != exp:
            problems.append(
                Problem(
                    f"period {period}: cached points {pts}, vetoes {veto}, positive entries {positive}; "
                    f"ledger says {exp[0]}, {exp[1]}, {exp[2]}",
                    hid,
                )
            )
    for (hid, period), exp in expected_totals.items():
        if (hid, period) not in seen and exp != [0, 0, 0]:
            problems.append(Problem(f"period {period}: no cached total; ledger says {exp[0]}", hid))

    return problems


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
    for entry in conn.execute(stmt.execution_options(yield_per=10000)):
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
        if entry.prev_hash != prev:
            problems.append(Problem("previous-hash link broken", current, entry.id))
        if content_hash(entry) != entry.hash:
            problems.append(Problem("content changed after it was written", current, entry.id))
        if entry.status == PENDING:
            if entry.decision_hash is not None:
                problems.append(Problem("pending but carries a decision", current, entry.id))
        elif entry.decision_hash != decision_hash(entry):
            problems.append(Problem("status or approver changed after the decision", current, entry.id))
        prev = entry.hash
    if current is not None:
        close(current)
    for hid, (count, head) in heads.items():
        if count or head:
            problems.append(Problem(f"household says {count} entries but the ledger has none", hid))
    return problems
