"""The worker process: connections, a sweep of lost ingest jobs, then RQ's work loop."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import redis
from rq import Queue, SimpleWorker

from integrations.twilio.rest import SmsSender
from triage.classify.entities import extract_entities
from triage.classify.registry import ModelRegistry
from triage.constants import WORKER_QUEUES
from triage.settings import Settings
from triage.store.db import make_engine
from triage.store.mail_items import MailStore
from triage.store.repository import Repository
from workers import context, leases
from workers.call_persister import PersisterThread
from workers.dispatch import Dispatcher

log = logging.getLogger(__name__)

# SimpleWorker runs each job in the worker process itself. Measured here with
# bench/worker_class.py (300 no-op jobs x 5 rounds, one burst worker, side by side on
# one private Redis): SimpleWorker median 438 jobs/s, the forking Worker 94 jobs/s (4.7x
# slower: it pays a fork per job).
# Monshi's jobs are short database calls, so the fork's isolation buys little; a job
# that crashes the process is restarted by the supervisor (`monshi run`, or the
# platform for the Procfile's worker), and RQ's job timeout still applies.
WORKER_CLASS = SimpleWorker

# An item still `received` this long after it was stored lost its ingest job (Redis was
# down when the webhook tried to enqueue it): the worker enqueues it again at start.
STALE_RECEIVED_AFTER = timedelta(seconds=30)


def build_context(settings: Settings) -> context.WorkerContext:
    connection = redis.Redis.from_url(settings.redis_url)
    return context.WorkerContext(
        repository=Repository(make_engine(settings.database_url)),
        redis=connection,
        dispatcher=Dispatcher(connection),
        models=ModelRegistry(Path(settings.model_dir)),
        sms=SmsSender.from_settings(settings),
    )


# Stored mail handed to one ingest job at most this many at a time.
MAIL_SWEEP_BATCH = 200


def requeue_stale_items(ctx: context.WorkerContext) -> int:
    """Enqueue ingest again for items and mail stored but never handled; returns how many."""
    cutoff = ctx.repository.clock() - STALE_RECEIVED_AFTER
    item_ids = ctx.repository.received_item_ids(older_than=cutoff)
    for item_id in item_ids:
        ctx.dispatcher.ingest(item_id)
    if item_ids:
        log.warning("re-enqueued ingest of %d item(s) stored but never routed", len(item_ids))
    mail_ids = MailStore(ctx.repository).stale_stored_ids(fetched_before=cutoff)
    for start in range(0, len(mail_ids), MAIL_SWEEP_BATCH):
        ctx.dispatcher.ingest_mail(mail_ids[start : start + MAIL_SWEEP_BATCH], backfill=True)
    if mail_ids:
        log.warning("re-enqueued ingest of %d stored mail message(s)", len(mail_ids))
    return len(item_ids) + len(mail_ids)


def warm_up(ctx: context.WorkerContext) -> None:
    """Load before the first job what it would otherwise load: the category model (the
    newest on disk; never trained here) and the date parser's data, a second or so of CPU
    that would hold up the first item."""
    if ctx.models is not None:
        ctx.models.load_existing()
    extract_entities("next Monday", now=ctx.repository.clock(), timezone="UTC")


def run_worker(settings: Settings, *, burst: bool = False) -> bool:
    """Run an RQ worker on Monshi's queues, in priority order. Returns whether it did work."""
    ctx = build_context(settings)
    context.install(ctx)
    persister = PersisterThread(settings.redis_url, ctx.repository, ctx.dispatcher)
    try:
        warm_up(ctx)
        requeue_stale_items(ctx)
        leases.schedule_sweep(ctx.redis, ctx.repository.clock())
        if burst:
            persister.drain()
        else:
            persister.start()
        queues = [Queue(name, connection=ctx.redis) for name in WORKER_QUEUES]
        worker = WORKER_CLASS(queues, connection=ctx.redis)
        return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
    finally:
        persister.stop()
        context.install(None)
        ctx.redis.close()
        ctx.repository.engine.dispose()
