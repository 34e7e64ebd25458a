"""The lease sweep: an RQ job that puts items whose claim lease ran out back in their
queue, then schedules its next run with RQ's scheduler (no polling loop, and a worker
restart loses nothing: the next run waits in Redis).

Claims also sweep on their way (triage.store.claims), so nothing waits for this job to
be claimed again; it keeps the queue view and the audit trail current when nobody claims.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import redis
from rq import Queue

from triage.constants import JOB_RESULT_TTL_SECONDS, JOB_TIMEOUT_SECONDS, QUEUE_DEFAULT
from workers.context import current

log = logging.getLogger(__name__)

SWEEP_JOB = "workers.leases.sweep_leases"
SWEEP_EVERY_SECONDS = 60


def sweep_moment(now: datetime) -> datetime:
    """The next run: the next whole multiple of SWEEP_EVERY_SECONDS (Unix time).

    Every worker and every run of the chain names the same moment, and the job id names
    the moment, so however many workers start, one chain runs.
    """
    seconds = int(now.timestamp()) // SWEEP_EVERY_SECONDS * SWEEP_EVERY_SECONDS
    return datetime.fromtimestamp(seconds + SWEEP_EVERY_SECONDS, UTC)


def schedule_sweep(connection: redis.Redis, now: datetime) -> str:
    """Schedule the sweep at the next moment after `now`; returns its job id."""
    moment = sweep_moment(now)
    job = Queue(QUEUE_DEFAULT, connection=connection).enqueue_at(
        moment,
        SWEEP_JOB,
        job_id=f"lease-sweep-{int(moment.timestamp())}",
        job_timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=JOB_RESULT_TTL_SECONDS,
    )
    return str(job.id)


def sweep_leases() -> int:
    """RQ job: requeue every item whose lease ran out (each gets a `lease_expired` event
    naming who lost it), schedule the next sweep; returns how many were requeued."""
    ctx = current()
    expired = ctx.repository.expire_leases()
    if expired:
        log.info("lease sweep: %d item(s) back in the queue", len(expired))
    # Half a period on: a run the scheduler started a little early never names itself.
    schedule_sweep(ctx.redis, ctx.repository.clock() + timedelta(seconds=SWEEP_EVERY_SECONDS / 2))
    return len(expired)
