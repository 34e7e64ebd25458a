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
from datetime import datetime, timedelta

from triage.classify.pipeline import TriageInput, TriageRequest, TriageResult, triage_many
from triage.directory import Directory, TenantProfile
from triage.mail_threading import storable
from triage.models import SPAM_POOL, Channel, ItemStatus, Priority, WorkItem
from triage.routing import pool_for
from triage.store.mail_items import (
    MAX_ADDRESS,
    ORDINARY,
    BatchTriage,
    InboundMail,
    MailDecision,
    contact_of,
)
from triage.store.triage_batch import (
    Decision,
    apply_triage_batch,
    earlier_contacts,
    first_contacts,
    get_items,
)
from triage.voice import REPEAT_WINDOW_SECONDS
from workers.context import WorkerContext
from workers.triage import (
    default_region,
    directory_for,
    log_triaged,
    routing_from,
    routing_of,
    schedule_escalation_of,
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
        log_triaged(decision.item_id, result, decision.pool)
    escalations.execute()
    return pools


class MailTriage:
    """Triage of a mail ingest batch before its items exist, so that the ingest transaction
    stores each new item triaged and queued (`BatchTriage`); then, once they are committed,
    their escalation (one Redis round trip) and the log line `triage_and_queue_many` writes.

    What it decides is what `_batch` would decide after the commit: the same requests, the
    repeat-sender answer from the same query (ingest checks it again under its lock).
    """

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._decided: dict[int, tuple[MailDecision, TriageResult, str | None]] = {}
        self._directory: Directory | None = None
        self._now: datetime | None = None

    def decide(self, mails: Sequence[InboundMail]) -> BatchTriage | None:
        """The triage of each ordinary message of `mails` (in the batch's order)."""
        ordinary = [mail for mail in mails if mail.kind == ORDINARY]
        if not ordinary:
            return None
        repository = self.ctx.repository
        self._directory = directory = directory_for(repository)
        self._now = now = repository.clock()
        since = now - timedelta(seconds=REPEAT_WINDOW_SECONDS)
        contacts = [contact_of(mail) for mail in mails]
        with repository.engine.connect() as connection:
            seen = set(
                first_contacts(connection, [pair for pair in contacts if pair is not None], since)
            )
        repeats: dict[int, bool] = {}
        for mail, contact in zip(mails, contacts, strict=True):
            # An earlier message of the batch from the same sender will most likely have
            # made an item by then; ingest tells (and leaves a wrong guess untriaged).
            repeats[mail.mail_id] = contact is not None and contact in seen
            if contact is not None:
                seen.add(contact)
        tenants = directory.tenants
        requests = [
            _mail_request(mail, tenants.get(mail.tenant_id or ""), repeats[mail.mail_id])
            for mail in ordinary
        ]
        model = self.ctx.models.current() if self.ctx.models is not None else None
        results = triage_many(requests, model=model, now=now)
        for mail, result in zip(ordinary, results, strict=True):
            decision = Decision(
                0,
                result.to_json(),
                SPAM_POOL if result.spam else pool_for(mail.tenant_id),
                routing_from(directory, mail.tenant_id, Priority.NORMAL, None, result, now),
            )
            self._decided[mail.mail_id] = (
                MailDecision(decision, repeats[mail.mail_id]),
                result,
                mail.tenant_id,
            )
        return BatchTriage(
            {mail_id: decided for mail_id, (decided, _, _) in self._decided.items()},
            repeat_since=since,
        )

    def queued(self, items: Sequence[tuple[int, int]]) -> None:
        """Schedule the escalation of the (mail id, item id) `items` committed triaged."""
        directory, now = self._directory, self._now
        if directory is None or now is None:
            return
        escalations = self.ctx.dispatcher.connection.pipeline()
        for mail_id, item_id in items:
            decided, result, tenant_id = self._decided[mail_id]
            routing = decided.decision.routing
            if routing is not None:
                schedule_escalation_of(
                    self.ctx, directory, item_id, tenant_id, routing, now, pipeline=escalations
                )
            log_triaged(item_id, result, decided.decision.pool)
        escalations.execute()


def _mail_request(mail: InboundMail, tenant: TenantProfile | None, repeat: bool) -> TriageRequest:
    """`_request` of the item `mail` will make, as ingest stores its fields."""
    sender = storable(mail.sender[:MAX_ADDRESS])
    subject = storable(mail.subject)
    return TriageRequest(
        TriageInput(
            text=storable(mail.body),
            channel=Channel.EMAIL,
            subject=subject if subject not in ("Call", "Missed call") else "",
            sender=sender,
            vip=tenant is not None and sender in tenant.vip_numbers,
            repeat=tenant is not None and repeat,
        ),
        rules=tenant.rules if tenant is not None else (),
        timezone=tenant.timezone if tenant is not None else "UTC",
        default_region=default_region(tenant),
    )


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


__all__ = ["MailTriage", "triage_and_queue_many"]
