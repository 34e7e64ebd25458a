"""What secretaries do to work items besides claiming and completing them, and what they read.

Release, transfer, snooze and notes each run in one transaction that locks the item's
row, checks that the actor may see it (`may_see_item`) and that its state allows the
action, changes it, and writes one `item_events` row. The listings (a secretary's queue,
the supervisors' item search) are read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, false, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from triage.errors import Forbidden, InvalidTarget, InvalidTransition, LeaseExpired
from triage.models import (
    SPAM_POOL,
    TENANT_POOL_PREFIX,
    UNMATCHED_POOL,
    AssignmentKind,
    ItemEvent,
    ItemStatus,
    Priority,
    Role,
    Secretary,
    WorkItem,
)
from triage.routing import (
    eligible,
    lease_expired,
    may_see_item,
)
from triage.sla import Routing
from triage.store.claims import SERVING_ORDER, assignments_of, candidate_branches
from triage.store.repository import Repository
from triage.store.rows import (
    add_event,
    assigned_tenants,
    item_from_row,
    locked_item_row,
    secretary_from_row,
)
from triage.store.tables import assignments, item_events, secretaries, tenants, work_items

# The routing attributes of an item (as moved) queued at a moment: triage.sla.routing_for.
Reroute = Callable[[WorkItem, datetime], Routing]


def _actor(secretary: Secretary) -> str:
    return f"secretary:{secretary.id}"


def _locked_item(connection: Connection, item_id: int, secretary: Secretary) -> WorkItem:
    """The item's row, locked until the transaction ends, if the secretary may see it."""
    item = item_from_row(locked_item_row(connection, item_id))
    if not may_see_item(secretary.role, assigned_tenants(connection, secretary.id), item.tenant_id):
        raise Forbidden(f"item {item_id} is not in {secretary.id}'s tenants")
    return item


def _check_may_take_back(item: WorkItem, secretary: Secretary, action: str, now: datetime) -> None:
    """An open item may be moved by anyone who sees it, a claimed one by its holder or a
    supervisor; a completed (or not yet routed) one by nobody. A holder whose lease ran
    out has lost the item, as for complete and heartbeat (the sweep may not have run yet)."""
    if item.status in (ItemStatus.COMPLETED, ItemStatus.RECEIVED):
        raise InvalidTransition(f"item {item.id} is {item.status.value}: it cannot be {action}")
    if (
        item.held_by == secretary.id
        and not secretary.role.sees_all_tenants
        and lease_expired(item, now)
    ):
        raise LeaseExpired(
            f"{secretary.id}'s lease on item {item.id} ran out; it is back in the queue"
        )
    if (
        item.status is ItemStatus.CLAIMED
        and item.held_by != secretary.id
        and not secretary.role.sees_all_tenants
    ):
        raise InvalidTransition(
            f"item {item.id} is claimed by {item.held_by}, not by {secretary.id}: "
            f"only she or a supervisor can have it {action}"
        )


def _reread(connection: Connection, item_id: int) -> WorkItem:
    return item_from_row(
        connection.execute(select(work_items).where(work_items.c.id == item_id)).one()
    )


# Back in the queue: nobody holds it and no lease runs.
_UNHELD: dict[str, Any] = {
    "status": ItemStatus.QUEUED.value,
    "held_by": None,
    "claimed_at": None,
    "lease_expires_at": None,
}


