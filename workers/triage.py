"""Triage of one stored item in the worker: read it, decide, store the result, queue it.

Thin on purpose: it gathers plain values (the item, its client's rules and time zone, the
current model) and hands them to triage.classify.pipeline; the store applies the result.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import redis

from triage.classify.pipeline import TriageInput, TriageResult, triage
from triage.directory import Directory, TenantProfile
from triage.hours import BusinessHours
from triage.models import SPAM_POOL, ItemStatus, Priority, WorkItem
from triage.routing import pool_for
from triage.sla import (
    AROUND_THE_CLOCK,
    ItemFacts,
    Routing,
    SlaPolicy,
    escalation_moments,
    routing_for,
)
from triage.store.directory_store import config_version, load_directory
from triage.store.repository import Repository
from triage.store.triage_records import apply_triage, recent_contact
from triage.voice import REPEAT_WINDOW_SECONDS
from workers.context import WorkerContext

log = logging.getLogger(__name__)

# How long a worker trusts its snapshot of the agency before asking for the config version
# again: one query per item would be the costliest part of triaging a mail backfill.
DIRECTORY_CHECK_SECONDS = 2.0

# Per database URL: (snapshot, when its version was last checked).
_directories: dict[str, tuple[Directory, float]] = {}


def directory_for(repository: Repository) -> Directory:
    """The agency as stored; reloaded when the config version moved (checked every 2 s)."""
    key = repository.engine.url.render_as_string(hide_password=False)
    now = time.monotonic()
    cached = _directories.get(key)
    if cached is not None and now - cached[1] < DIRECTORY_CHECK_SECONDS:
        return cached[0]
    version = config_version(repository.engine)
    directory = cached[0] if cached is not None and cached[0].version == version else None
    if directory is None:
        directory = load_directory(repository.engine)
    _directories[key] = (directory, now)
    return directory


def default_region(tenant: TenantProfile | None) -> str:
    """Where a bare phone number in the text is most likely from."""
    if tenant is not None and (tenant.language == "fa" or tenant.timezone == "Asia/Tehran"):
        return "IR"
    return "US"


def read_item(ctx: WorkerContext, item: WorkItem) -> TriageResult:
    """Triage one item with its client's rules, time zone and VIP list."""
    repository = ctx.repository
    tenant = directory_for(repository).tenants.get(item.tenant_id or "")
    call = item.payload.get("call", {}) if isinstance(item.payload, dict) else {}
    tags = call.get("tags", []) if isinstance(call, dict) else []
    recording = call.get("recording", {}) if isinstance(call, dict) else {}
    now = repository.clock()
    repeat = "repeat" in tags or (
        tenant is not None
        and recent_contact(
            repository,
            tenant.id,
            item.sender,
            since=now - timedelta(seconds=REPEAT_WINDOW_SECONDS),
            before_id=item.id,
        )
    )
    vip = "vip" in tags or (tenant is not None and item.sender in tenant.vip_numbers)
    model = ctx.models.current() if ctx.models is not None else None
    return triage(
        TriageInput(
            text=item.body,
            channel=item.channel,
            subject=item.subject if item.subject not in ("Call", "Missed call") else "",
            sender=item.sender,
            vip=vip,
            repeat=repeat,
            recording_seconds=recording.get("duration") if isinstance(recording, dict) else None,
        ),
        model=model,
        rules=tenant.rules if tenant is not None else (),
        now=now,
        timezone=tenant.timezone if tenant is not None else "UTC",
        default_region=default_region(tenant),
    )


def routing_of(
    directory: Directory, item: WorkItem, result: TriageResult, queued_at: datetime
) -> Routing:
    """The routing attributes of `item` queued now with `result` (triage.sla.routing_for),
    at the priority apply_triage stores: never below the edge's (a VIP call) unless spam."""
    call = item.payload.get("call", {}) if isinstance(item.payload, dict) else {}
    ivr = call.get("ivr", {}) if isinstance(call, dict) else {}
    ivr_skill = ivr.get("skill") if isinstance(ivr, dict) else None
    return routing_from(
        directory,
        item.tenant_id,
        item.priority,
        ivr_skill if isinstance(ivr_skill, str) else None,
        result,
        queued_at,
    )


