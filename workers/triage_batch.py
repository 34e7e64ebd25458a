"""Triage of a batch of new items in the worker: what `triage_and_queue` does per item, with
one read of the items, one query for repeat senders, one call of the model and one
transaction for all of them.

Used where throughput matters (the mail ingest job, whose batches make many items at
once); live SMS and calls keep their job per item. If the batch fails for any reason but a
system fault, each item is triaged on its own instead, so one item that cannot be read
holds up no other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from triage.classify.pipeline import TriageInput, TriageRequest, triage_many
from triage.directory import TenantProfile
from triage.models import SPAM_POOL, ItemStatus, WorkItem
from triage.routing import pool_for
from triage.store.triage_batch import (
    Decision,
    apply_triage_batch,
    earlier_contacts,
    get_items,
)
from triage.voice import REPEAT_WINDOW_SECONDS
from workers.context import WorkerContext
from workers.triage import (
    default_region,
    directory_for,
    routing_of,
    schedule_sla,
    triage_and_queue,
)

log = logging.getLogger(__name__)

WAITING = (ItemStatus.RECEIVED, ItemStatus.QUEUED)


def triage_and_queue_many(
    ctx: WorkerContext, item_ids: Sequence[int], *, system_faults: tuple[type[BaseException], ...]
) -> dict[int, str]:
    """Triage each waiting item of `item_ids` and queue it; {item id: pool} of those changed.

    `system_faults` propagate (RQ retries the job); any other error falls back to
    `triage_and_queue` item by item.
    """
    if not item_ids:
        return {}
    try:
        return _batch(ctx, item_ids)
    except system_faults:
        raise
    except Exception as error:
        log.warning(
            "triage of %d items as a batch failed (%s); one by one instead",
            len(item_ids),
            type(error).__name__,
        )
    pools: dict[int, str] = {}
    for item_id in item_ids:
        pool = triage_and_queue(ctx, item_id)
        if pool is not None:
            pools[item_id] = pool
    return pools


def _batch(ctx: WorkerContext, item_ids: Sequence[int]) -> dict[int, str]:
    repository = ctx.repository
    items = [item for item in get_items(repository, item_ids) if item.status in WAITING]
    if not items:
        return {}
    directory = directory_for(repository)
    tenants = directory.tenants
    now = repository.clock()
    repeats = earlier_contacts(
        repository, items, since=now - timedelta(seconds=REPEAT_WINDOW_SECONDS)
    )
    requests = [
        _request(item, tenants.get(item.tenant_id or ""), item.id in repeats) for item in items
    ]
    model = ctx.models.current() if ctx.models is not None else None
    results = triage_many(requests, model=model, now=now)
    decisions = [
        Decision(
            item.id,
            result.to_json(),
            SPAM_POOL if result.spam else pool_for(item.tenant_id),
            routing_of(directory, item, result, now),
        )
        for item, result in zip(items, results, strict=True)
    ]
    changed = set(apply_triage_batch(repository, decisions))
    pools: dict[int, str] = {}
    # The batch's escalation jobs reach Redis in one round trip, not one each.
    escalations = ctx.dispatcher.connection.pipeline()
    for item, decision, result in zip(items, decisions, results, strict=True):
        if decision.item_id not in changed:
            continue
        pools[decision.item_id] = decision.pool
        newly = item.status is ItemStatus.RECEIVED or item.pool != decision.pool
        if decision.routing is not None and (newly or item.due_at is None):
            schedule_sla(ctx, directory, item, decision.routing, now, pipeline=escalations)
        log.info(
            "item %s: %s, %s%s%s -> %s",
            decision.item_id,
            result.category or "uncategorized",
            result.priority.value,
            ", spam" if result.spam else "",
            ", needs review" if result.needs_review else "",
            decision.pool,
        )
    escalations.execute()
    return pools


def _request(item: WorkItem, tenant: TenantProfile | None, repeat_sender: bool) -> TriageRequest:
    """What `workers.triage.read_item` hands triage for one item (`repeat_sender`: the same
    sender reached the same client within the repeat window, before this item)."""
    call = item.payload.get("call", {}) if isinstance(item.payload, dict) else {}
    tags = call.get("tags", []) if isinstance(call, dict) else []
    recording = call.get("recording", {}) if isinstance(call, dict) else {}
    return TriageRequest(
        TriageInput(
            text=item.body,
            channel=item.channel,
            subject=item.subject if item.subject not in ("Call", "Missed call") else "",
            sender=item.sender,
            vip="vip" in tags or (tenant is not None and item.sender in tenant.vip_numbers),
            repeat="repeat" in tags or (tenant is not None and repeat_sender),
            recording_seconds=recording.get("duration") if isinstance(recording, dict) else None,
        ),
        rules=tenant.rules if tenant is not None else (),
        timezone=tenant.timezone if tenant is not None else "UTC",
        default_region=default_region(tenant),
    )


__all__ = ["triage_and_queue_many"]
