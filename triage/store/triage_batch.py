"""Triage of many items at once, as the database sees it: a few statements per batch.

The batched twin of `triage_records.apply_triage` and `recent_contact` for mail backfills:
the same decisions item by item, in one transaction with bulk reads and writes instead of
a transaction and five statements per item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, select, update

from triage.models import ItemStatus, Priority, WorkItem
from triage.sla import Routing
from triage.store.repository import Repository
from triage.store.rows import item_from_row
from triage.store.tables import item_events, work_items

OPEN = (ItemStatus.RECEIVED.value, ItemStatus.QUEUED.value)


@dataclass(frozen=True, slots=True)
class Decision:
    """What triage decided about one item, and the pool it goes to."""

    item_id: int
    result: Mapping[str, Any]
    pool: str
    # Required skill, SLA due and backup times (triage.sla.routing_for), as apply_triage.
    routing: Routing | None = None


def get_items(repository: Repository, item_ids: Sequence[int]) -> list[WorkItem]:
    """The items of `item_ids` that exist, in the order of `item_ids`."""
    if not item_ids:
        return []
    with repository.engine.connect() as connection:
        rows = connection.execute(
            select(work_items).where(work_items.c.id.in_(list(item_ids)))
        ).all()
    found = {row.id: item_from_row(row) for row in rows}
    return [found[item_id] for item_id in item_ids if item_id in found]


def earlier_contacts(
    repository: Repository, items: Sequence[WorkItem], since: datetime
) -> set[int]:
    """Ids of `items` whose sender reached the same client since `since`, before them.

    `recent_contact` for each item with a tenant and a sender, in one query.
    """
    wanted = [item for item in items if item.tenant_id and item.sender]
    if not wanted:
        return set()
    with repository.engine.connect() as connection:
        first = first_contacts(
            connection, [(item.tenant_id or "", item.sender) for item in wanted], since
        )
    return {
        item.id
        for item in wanted
        if first.get((item.tenant_id or "", item.sender), item.id) < item.id
    }


def first_contacts(
    connection: Connection, pairs: Iterable[tuple[str, str]], since: datetime
) -> dict[tuple[str, str], int]:
    """{(tenant, sender): id of its first item created since `since`} of those of `pairs`
    that have one (one query for any number of pairs)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = connection.execute(
        select(work_items.c.tenant_id, work_items.c.sender, func.min(work_items.c.id))
        .where(
            work_items.c.tenant_id.in_(sorted({tenant for tenant, _ in wanted})),
            work_items.c.sender.in_(sorted({sender for _, sender in wanted})),
            work_items.c.created_at >= since,
        )
        .group_by(work_items.c.tenant_id, work_items.c.sender)
    ).all()
    found = {(row[0], row[1]): int(row[2]) for row in rows}
    return {pair: item_id for pair, item_id in found.items() if pair in wanted}


def apply_triage_batch(
    repository: Repository,
    decisions: Sequence[Decision],
    *,
    actor: str = "worker:triage",
) -> list[int]:
    """`apply_triage` for each decision, in one transaction; returns the ids changed.

    Items are locked in id order (PostgreSQL), so two batches never deadlock. An item no
    longer waiting (claimed, done, gone) is left alone, as `apply_triage` leaves it.
    """
    if not decisions:
        return []
    now = repository.clock()
    ids = sorted({decision.item_id for decision in decisions})
    changed: list[int] = []
    with repository.engine.begin() as connection:
        statement = (
            select(
                work_items.c.id,
                work_items.c.status,
                work_items.c.priority_rank,
                work_items.c.pool,
                work_items.c.required_skill,
                work_items.c.due_at,
                work_items.c.backup_at,
            )
            .where(work_items.c.id.in_(ids))
            .order_by(work_items.c.id)
        )
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update()
        rows = {row.id: row for row in connection.execute(statement)}
        plain: list[dict[str, Any]] = []
        queued: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for decision in decisions:
            row = rows.get(decision.item_id)
            if row is None or row.status not in OPEN:
                continue
            applied = triaged_values(decision, row, now, actor)
            values = {f"b_{name}": value for name, value in applied.values.items()}
            values["b_id"] = decision.item_id
            (queued if applied.moves else plain).append(values)
            events += applied.events
            changed.append(decision.item_id)
        triaged = {
            "triage": bindparam("b_triage"),
            "category": bindparam("b_category"),
            "language": bindparam("b_language"),
            "confidence": bindparam("b_confidence"),
            "needs_review": bindparam("b_needs_review"),
            "spam": bindparam("b_spam"),
            "priority_rank": bindparam("b_priority_rank"),
            "required_skill": bindparam("b_required_skill"),
            "due_at": bindparam("b_due_at"),
            "backup_at": bindparam("b_backup_at"),
            "updated_at": now,
        }
        by_id = update(work_items).where(work_items.c.id == bindparam("b_id"))
        if plain:
            connection.execute(by_id.values(triaged), plain)
        if queued:
            connection.execute(
                by_id.values(
                    {
                        **triaged,
                        "status": ItemStatus.QUEUED.value,
                        "pool": bindparam("b_pool"),
                        "queued_at": now,
                    }
                ),
                queued,
            )
        if events:
            connection.execute(item_events.insert(), events)
    return changed


