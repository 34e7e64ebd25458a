"""The `monshi` command: one click group; each module of this package adds its commands.

The CLI is a composition root, like triage/web: it may start processes from workers/ and
integrations/, which the domain modules of triage/ never import.
"""

from __future__ import annotations

import logging
import sys

import click

from triage.errors import SettingsError
from triage.settings import CORE_REQUIRED, Settings


@click.group()
@click.option(
    "--log-level", default=None, help="DEBUG, INFO, WARNING ... (default: MONSHI_LOG_LEVEL or INFO)"
)
def cli(log_level: str | None) -> None:
    """Monshi: the back office of a virtual-secretary agency."""
    import os

    level = (log_level or os.environ.get("MONSHI_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def load_settings(required: tuple[str, ...] = CORE_REQUIRED) -> Settings:
    """Settings from the environment; a missing one ends the command, naming the variable."""
    try:
        return Settings.from_env(required=required)
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


def main() -> None:
    cli()


# Each module registers its commands on `cli` when imported.
from triage.cli import classify, config, db, imap, model, run, serve, simulate, user  # noqa: E402, F401
