"""Storing what triage decided about an item, and secretaries' corrections of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from triage.errors import Forbidden, InvalidTransition
from triage.models import ItemStatus, Priority, Secretary, WorkItem
from triage.routing import may_see_item
from triage.sla import Routing
from triage.store.repository import Repository
from triage.store.rows import add_event, assigned_tenants, item_from_row, locked_item_row
from triage.store.tables import classification_corrections, item_events, work_items
from triage.store.triage_batch import Decision, iso_moment, triaged_values

OPEN = (ItemStatus.RECEIVED.value, ItemStatus.QUEUED.value)


def apply_triage(
    repository: Repository,
    item_id: int,
    *,
    result: Mapping[str, Any],
    pool: str,
    actor: str = "worker:triage",
    routing: Routing | None = None,
) -> bool:
    """Store a triage result on an item that is still waiting, and queue it in `pool`.

    `routing` (triage.sla.routing_for) gives the required skill and, when the item joins a
    pool or has no due time yet, its SLA due and backup times; an item re-read in place
    keeps the due time it was queued with.

    An item already claimed or done is left alone (a secretary has it); an item queued
    before (a transcript arrived after its voicemail) is re-read in place and moves only
    when it turned out to be spam. Priority never drops below what the edge set (a VIP
    call), except for spam. Returns False when nothing was changed.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        row = locked_item_row(connection, item_id)
        if row.status not in OPEN:
            return False
        # The same columns and events as a batch writes (triage_batch.triaged_values).
        applied = triaged_values(Decision(item_id, result, pool, routing), row, now, actor)
        values = {**applied.values, "updated_at": now}
        if applied.moves:
            values.update(status=ItemStatus.QUEUED.value, queued_at=now)
        connection.execute(update(work_items).where(work_items.c.id == item_id).values(**values))
        connection.execute(item_events.insert(), applied.events)
    return True


def reclassify_item(
    repository: Repository,
    item_id: int,
    secretary: Secretary,
    category: str,
    priority: Priority | None = None,
    *,
    spam_pool: str,
    tenant_pool: str | None,
    due_for: Callable[[Priority, datetime], datetime] | None = None,
) -> WorkItem:
    """A secretary's correction: the item takes her category (and priority) and the
    correction is kept as training data for the next model.

    When the priority changes on an item not yet answered, `due_for(priority, queued_at)`
    (triage.sla.due_after_reclassify with the tenant's profile) gives its new due time;
    marking it spam drops its SLA.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        row = locked_item_row(connection, item_id)
        if not may_see_item(
            secretary.role, assigned_tenants(connection, secretary.id), row.tenant_id
        ):
            raise Forbidden(f"item {item_id} is not in {secretary.id}'s tenants")
        if row.status == ItemStatus.COMPLETED.value:
            raise InvalidTransition(f"item {item_id} is completed")
        triage_json = dict(row.triage or {})
        connection.execute(
            classification_corrections.insert().values(
                item_id=item_id,
                secretary_id=secretary.id,
                at=now,
                text=f"{row.subject}\n{row.body}".strip(),
                language=row.language,
                old_category=row.category,
                new_category=category,
                model_version=triage_json.get("model_version"),
            )
        )
        spam = category == "spam"
        values: dict[str, Any] = {
            "category": category,
            "needs_review": False,
            "spam": spam,
            "updated_at": now,
        }
        if priority is not None:
            values["priority_rank"] = priority.rank
        answered = row.first_response_at is not None or row.status == ItemStatus.COMPLETED.value
        if spam:
            values.update(due_at=None, backup_at=None)
        elif (
            due_for is not None
            and priority is not None
            and priority.rank != row.priority_rank
            and not answered
            and row.due_at is not None
        ):
            values["due_at"] = due_for(priority, row.queued_at or row.created_at)
        if row.status == ItemStatus.QUEUED.value:
            target = spam_pool if spam else tenant_pool
            if target and target != row.pool:
                values["pool"] = target
        connection.execute(update(work_items).where(work_items.c.id == item_id).values(**values))
        add_event(
            connection,
            item_id,
            now,
            f"secretary:{secretary.id}",
            "reclassified",
            {
                "from": row.category,
                "to": category,
                "priority": priority.value if priority else None,
                **({"due_at": iso_moment(values["due_at"])} if "due_at" in values else {}),
            },
        )
        updated = connection.execute(select(work_items).where(work_items.c.id == item_id)).one()
    return item_from_row(updated)


def corrections(repository: Repository) -> list[tuple[str, str, str | None]]:
    """Every correction as (text, category, language), newest last: extra training data."""
    with repository.engine.connect() as connection:
        rows = connection.execute(
            select(
                classification_corrections.c.text,
                classification_corrections.c.new_category,
                classification_corrections.c.language,
            ).order_by(classification_corrections.c.id)
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def recent_contact(
    repository: Repository, tenant_id: str, sender: str, since: datetime, before_id: int
) -> bool:
    """Whether the same sender reached the same client since `since`, before this item."""
    if not sender:
        return False
    with repository.engine.connect() as connection:
        count = connection.scalar(
            select(func.count())
            .select_from(work_items)
            .where(
                work_items.c.tenant_id == tenant_id,
                work_items.c.sender == sender,
                work_items.c.created_at >= since,
                work_items.c.id < before_id,
            )
        )
    return bool(count)
