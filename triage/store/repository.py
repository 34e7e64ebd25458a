"""The repository: every read and write of work items, secretaries and tokens.

Each public method is one transaction. Callers pass plain values and get domain types
back (triage.models); no SQLAlchemy object leaves this module.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from triage.errors import Forbidden, NotFound
from triage.models import (
    Channel,
    ItemEvent,
    ItemStatus,
    Priority,
    Secretary,
    WorkItem,
)
from triage.routing import may_see_item
from triage.store import claims
from triage.store.rows import (
    add_event,
    assigned_tenants,
    item_from_row,
    secretary_from_row,
)
from triage.store.tables import (
    api_tokens,
    item_events,
    secretaries,
    tenant_phone_numbers,
    work_items,
)

Clock = Callable[[], datetime]
DEFAULT_LEASE = timedelta(minutes=15)


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Repository:
    """Monshi's data access over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self, engine: Engine, clock: Clock = utcnow, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self.engine = engine
        self.clock = clock
        # How long a claim holds without a heartbeat.
        self.lease = lease
        self.dialect = engine.dialect.name

    # -- tenants -------------------------------------------------------------------

    def tenant_for_number(self, number: str) -> str | None:
        """The tenant that owns this E.164 number, or None."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(tenant_phone_numbers.c.tenant_id).where(
                    tenant_phone_numbers.c.number == number
                )
            )

    # -- secretaries and tokens ----------------------------------------------------

    def secretary(self, secretary_id: str) -> Secretary:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(secretaries).where(secretaries.c.id == secretary_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no secretary {secretary_id!r}")
        return secretary_from_row(row)

    def assigned_tenants(self, secretary_id: str) -> set[str]:
        with self.engine.connect() as connection:
            return assigned_tenants(connection, secretary_id)

    def issue_token(self, secretary_id: str) -> str:
        """A new bearer token for the secretary; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            exists = connection.scalar(
                select(secretaries.c.id).where(secretaries.c.id == secretary_id)
            )
            if exists is None:
                raise NotFound(f"no secretary {secretary_id!r}")
            connection.execute(
                api_tokens.insert().values(
                    secretary_id=secretary_id,
                    token_hash=hash_token(token),
                    created_at=self.clock(),
                )
            )
        return token

    def revoke_tokens(self, secretary_id: str) -> int:
        """Revoke every live token of the secretary; returns how many were live."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(api_tokens)
                .where(api_tokens.c.secretary_id == secretary_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
            return result.rowcount

    def secretary_for_token(self, token: str) -> Secretary | None:
        """The secretary a live bearer token belongs to, or None."""
        # Committed, not rolled back as a read-only connect() would be: psycopg forgets
        # every statement it prepared on a connection when that connection rolls back, so
        # lookups between claims kept the claim path from ever running prepared.
        with self.engine.begin() as connection:
            row = connection.execute(
                _SECRETARY_FOR_TOKEN, {"token_hash": hash_token(token)}
            ).one_or_none()
        return None if row is None else secretary_from_row(row)

    # -- work items ----------------------------------------------------------------

    def record_inbound(
        self,
        *,
        channel: Channel,
        external_id: str,
        tenant_id: str | None,
        sender: str,
        recipient: str,
        body: str,
        subject: str = "",
        payload: Mapping[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
        language: str | None = None,
        actor: str,
    ) -> tuple[int, bool]:
        """Store an inbound thing once. Returns (item id, whether it is new).

        Keyed on (channel, external_id): a retried webhook gets the existing item back,
        and no second `received` event is written.
        """
        now = self.clock()
        values = {
            "tenant_id": tenant_id,
            "channel": channel.value,
            "external_id": external_id,
            "status": ItemStatus.RECEIVED.value,
            "priority_rank": priority.rank,
            "language": language,
            "sender": sender,
            "recipient": recipient,
            "subject": subject,
            "body": body,
            "payload": dict(payload or {}),
            "created_at": now,
            "updated_at": now,
        }
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = (
            insert(work_items)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(work_items.c.id)
        )
        with self.engine.begin() as connection:
            item_id = connection.scalar(statement)
            if item_id is not None:
                add_event(
                    connection,
                    item_id,
                    now,
                    actor,
                    "received",
                    {"channel": channel.value, "tenant": tenant_id},
                )
                return item_id, True
            existing = connection.scalar(
                select(work_items.c.id).where(
                    work_items.c.channel == channel.value,
                    work_items.c.external_id == external_id,
                )
            )
        assert existing is not None
        return existing, False

    def item_id_for(self, channel: Channel, external_id: str) -> int | None:
        """The item an edge stored under its own id, if any."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(work_items.c.id).where(
                    work_items.c.channel == channel.value,
                    work_items.c.external_id == external_id,
                )
            )

    def held_counts(self) -> dict[str, int]:
        """How many items each secretary holds now (claimed, not completed)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(work_items.c.held_by, func.count())
                .where(work_items.c.status == ItemStatus.CLAIMED.value)
                .group_by(work_items.c.held_by)
            ).all()
        return {row[0]: row[1] for row in rows if row[0] is not None}

    def received_item_ids(self, older_than: datetime, limit: int = 1000) -> list[int]:
        """Items stored but never routed (their ingest job was lost): to be re-enqueued."""
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    select(work_items.c.id)
                    .where(
                        work_items.c.status == ItemStatus.RECEIVED.value,
                        work_items.c.created_at < older_than,
                    )
                    .order_by(work_items.c.id)
                    .limit(limit)
                )
            )

    def route_item(self, item_id: int, pool: str, actor: str) -> bool:
        """Put a received item into a pool. False when it was routed already (a retried job)."""
        now = self.clock()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(work_items)
                .where(
                    work_items.c.id == item_id,
                    work_items.c.status == ItemStatus.RECEIVED.value,
                )
                .values(
                    status=ItemStatus.QUEUED.value,
                    pool=pool,
                    queued_at=now,
                    updated_at=now,
                )
            )
            if result.rowcount == 0:
                if not _item_exists(connection, item_id):
                    raise NotFound(f"no item {item_id}")
                return False
            add_event(connection, item_id, now, actor, "queued", {"pool": pool})
            return True

    def get_item(self, item_id: int) -> WorkItem:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(work_items).where(work_items.c.id == item_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no item {item_id}")
        return item_from_row(row)

    def get_item_for(self, item_id: int, secretary: Secretary) -> WorkItem:
        """The item, if the secretary may see it (Forbidden otherwise)."""
        item = self.get_item(item_id)
        tenants = self.assigned_tenants(secretary.id)
        if not may_see_item(secretary.role, tenants, item.tenant_id):
            raise Forbidden(f"item {item_id} belongs to a tenant {secretary.id} is not assigned to")
        return item

    def claim_next_item(self, secretary_id: str) -> WorkItem | None:
        """Atomically claim the best item the secretary may take now, on a lease (or None).

        Best is highest priority, then earliest due time, then oldest; eligibility is
        triage.routing.eligible. Under any concurrency an item is claimed by one secretary
        only, and nobody holds more than her capacity (triage.store.claims).
        """
        return claims.claim_next_item(self, secretary_id)

    def heartbeat(self, item_id: int, secretary: Secretary) -> WorkItem:
        """Renew the secretary's lease on an item she holds (LeaseExpired if it ran out)."""
        return claims.heartbeat(self, item_id, secretary)

    def expire_leases(self, limit: int | None = None) -> list[tuple[int, str]]:
        """Requeue items whose lease ran out; (item id, who lost it) for each."""
        return claims.expire_leases(self, limit)

    def complete_item(
        self, item_id: int, secretary: Secretary, outcome: str, notes: str = ""
    ) -> WorkItem:
        """Complete an item the secretary holds, with an outcome and notes."""
        return claims.complete_item(self, item_id, secretary, outcome, notes)

    def events(self, item_id: int) -> list[ItemEvent]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(item_events)
                .where(item_events.c.item_id == item_id)
                .order_by(item_events.c.id)
            ).all()
        return [
            ItemEvent(
                id=row.id,
                item_id=row.item_id,
                at=row.at,
                actor=row.actor,
                kind=row.kind,
                data=dict(row.data),
            )
            for row in rows
        ]

    def count_items(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(work_items)) or 0

    def list_secretaries(self) -> list[Secretary]:
        """Every secretary, supervisor and admin, by id."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(secretaries).order_by(secretaries.c.id)).all()
        return [secretary_from_row(row) for row in rows]


# Built once: every API request runs it, and building the expression cost more CPU than
# the query (its compiled form is cached by SQLAlchemy either way).
_SECRETARY_FOR_TOKEN = (
    select(secretaries)
    .join(api_tokens, api_tokens.c.secretary_id == secretaries.c.id)
    .where(
        api_tokens.c.token_hash == bindparam("token_hash", type_=String()),
        api_tokens.c.revoked_at.is_(None),
    )
)


def _for_update(statement: Any, repository: Repository) -> Any:
    # SQLite has no row locks; its BEGIN IMMEDIATE already holds the database's writer lock.
    return statement.with_for_update() if repository.dialect == "postgresql" else statement


def _item_exists(connection: Connection, item_id: int) -> bool:
    return connection.scalar(select(work_items.c.id).where(work_items.c.id == item_id)) is not None


__all__ = ["Repository", "hash_token", "utcnow"]
