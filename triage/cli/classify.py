"""`monshi classify`: JSON lines in, one triage result per line out."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from triage.cli import cli, load_settings
from triage.models import Channel


@cli.command()
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="versioned models (default: MONSHI_MODEL_DIR or var/models; trained if empty)",
)
def classify(model_dir: Path | None) -> None:
    """Read JSON lines ({"text", "subject"?, "channel"?, "tenant"?}) on stdin; print results.

    Each output line has language, category, confidence, priority, spam, entities and
    reasons. With DATABASE_URL set, "tenant" brings that client's rules and time zone.
    """
    import os

    from triage.classify.pipeline import TriageInput, triage
    from triage.classify.registry import ModelRegistry
    from triage.directory import Directory

    directory: Directory | None = None
    if os.environ.get("DATABASE_URL", "").strip():
        from triage.store.db import make_engine
        from triage.store.directory_store import load_directory

        engine = make_engine(load_settings(required=("DATABASE_URL",)).database_url)
        directory = load_directory(engine)
        engine.dispose()
    location = model_dir or Path(os.environ.get("MONSHI_MODEL_DIR") or "var/models")
    model = ModelRegistry(location).current()
    failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("text"), str):
                raise ValueError('each line must be a JSON object with a "text" string')
            channel = Channel(request.get("channel", "sms"))
        except ValueError as error:
            failures += 1
            click.echo(json.dumps({"line": number, "error": str(error)}), err=True)
            continue
        tenant = directory.tenants.get(request.get("tenant", "")) if directory else None
        result = triage(
            TriageInput(
                text=request["text"],
                subject=str(request.get("subject", "")),
                channel=channel,
                sender=str(request.get("from", "")),
            ),
            model=model,
            rules=tenant.rules if tenant else (),
            now=datetime.now(UTC),
            timezone=tenant.timezone if tenant else "UTC",
            default_region="IR" if tenant and tenant.language == "fa" else "US",
        )
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    if failures:
        raise SystemExit(1)
