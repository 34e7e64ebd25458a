"""Enqueueing Monshi's jobs: the one place that knows job paths, queues, ids and retries.

Edges (webhooks, the IMAP connector) and jobs call this; it takes its Redis connection
from the caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import redis
from rq import Queue, Retry

from triage.constants import (
    JOB_RESULT_TTL_SECONDS,
    JOB_RETRY_INTERVALS,
    JOB_TIMEOUT_SECONDS,
    QUEUE_BULK,
    QUEUE_DEFAULT,
    QUEUE_URGENT,
)

# Jobs are named by path so an edge can enqueue without importing the job's dependencies.
INGEST_JOB = "workers.jobs.ingest_item"
INGEST_MAIL_JOB = "workers.mail_jobs.ingest_mail_batch"
ESCALATE_JOB = "workers.escalation.escalate"
PLAN_ESCALATION_JOB = "workers.escalation.plan"
ALERT_JOB = "workers.escalation.alert_on_call"


class Dispatcher:
    """Enqueues jobs on Monshi's RQ queues over the connection it is given."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.queues = {
            name: Queue(name, connection=connection)
            for name in (QUEUE_URGENT, QUEUE_DEFAULT, QUEUE_BULK)
        }

    def ingest(self, item_id: int, *, urgent: bool = False) -> str:
        """Enqueue the ingest job of one stored item; returns the RQ job id.

        The job id is derived from the item, so enqueueing twice (a retried webhook)
        cannot fan out into two different jobs' bookkeeping; the job itself is
        idempotent as well.
        """
        queue = self.queues[QUEUE_URGENT if urgent else QUEUE_DEFAULT]
        job = queue.enqueue(
            INGEST_JOB,
            item_id,
            job_id=f"ingest-{item_id}",
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=JOB_RESULT_TTL_SECONDS,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
        )
        return job.id

    def ingest_mail(self, mail_ids: Sequence[int], *, backfill: bool) -> str:
        """Enqueue the ingest job of a batch of stored mail (mail_messages ids); returns its id.

        Live mail goes on the default queue; a backfill (a first import, a resync after a
        UIDVALIDITY change, rows found waiting at start) on the bulk queue, which workers
        drain last, so it never holds up live traffic. The job id is derived from the ids,
        like `ingest`'s; a batch enqueued twice (the connector restarted before its
        checkpoint) may run twice, and the job's second run finds its rows done.
        """
        ids = [int(mail_id) for mail_id in mail_ids]
        digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:24]
        queue = self.queues[QUEUE_BULK if backfill else QUEUE_DEFAULT]
        job = queue.enqueue(
            INGEST_MAIL_JOB,
            ids,
            job_id=f"ingest-mail-{digest}",
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=JOB_RESULT_TTL_SECONDS,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
        )
        return job.id

    def schedule_escalation(
        self,
        item_id: int,
        due_at: datetime,
        moments: Mapping[int, datetime],
        *,
        above: int = 0,
        pipeline: redis.client.Pipeline | None = None,
    ) -> str | None:
        """Schedule the next escalation step of an item due at `due_at`; returns its job id.

        `moments` maps each level to when it fires; levels up to `above` are done already.
        One job at a time: RQ's scheduler enqueues it at its moment (it lives in Redis, so
        a worker restart loses nothing), and it schedules the next step itself, carrying
        the rest of the plan. An item answered early so costs one job, not one per level.
        The job id names the item, level and due time: planning the same due time again
        replaces it; a new due time adds a new one (the old finds the item due at another
        time, and ends its chain).

        With `pipeline`, the job's writes join it and reach Redis when the caller executes
        it: a batch of items then schedules all its jobs in one round trip, not one each.
        """
        steps = sorted((level, moment) for level, moment in moments.items() if level > above)
        if not steps:
            return None
        (level, moment), later = steps[0], steps[1:]
        job = self.queues[QUEUE_URGENT].enqueue_at(
            moment.astimezone(UTC),
            ESCALATE_JOB,
            item_id,
            level,
            due_at.astimezone(UTC).isoformat(),
            moment.astimezone(UTC).isoformat(),
            {str(next_level): at.astimezone(UTC).isoformat() for next_level, at in later},
            job_id=f"sla-{item_id}-{level}-{int(due_at.timestamp())}",
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=JOB_RESULT_TTL_SECONDS,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
            pipeline=pipeline,
        )
        return str(job.id)

    def plan_escalation(self, item_id: int) -> str:
        """Enqueue a job that (re)schedules an item's escalation from what is stored (after
        a reclassification changed its due time)."""
        job = self.queues[QUEUE_URGENT].enqueue(
            PLAN_ESCALATION_JOB,
            item_id,
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=JOB_RESULT_TTL_SECONDS,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
        )
        return job.id

    def alert_on_call(self, item_id: int) -> str:
        """Enqueue the on-call SMS of an item that reached supervisors; retried on its own,
        so a Twilio outage cannot undo or repeat the escalation."""
        job = self.queues[QUEUE_URGENT].enqueue(
            ALERT_JOB,
            item_id,
            job_id=f"sla-alert-{item_id}",
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=JOB_RESULT_TTL_SECONDS,
            retry=Retry(max=len(JOB_RETRY_INTERVALS), interval=list(JOB_RETRY_INTERVALS)),
        )
        return job.id
