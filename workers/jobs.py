"""RQ job functions. Each takes ids and plain values, loads, calls the domain, stores.

Errors have two tiers: bad input (the item is gone) is logged at info and the job ends;
anything else is a system fault, raised so RQ retries it.
"""

from __future__ import annotations

import logging

from triage.errors import NotFound
from workers.context import current
from workers.triage import triage_and_queue

log = logging.getLogger(__name__)


def ingest_item(item_id: int) -> str | None:
    """Triage a stored item (language, category, priority, spam, entities) and queue it.

    Idempotent: an item already claimed or done is left alone; one queued before (its
    voicemail transcript came later) is read again in place. Returns the pool, or None
    when there was nothing to do.
    """
    try:
        return triage_and_queue(current(), item_id)
    except NotFound:
        log.info("ingest: item %s no longer exists; nothing to route", item_id)
        return None


def noop() -> None:
    """A job that does nothing: the benchmark of RQ's per-job overhead uses it."""
