"""RQ job functions. Each takes ids and plain values, loads, calls the domain, stores.

Errors have two tiers: bad input (the item is gone) is logged at info and the job ends;
anything else is a system fault, raised so RQ retries it.
"""

from __future__ import annotations

import logging

from triage.errors import NotFound
from triage.routing import pool_for
from workers.context import current

log = logging.getLogger(__name__)


def ingest_item(item_id: int) -> str | None:
    """Route a stored item into its pool (v0: its tenant's pool, or unmatched).

    Idempotent: a retried or duplicated job finds the item routed already and does nothing.
    Returns the pool, or None when there was nothing to do.
    """
    repository = current().repository
    try:
        item = repository.get_item(item_id)
    except NotFound:
        log.info("ingest: item %s no longer exists; nothing to route", item_id)
        return None
    pool = pool_for(item.tenant_id)
    if not repository.route_item(item_id, pool, actor="worker:ingest"):
        log.info("ingest: item %s was routed already", item_id)
        return None
    log.info("ingest: item %s queued in %s", item_id, pool)
    return pool


def noop() -> None:
    """A job that does nothing: the benchmark of RQ's per-job overhead uses it."""
