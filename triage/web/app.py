"""The aiohttp app factory: typed state, connections opened and closed in cleanup_ctx."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import text

from integrations.twilio import sms, voice
from integrations.twilio.signature import SIGNED, TWILIO_PREFIX, TWILIO_SIGNATURE, TwilioSignature
from triage.classify.registry import ModelRegistry
from triage.settings import Settings
from triage.store.calls import CallStore
from triage.store.db import make_engine
from triage.store.presence import Presence
from triage.store.repository import Repository
from triage.store.resp import RespClient
from triage.web import api, items_api, mail_api, openapi, presence_api
from triage.web.directory_cache import DirectoryCache
from triage.web.spool import Spool
from triage.web.state import (
    ASYNC_REDIS,
    CALLS,
    CLOCK,
    DIRECTORY,
    DISPATCHER,
    MODELS,
    PRESENCE,
    REDIS,
    REPOSITORY,
    SETTINGS,
    SPOOL,
    TOKENS,
)
from triage.web.tokens import TokenCache
from workers.dispatch import Dispatcher

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 2.0


def create_app(settings: Settings, *, background: bool = True) -> web.Application:
    """The whole web process: Twilio webhooks, JSON API, health endpoints.

    `background` runs the directory refresher, the call-event persister and the spool
    replayer; tests that drive those by hand turn it off.
    """
    # No middleware: each route guards itself (see check_guarded).
    app = web.Application(client_max_size=1024**2)
    app[TWILIO_SIGNATURE] = TwilioSignature(settings.twilio_auth_token, settings.public_url)
    app[SETTINGS] = settings
    app[CLOCK] = _utcnow
    app[SPOOL] = Spool(Path(settings.spool_dir))
    app[TOKENS] = TokenCache()
    app[MODELS] = ModelRegistry(Path(settings.model_dir))
    app.cleanup_ctx.append(_connections)
    if background:
        app.cleanup_ctx.append(_background_tasks)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    sms.add_routes(app)
    voice.add_routes(app)
    api.add_routes(app)
    items_api.add_routes(app)
    presence_api.add_routes(app)
    mail_api.add_routes(app)
    openapi.add_routes(app)
    check_guarded(app)
    return app


def check_guarded(app: web.Application) -> None:
    """Refuse to serve a Twilio route without its signature check, or an API route
    without its bearer token check (the OpenAPI document alone is public)."""
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(TWILIO_PREFIX) and route.handler not in SIGNED:
            raise RuntimeError(f"{route.method} {path} does not check the Twilio signature")
        if (
            path.startswith(api.API_PREFIX)
            and path != openapi.DOCUMENT_PATH
            and route.handler not in api.AUTHENTICATED
        ):
            raise RuntimeError(f"{route.method} {path} does not check the bearer token")


async def _connections(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    loop = type(asyncio.get_running_loop())
    log.info("web process on %s.%s", loop.__module__, loop.__qualname__)
    engine = make_engine(settings.database_url)
    connection = redis.Redis.from_url(
        settings.redis_url, socket_timeout=5, socket_connect_timeout=2
    )
    app[REPOSITORY] = Repository(engine, lease=timedelta(seconds=settings.lease_seconds))
    app[REDIS] = connection
    app[DISPATCHER] = Dispatcher(connection)
    app[PRESENCE] = Presence(connection)
    async_connection = aioredis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=1
    )
    app[ASYNC_REDIS] = async_connection
    # The voice webhooks' own connection: a pipelined client at a fifth of the CPU.
    calls_connection = RespClient(settings.redis_url, connect_timeout=1, reply_timeout=2)
    app[CALLS] = CallStore(calls_connection)
    app[DIRECTORY] = DirectoryCache(app[REPOSITORY])
    try:
        await asyncio.to_thread(app[DIRECTORY].refresh)
    except Exception as error:  # start anyway: the refresher retries, calls get voicemail
        log.error("could not load the agency directory at start-up: %s", error)
    yield
    await calls_connection.aclose()
    await async_connection.aclose()
    connection.close()
    engine.dispose()


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _load_models(registry: ModelRegistry | None, stop: asyncio.Event) -> None:
    """Keep the newest trained model loaded for IVR speech; the web never trains one."""
    while registry is not None and not stop.is_set():
        try:
            await asyncio.to_thread(registry.load_existing)
        except (OSError, ValueError) as error:
            log.warning("category model not loaded: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), registry.check_every)


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(_load_models(app[MODELS], stop), name="model-loader"),
        asyncio.create_task(app[DIRECTORY].run(stop), name="directory-refresh"),
        asyncio.create_task(app[SPOOL].run(app[CALLS], stop), name="spool-replay"),
    ]
    yield
    stop.set()
    _done, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def healthz(_request: web.Request) -> web.Response:
    """Alive: the process answers. Says nothing about its dependencies."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: Redis and the database answer; 503 naming each part that does not."""
    checks = {
        "redis": lambda: request.app[REDIS].ping(),
        "database": lambda: _ping_database(request.app[REPOSITORY]),
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(asyncio.to_thread(check), READY_TIMEOUT_SECONDS)
            results[name] = "ok"
        except TimeoutError:
            results[name] = f"no answer within {READY_TIMEOUT_SECONDS:g} s"
        except Exception as error:  # any failure of a dependency means "not ready"
            log.warning("readiness check %s failed: %s", name, error)
            results[name] = f"{type(error).__name__}: {error}"
    failing = [name for name, result in results.items() if result != "ok"]
    body: dict[str, object] = {"status": "ok" if not failing else "unavailable", "checks": results}
    if failing:
        body["failing"] = failing
    return web.json_response(body, status=503 if failing else 200)


def _ping_database(repository: Repository) -> None:
    with repository.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