def release_item(
    repository: Repository, item_id: int, secretary: Secretary, reason: str
) -> WorkItem:
    """Put a claimed item back in its queue (by its holder, or a supervisor), with a reason.

    A pin to the holder goes with it: she gave the item back, so anyone eligible may take it.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        item = _locked_item(connection, item_id, secretary)
        if item.status is not ItemStatus.CLAIMED:
            raise InvalidTransition(
                f"item {item_id} is {item.status.value}, not claimed: there is nothing to release"
            )
        _check_may_take_back(item, secretary, "released", now)
        values = {**_UNHELD, "updated_at": now}
        if item.pinned_to is not None and item.pinned_to == item.held_by:
            values["pinned_to"] = None
        connection.execute(update(work_items).where(work_items.c.id == item_id).values(**values))
        add_event(
            connection,
            item_id,
            now,
            _actor(secretary),
            "released",
            {"reason": reason, "holder": item.held_by},
        )
        return _reread(connection, item_id)


def transfer_to_secretary(
    repository: Repository, item_id: int, secretary: Secretary, target_id: str
) -> WorkItem:
    """Pin an open or claimed item to one secretary and put it back in the queue for her.

    She must be someone `triage.routing.eligible` lets take the pinned item: assigned to
    its tenant (primary or backup), or for an unmatched item a supervisor or admin
    (InvalidTarget otherwise, as for an unknown secretary).
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        item = _locked_item(connection, item_id, secretary)
        _check_may_take_back(item, secretary, "transferred", now)
        row = connection.execute(
            select(secretaries).where(secretaries.c.id == target_id)
        ).one_or_none()
        if row is None:
            raise InvalidTarget(f"no secretary {target_id!r}")
        target = secretary_from_row(row)
        kind = None
        if item.tenant_id is not None:
            raw_kind = connection.scalar(
                select(assignments.c.kind).where(
                    assignments.c.secretary_id == target.id,
                    assignments.c.tenant_id == item.tenant_id,
                )
            )
            kind = None if raw_kind is None else AssignmentKind(raw_kind)
        # The routing rules decide whom a pinned item may go to, so a transfer never
        # leaves an item pinned to someone who could not claim it.
        pinned = replace(item, status=ItemStatus.QUEUED, pinned_to=target.id, snoozed_until=None)
        if not eligible(pinned, target, kind, now):
            if item.pool == SPAM_POOL:
                why = "items in the spam pool go to a tenant's pool first"
            elif item.tenant_id is None:
                why = "unmatched items go to supervisors and admins only"
            else:
                why = f"she is not assigned to tenant {item.tenant_id}"
            raise InvalidTarget(f"{target.id} cannot take item {item_id}: {why}")
        connection.execute(
            update(work_items)
            .where(work_items.c.id == item_id)
            .values(**_UNHELD, pinned_to=target.id, updated_at=now)
        )
        add_event(
            connection,
            item_id,
            now,
            _actor(secretary),
            "transferred",
            {"to_secretary": target.id, "holder": item.held_by, "pool": item.pool},
        )
        return _reread(connection, item_id)


def transfer_to_pool(
    repository: Repository,
    item_id: int,
    secretary: Secretary,
    pool: str,
    reroute: Reroute | None = None,
) -> WorkItem:
    """Move an open or claimed item to another pool, unpinned, back in the queue.

    A tenant pool makes the item that tenant's. A secretary may move items only into the
    pools of tenants she is assigned to (Forbidden otherwise); supervisors anywhere. An
    unknown pool or tenant is an InvalidTarget.

    When the tenant changes, `reroute(moved item, queued_at)` (triage.sla.routing_for with
    the new tenant's profile) gives the item its new required skill (one of the old
    tenant's skills may be nobody's at the new one) and, unless it was answered already,
    its due and backup times, still counted from when it was first queued.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        item = _locked_item(connection, item_id, secretary)
        _check_may_take_back(item, secretary, "transferred", now)
        values: dict[str, Any] = {**_UNHELD, "pool": pool, "pinned_to": None, "updated_at": now}
        if pool.startswith(TENANT_POOL_PREFIX):
            tenant_id = pool.removeprefix(TENANT_POOL_PREFIX)
            if connection.scalar(select(tenants.c.id).where(tenants.c.id == tenant_id)) is None:
                raise InvalidTarget(f"no tenant {tenant_id!r}")
            if not may_see_item(
                secretary.role, assigned_tenants(connection, secretary.id), tenant_id
            ):
                raise Forbidden(f"{secretary.id} is not assigned to tenant {tenant_id}")
            values["tenant_id"] = tenant_id
            if reroute is not None and tenant_id != item.tenant_id:
                values.update(_rerouted(connection, item, tenant_id, reroute))
        elif pool in (UNMATCHED_POOL, SPAM_POOL):
            if not secretary.role.sees_all_tenants:
                raise Forbidden(f"only supervisors move items to the {pool} pool")
        else:
            raise InvalidTarget(f"no pool {pool!r}: tenant:<id>, {UNMATCHED_POOL} or {SPAM_POOL}")
        connection.execute(update(work_items).where(work_items.c.id == item_id).values(**values))
        add_event(
            connection,
            item_id,
            now,
            _actor(secretary),
            "transferred",
            {
                "from_pool": item.pool,
                "to_pool": pool,
                "holder": item.held_by,
                "pinned_to": item.pinned_to,
            },
        )
        return _reread(connection, item_id)


def _rerouted(
    connection: Connection, item: WorkItem, tenant_id: str, reroute: Reroute
) -> dict[str, Any]:
    queued_at = connection.scalar(select(work_items.c.queued_at).where(work_items.c.id == item.id))
    routing = reroute(replace(item, tenant_id=tenant_id), queued_at or item.created_at)
    values: dict[str, Any] = {"required_skill": routing.required_skill}
    if item.first_response_at is None:
        values.update(due_at=routing.due_at, backup_at=routing.backup_at)
    return values


def snooze_item(
    repository: Repository, item_id: int, secretary: Secretary, until: datetime
) -> WorkItem:
    """Take an open or claimed item out of every queue until `until` (a future moment).

    Nobody holds it meanwhile; a pin stays, so it comes back to the same secretary.
    """
    now = repository.clock()
    if until <= now:
        raise ValueError("a snooze ends in the future")
    with repository.engine.begin() as connection:
        item = _locked_item(connection, item_id, secretary)
        _check_may_take_back(item, secretary, "snoozed", now)
        connection.execute(
            update(work_items)
            .where(work_items.c.id == item_id)
            .values(**_UNHELD, snoozed_until=until, updated_at=now)
        )
        add_event(
            connection,
            item_id,
            now,
            _actor(secretary),
            "snoozed",
            {"until": until.isoformat(), "holder": item.held_by},
        )
        return _reread(connection, item_id)


def add_note(repository: Repository, item_id: int, secretary: Secretary, text: str) -> ItemEvent:
    """A note on an item, in any state (a completed one too): an `item_events` row."""
    now = repository.clock()
    with repository.engine.begin() as connection:
        _locked_item(connection, item_id, secretary)
        add_event(connection, item_id, now, _actor(secretary), "note", {"text": text})
        row = connection.execute(
            select(item_events)
            .where(item_events.c.item_id == item_id)
            .order_by(item_events.c.id.desc())
            .limit(1)
        ).one()
    return _event(row)


def item_events_for(repository: Repository, item_id: int, secretary: Secretary) -> list[ItemEvent]:
    """An item's history, oldest first, if the secretary may see the item."""
    repository.get_item_for(item_id, secretary)
    return repository.events(item_id)