class Stored(Protocol):
    """The columns of a waiting item that triage reads before it writes (a row, or the
    values of an item about to be inserted)."""

    @property
    def status(self) -> str: ...
    @property
    def priority_rank(self) -> int: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def required_skill(self) -> str | None: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def backup_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Applied:
    """What storing a decision writes: the item's columns, its events, and whether it moves
    to another pool (or out of `received`), which sets `status`, `pool` and `queued_at`."""

    values: dict[str, Any]
    events: list[dict[str, Any]]
    moves: bool


def triaged_values(decision: Decision, stored: Stored, now: datetime, actor: str) -> Applied:
    """The columns and events `apply_triage` writes for `decision` on an item as `stored`:
    the priority never below the edge's (a VIP call) unless spam; the SLA times set when the
    item moves or has none."""
    result = decision.result
    priority = Priority(result["priority"]).rank
    if not result["spam"]:
        priority = min(priority, stored.priority_rank)
    moves = stored.status == ItemStatus.RECEIVED.value or stored.pool != decision.pool
    routing = decision.routing
    values: dict[str, Any] = {
        "triage": dict(result),
        "category": result["category"],
        "language": result["language"],
        "confidence": result["confidence"],
        "needs_review": result["needs_review"],
        "spam": result["spam"],
        "priority_rank": priority,
        "required_skill": stored.required_skill,
        "due_at": stored.due_at,
        "backup_at": stored.backup_at,
    }
    if routing is not None:
        values["required_skill"] = routing.required_skill
        if moves or stored.due_at is None:
            values["due_at"], values["backup_at"] = routing.due_at, routing.backup_at
    events = [
        _event(
            decision.item_id,
            now,
            actor,
            "triaged",
            triaged_event_data(result),
        )
    ]
    if moves:
        values["pool"] = decision.pool
        queued = queued_event_data(decision.pool, routing)
        events.append(_event(decision.item_id, now, actor, "queued", queued))
    return Applied(values, events, moves)


def triaged_event_data(result: Mapping[str, Any]) -> dict[str, Any]:
    """The `triaged` event's data, from an item's stored triage result."""
    return {
        key: result[key]
        for key in ("category", "confidence", "priority", "spam", "needs_review", "reasons")
    }


def queued_event_data(pool: str, routing: Routing | None) -> dict[str, Any]:
    """The `queued` event's data: the pool and, when routed, its SLA moments and skill."""
    data: dict[str, Any] = {"pool": pool}
    if routing is not None:
        data.update(
            due_at=iso_moment(routing.due_at),
            backup_at=iso_moment(routing.backup_at),
            required_skill=routing.required_skill,
        )
    return data


def iso_moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _event(
    item_id: int, at: datetime, actor: str, kind: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {"item_id": item_id, "at": at, "actor": actor, "kind": kind, "data": dict(data)}


__all__ = [
    "Applied",
    "Decision",
    "apply_triage_batch",
    "earlier_contacts",
    "first_contacts",
    "get_items",
    "triaged_values",
]
