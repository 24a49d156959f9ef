"""A throwaway PostgreSQL database: created, migrated with ``flask db upgrade``,
filled by COPY from the generated SQLite file, and dropped at the end."""

import os
import sqlite3
import time
from pathlib import Path

from . import util

SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def _connect(dbname: str = "postgres", **kw):
    import psycopg

    return psycopg.connect(f"{SERVER}/{dbname}", connect_timeout=3, **kw)


def reachable() -> str | None:
    """The server's version, or None when there is no server to use."""
    try:
        with _connect() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:
        return None


def settings() -> dict:
    names = ("shared_buffers", "work_mem", "effective_cache_size", "synchronous_commit", "fsync", "max_connections")
    with _connect() as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


def _copy_text(cols) -> str:
    """A SQLite expression that renders a row as one line of COPY text format."""
    parts = []
    for name, decl in cols:
        value = f'"{name}"'
        if any(t in decl for t in ("CHAR", "TEXT", "CLOB", "JSON")) or not decl:
            value = f"replace(replace(replace(replace({value}, '\\', '\\\\'), char(9), '\\t'), char(10), '\\n'), char(13), '\\r')"
        parts.append(f"coalesce(CAST({value} AS TEXT), '\\N')")
    return " || char(9) || ".join(parts) + " || char(10)"


class Database:
    def __init__(self):
        self.name = f"moralbank_bench_{os.getpid()}"
        self.url = f"{SERVER}/{self.name}"

    def create(self) -> None:
        with _connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with _connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def load(self, sqlite_path: Path, log=print) -> None:
        """Schema by migration, then every generated row by COPY.

        SQLite itself formats the rows as COPY text, so Python only moves bytes. Indexes
        that back no constraint are dropped for the load and rebuilt from their own
        definitions; primary keys stay.
        Unique constraints that no foreign key depends on are dropped and re-added the
        same way (the re-added constraint checks every row). Foreign-key triggers are off
        during COPY (``session_replication_role``): the rows
        were checked with ``PRAGMA foreign_key_check`` when generated. Then sequences
        move past the ids and VACUUM ANALYZE leaves the tables as autovacuum would."""
        t0 = time.perf_counter()
        util.flask(["db", "upgrade"], self.url, quiet=True)
        log(f"  flask db upgrade: {time.perf_counter() - t0:.1f}s")
        src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        tables = [
            r[0]
            for r in src.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name != 'alembic_version' ORDER BY rowid"
            )
        ]
        with _connect(self.name) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET maintenance_work_mem = '1GB'")
            for table in tables:
                if not src.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                    continue
                pg_cols = dict(
                    conn.execute(
                        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                        (table,),
                    ).fetchall()
                )
                if not pg_cols:
                    raise RuntimeError(f"table {table} has rows but PostgreSQL has no such table")
                src_cols = [(r[1], (r[2] or "").upper()) for r in src.execute(f'PRAGMA table_info("{table}")')]
                cols = [(c, t) for c, t in src_cols if c in pg_cols]
                loose = conn.execute(
                    "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = %s AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conindid = "
                    "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)",
                    (table,),
                ).fetchall()
                uniques = conn.execute(
                    "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "WHERE conrelid = %s::regclass AND contype = 'u' AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
                    (f'"{table}"',),
                ).fetchall()
                for name, _ in loose:
                    conn.execute(f'DROP INDEX "{name}"')
                for name, _ in uniques:
                    conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                t1 = time.perf_counter()
                rows = src.execute(f'SELECT {_copy_text(cols)} FROM "{table}" ORDER BY rowid')
                n = 0
                names = ", ".join(f'"{c}"' for c, _ in cols)
                with conn.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    while chunk := rows.fetchmany(50_000):
                        copy.write("".join(r[0] for r in chunk))
                        n += len(chunk)
                for name, definition in uniques:
                    conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                for _, definition in loose:
                    conn.execute(definition)
                log(
                    f"  COPY {table}: {n:,} rows, {len(loose) + len(uniques)} index(es) rebuilt in "
                    f"{time.perf_counter() - t1:.1f}s"
                )
                if pg_cols.get("id") in ("integer", "bigint"):
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM \"{table}\"))",
                        (table,),
                    )
            conn.execute("SET session_replication_role = DEFAULT")
            conn.commit()
        src.close()
        t1 = time.perf_counter()
        with _connect(self.name, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        log(f"  VACUUM ANALYZE: {time.perf_counter() - t1:.1f}s (load {time.perf_counter() - t0:.1f}s)")

    def connect(self):
        return _connect(self.name)
