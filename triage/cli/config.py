"""`monshi config ...`: apply the agency config file, or export the database's config as TOML."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from triage.cli import cli, load_settings
from triage.config import load_config
from triage.config_output import render_config
from triage.errors import ConfigError, SchemaNotReady
from triage.store.config_store import apply_config_path, load_current_config
from triage.store.db import make_engine


class InvalidConfigFile(click.ClickException):
    """Every problem of a config file, one per line, each with its path (exit status 1)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{path}: {count}; nothing was changed\n{lines}")


@cli.group()
def config() -> None:
    """The agency config file: tenants, secretaries and who works for whom."""


@config.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate FILE; needs no database.")
@click.option("--dry-run", is_flag=True, help="Show what applying would change; change nothing.")
def config_apply(file: Path, check: bool, dry_run: bool) -> None:
    """Validate FILE whole, then make the database match it in one transaction.

    Tenants and secretaries that FILE does not name are removed. Every problem is
    reported with its path, and an invalid FILE changes nothing.
    """
    if check:
        try:
            config = load_config(file)
        except ConfigError as error:
            raise InvalidConfigFile(file, error.problems) from error
        click.echo(
            f"{file}: valid ({len(config.tenants)} tenants, {len(config.secretaries)} secretaries)"
        )
        return
    with _database() as engine:
        try:
            result = apply_config_path(engine, file, dry_run=dry_run)
        except ConfigError as error:
            raise InvalidConfigFile(file, error.problems) from error
    if not result.changes:
        click.echo("no changes: the database already matches the file")
        return
    for change in result.changes:
        click.echo(f"  {change}")
    click.echo(("would apply: " if dry_run else "applied: ") + result.summary)


@config.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def config_export(output: Path | None) -> None:
    """Print the database's config as TOML that `monshi config apply` accepts."""
    with _database() as engine:
        current = load_current_config(engine)
    if current.agency is None:
        click.echo(
            "warning: no [agency] in the database yet; add it before applying this export",
            err=True,
        )
    text = render_config(current)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@contextmanager
def _database() -> Iterator[Engine]:
    """An engine on DATABASE_URL; database faults end the command with a plain message."""
    settings = load_settings(required=("DATABASE_URL",))
    engine = make_engine(settings.database_url)
    try:
        yield engine
    except SchemaNotReady as error:
        raise click.ClickException(str(error)) from error
    except OperationalError as error:
        raise click.ClickException(f"cannot use the database: {_first_line(error.orig)}") from error
    finally:
        engine.dispose()


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
