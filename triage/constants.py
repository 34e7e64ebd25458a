"""Queue names and namespaced Redis keys: the one place where they are spelt."""

from __future__ import annotations

from typing import Final

REDIS_PREFIX: Final = "monshi:"

# RQ queues, in the order a worker drains them: it always takes from the first
# non-empty queue, so live traffic is never stuck behind a backfill.
QUEUE_URGENT: Final = "monshi-urgent"
QUEUE_DEFAULT: Final = "monshi-default"
QUEUE_BULK: Final = "monshi-bulk"
WORKER_QUEUES: Final = (QUEUE_URGENT, QUEUE_DEFAULT, QUEUE_BULK)

# How long an RQ job may run before RQ kills it, and how long its result is kept.
JOB_TIMEOUT_SECONDS: Final = 120
JOB_RESULT_TTL_SECONDS: Final = 600
JOB_RETRY_INTERVALS: Final = (5, 30, 120)


def redis_key(*parts: str) -> str:
    """A key in Monshi's namespace: redis_key("presence", "sara") == "monshi:presence:sara"."""
    return REDIS_PREFIX + ":".join(parts)


# Mail ingest. A message whose ingest was tried this many times without success goes to the
# quarantine supervisors see (tries are counted when they begin, so one that kills the
# worker is counted too).
MAIL_MAX_ATTEMPTS: Final = 5
# A reply that names no Message-ID we know joins an open item of the same tenant, sender and
# normalized subject when that item's last mail is at most this many days old.
MAIL_THREAD_WINDOW_DAYS: Final = 7
