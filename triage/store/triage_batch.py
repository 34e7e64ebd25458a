"""Triage of many items at once, as the database sees it: a few statements per batch.

The batched twin of `triage_records.apply_triage` and `recent_contact` for mail backfills:
the same decisions item by item, in one transaction with bulk reads and writes instead of
a transaction and five statements per item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

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
        rows = connection.execute(
            select(work_items.c.tenant_id, work_items.c.sender, func.min(work_items.c.id))
            .where(
                work_items.c.tenant_id.in_(sorted({item.tenant_id or "" for item in wanted})),
                work_items.c.sender.in_(sorted({item.sender for item in wanted})),
                work_items.c.created_at >= since,
            )
            .group_by(work_items.c.tenant_id, work_items.c.sender)
        ).all()
    first = {(row[0], row[1]): int(row[2]) for row in rows}
    return {
        item.id for item in wanted if first.get((item.tenant_id, item.sender), item.id) < item.id
    }


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
            result = decision.result
            priority = Priority(result["priority"]).rank
            if not result["spam"]:
                priority = min(priority, row.priority_rank)
            values: dict[str, Any] = {
                "b_id": decision.item_id,
                "b_triage": dict(result),
                "b_category": result["category"],
                "b_language": result["language"],
                "b_confidence": result["confidence"],
                "b_needs_review": result["needs_review"],
                "b_spam": result["spam"],
                "b_priority_rank": priority,
            }
            moves = row.status == ItemStatus.RECEIVED.value or row.pool != decision.pool
            routing = decision.routing
            values["b_required_skill"] = row.required_skill
            values["b_due_at"], values["b_backup_at"] = row.due_at, row.backup_at
            if routing is not None:
                values["b_required_skill"] = routing.required_skill
                if moves or row.due_at is None:
                    values["b_due_at"], values["b_backup_at"] = routing.due_at, routing.backup_at
            events.append(
                _event(
                    decision.item_id,
                    now,
                    actor,
                    "triaged",
                    {
                        key: result[key]
                        for key in (
                            "category",
                            "confidence",
                            "priority",
                            "spam",
                            "needs_review",
                            "reasons",
                        )
                    },
                )
            )
            if moves:
                values["b_pool"] = decision.pool
                queued.append(values)
                queued_data: dict[str, Any] = {"pool": decision.pool}
                if routing is not None:
                    queued_data.update(
                        due_at=_iso(routing.due_at),
                        backup_at=_iso(routing.backup_at),
                        required_skill=routing.required_skill,
                    )
                events.append(_event(decision.item_id, now, actor, "queued", queued_data))
            else:
                plain.append(values)
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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _event(
    item_id: int, at: datetime, actor: str, kind: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {"item_id": item_id, "at": at, "actor": actor, "kind": kind, "data": dict(data)}


__all__ = ["Decision", "apply_triage_batch", "earlier_contacts", "get_items"]
