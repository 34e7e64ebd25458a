"""`monshi imap`: the IMAP connector process (one active per mailbox; extra replicas stand by)."""

from __future__ import annotations

import logging
import threading

import click

from triage.cli import cli, load_settings
from triage.cli._supervise import stop_signals_call

log = logging.getLogger("monshi.imap")


@cli.command()
def imap() -> None:
    """Watch the agency inbox (IMAP_URL) and hand every new message to the workers.

    Waits for the mailbox's leader lease in Redis first: a second `monshi imap` stands by
    and takes over when the first stops or dies. SIGTERM or Ctrl-C stops it cleanly.
    """
    import redis

    from integrations.imap.connector import ImapConnector
    from triage.store.db import make_engine
    from triage.store.mailbox import MailboxStore
    from workers.dispatch import Dispatcher

    settings = load_settings()
    if settings.imap is None:
        raise click.ClickException(
            "no mailbox configured: set IMAP_URL (or IMAP_HOST, IMAP_USER and IMAP_PASSWORD)"
        )
    engine = make_engine(settings.database_url)
    connection = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    connector = ImapConnector(
        settings.imap, MailboxStore(engine), connection, Dispatcher(connection)
    )
    stop = threading.Event()
    try:
        with stop_signals_call(stop.set):
            connector.run(stop)
    finally:
        connection.close()
        engine.dispose()
    log.info("imap connector stopped")