def _event(row: Any) -> ItemEvent:
    return ItemEvent(
        id=row.id, item_id=row.item_id, at=row.at, actor=row.actor, kind=row.kind, data=row.data
    )


# -- a secretary's queue ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuePage:
    """What waits for one secretary: counts per priority over all of it, and one page."""

    counts: dict[Priority, int]
    total: int
    items: list[WorkItem]
    now: datetime  # the moment the queue was read: time left counts from it


def queue_for(
    repository: Repository, secretary: Secretary, *, limit: int, offset: int = 0
) -> QueuePage:
    """The items waiting for the secretary in serving order (priority, then SLA due time,
    then age), `limit` of them from `offset`, with counts per priority over the whole queue."""
    now = repository.clock()
    with repository.engine.connect() as connection:
        # The claim's own conditions (one per place she takes from), so that the queue
        # shows exactly what a claim would give her, in the same order.
        branches = candidate_branches(secretary, assignments_of(connection, secretary.id), now)
        waiting = or_(*branches) if branches else false()
        counts = {priority: 0 for priority in Priority}
        for rank, count in connection.execute(
            select(work_items.c.priority_rank, func.count())
            .where(waiting)
            .group_by(work_items.c.priority_rank)
        ):
            counts[Priority.from_rank(rank)] = count
        rows = connection.execute(
            select(work_items).where(waiting).order_by(*SERVING_ORDER).limit(limit).offset(offset)
        ).all()
    return QueuePage(
        counts=counts,
        total=sum(counts.values()),
        items=[item_from_row(row) for row in rows],
        now=now,
    )


# -- the supervisors' item search ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Filters of GET /api/v1/items; None means any. `created_to` is exclusive."""

    tenant: str | None = None
    channel: str | None = None
    status: str | None = None
    category: str | None = None
    priority: Priority | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_items(
    repository: Repository,
    secretary: Secretary,
    item_filter: ItemFilter,
    *,
    limit: int,
    before: int | None = None,
) -> list[WorkItem]:
    """Items matching the filter, newest first, `limit` of them with ids below `before`.

    Supervisors and admins only (Forbidden otherwise): a secretary's view is her queue.
    """
    if secretary.role is Role.SECRETARY:
        raise Forbidden("only supervisors and admins list items; secretaries see their queue")
    conditions: list[ColumnElement[bool]] = []
    if item_filter.tenant is not None:
        conditions.append(work_items.c.tenant_id == item_filter.tenant)
    if item_filter.channel is not None:
        conditions.append(work_items.c.channel == item_filter.channel)
    if item_filter.status is not None:
        conditions.append(work_items.c.status == item_filter.status)
    if item_filter.category is not None:
        conditions.append(work_items.c.category == item_filter.category)
    if item_filter.priority is not None:
        conditions.append(work_items.c.priority_rank == item_filter.priority.rank)
    if item_filter.created_from is not None:
        conditions.append(work_items.c.created_at >= item_filter.created_from)
    if item_filter.created_to is not None:
        conditions.append(work_items.c.created_at < item_filter.created_to)
    if before is not None:
        conditions.append(work_items.c.id < before)
    with repository.engine.connect() as connection:
        rows = connection.execute(
            select(work_items).where(*conditions).order_by(work_items.c.id.desc()).limit(limit)
        ).all()
    return [item_from_row(row) for row in rows]


__all__ = [
    "ItemFilter",
    "QueuePage",
    "Reroute",
    "add_note",
    "item_events_for",
    "list_items",
    "queue_for",
    "release_item",
    "snooze_item",
    "transfer_to_pool",
    "transfer_to_secretary",
]
