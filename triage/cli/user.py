"""`monshi user ...`: API tokens (and later console passwords) for secretaries."""

from __future__ import annotations

import click

from triage.cli import cli, load_settings
from triage.errors import NotFound
from triage.store.db import make_engine
from triage.store.repository import Repository
from triage.web.tokens import TOKEN_CACHE_SECONDS


@cli.group()
def user() -> None:
    """Secretaries' credentials."""


@user.command("token")
@click.argument("secretary_id")
def user_token(secretary_id: str) -> None:
    """Print a new API bearer token for SECRETARY_ID (only its hash is stored)."""
    settings = load_settings(required=("DATABASE_URL",))
    engine = make_engine(settings.database_url)
    try:
        click.echo(Repository(engine).issue_token(secretary_id))
    except NotFound as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()


@user.command("revoke-tokens")
@click.argument("secretary_id")
def user_revoke_tokens(secretary_id: str) -> None:
    """Revoke every API token of SECRETARY_ID."""
    settings = load_settings(required=("DATABASE_URL",))
    engine = make_engine(settings.database_url)
    try:
        count = Repository(engine).revoke_tokens(secretary_id)
    finally:
        engine.dispose()
    click.echo(
        f"revoked {count} token(s) of {secretary_id}; "
        f"web processes refuse them within {TOKEN_CACHE_SECONDS:g} s"
    )
