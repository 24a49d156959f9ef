"""``flask backup FILE`` and ``flask restore FILE``: the whole deployment in one file.

A backup is an uncompressed tar (the dump and the JPEGs are compressed already):

    manifest.json       format, version, engine, alembic revision, time, SHA-256 of each part
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    database.pgdump     PostgreSQL: ``pg_dump --format=custom``
    evidence/<id>       the evidence photos of ``instance/evidence/``

Both dumps are consistent snapshots taken while the app keeps writing (the backup API
copies every page under one read lock; pg_dump reads in one transaction). The database
is copied before the photos: a photo's file is written before its row, and never
removed, so every photo the copied database names is in the folder by then.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import MetaData, inspect, literal, select, table, text
from sqlalchemy.engine import Engine, make_url

from app.database import read_only
from app.extensions import db

FORMAT = "moralbank-backup"
VERSION = 1
MANIFEST = "manifest.json"
DUMPS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Evidence ids are hex tokens; anything else in a backup is refused, not written.
PHOTO_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
MANIFEST_MAX_BYTES = 16 * 1024 * 1024
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be written or restored; the message says why (exit 1)."""


class RestoreRefused(BackupError):
    """Nothing was changed: a non-empty database, or a file that is not our backup (exit 2)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _engine_name(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in DUMPS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_file(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(engine: Engine, tool: str) -> tuple[list[str], dict]:
    """The command of ``tool`` and its environment: the URL without the driver, the
    password in PGPASSWORD (not in argv, which every user of the machine can read)."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    url = make_url(engine.url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return [path, f"--dbname={url.render_as_string(hide_password=False)}"], env


