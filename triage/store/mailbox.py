"""The IMAP connector's durable side: raw mail stored once, and where each mailbox is at.

A message is stored under (mailbox, UIDVALIDITY, UID) before the checkpoint moves past
it, so a connector that dies between the two fetches those UIDs again and finds the rows
it wrote: `store_messages` is idempotent and hands back the existing ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from triage.store.repository import utcnow
from triage.store.tables import mail_messages, mailbox_checkpoints

Clock = Callable[[], datetime]

# A row waits in this status until the ingest job turns it into an item or a rejection.
STATUS_STORED: Final = "stored"


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message as the connector fetched it.

    `size` is what the server reported (RFC822.SIZE). It is larger than `raw` when the
    message was over the size cap and only its header was fetched.
    """

    uid: int
    raw: bytes
    size: int
    message_id: str | None = None

    @property
    def truncated(self) -> bool:
        return self.size > len(self.raw)


@dataclass(frozen=True, slots=True)
class StoredMail:
    """A row of mail_messages: its id, UID, status, and whether this call created it."""

    id: int
    uid: int
    status: str
    new: bool


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Every UID up to `last_uid` under `uidvalidity` has been stored and handed to ingest."""

    mailbox: str
    uidvalidity: int
    last_uid: int


class MailboxStore:
    """Raw mail and checkpoints over one SQLAlchemy engine; each method is one transaction."""

    def __init__(self, engine: Engine, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.dialect = engine.dialect.name

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def checkpoint(self, mailbox: str) -> Checkpoint | None:
        """Where the connector of `mailbox` is, or None before its first batch."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(mailbox_checkpoints.c.uidvalidity, mailbox_checkpoints.c.last_uid).where(
                    mailbox_checkpoints.c.mailbox == mailbox
                )
            ).one_or_none()
        if row is None:
            return None
        return Checkpoint(mailbox, int(row.uidvalidity), int(row.last_uid))

    def store_messages(
        self, mailbox: str, uidvalidity: int, messages: Sequence[FetchedMail]
    ) -> list[StoredMail]:
        """Store each message once (status 'stored', attempts 0); returns rows in UID order.

        A message already stored under the same (mailbox, uidvalidity, uid), by an earlier
        run that died before its checkpoint or by a second connector, keeps its row: its id
        and current status come back with new=False.
        """
        if not messages:
            return []
        uids = sorted({message.uid for message in messages})
        now = self.clock()
        table = mail_messages
        where = (
            table.c.mailbox == mailbox,
            table.c.uidvalidity == uidvalidity,
            table.c.uid.in_(uids),
        )
        with self.engine.begin() as connection:
            existing = set(connection.scalars(select(table.c.uid).where(*where)))
            rows = [
                {
                    "mailbox": mailbox,
                    "uidvalidity": uidvalidity,
                    "uid": message.uid,
                    "raw_sha256": hashlib.sha256(message.raw).hexdigest(),
                    "message_id": message.message_id,
                    "size": message.size,
                    "raw": message.raw,
                    "fetched_at": now,
                    "status": STATUS_STORED,
                    "attempts": 0,
                }
                for message in {m.uid: m for m in messages}.values()
                if message.uid not in existing
            ]
            if rows:
                # DO NOTHING covers a second connector inserting the same UID meanwhile.
                connection.execute(
                    self._insert(table).on_conflict_do_nothing(
                        index_elements=["mailbox", "uidvalidity", "uid"]
                    ),
                    rows,
                )
            found = connection.execute(
                select(table.c.id, table.c.uid, table.c.status).where(*where).order_by(table.c.uid)
            ).all()
        return [
            StoredMail(
                id=int(row.id), uid=int(row.uid), status=row.status, new=row.uid not in existing
            )
            for row in found
        ]

    def advance_checkpoint(self, mailbox: str, uidvalidity: int, last_uid: int) -> Checkpoint:
        """Record that every UID up to `last_uid` under `uidvalidity` is handed over.

        Under the same UIDVALIDITY the checkpoint only moves forward; a new UIDVALIDITY
        (the server renumbered the mailbox) replaces it.
        """
        table = mailbox_checkpoints
        statement = self._insert(table).values(
            mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=self.clock()
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["mailbox"],
            set_={
                "last_uid": case(
                    (
                        (table.c.uidvalidity == excluded.uidvalidity)
                        & (table.c.last_uid > excluded.last_uid),
                        table.c.last_uid,
                    ),
                    else_=excluded.last_uid,
                ),
                "uidvalidity": excluded.uidvalidity,
                "updated_at": excluded.updated_at,
            },
        ).returning(table.c.uidvalidity, table.c.last_uid)
        with self.engine.begin() as connection:
            row = connection.execute(statement).one()
        return Checkpoint(mailbox, int(row.uidvalidity), int(row.last_uid))

    def stored_ids(self, mailbox: str) -> list[int]:
        """Ids of the mailbox's rows still waiting for ingest (their job may have been lost)."""
        with self.engine.connect() as connection:
            return [
                int(mail_id)
                for mail_id in connection.scalars(
                    select(mail_messages.c.id)
                    .where(
                        mail_messages.c.mailbox == mailbox,
                        mail_messages.c.status == STATUS_STORED,
                    )
                    .order_by(mail_messages.c.id)
                )
            ]
