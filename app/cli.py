"""Command line of the contract: ``users create``, ``demo``, ``ledger verify``, ``backup``, ``restore``;
and ``periods roll-year``, ``evidence scrub``."""

import os
import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app.errors import DomainError, ValidationFailed
from app.extensions import db

users_cli = AppGroup("users", help="Manage users.")
ledger_cli = AppGroup("ledger", help="Check the points ledger.")
periods_cli = AppGroup("periods", help="The yearly and quarterly cycle.")
evidence_cli = AppGroup("evidence", help="Evidence photos.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--password", required=True)
@click.option("--village-id", type=int, default=None)
@click.option("--region-id", type=int, default=None, help="A region's official, in place of --village-id.")
@click.option("--household-id", type=int, default=None)
@click.option("--display-name", default=None)
def create_user(username, roles, password, village_id, region_id, household_id, display_name):
    """Create USERNAME with the given roles."""
    from app.auth.services import create_user as create

    try:
        user = create(
            db.session,
            None,
            {
                "username": username,
                "password": password,
                "roles": list(roles),
                "village_id": village_id,
                "region_id": region_id,
                "household_id": household_id,
                "display_name": display_name or username,
            },
        )
    except ValidationFailed as exc:
        db.session.rollback()
        for field, messages in exc.details.items():
            click.echo(f"{field}: {'; '.join(map(str, messages))}", err=True)
        sys.exit(2)
    except DomainError as exc:  # a village or household that does not exist, …
        db.session.rollback()
        click.echo(exc.render_message(), err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(f"created user {user.username} (id {user.id}, roles {' '.join(user.roles)})")


@ledger_cli.command("verify")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=lambda: os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="Processes walking the hash chains.",
)
def verify(jobs):
    """Recompute balances, period totals and stock from their ledgers; check every hash chain."""
    from app.database import read_only
    from app.points.proof import verify as verify_points
    from app.redemption.reports import verify_stock

    engine = db.engine
    with read_only():
        if engine.dialect.name == "postgresql" and not db.session().in_transaction():  # one snapshot for all
            db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        url = engine.url.render_as_string(hide_password=False)
        problems = verify_points(db.session, url=url, jobs=jobs) + verify_stock(db.session)
        db.session.rollback()
    if problems:
        for p in problems:
            click.echo(f"MISMATCH {p}", err=True)
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("ledger OK: every cached balance, period total and stock equals its ledger; every chain is intact")


@click.command("demo")
@with_appcontext  # app.cli.add_command does not wrap a plain click command
def demo():
    """Load the demo villages, households, rules, users and a quarter of entries (idempotent)."""
    from app.demo import load_demo

    created = load_demo(db.session)
    db.session.commit()
    click.echo("demo loaded" if created else "demo already present: nothing changed")


@periods_cli.command("roll-year")
@click.argument("year", type=int)
def roll_year(year):
    """Expire spendable points above the base at the end of YEAR (villages with annual_reset).
    YEAR must have ended in the deployment's time zone (TIMEZONE)."""
    from flask import current_app

    from app.clock import local_today, utcnow
    from app.errors import YearNotEnded
    from app.points.year import roll_year as roll

    if not 2000 <= year <= 2100:
        click.echo("YEAR must be between 2000 and 2100", err=True)
        sys.exit(2)
    now = utcnow()
    tz_name = current_app.config["TIMEZONE"]
    today = local_today(tz_name, now)
    try:
        count = roll(db.session, year, now=now, today=today)
    except YearNotEnded:
        db.session.rollback()
        click.echo(
            f"{year} has not ended yet (today is {today.isoformat()} in {tz_name}): "
            f"run roll-year {year} from {year + 1}-01-01; nothing changed",
            err=True,
        )
        sys.exit(2)
    db.session.commit()
    click.echo(f"{year}: {count} household(s) expired" if count else f"{year}: nothing to expire")


@evidence_cli.command("scrub")
def scrub_evidence():
    """Re-encode photos stored as uploaded by an older version (GPS and all); idempotent."""
    from pathlib import Path

    from flask import current_app

    from app.points.evidence import scrub_stored

    done = scrub_stored(db.session, Path(current_app.instance_path) / "evidence")
    db.session.commit()
    click.echo(f"{done.cleaned} photo(s) re-encoded, {done.already_clean} already clean")
    for label, ids in (("missing file", done.missing), ("could not be re-encoded", done.unreadable)):
        for evidence_id in ids:
            click.echo(f"{label}: {evidence_id}", err=True)
    if done.unreadable:
        sys.exit(1)


def init_app(app: Flask) -> None:
    from app.backup import backup_command, restore_command

    app.cli.add_command(users_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(periods_cli)
    app.cli.add_command(evidence_cli)
    app.cli.add_command(demo)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
