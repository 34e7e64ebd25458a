"""The domain's value types: tenants, secretaries, work items and their vocabularies."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Channel(enum.StrEnum):
    SMS = "sms"
    CALL = "call"
    EMAIL = "email"


class Priority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Sort key: lower is served first."""
        return _PRIORITY_RANK[self]

    @classmethod
    def from_rank(cls, rank: int) -> Priority:
        return _RANK_PRIORITY[rank]


_PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
_RANK_PRIORITY = {rank: priority for priority, rank in _PRIORITY_RANK.items()}


class Category(enum.StrEnum):
    SCHEDULING = "scheduling"
    TRAVEL = "travel"
    ACCOUNTING = "accounting"
    DOCUMENTS = "documents"
    SOCIAL_MEDIA = "social_media"
    SALES = "sales"
    SUPPORT = "support"
    MESSAGE = "message"
    SPAM = "spam"


class ItemStatus(enum.StrEnum):
    """Life of a work item.

    received: stored by an edge (webhook, IMAP), not yet routed.
    queued:   routed to a pool, waiting for a secretary to claim it.
    claimed:  held by one secretary.
    completed: done, with an outcome.
    """

    RECEIVED = "received"
    QUEUED = "queued"
    CLAIMED = "claimed"
    COMPLETED = "completed"


class Role(enum.StrEnum):
    SECRETARY = "secretary"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def sees_all_tenants(self) -> bool:
        return self in (Role.SUPERVISOR, Role.ADMIN)


class AssignmentKind(enum.StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


LANGUAGES = ("fa", "en")

# The pool of items no tenant claims (an SMS to an unknown number, mail to an unknown
# address): supervisors work it.
UNMATCHED_POOL = "unmatched"
# Where spam waits: kept and reviewable by supervisors, never in a secretary's queue.
SPAM_POOL = "spam"


TENANT_POOL_PREFIX = "tenant:"


def tenant_pool(tenant_id: str) -> str:
    return f"{TENANT_POOL_PREFIX}{tenant_id}"


@dataclass(frozen=True, slots=True)
class Secretary:
    id: str
    name: str
    role: Role
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    capacity: int
    phone: str


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    tenant_id: str | None
    channel: Channel
    external_id: str
    status: ItemStatus
    priority: Priority
    pool: str | None
    sender: str
    recipient: str
    subject: str
    body: str
    language: str | None
    category: str | None
    held_by: str | None
    outcome: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    needs_review: bool = False
    spam: bool = False
    confidence: float | None = None
    triage: dict[str, Any] | None = None
    required_skill: str | None = None
    pinned_to: str | None = None
    due_at: datetime | None = None
    backup_at: datetime | None = None
    escalation: int = 0
    first_response_at: datetime | None = None
    lease_expires_at: datetime | None = None
    snoozed_until: datetime | None = None

    @property
    def unmatched(self) -> bool:
        return self.tenant_id is None


@dataclass(frozen=True, slots=True)
class ItemEvent:
    id: int
    item_id: int
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]
