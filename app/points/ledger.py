"""The ledger's write path (its proof, ``verify``, is in ``app.points.proof``).

Every balance-moving row goes through ``LedgerWriter.append`` while its household row
is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write transactions begin
IMMEDIATE, which serialises writers). The entry, the household's balance and chain
head, and the period totals change in that one transaction.

The rows are written below the ORM's unit of work: new entries, and the balances and totals they move, wait in the
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
data-modifying CTEs, in one round trip.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    Connection,
    bindparam,
    cast,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.clock import periods_of, quarter_of
from app.households.models import Household
from app.points.models import APPROVED, KIND_REVERSAL, PENDING, Entry, PeriodTotal


def lock_households(session: Session, ids, *, with_scheme: bool = True) -> dict[int, Household]:
    """Lock household rows in id order (a fixed order cannot deadlock).

    ``FOR UPDATE OF households``: ``Household.village`` is eager-joined (LEFT OUTER
    JOIN), and PostgreSQL refuses a plain FOR UPDATE on the nullable side of one.
    ``with_scheme=False`` leaves the village and the scheme out of the statement (read
    later, they come from the session): a batch locks many households of one scheme,
    and each row would fill the same two objects again.
    """
    ids = sorted({i for i in ids if isinstance(i, int)})
    if not ids:
        return {}
    stmt = select(Household).where(Household.id.in_(ids)).order_by(Household.id).with_for_update(of=Household)
    if not with_scheme:
        stmt = stmt.options(lazyload(Household.village), lazyload(Household.scheme))
    rows = session.scalars(stmt.execution_options(populate_existing=True)).all()
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
            scheme_id=household.scheme_id,
            village_id=household.scheme.village_id,
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

    def append_opposite(
        self,
        household: Household,
        entry: Entry,
        *,
        by_id: int | None,
        note: str,
        kind: str = KIND_REVERSAL,
        title: str | None = None,
        occurred_on: date | None = None,
    ) -> Entry:
        """An approved entry that takes ``entry``'s points back, written by ``by_id``:
        a reversal (on the entry's own day, linked to it), or a ``kind`` of its own
        such as a redemption's refund (a day and title of its own, unlinked)."""
        return self.append(
            household,
            kind=kind,
            rule=entry.rule,
            title=entry.title if title is None else title,
            category=entry.category,
            quantity=entry.quantity,
            points=-entry.points,
            ranked=entry.ranked,
            veto=entry.veto,
            occurred_on=entry.occurred_on if occurred_on is None else occurred_on,
            recorded_by_id=by_id,
            approved_by_id=by_id,
            note=note[:500],
            reverses=entry if kind == KIND_REVERSAL else None,
        )

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
                "scheme_id": household.scheme_id,
                "village_id": household.village_id,  # households only: see PeriodTotal
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
        for period in periods_of(entry.occurred_on, household.scheme.cadence):
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
# New entries come back as (id, household_id, seq), the key each is matched on: so the
# rows may return in any order, and SQLite can take them in one statement (asked for
# them in order, SQLAlchemy sends it one INSERT per row).
_NEW_ENTRY_KEY = (Entry.__table__.c.id, Entry.__table__.c.household_id, Entry.__table__.c.seq)
_INSERT_ENTRIES = insert(Entry.__table__).returning(*_NEW_ENTRY_KEY)


def _insert_entries_from_arrays():
    """PostgreSQL: the new entries as one array per column, unnested into rows.

    A multi-row VALUES of a thousand entries has 26,000 parameters, which psycopg
    parses afresh on every execution; this statement has 26 and is prepared once.
    """
    table = Entry.__table__
    arrays = [cast(bindparam(c), postgresql.ARRAY(table.c[c].type)) for c in _ENTRY_COLUMNS]
    rows = func.unnest(*arrays).table_valued(*_ENTRY_COLUMNS).render_derived()
    return insert(table).from_select(_ENTRY_COLUMNS, select(*rows.c)).returning(*_NEW_ENTRY_KEY)


_INSERT_ENTRIES_FROM_ARRAYS = _insert_entries_from_arrays()
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
_TOTAL_COLUMNS = ("household_id", "scheme_id", "village_id", "period", "points", "veto_count", "positive_count")
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
    allows it (PostgreSQL) and it is that small (a monthly scheme's entry moves three
    totals: month, quarter, year); else None."""
    if conn.dialect.name != "postgresql" or len(entries) > 1 or len(households) > 1 or len(totals) > 3:
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
    """Each kind of row in one statement (or one executemany): any number of rows."""
    ids = []
    if entries:
        if conn.dialect.name == "postgresql":
            params = {k: [getattr(e, k) for e in entries] for k in _ENTRY_COLUMNS}
            rows = conn.execute(_INSERT_ENTRIES_FROM_ARRAYS, params)
        else:
            rows = conn.execute(_INSERT_ENTRIES, [{k: getattr(e, k) for k in _ENTRY_COLUMNS} for e in entries])
        id_of = {(household_id, seq): entry_id for entry_id, household_id, seq in rows}
        ids = [id_of[e.household_id, e.seq] for e in entries]
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
