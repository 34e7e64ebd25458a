"""`monshi web` and `monshi worker`: the long-running processes of the Procfile."""

from __future__ import annotations

import click

from triage.cli import cli, load_settings
from triage.settings import WEB_REQUIRED


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Share the port with other `monshi web` processes on this host (SO_REUSEPORT: "
    "the kernel spreads new connections over them).",
)
def web(host: str, port: int, reuse_port: bool) -> None:
    """Serve Twilio webhooks, the JSON API and health endpoints."""
    import uvloop
    from aiohttp import web as aiohttp_web

    from triage.web.access_log import WebhookAccessLogger
    from triage.web.app import create_app

    settings = load_settings(required=WEB_REQUIRED)
    # uvloop's event loop (libuv, in C): a webhook's socket reads and writes, its Redis
    # round trip and the loop's own turns cost less CPU than on asyncio's selector loop
    # (bench/webhook.py, both servers on each loop: 222 -> 190 µs a call).
    loop = uvloop.new_event_loop()
    aiohttp_web.run_app(
        create_app(settings),
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        print=None,
        access_log_class=WebhookAccessLogger,
        loop=loop,
    )


@cli.command()
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker on Monshi's queues (urgent, default, bulk, in that order)."""
    from workers.main import run_worker

    run_worker(load_settings(), burst=burst)
