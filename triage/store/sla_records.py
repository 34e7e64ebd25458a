"""Storing SLA escalations: raising an item's escalation level, and what planning needs.

Each call is one transaction that re-reads the item under a row lock, so a late or
repeated escalation job changes nothing (idempotent by the stored level).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from triage.errors import NotFound
from triage.models import ItemStatus, Priority
from triage.sla import LEVEL_NAMES, escalate
from triage.store.repository import Repository
from triage.store.rows import add_event, locked_item_row
from triage.store.tables import item_events, work_items

# Statuses in which an item can still miss its first response.
WAITING = (ItemStatus.QUEUED.value, ItemStatus.CLAIMED.value)
# Two due times this close are the same one (a database keeps microseconds or not).
SAME_MOMENT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class SlaState:
    """What escalation planning reads of one item."""

    item_id: int
    tenant_id: str | None
    status: ItemStatus
    queued_at: datetime | None
    due_at: datetime | None
    escalation: int
    answered: bool  # first response given, or completed

    @property
    def open(self) -> bool:
        return self.status.value in WAITING and not self.answered and self.due_at is not None


@dataclass(frozen=True, slots=True)
class Escalated:
    """An escalation that was stored."""

    item_id: int
    tenant_id: str | None
    level: int
    previous: int
    priority: Priority
    due_at: datetime


def sla_state(repository: Repository, item_id: int) -> SlaState:
    """The item's SLA fields; NotFound when it is gone."""
    with repository.engine.connect() as connection:
        row = connection.execute(
            select(
                work_items.c.tenant_id,
                work_items.c.status,
                work_items.c.queued_at,
                work_items.c.due_at,
                work_items.c.escalation,
                work_items.c.first_response_at,
            ).where(work_items.c.id == item_id)
        ).one_or_none()
    if row is None:
        raise NotFound(f"no item {item_id}")
    return SlaState(
        item_id=item_id,
        tenant_id=row.tenant_id,
        status=ItemStatus(row.status),
        queued_at=row.queued_at,
        due_at=row.due_at,
        escalation=row.escalation,
        answered=row.first_response_at is not None or row.status == ItemStatus.COMPLETED.value,
    )


def escalate_item(
    repository: Repository,
    item_id: int,
    level: int,
    *,
    due_at: datetime,
    actor: str = "worker:sla",
) -> Escalated | None:
    """Raise the item to escalation `level`, planned for the due time `due_at`.

    Nothing happens (None) when the item is answered, completed, no longer waiting, already
    at that level, or due at another time now (a reclassification planned again; the jobs
    of the new plan do the work). Writes an `escalated` item event.
    """
    now = repository.clock()
    with repository.engine.begin() as connection:
        row = locked_item_row(connection, item_id)
        if (
            row.status not in WAITING
            or row.first_response_at is not None
            or row.due_at is None
            or abs(row.due_at - due_at) > SAME_MOMENT
        ):
            return None
        change = escalate(level, row.escalation, row.priority_rank, row.backup_at, now)
        if change is None:
            return None
        connection.execute(
            update(work_items)
            .where(work_items.c.id == item_id)
            .values(
                escalation=change.level,
                priority_rank=change.priority_rank,
                backup_at=change.backup_at,
                updated_at=now,
            )
        )
        data: dict[str, Any] = {
            "level": change.level,
            "name": LEVEL_NAMES[change.level],
            "from": row.escalation,
            "priority": Priority.from_rank(change.priority_rank).value,
            "due_at": row.due_at.isoformat(),
        }
        if change.priority_rank != row.priority_rank:
            data["priority_from"] = Priority.from_rank(row.priority_rank).value
        add_event(connection, item_id, now, actor, "escalated", data)
    return Escalated(
        item_id=item_id,
        tenant_id=row.tenant_id,
        level=change.level,
        previous=row.escalation,
        priority=Priority.from_rank(change.priority_rank),
        due_at=row.due_at,
    )


def alert_recorded(repository: Repository, item_id: int) -> bool:
    """Whether the on-call alert of this item was already sent (its event is stored)."""
    with repository.engine.connect() as connection:
        found = connection.scalar(
            select(item_events.c.id)
            .where(item_events.c.item_id == item_id, item_events.c.kind == "alerted")
            .limit(1)
        )
    return found is not None


def record_alert(
    repository: Repository, item_id: int, data: dict[str, Any], actor: str = "worker:sla"
) -> None:
    """Store the `alerted` event of a sent on-call SMS."""
    with repository.engine.begin() as connection:
        add_event(connection, item_id, repository.clock(), actor, "alerted", data)
