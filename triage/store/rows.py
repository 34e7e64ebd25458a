"""Rows of the store as domain values, and the small statements every store module shares.

Imported by the repository and by the modules beside it (claims, actions, triage and SLA
records ...), so none of them reaches into another's private helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select

from triage.errors import NotFound
from triage.models import Channel, ItemStatus, Priority, Role, Secretary, WorkItem
from triage.store.tables import assignments, item_events, work_items

_ITEM = select(work_items).where(work_items.c.id == bindparam("item_id"))
_ITEM_FOR_UPDATE = _ITEM.with_for_update()


def locked_item_row(connection: Connection, item_id: int) -> Row[Any]:
    """The item's row, locked until the transaction ends; NotFound when there is none.

    PostgreSQL locks the row (FOR UPDATE); SQLite has no row locks, and its BEGIN IMMEDIATE
    already holds the database's writer lock.
    """
    statement = _ITEM_FOR_UPDATE if connection.dialect.name == "postgresql" else _ITEM
    row = connection.execute(statement, {"item_id": item_id}).one_or_none()
    if row is None:
        raise NotFound(f"no item {item_id}")
    return row


# Built once, values bound when run: building an expression per call cost more CPU than
# running it (SQLAlchemy caches the compiled form, but still builds and keys the expression).
_ASSIGNED_TENANTS = select(assignments.c.tenant_id).where(
    assignments.c.secretary_id == bindparam("secretary_id")
)
_ADD_EVENT = insert(item_events)


def assigned_tenants(connection: Connection, secretary_id: str) -> set[str]:
    return set(connection.scalars(_ASSIGNED_TENANTS, {"secretary_id": secretary_id}))


def add_event(
    connection: Connection,
    item_id: int,
    at: datetime,
    actor: str,
    kind: str,
    data: Mapping[str, Any],
) -> None:
    connection.execute(
        _ADD_EVENT,
        {"item_id": item_id, "at": at, "actor": actor, "kind": kind, "data": dict(data)},
    )


def secretary_from_row(row: Row[Any]) -> Secretary:
    return Secretary(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        languages=tuple(row.languages),
        skills=tuple(row.skills),
        capacity=row.capacity,
        phone=row.phone,
    )


def item_from_row(row: Row[Any]) -> WorkItem:
    return WorkItem(
        id=row.id,
        tenant_id=row.tenant_id,
        channel=Channel(row.channel),
        external_id=row.external_id,
        status=ItemStatus(row.status),
        priority=Priority.from_rank(row.priority_rank),
        pool=row.pool,
        sender=row.sender,
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        language=row.language,
        category=row.category,
        held_by=row.held_by,
        outcome=row.outcome,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claimed_at=row.claimed_at,
        completed_at=row.completed_at,
        payload=dict(row.payload),
        needs_review=bool(row.needs_review),
        spam=bool(row.spam),
        confidence=row.confidence,
        triage=dict(row.triage) if row.triage else None,
        required_skill=row.required_skill,
        pinned_to=row.pinned_to,
        due_at=row.due_at,
        backup_at=row.backup_at,
        escalation=row.escalation,
        first_response_at=row.first_response_at,
        lease_expires_at=row.lease_expires_at,
        snoozed_until=row.snoozed_until,
    )