def _run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tool = Path(command[0]).name
        raise BackupError(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def _alembic_revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None  # a schema made by create_all (tests), not by migrations
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _dump_database(engine: Engine, name: str, dest: Path) -> str | None:
    """Write the snapshot to ``dest``; return the alembic revision it holds."""
    if name == "sqlite":
        source = sqlite3.connect(_sqlite_file(engine), timeout=30)
        target = sqlite3.connect(dest)
        try:
            source.backup(target)  # all pages in one step: one read transaction
            row = target.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'")
            has_version = row.fetchone() is not None
            revision = target.execute("SELECT version_num FROM alembic_version").fetchone() if has_version else None
        finally:
            target.close()
            source.close()
        return revision[0] if revision else None
    with engine.connect() as conn:
        revision = _alembic_revision(conn)
    command, env = _libpq(engine, "pg_dump")
    _run([*command, "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}"], env)
    return revision


def write_backup(engine: Engine, evidence_dir: Path, out: Path, *, now: datetime | None = None) -> dict:
    """Write the database and the evidence photos to ``out`` (replaced atomically, mode 0600:
    it holds password hashes). Return the manifest."""
    name = _engine_name(engine)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="moralbank-backup-") as work:
        dump = Path(work) / DUMPS[name]
        revision = _dump_database(engine, name, dump)
        photos = {}
        if evidence_dir.is_dir():
            for path in sorted(evidence_dir.iterdir()):
                if path.is_file() and PHOTO_NAME.match(path.name):
                    photos[path.name] = _sha256(path)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "engine": name,
            "alembic_revision": revision,
            "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "database": {"name": DUMPS[name], "sha256": _sha256(dump), "size": dump.stat().st_size},
            "photos": photos,
        }
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
        try:
            with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
                tar.addfile(info, io.BytesIO(data))
                tar.add(dump, arcname=DUMPS[name], recursive=False)
                for photo in photos:
                    tar.add(evidence_dir / photo, arcname=f"evidence/{photo}", recursive=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return manifest


# --- restore ---------------------------------------------------------------------------


def _open(path: Path) -> tarfile.TarFile:
    if not Path(path).is_file():
        raise RestoreRefused(f"{path}: no such file")
    try:
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115 (returned open, closed by the caller's with)
    except (tarfile.TarError, OSError) as exc:
        raise RestoreRefused(f"{path} is not a Moral Bank backup (not a tar file: {exc})") from exc
    try:
        tar.getmembers()  # reads every header: a truncated copy is found before anything is written
    except (tarfile.TarError, OSError) as exc:
        tar.close()
        raise RestoreRefused(f"{path} is damaged or truncated ({exc})") from exc
    return tar


def _read_member(
    tar: tarfile.TarFile,
    name: str,
    path: Path,
    *,
    into: Path | None = None,
    sha256: str | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """Member ``name`` of backup ``path``, copied to the file ``into`` (else returned),
    refused unless it is a readable file of at most ``max_bytes`` whose SHA-256 is
    ``sha256`` (when given: the manifest's)."""
    try:
        info = tar.getmember(name)
    except KeyError:
        raise RestoreRefused(f"{path} is not a Moral Bank backup: {name} is missing") from None
    if not info.isfile():
        raise RestoreRefused(f"{path} is not a Moral Bank backup: {name} is not a file")
    if max_bytes is not None and info.size > max_bytes:
        raise RestoreRefused(f"{path}: {name} is too large")
    digest, kept = hashlib.sha256(), io.BytesIO()
    try:
        source = tar.extractfile(info)
        with open(into, "wb") if into is not None else nullcontext(kept) as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (tarfile.TarError, OSError) as exc:
        raise RestoreRefused(f"{path}: {name} cannot be read ({exc})") from exc
    if sha256 is not None and digest.hexdigest() != sha256:
        raise RestoreRefused(f"{path}: {name} is damaged (its checksum differs from the manifest's)")
    return kept.getvalue()


def read_manifest(tar: tarfile.TarFile, path: Path) -> dict:
    """The manifest, checked for what restoring relies on."""
    data = _read_member(tar, MANIFEST, path, max_bytes=MANIFEST_MAX_BYTES)
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise RestoreRefused(f"{path} is not a Moral Bank backup (unreadable manifest: {exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RestoreRefused(f"{path} is not a Moral Bank backup (no {FORMAT} manifest)")
    if manifest.get("version") != VERSION:
        raise RestoreRefused(f"{path}: backup format version {manifest.get('version')!r}; this code reads {VERSION}")
    engine = manifest.get("engine")
    database = manifest.get("database")
    photos = manifest.get("photos")
    if (
        engine not in DUMPS
        or not isinstance(database, dict)
        or database.get("name") != DUMPS[engine]
        or not isinstance(database.get("sha256"), str)
        or not isinstance(photos, dict)
        or not all(isinstance(n, str) and PHOTO_NAME.match(n) and isinstance(h, str) for n, h in photos.items())
    ):
        raise RestoreRefused(f"{path}: the manifest is damaged")
    return manifest


def nonempty_tables(engine: Engine) -> list[str]:
    """Tables of the target database holding rows (``alembic_version`` aside: an
    upgraded but unused database counts as empty)."""
    with read_only(), engine.connect() as conn:  # on SQLite, no write lock to wait for
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        return [n for n in names if conn.execute(select(literal(1)).select_from(table(n)).limit(1)).first()]


def restore_backup(engine: Engine, evidence_dir: Path, path: Path) -> dict:
    """Load backup ``path`` into the empty database of ``engine`` and its photos into
    ``evidence_dir``. Everything is checked (format, engine, checksums, emptiness)
    before anything is written. Return the manifest."""
    path = Path(path)
    name = _engine_name(engine)
    with _open(path) as tar, tempfile.TemporaryDirectory(prefix="moralbank-restore-") as work:
        manifest = read_manifest(tar, path)
        if manifest["engine"] != name:
            raise RestoreRefused(
                f"{path} holds a {manifest['engine']} database; DATABASE_URL is {name}: restore it into the same engine"
            )
        busy = nonempty_tables(engine)
        if busy:
            shown = ", ".join(busy[:8]) + (" …" if len(busy) > 8 else "")
            raise RestoreRefused(
                f"the database is not empty ({len(busy)} table(s) hold rows: {shown}); "
                "restore into a new, empty database; nothing was changed"
            )
        dump = Path(work) / DUMPS[name]
        _read_member(tar, DUMPS[name], path, into=dump, sha256=manifest["database"]["sha256"])
        staged = Path(work) / "evidence"
        staged.mkdir()
        for photo, sha256 in manifest["photos"].items():
            _read_member(tar, f"evidence/{photo}", path, into=staged / photo, sha256=sha256)
        _load_database(engine, name, dump, path)
        evidence_dir.mkdir(parents=True, exist_ok=True)
        for photo in manifest["photos"]:
            shutil.move(staged / photo, evidence_dir / photo)
    return manifest


def _load_database(engine: Engine, name: str, dump: Path, path: Path) -> None:
    engine.dispose()  # no pooled connection may keep a plan or page of the old schema
    if name == "sqlite":
        source = sqlite3.connect(dump)
        try:
            if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise RestoreRefused(f"{path}: the SQLite copy fails its integrity check")
            target = sqlite3.connect(_sqlite_file(engine), timeout=30)
            try:
                source.backup(target)  # page by page: the target becomes the copy, schema and all
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise RestoreRefused(f"{path}: the SQLite copy cannot be read ({exc})") from exc
        finally:
            source.close()
    else:
        with engine.begin() as conn:  # empty tables of a `db upgrade`: the dump brings its own
            existing = MetaData()
            existing.reflect(conn)
            existing.drop_all(conn)
        command, env = _libpq(engine, "pg_restore")
        _run([*command, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", str(dump)], env)
    engine.dispose()


# --- command line ----------------------------------------------------------------------


def _evidence_dir() -> Path:
    return Path(current_app.instance_path) / "evidence"


def _migration_head() -> str | None:
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions.get("migrate")
    folder = Path(migrate.directory if migrate else "migrations")
    if not folder.is_absolute():
        folder = Path(current_app.root_path).parent / folder
    try:
        return ScriptDirectory(str(folder)).get_current_head()
    except Exception:  # no migrations folder beside the code: nothing to compare with
        return None


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path):
    """Write the database and the evidence photos to FILE, while the app runs."""
    try:
        manifest = write_backup(db.engine, _evidence_dir(), file)
    except BackupError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"backup written to {file}: {manifest['engine']} database"
        f" (revision {manifest['alembic_revision'] or 'none'}), {len(manifest['photos'])} photo(s)"
    )


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(file: Path):
    """Load backup FILE into the empty database of DATABASE_URL, and its photos."""
    try:
        manifest = restore_backup(db.engine, _evidence_dir(), file)
    except RestoreRefused as exc:
        click.echo(f"restore refused: {exc}", err=True)
        sys.exit(2)
    except BackupError as exc:
        click.echo(f"restore failed: {exc}", err=True)
        sys.exit(1)
    finally:
        db.session.remove()
    click.echo(
        f"restored {file} (taken {manifest['created_at']}): {manifest['engine']} database,"
        f" {len(manifest['photos'])} photo(s); run `flask ledger verify` to check it"
    )
    revision, head = manifest["alembic_revision"], _migration_head()
    if revision and head and revision != head:
        click.echo(f"the backup's schema is at revision {revision}, this code's at {head}: run `flask db upgrade`")