def routing_from(
    directory: Directory,
    tenant_id: str | None,
    edge_priority: Priority,
    ivr_skill: str | None,
    result: TriageResult,
    queued_at: datetime,
) -> Routing:
    """`routing_of` an item of `tenant_id` that its edge stored at `edge_priority` (and
    the caller's IVR choice), before or after the item exists."""
    priority = result.priority
    if not result.spam and edge_priority.rank < priority.rank:
        priority = edge_priority
    facts = ItemFacts(priority=priority, spam=result.spam, ivr_skill=ivr_skill, skill=result.skill)
    tenant = directory.tenants.get(tenant_id or "")
    return routing_for(tenant, directory.secretaries, facts, queued_at, default=directory.sla)


def sla_of(directory: Directory, tenant_id: str | None) -> tuple[BusinessHours, SlaPolicy]:
    """The business hours and SLA policy an item of `tenant_id` is measured by."""
    tenant = directory.tenants.get(tenant_id or "")
    if tenant is None:
        return AROUND_THE_CLOCK, directory.sla
    return tenant.hours, tenant.sla


def schedule_sla(
    ctx: WorkerContext,
    directory: Directory,
    item: WorkItem,
    routing: Routing,
    queued_at: datetime,
    *,
    pipeline: redis.client.Pipeline | None = None,
) -> str | None:
    """Schedule the escalation of an item just queued with `routing` (none for an item
    without a due time); returns the RQ job id of its first step. With `pipeline`, the job
    is written when the caller executes it (`Dispatcher.schedule_escalation`)."""
    return schedule_escalation_of(
        ctx,
        directory,
        item.id,
        item.tenant_id,
        routing,
        queued_at,
        above=item.escalation,
        pipeline=pipeline,
    )


def schedule_escalation_of(
    ctx: WorkerContext,
    directory: Directory,
    item_id: int,
    tenant_id: str | None,
    routing: Routing,
    queued_at: datetime,
    *,
    above: int = 0,
    pipeline: redis.client.Pipeline | None = None,
) -> str | None:
    """`schedule_sla` of an item known by its id and client (levels up to `above` done)."""
    if routing.due_at is None:
        return None
    hours, policy = sla_of(directory, tenant_id)
    moments = escalation_moments(hours, policy, queued_at, routing.due_at)
    return ctx.dispatcher.schedule_escalation(
        item_id, routing.due_at, moments, above=above, pipeline=pipeline
    )


def triage_and_queue(ctx: WorkerContext, item_id: int) -> str | None:
    """Triage a waiting item and queue it (spam apart); the pool, or None if not waiting."""
    item = ctx.repository.get_item(item_id)
    if item.status not in (ItemStatus.RECEIVED, ItemStatus.QUEUED):
        return None
    result = read_item(ctx, item)
    pool = SPAM_POOL if result.spam else pool_for(item.tenant_id)
    directory = directory_for(ctx.repository)
    now = ctx.repository.clock()
    routing = routing_of(directory, item, result, now)
    if not apply_triage(
        ctx.repository, item_id, result=result.to_json(), pool=pool, routing=routing
    ):
        return None
    if item.status is ItemStatus.RECEIVED or item.pool != pool or item.due_at is None:
        schedule_sla(ctx, directory, item, routing, now)
    log_triaged(item_id, result, pool)
    return pool


def log_triaged(item_id: int, result: TriageResult, pool: str) -> None:
    """The worker's one line per triaged item (one at a time or in a mail batch)."""
    log.info(
        "item %s: %s, %s%s%s -> %s",
        item_id,
        result.category or "uncategorized",
        result.priority.value,
        ", spam" if result.spam else "",
        ", needs review" if result.needs_review else "",
        pool,
    )
