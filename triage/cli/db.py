"""`monshi db ...`: schema migrations."""

from __future__ import annotations

import click

from triage.cli import cli, load_settings
from triage.store.db import make_engine
from triage.store.migrate import current_revision, upgrade


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database at DATABASE_URL to the newest schema."""
    settings = load_settings(required=("DATABASE_URL",))
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        click.echo(f"database already at {after}")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")
    engine.dispose()
