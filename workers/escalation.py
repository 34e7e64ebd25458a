"""SLA escalation jobs, scheduled with RQ's scheduler at the moments triage.sla plans.

`escalate` fires at the warning point, the breach and the second breach of one item;
each is idempotent (the stored level decides) and does nothing once the item is
answered. Reaching supervisors enqueues `alert_on_call`, the on-call SMS, retried on its
own. The worker runs with RQ's scheduler (`with_scheduler=True`), which moves due jobs
from Redis's scheduled registry to the queue: no polling loop here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from triage.constants import QUEUE_URGENT
from triage.directory import Directory
from triage.errors import NotFound
from triage.models import Channel
from triage.redact import redact_phone
from triage.sla import LEVEL_NAMES, SUPERVISORS, escalation_moments
from triage.store.sla_records import (
    SAME_MOMENT,
    alert_recorded,
    escalate_item,
    record_alert,
    sla_state,
)
from workers.context import WorkerContext, current
from workers.dispatch import ESCALATE_JOB
from workers.triage import directory_for, sla_of

log = logging.getLogger(__name__)

# A job RQ's scheduler enqueued this much before its moment by this worker's clock (two
# machines' clocks) still acts; earlier, it is put back for its moment.
CLOCK_SKEW = timedelta(seconds=5)


def escalate(
    item_id: int, level: int, due_at: str, at: str, later: Mapping[str, str] | None = None
) -> str | None:
    """RQ job: raise an item to escalation `level` (planned for due time `due_at`, firing
    at `at`), then schedule the next step of `later` ({level: moment}); steps whose moment
    has passed too are taken at once. Returns the name of the last level reached, None
    when there was nothing to do. The chain ends when the item is answered, completed,
    gone, or due at another time now.
    """
    ctx = current()
    now = ctx.repository.clock()
    if now < datetime.fromisoformat(at) - CLOCK_SKEW:
        # Moved to the queue early (another machine's clock): wait for the moment.
        ctx.dispatcher.queues[QUEUE_URGENT].enqueue_at(
            datetime.fromisoformat(at),
            ESCALATE_JOB,
            item_id,
            level,
            due_at,
            at,
            later,
            job_id=f"sla-{uuid.uuid4().hex}",
        )
        return None
    due = datetime.fromisoformat(due_at)
    steps = [(level, datetime.fromisoformat(at))]
    steps += sorted(
        (int(key), datetime.fromisoformat(value)) for key, value in (later or {}).items()
    )
    reached: str | None = None
    for index, (step, moment) in enumerate(steps):
        if moment > now + CLOCK_SKEW:
            ctx.dispatcher.schedule_escalation(item_id, due, dict(steps[index:]))
            break
        try:
            done = escalate_item(ctx.repository, item_id, step, due_at=due)
            if done is None and not _still_planned(ctx, item_id, due):
                break
        except NotFound:
            log.info("escalation: item %s no longer exists", item_id)
            break
        if done is None:
            continue  # already at this level (a plan made twice): go on with the next
        reached = LEVEL_NAMES[done.level]
        log.warning(
            "item %s escalated to %s (%s), due %s",
            item_id,
            reached,
            done.priority.value,
            done.due_at.isoformat(),
        )
        if done.level >= SUPERVISORS:
            ctx.dispatcher.alert_on_call(item_id)
    return reached


def _still_planned(ctx: WorkerContext, item_id: int, due: datetime) -> bool:
    """Whether the item still waits for its first response, due at `due`."""
    state = sla_state(ctx.repository, item_id)
    return state.open and state.due_at is not None and abs(state.due_at - due) <= SAME_MOMENT


def plan(item_id: int) -> str | None:
    """RQ job: schedule an item's escalation from its stored due time (after a change of
    its due time); returns the scheduled job's id."""
    ctx = current()
    try:
        return plan_stored(ctx, item_id)
    except NotFound:
        log.info("escalation: item %s no longer exists", item_id)
        return None


def plan_stored(ctx: WorkerContext, item_id: int) -> str | None:
    """Schedule the next escalation step of a stored item waiting for its first response."""
    state = sla_state(ctx.repository, item_id)
    if not state.open or state.due_at is None:
        return None
    hours, policy = sla_of(directory_for(ctx.repository), state.tenant_id)
    queued_at = state.queued_at or ctx.repository.clock()
    return ctx.dispatcher.schedule_escalation(
        item_id,
        state.due_at,
        escalation_moments(hours, policy, queued_at, state.due_at),
        above=state.escalation,
    )


def alert_on_call(item_id: int) -> str | None:
    """RQ job: SMS the on-call number that an item reached supervisors unanswered.

    Sent once (an `alerted` event records it); a Twilio failure raises, so RQ retries.
    Returns the message SID, or None when nothing was sent (no number, no Twilio account,
    already sent, answered meanwhile).
    """
    ctx = current()
    repository = ctx.repository
    try:
        item = repository.get_item(item_id)
    except NotFound:
        return None
    if item.first_response_at is not None or item.completed_at is not None:
        return None
    if alert_recorded(repository, item_id):
        return None
    directory = directory_for(repository)
    _, policy = sla_of(directory, item.tenant_id)
    tenant = directory.tenants.get(item.tenant_id or "")
    number = policy.alert_number
    sender = _alert_sender(directory, item.tenant_id)
    if number is None or sender is None or ctx.sms is None:
        log.warning(
            "item %s reached supervisors; no SMS sent (%s)",
            item_id,
            "no alert_number" if number is None else "no Twilio account or number",
        )
        return None
    hours, _ = sla_of(directory, item.tenant_id)
    body = alert_text(
        item_id,
        tenant.name if tenant is not None else "unmatched",
        f"{item.priority.value} {_CHANNELS[item.channel]}",
        item.due_at.astimezone(hours.zone) if item.due_at is not None else None,
    )
    sid = ctx.sms.send(to=number, from_=sender, body=body)
    record_alert(repository, item_id, {"to": redact_phone(number), "sid": sid})
    log.warning("item %s: on-call SMS %s sent to %s", item_id, sid, redact_phone(number))
    return sid


_CHANNELS = {Channel.SMS: "SMS", Channel.CALL: "call", Channel.EMAIL: "email"}


def alert_text(item_id: int, client: str, what: str, due: datetime | None) -> str:
    """The on-call SMS: which item, whose, what, and since when (in the client's time);
    nothing about the sender, so no personal data leaves in it."""
    when = f", due {due:%a %H:%M} {due.tzname()}" if due is not None else ""
    return f"Monshi: item {item_id} ({client}, {what}) has no answer{when}. Now with supervisors."


def _alert_sender(directory: Directory, tenant_id: str | None) -> str | None:
    """The Twilio number the alert comes from: the tenant's first, else any of the agency's."""
    tenant = directory.tenants.get(tenant_id or "")
    for number, owner in sorted(directory.by_number.items()):
        if tenant is None or owner == tenant.id:
            return number
    return next(iter(sorted(directory.by_number)), None)
