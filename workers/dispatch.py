"""Enqueueing Monshi's jobs: the one place that knows job paths, queues, ids and retries.

Edges (webhooks, the IMAP connector) and jobs call this; it takes its Redis connection
from the caller.
"""

from __future__ import annotations

import redis
from rq import Queue, Retry

from triage.constants import (
    JOB_RESULT_TTL_SECONDS,
    JOB_RETRY_INTERVALS,
    JOB_TIMEOUT_SECONDS,
    QUEUE_DEFAULT,
    QUEUE_URGENT,
)

# Jobs are named by path so an edge can enqueue without importing the job's dependencies.
INGEST_JOB = "workers.jobs.ingest_item"


class Dispatcher:
    """Enqueues jobs on Monshi's RQ queues over the connection it is given."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.queues = {
            name: Queue(name, connection=connection) for name in (QUEUE_URGENT, QUEUE_DEFAULT)
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
