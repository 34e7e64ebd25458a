"""Stored mail in, work items out: the database side of mail ingest.

Each message is deduplicated, threaded onto its open item or made a new item, and its
`mail_messages` row marked ingested, duplicate or rejected: one transaction per message
(`ingest`), or one for a whole batch of fresh messages (`ingest_many`: the same decisions
in the same order, with the batch's reads done in bulk and its writes sent together).
Tries are counted when they begin, so a message that kills the worker outright is counted
as well as one that raises; after `max_attempts` it is quarantined for supervisors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.errors
import email.header
import email.parser
import email.policy
import enum
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Table,
    TextClause,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from triage.constants import MAIL_MAX_ATTEMPTS, MAIL_THREAD_WINDOW_DAYS
from triage.errors import InvalidTransition, NotFound
from triage.mail_threading import last_mail_at, storable, within_thread_window
from triage.models import Channel, ItemStatus, Priority
from triage.routing import pool_for
from triage.store.config_store import load_current_config
from triage.store.repository import Repository
from triage.store.tables import item_events, item_message_ids, mail_messages, work_items
from triage.store.triage_batch import Applied, Decision, first_contacts, triaged_values

ACTOR = "imap:ingest"
# Triage's actor, as `apply_triage_batch` records it.
TRIAGE_ACTOR = "worker:triage"
# PostgreSQL advisory lock that serializes batches of mail ingest (the bytes of "MAILINGS").
INGEST_LOCK_KEY = int.from_bytes(b"MAILINGS", "big") >> 1
# Routing's actor, as on items of the other channels.
ROUTE_ACTOR = "worker:ingest"
OPEN_STATUSES = (ItemStatus.RECEIVED.value, ItemStatus.QUEUED.value, ItemStatus.CLAIMED.value)
ORDINARY = "ordinary"
# Kinds of mail recorded but never worked (triage.mail.MailKind minus ordinary).
NOT_FOR_HUMANS = ("auto_reply", "bounce", "bulk", "list")
MAX_ERROR = 4000
# work_items.sender and .recipient are VARCHAR(320), an address's longest legal form.
MAX_ADDRESS = 320
# How many open items of one sender the subject rule looks at.
SUBJECT_CANDIDATES = 20
# Enough of a quarantined message to read its Subject without parsing the whole thing.
HEADER_PEEK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class PendingMail:
    """A `mail_messages` row being ingested."""

    id: int
    mailbox: str
    uid: int
    raw: bytes
    size: int  # as the server reported it: larger than `raw` when only the header was fetched
    attempts: int


@dataclass(frozen=True, slots=True)
class MailDirectory:
    """What tenant resolution needs, read once per job run."""

    inbox: str | None
    tenant_of_address: Mapping[str, str]
    tenant_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class InboundMail:
    """One parsed message, as plain values the store turns into an item or a reply."""

    mail_id: int
    key: str  # the dedupe key: the item's external_id when the message opens one
    tenant_id: str | None
    message_id: str | None  # canonical
    answers: tuple[str, ...]  # canonical Message-IDs it answers, most direct first
    sender: str  # address: the original sender of a forward, else From
    recipient: str  # the address the tenant was matched on (or the first recipient)
    subject: str
    thread_subject: str  # normalized subject for the fallback rule; "" when not a reply
    body: str
    kind: str  # triage.mail.MailKind value
    kind_reason: str
    mail: Mapping[str, Any]  # payload["mail"] of a new item
    summary: Mapping[str, Any]  # this message in payload["messages"] and the reply event


class IngestOutcome(enum.StrEnum):
    CREATED = "created"
    ATTACHED = "attached"
    FILTERED = "filtered"
    DUPLICATE = "duplicate"
    GONE = "gone"  # the row was no longer `stored` (another job did it, or a retry reset)


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: IngestOutcome
    item_id: int | None = None
    # A new item whose triage was written with it (`BatchTriage`), so it needs no more.
    triaged: bool = False


@dataclass(frozen=True, slots=True)
class MailDecision:
    """Triage of one message decided before its item exists."""

    decision: Decision  # its item_id is 0: the item has none yet
    # Whether triage took the sender for a repeat sender (`contact_of` had an item since
    # the window's start); the ingest asks again under its lock.
    repeat_sender: bool


@dataclass(frozen=True, slots=True)
class BatchTriage:
    """Triage of a batch's ordinary messages, decided (outside the batch's transaction and
    lock) before their items exist, and written into each new item's INSERT: no second
    transaction reads the items back and updates them. A message whose repeat-sender answer
    no longer holds when its item is made gets its item untriaged, as without this."""

    decisions: Mapping[int, MailDecision]  # by mail_messages id
    repeat_since: datetime  # start of the repeat-sender window the decisions assumed


@dataclass(slots=True)
class _Batch:
    """What `ingest_many` read in bulk before its messages, and the writes it sends after.

    Rows written during the batch are not re-read: the keys, raw digests and mail rows
    the batch itself settled are kept here, so later messages of the batch see them as
    they would have seen them committed.
    """

    locked: dict[int, str]  # mail id -> raw_sha256 of the rows still `stored`, locked
    items_by_key: dict[str, int]  # dedupe key -> item id, known items and new ones
    items_by_raw: dict[tuple[str, str | None], int]  # (raw_sha256, tenant) -> item id
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    mail_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # Written before the next reply looks a thread up, and at the end.
    message_ids: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    triage: BatchTriage | None = None
    # (tenant, sender) of an item made since triage's repeat window began (`contact_of`).
    contacts: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    triaged: set[int] = dataclasses.field(default_factory=set)  # items stored triaged
    # PostgreSQL: item ids drawn from the sequence for the batch's new items, which are
    # then inserted together (`_flush`) instead of one INSERT ... RETURNING each.
    free_ids: list[int] | None = None
    new_items: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MailRecord:
    """A stored message as supervisors see it in the quarantine and rejection lists."""

    id: int
    mailbox: str
    uidvalidity: int
    uid: int
    status: str
    attempts: int
    error: str | None
    message_id: str | None
    size: int
    fetched_at: datetime
    subject: str | None
    item_id: int | None = None
    kind: str | None = None
    reason: str | None = None
    sender: str | None = None


class MailStore:
    """Mail ingest's reads and writes over the repository's engine and clock.

    Each method is one transaction. Inside `batch()` they share one connection, which
    saves a batch of messages a pool checkout (and PostgreSQL's pre-ping) per statement.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        max_attempts: int = MAIL_MAX_ATTEMPTS,
        thread_window_days: int = MAIL_THREAD_WINDOW_DAYS,
    ) -> None:
        self.repository = repository
        self.engine = repository.engine
        self.max_attempts = max_attempts
        self.thread_window_days = thread_window_days
        self._connection: Connection | None = None
        self._batch: _Batch | None = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[MailStore]:
        """This store's methods on one connection until the block ends."""
        if self._connection is not None:
            yield self
            return
        with self.engine.connect() as connection:
            self._connection = connection
            try:
                yield self
            finally:
                self._connection = None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._connection is None:
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._connection.begin():
                yield self._connection

    # -- for the job ---------------------------------------------------------------

    def directory(self) -> MailDirectory:
        """The agency inbox and every tenant address, from the config in the database."""
        config = load_current_config(self.engine)
        return MailDirectory(
            inbox=config.agency.inbox if config.agency else None,
            tenant_of_address={
                address.lower(): tenant.id
                for tenant in config.tenants
                for address in tenant.email_addresses
            },
            tenant_ids=frozenset(tenant.id for tenant in config.tenants),
        )

    def stale_stored_ids(self, fetched_before: datetime, limit: int = 10_000) -> list[int]:
        """Messages stored before `fetched_before` and still waiting: their job was lost
        (Redis lost it, or RQ gave up after the worker died on it every time)."""
        with self._transaction() as connection:
            return list(
                connection.scalars(
                    select(mail_messages.c.id)
                    .where(
                        mail_messages.c.status == "stored",
                        mail_messages.c.fetched_at < fetched_before,
                    )
                    .order_by(mail_messages.c.id)
                    .limit(limit)
                )
            )

    def pending_ids(self, mail_ids: Sequence[int]) -> list[int]:
        """Those of `mail_ids` still waiting (`stored`): never tried first, then by id.

        A message that stopped an earlier run (it killed the worker, or the job timed out on
        it) thus comes after the fresh ones and cannot starve them.
        """
        if not mail_ids:
            return []
        with self._transaction() as connection:
            return list(
                connection.scalars(
                    select(mail_messages.c.id)
                    .where(
                        mail_messages.c.id.in_(list(mail_ids)),
                        mail_messages.c.status == "stored",
                    )
                    .order_by(mail_messages.c.attempts, mail_messages.c.id)
                )
            )

    def begin_attempt(self, mail_id: int) -> PendingMail | None:
        """Count one more try of a stored message and return it, raw bytes and all.

        None when the row is no longer `stored`, or when `max_attempts` tries began and none
        finished: the message is quarantined then (it stopped the worker each time).
        """
        with self._transaction() as connection:
            if connection.dialect.name == "postgresql":
                # The count only has to outlive the worker, not the database server: no
                # need to wait for the WAL flush.
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            row = connection.execute(
                update(mail_messages)
                .where(
                    mail_messages.c.id == mail_id,
                    mail_messages.c.status == "stored",
                    mail_messages.c.attempts < self.max_attempts,
                )
                .values(attempts=mail_messages.c.attempts + 1)
                .returning(
                    mail_messages.c.mailbox,
                    mail_messages.c.uid,
                    mail_messages.c.raw,
                    mail_messages.c.size,
                    mail_messages.c.attempts,
                )
            ).one_or_none()
            if row is not None:
                return PendingMail(
                    id=mail_id,
                    mailbox=row.mailbox,
                    uid=row.uid,
                    raw=bytes(row.raw),
                    size=row.size,
                    attempts=row.attempts,
                )
            # Not stored any more, or out of tries that never finished.
            exhausted = connection.execute(
                select(mail_messages.c.attempts, mail_messages.c.error).where(
                    mail_messages.c.id == mail_id, mail_messages.c.status == "stored"
                )
            ).one_or_none()
            if exhausted is not None:
                last = (
                    exhausted.error or "the worker stopped while processing it (crash or timeout)"
                )
                _set_mail(
                    connection,
                    mail_id,
                    status="quarantined",
                    error=_clip_error(f"gave up after {exhausted.attempts} attempts: {last}"),
                )
            return None

    def begin_attempts(self, mail_ids: Sequence[int]) -> list[PendingMail]:
        """`begin_attempt` of each message of `mail_ids` never tried yet, in one statement.

        Returns those counted, in the order of `mail_ids`. A message tried before (it may
        have stopped the worker) is left for `begin_attempt`, one at a time, so a batch
        that died is never counted against every message in it again.
        """
        if not mail_ids:
            return []
        with self._transaction() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            rows = connection.execute(
                update(mail_messages)
                .where(
                    mail_messages.c.id.in_(list(mail_ids)),
                    mail_messages.c.status == "stored",
                    mail_messages.c.attempts == 0,
                )
                .values(attempts=mail_messages.c.attempts + 1)
                .returning(
                    mail_messages.c.id,
                    mail_messages.c.mailbox,
                    mail_messages.c.uid,
                    mail_messages.c.raw,
                    mail_messages.c.size,
                    mail_messages.c.attempts,
                )
            ).all()
        counted = {
            row.id: PendingMail(
                id=row.id,
                mailbox=row.mailbox,
                uid=row.uid,
                raw=bytes(row.raw),
                size=row.size,
                attempts=row.attempts,
            )
            for row in rows
        }
        return [counted[mail_id] for mail_id in mail_ids if mail_id in counted]

    def record_failure(self, mail_id: int, error: str) -> bool:
        """Record why a try failed; quarantine the message once it has had `max_attempts`.

        Returns whether it is quarantined now.
        """
        with self._transaction() as connection:
            attempts = connection.scalar(
                _locked(
                    select(mail_messages.c.attempts).where(
                        mail_messages.c.id == mail_id, mail_messages.c.status == "stored"
                    ),
                    connection,
                )
            )
            if attempts is None:
                return False
            quarantined = bool(attempts >= self.max_attempts)
            _set_mail(
                connection,
                mail_id,
                status="quarantined" if quarantined else "stored",
                error=_clip_error(error),
            )
        return quarantined

    def reject(self, mail_id: int, reason: str) -> bool:
        """Mark a message that cannot become an item (unparseable), with the reason."""
        with self._transaction() as connection:
            result = connection.execute(
                update(mail_messages)
                .where(mail_messages.c.id == mail_id, mail_messages.c.status == "stored")
                .values(status="rejected", error=_clip_error(reason))
            )
        return bool(result.rowcount == 1)

    def ingest(self, mail: InboundMail) -> IngestResult:
        """Turn one parsed message into an item, a reply on an item, or a duplicate.

        One transaction. In order: the row must still be `stored`; the same content for the
        same tenant already made an item (dedupe key, or the same raw bytes ingested from
        another folder) → duplicate; not ordinary mail → a completed item nobody works; a
        reply naming a Message-ID of an open item of the tenant → attached; naming one of a
        completed item → a new item linked to it; a reply by subject and sender to an open
        item within the window → attached; otherwise a new item.
        """
        with self._transaction() as connection:
            row = connection.execute(
                _locked(
                    select(mail_messages.c.raw_sha256).where(
                        mail_messages.c.id == mail.mail_id, mail_messages.c.status == "stored"
                    ),
                    connection,
                )
            ).one_or_none()
            if row is None:
                return IngestResult(IngestOutcome.GONE)
            return self._ingest(connection, mail, row.raw_sha256)

    def ingest_many(
        self, mails: Sequence[InboundMail], *, triage: BatchTriage | None = None
    ) -> list[IngestResult]:
        """`ingest` of each message in turn, all in one transaction; results in order.

        Decisions are those `ingest` makes message by message (a reply sees an item made
        earlier in the batch; a copy of a message earlier in the batch is its duplicate).
        Any error rolls the whole batch back: the caller then goes message by message.
        With `triage`, a new ordinary item is stored triaged and queued as
        `apply_triage_batch` would store it (`triaged` in its result).
        """
        if not mails:
            return []
        ids = [mail.mail_id for mail in mails]
        with self._transaction() as connection:
            if connection.dialect.name == "postgresql":
                # One batch at a time (SQLite's write lock does the same): a batch writes its
                # items at its end, so a reply in the next batch, run by another worker at
                # the same time, would not see the item it answers and open a new one.
                connection.execute(select(func.pg_advisory_xact_lock(INGEST_LOCK_KEY)))
            locked = {
                row.id: row.raw_sha256
                for row in connection.execute(
                    _locked(
                        select(mail_messages.c.id, mail_messages.c.raw_sha256)
                        .where(mail_messages.c.id.in_(ids), mail_messages.c.status == "stored")
                        .order_by(mail_messages.c.id),
                        connection,
                    )
                )
            }
            self._batch = batch = _Batch(
                locked=locked,
                items_by_key=_items_with_keys(connection, [mail.key for mail in mails]),
                items_by_raw=_items_of_same_raws(connection, set(locked.values())),
            )
            if connection.dialect.name == "postgresql" and locked:
                batch.free_ids = sorted(
                    connection.scalars(_DRAW_ITEM_IDS, {"n": len(locked)}), reverse=True
                )
            if triage is not None and triage.decisions:
                batch.triage = triage
                contacts = [contact_of(mail) for mail in mails]
                batch.contacts = set(
                    first_contacts(
                        connection,
                        [pair for pair in contacts if pair is not None],
                        triage.repeat_since,
                    )
                )
            try:
                results = []
                for mail in mails:
                    raw_sha256 = locked.get(mail.mail_id)
                    if raw_sha256 is None:
                        results.append(IngestResult(IngestOutcome.GONE))
                        continue
                    result = self._ingest(connection, mail, raw_sha256)
                    if result.item_id is not None:
                        batch.items_by_raw.setdefault((raw_sha256, mail.tenant_id), result.item_id)
                    results.append(result)
                self._flush(connection)
                if batch.events:
                    _add_events(connection, batch.events)
                if batch.mail_rows and connection.dialect.name == "postgresql":
                    last = {row["b_id"]: row for row in batch.mail_rows}
                    connection.execute(_MAIL_DONE, _as_rows(list(last.values())))
                elif batch.mail_rows:
                    connection.execute(
                        update(mail_messages)
                        .where(mail_messages.c.id == bindparam("b_id"))
                        .values(
                            status=bindparam("b_status"),
                            tenant_id=bindparam("b_tenant_id"),
                            item_id=bindparam("b_item_id"),
                            error=None,
                        ),
                        batch.mail_rows,
                    )
            finally:
                self._batch = None
        return results

    def _ingest(self, connection: Connection, mail: InboundMail, raw_sha256: str) -> IngestResult:
        """`ingest` of one message whose row is locked and still `stored`."""
        now = self.repository.clock()
        mail = dataclasses.replace(mail, summary={**mail.summary, "received_at": now.isoformat()})
        existing = self._item_with_key(connection, mail.key) or self._item_of_same_raw(
            connection, mail, raw_sha256
        )
        if existing is not None:
            return self._duplicate(connection, mail, existing)
        if mail.kind != ORDINARY:
            item_id = self._create(connection, mail, now, previous_item=None)
            if item_id is None:
                return self._duplicate(connection, mail, _existing_key(connection, mail.key))
            return IngestResult(IngestOutcome.FILTERED, item_id)
        previous_item: int | None = None
        if self._batch is not None and (mail.answers or mail.thread_subject):
            self._flush(connection)  # the look-ups below read items and Message-IDs
        target = _thread_by_message_ids(connection, mail)
        if target is None:
            target = self._thread_by_subject(connection, mail, now)
        if target is not None:
            if _has_message(target.payload, mail.key):
                return self._duplicate(connection, mail, target.id)
            if target.status in OPEN_STATUSES and self._attach(connection, mail, target.id, now):
                return IngestResult(IngestOutcome.ATTACHED, target.id)
            previous_item = target.id
        item_id = self._create(connection, mail, now, previous_item=previous_item)
        if item_id is None:
            return self._duplicate(connection, mail, _existing_key(connection, mail.key))
        triaged = self._batch is not None and item_id in self._batch.triaged
        return IngestResult(IngestOutcome.CREATED, item_id, triaged=triaged)

    def _flush(self, connection: Connection) -> None:
        """Insert the batch's new items so far, then its Message-IDs (which refer to them).

        Rows with the same columns are inserted together, in order (one multi-row INSERT
        each run). A key taken meanwhile by a writer outside the batch's lock (the batch
        checked its keys under it) fails the batch: it then goes message by message.
        """
        batch = self._batch
        if batch is None:
            return
        rows, batch.new_items = batch.new_items, []
        for run in _grouped(rows):
            wanted = {row["id"] for row in run}
            statement = _insert_rows(work_items, tuple(run[0]), _ITEM_KEY, returning="id")
            inserted = set(connection.scalars(statement, _as_rows(run)))
            if inserted != wanted:
                raise LookupError(f"{len(wanted - inserted)} item keys were taken meanwhile")
        _insert_message_ids(connection, batch.message_ids)

    def _item_with_key(self, connection: Connection, key: str) -> int | None:
        if self._batch is not None:
            return self._batch.items_by_key.get(key)
        return _item_with_key(connection, key)

    def _item_of_same_raw(
        self, connection: Connection, mail: InboundMail, raw_sha256: str
    ) -> int | None:
        if self._batch is not None:
            return self._batch.items_by_raw.get((raw_sha256, mail.tenant_id))
        return _item_of_same_raw(connection, mail, raw_sha256)

    def _mail_done(
        self, connection: Connection, mail: InboundMail, status: str, item_id: int
    ) -> None:
        """Mark the message's row `status`, with its tenant and item (at the batch's end)."""
        if self._batch is not None:
            self._batch.mail_rows.append(
                {
                    "b_id": mail.mail_id,
                    "b_status": status,
                    "b_tenant_id": mail.tenant_id,
                    "b_item_id": item_id,
                }
            )
            return
        _set_mail(
            connection,
            mail.mail_id,
            status=status,
            tenant_id=mail.tenant_id,
            item_id=item_id,
            error=None,
        )

    def _remember_message_ids(
        self, connection: Connection, mail: InboundMail, item_id: int
    ) -> None:
        """Map the message's own and answered Message-IDs to the item (later, in a batch)."""
        message_ids = [*([mail.message_id] if mail.message_id else []), *mail.answers]
        rows = [
            {"message_id": message_id, "item_id": item_id, "tenant_id": mail.tenant_id}
            for message_id in dict.fromkeys(storable(message_ids))
            if message_id
        ]
        if self._batch is not None:
            self._batch.message_ids.extend(rows)
        else:
            _insert_message_ids(connection, rows)

    def _add_events(self, connection: Connection, events: list[dict[str, Any]]) -> None:
        """Insert item events (at the batch's end, in a batch)."""
        if self._batch is not None:
            self._batch.events.extend(events)
        else:
            connection.execute(item_events.insert(), events)

    # -- for supervisors -----------------------------------------------------------

    def quarantined(self, *, limit: int = 100, before: int | None = None) -> list[MailRecord]:
        """Quarantined messages, newest first, with their error and attempts."""
        query = (
            select(*_LISTED, func.substr(mail_messages.c.raw, 1, HEADER_PEEK_BYTES).label("head"))
            .where(mail_messages.c.status == "quarantined")
            .order_by(mail_messages.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(mail_messages.c.id < before)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_record(row, subject=peek_subject(bytes(row.head or b""))) for row in rows]

    def rejections(self, *, limit: int = 100, before: int | None = None) -> list[MailRecord]:
        """Messages that are not work, newest first: rejected ones and recorded auto mail."""
        query = (
            select(
                *_LISTED,
                work_items.c.outcome,
                work_items.c.subject,
                work_items.c.sender,
                work_items.c.payload,
            )
            .outerjoin(work_items, work_items.c.id == mail_messages.c.item_id)
            .where(
                or_(
                    mail_messages.c.status == "rejected",
                    and_(
                        mail_messages.c.status == "ingested",
                        work_items.c.channel == Channel.EMAIL.value,
                        work_items.c.status == ItemStatus.COMPLETED.value,
                        work_items.c.outcome.in_(NOT_FOR_HUMANS),
                    ),
                )
            )
            .order_by(mail_messages.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(mail_messages.c.id < before)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        records = []
        for row in rows:
            if row.status == "rejected":
                records.append(_record(row, kind="rejected", reason=row.error))
                continue
            mail = (row.payload or {}).get("mail", {})
            records.append(
                _record(
                    row,
                    subject=row.subject,
                    kind=row.outcome,
                    reason=mail.get("kind_reason") or row.outcome,
                    sender=row.sender,
                )
            )
        return records

    def retry(self, mail_id: int) -> None:
        """Put a quarantined message back to `stored` with no attempts; the caller enqueues it.

        NotFound for an unknown id; InvalidTransition when it is not quarantined.
        """
        with self._transaction() as connection:
            status = connection.scalar(
                _locked(
                    select(mail_messages.c.status).where(mail_messages.c.id == mail_id),
                    connection,
                )
            )
            if status is None:
                raise NotFound(f"no stored message {mail_id}")
            if status != "quarantined":
                raise InvalidTransition(f"message {mail_id} is {status}, not quarantined")
            _set_mail(connection, mail_id, status="stored", attempts=0, error=None)

    def record(self, mail_id: int) -> MailRecord:
        """One stored message's state (NotFound when there is none)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(*_LISTED).where(mail_messages.c.id == mail_id)
            ).one_or_none()
        if row is None:
            raise NotFound(f"no stored message {mail_id}")
        return _record(row)

    # -- inside the ingest transaction ---------------------------------------------

    def _duplicate(self, connection: Connection, mail: InboundMail, item_id: int) -> IngestResult:
        self._mail_done(connection, mail, "duplicate", item_id)
        return IngestResult(IngestOutcome.DUPLICATE, item_id)

    def _create(
        self,
        connection: Connection,
        mail: InboundMail,
        now: datetime,
        *,
        previous_item: int | None,
    ) -> int | None:
        """Insert the item with its events and Message-IDs; None when the key exists already.

        Ordinary mail is routed in the same transaction (`pool_for`, as `ingest_item` does
        for other channels): stored, deduplicated and queued commit together, so no mail
        item is ever left `received`. Other kinds are recorded completed, never queued and
        never answered (a bounce of mail Monshi sent will find its item once Monshi sends).
        """
        ordinary = mail.kind == ORDINARY
        # The first message's text is the item's body; replies keep theirs in the list.
        payload: dict[str, Any] = {"mail": dict(mail.mail), "messages": [_without_text(mail)]}
        if previous_item is not None:
            payload["previous_item"] = previous_item
        values: dict[str, Any] = {
            "tenant_id": mail.tenant_id,
            "channel": Channel.EMAIL.value,
            "external_id": mail.key,
            "language": None,
            "sender": mail.sender[:MAX_ADDRESS],
            "recipient": mail.recipient[:MAX_ADDRESS],
            "subject": mail.subject,
            "body": mail.body,
            "payload": payload,
            "created_at": now,
            "updated_at": now,
        }
        pool = pool_for(mail.tenant_id)
        triaged: Applied | None = None
        if ordinary:
            values.update(
                status=ItemStatus.QUEUED.value,
                priority_rank=Priority.NORMAL.rank,
                pool=pool,
                queued_at=now,
            )
            triaged = self._decided(mail, pool, now)
        else:
            values.update(
                status=ItemStatus.COMPLETED.value,
                priority_rank=Priority.LOW.rank,
                outcome=mail.kind,
                completed_at=now,
            )
        # One statement for every item, its values as parameters: SQLAlchemy then finds it
        # compiled in its cache without walking the values (the payload) for a cache key.
        params = storable(values)
        if triaged is not None:
            # Read from storable text already: not walked again (the walk costs more than
            # the statement does).
            params.update(triaged.values)
        item_id: int | None
        if self._batch is not None and self._batch.free_ids:
            item_id = params["id"] = self._batch.free_ids.pop()
            self._batch.new_items.append(params)
        else:
            item_id = connection.scalar(_INSERT_ITEM[connection.dialect.name], params)
        if item_id is None:
            return None
        if self._batch is not None:
            self._batch.items_by_key[mail.key] = item_id
            contact = contact_of(mail)
            if contact is not None:
                self._batch.contacts.add(contact)
        events: list[tuple[str, str, dict[str, Any]]] = [
            (
                ACTOR,
                "received",
                {"channel": Channel.EMAIL.value, "tenant": mail.tenant_id, "mail_id": mail.mail_id},
            )
        ]
        if previous_item is not None:
            events.append((ACTOR, "follows", {"previous_item": previous_item}))
        if ordinary:
            events.append((ROUTE_ACTOR, "queued", {"pool": pool}))
            self._remember_message_ids(connection, mail, item_id)
        else:
            events.append((ACTOR, "filtered", {"kind": mail.kind, "reason": mail.kind_reason}))
        rows = [
            {"item_id": item_id, "at": now, "actor": actor, "kind": kind, "data": storable(data)}
            for actor, kind, data in events
        ]
        if triaged is not None and self._batch is not None:
            rows += [{**event, "item_id": item_id} for event in triaged.events]
            self._batch.triaged.add(item_id)
        self._add_events(connection, rows)
        self._mail_done(connection, mail, "ingested", item_id)
        return item_id

    def _decided(self, mail: InboundMail, pool: str, now: datetime) -> Applied | None:
        """The triage columns and events of a new ordinary item, from the batch's triage:
        None when it has none for this message, or when the sender's repeat-sender answer
        changed since it was decided (the item is then triaged after the commit)."""
        batch = self._batch
        if batch is None or batch.triage is None:
            return None
        decided = batch.triage.decisions.get(mail.mail_id)
        if decided is None:
            return None
        contact = contact_of(mail)
        if decided.repeat_sender != (contact is not None and contact in batch.contacts):
            return None
        return triaged_values(decided.decision, _NewItem(pool), now, TRIAGE_ACTOR)

    def _attach(
        self, connection: Connection, mail: InboundMail, item_id: int, now: datetime
    ) -> bool:
        """Add the reply to an open item; False when it was completed in the meantime."""
        item = connection.execute(
            _locked(
                select(work_items.c.status, work_items.c.payload).where(work_items.c.id == item_id),
                connection,
            )
        ).one()
        if item.status not in OPEN_STATUSES:
            return False
        payload = dict(item.payload or {})
        payload["messages"] = [*payload.get("messages", []), dict(mail.summary)]
        connection.execute(
            update(work_items)
            .where(work_items.c.id == item_id)
            .values(payload=storable(payload), updated_at=now)
        )
        self._add_events(
            connection,
            [
                {
                    "item_id": item_id,
                    "at": now,
                    "actor": ACTOR,
                    "kind": "reply",
                    "data": storable(_without_text(mail)),
                }
            ],
        )
        self._remember_message_ids(connection, mail, item_id)
        self._mail_done(connection, mail, "ingested", item_id)
        return True

    def _thread_by_subject(
        self, connection: Connection, mail: InboundMail, now: datetime
    ) -> _Candidate | None:
        """The fallback: an open item of the tenant from this sender, same normalized subject."""
        if not mail.thread_subject or not mail.sender:
            return None
        rows = connection.execute(
            select(
                work_items.c.id, work_items.c.status, work_items.c.payload, work_items.c.updated_at
            )
            .where(
                work_items.c.channel == Channel.EMAIL.value,
                _same_tenant(work_items.c.tenant_id, mail.tenant_id),
                work_items.c.sender == mail.sender[:MAX_ADDRESS],
                work_items.c.status.in_(OPEN_STATUSES),
            )
            .order_by(work_items.c.updated_at.desc(), work_items.c.id.desc())
            .limit(SUBJECT_CANDIDATES)
        ).all()
        for row in rows:
            payload = row.payload or {}
            if payload.get("mail", {}).get("normalized_subject") != mail.thread_subject:
                continue
            last = last_mail_at(payload.get("messages", []), row.updated_at)
            if within_thread_window(last, now, self.thread_window_days):
                return _Candidate(row.id, row.status, payload)
        return None


@dataclass(frozen=True, slots=True)
class _NewItem:
    """An ordinary mail item as ingest inserts it, before triage (`triaged_values`)."""

    pool: str
    status: str = ItemStatus.QUEUED.value
    priority_rank: int = Priority.NORMAL.rank
    required_skill: str | None = None
    due_at: datetime | None = None
    backup_at: datetime | None = None


def contact_of(mail: InboundMail) -> tuple[str, str] | None:
    """(tenant, sender) as the item of `mail` stores them, for the repeat-sender check;
    None when either is missing (no repeat sender then)."""
    sender = storable(mail.sender[:MAX_ADDRESS])
    if not mail.tenant_id or not sender:
        return None
    return mail.tenant_id, sender


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    status: str
    payload: Mapping[str, Any]


_LISTED = (
    mail_messages.c.id,
    mail_messages.c.mailbox,
    mail_messages.c.uidvalidity,
    mail_messages.c.uid,
    mail_messages.c.status,
    mail_messages.c.attempts,
    mail_messages.c.error,
    mail_messages.c.message_id,
    mail_messages.c.size,
    mail_messages.c.fetched_at,
    mail_messages.c.item_id,
)


def _record(
    row: Any,
    *,
    subject: str | None = None,
    kind: str | None = None,
    reason: str | None = None,
    sender: str | None = None,
) -> MailRecord:
    return MailRecord(
        id=row.id,
        mailbox=row.mailbox,
        uidvalidity=row.uidvalidity,
        uid=row.uid,
        status=row.status,
        attempts=row.attempts,
        error=row.error,
        message_id=row.message_id,
        size=row.size,
        fetched_at=row.fetched_at,
        subject=subject,
        item_id=row.item_id,
        kind=kind,
        reason=reason,
        sender=sender,
    )


def peek_subject(head: bytes) -> str | None:
    """The decoded Subject of a raw message's header block, or None when there is none.

    Reads headers only, with the lenient compat32 policy: a quarantined message is one
    whose full parse failed, so nothing more of it is touched here.
    """
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        value = headers.get("Subject")
        if value is None:
            return None
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, email.errors.MessageError):
        return None


_INSERT_ITEM = {
    name: dialect.insert(work_items)
    .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    .returning(work_items.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@functools.cache
def _insert_rows(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: str = ""
) -> TextClause:
    """INSERT rows of `table` given as `_as_rows`, skipping those that hit `conflict`.

    The rows go as one JSON parameter, read back by `json_to_recordset`: the statement's
    text is the same whatever the number of rows, so psycopg converts it once and the
    server plans it once. A multi-row VALUES list of 20 parameters a row was a new text
    of tens of kilobytes each time, parsed by psycopg (0.12 ms a message) and PostgreSQL;
    an array parameter a column is no better, psycopg escapes arrays element by element.
    """
    names = ", ".join(columns)
    skip = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING" if conflict else ""
    back = f" RETURNING {returning}" if returning else ""
    return text(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {_recordset(table, columns)}"
        + skip
        + back
    )


_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]


def _recordset(table: Table, columns: Sequence[str]) -> str:
    """The rows of the :rows JSON parameter, one column of `table`'s type per key."""
    typed = ", ".join(
        f"{name} {table.c[name].type.compile(dialect=_POSTGRESQL)}" for name in columns
    )
    return f"json_to_recordset(CAST(:rows AS json)) AS r({typed})"


def _as_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Rows (JSON values, aware datetimes) as the one JSON parameter of `_recordset`."""
    for row in rows:
        for value in row.values():
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
    return {"rows": orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()}


def _grouped(rows: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Runs of consecutive rows with the same keys, in order."""
    start = 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and rows[end].keys() == rows[start].keys():
            end += 1
        yield list(rows[start:end])
        start = end


# A batch's messages marked done, in one statement (PostgreSQL); the last row of a message
# wins, as it did one statement a row.
_MAIL_DONE = text(
    "UPDATE mail_messages SET status = r.b_status, tenant_id = r.b_tenant_id,"
    " item_id = r.b_item_id, error = NULL"
    " FROM json_to_recordset(CAST(:rows AS json))"
    " AS r(b_id BIGINT, b_status VARCHAR(16), b_tenant_id VARCHAR(64), b_item_id BIGINT)"
    " WHERE mail_messages.id = r.b_id"
)


_ITEM_KEY = ("channel", "external_id")  # work_items' unique key: a taken key is skipped
_DRAW_ITEM_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('work_items', 'id')) FROM generate_series(1, :n)"
)


def _locked(statement: Any, connection: Connection) -> Any:
    return statement.with_for_update() if connection.dialect.name == "postgresql" else statement


def _set_mail(connection: Connection, mail_id: int, **values: Any) -> None:
    connection.execute(update(mail_messages).where(mail_messages.c.id == mail_id).values(**values))


def _clip_error(error: str) -> str:
    error = str(storable(error))
    return error if len(error) <= MAX_ERROR else error[: MAX_ERROR - 1] + "…"


def _same_tenant(column: Any, tenant_id: str | None) -> Any:
    return column.is_(None) if tenant_id is None else column == tenant_id


def _item_with_key(connection: Connection, key: str) -> int | None:
    item_id: int | None = connection.scalar(
        select(work_items.c.id).where(
            work_items.c.channel == Channel.EMAIL.value, work_items.c.external_id == key
        )
    )
    return item_id


def _items_with_keys(connection: Connection, keys: Sequence[str]) -> dict[str, int]:
    """`_item_with_key` of many keys: {key: item id} of those with an item."""
    if not keys:
        return {}
    rows = connection.execute(
        select(work_items.c.external_id, work_items.c.id).where(
            work_items.c.channel == Channel.EMAIL.value,
            work_items.c.external_id.in_(sorted(set(keys))),
        )
    ).all()
    return {row.external_id: row.id for row in rows}


def _items_of_same_raws(
    connection: Connection, raw_sha256s: set[str]
) -> dict[tuple[str, str | None], int]:
    """`_item_of_same_raw` of many digests: {(raw_sha256, tenant): item id}, the item of
    the lowest row done with those bytes for that tenant (the batch's own rows are all
    still `stored`, so none of them)."""
    if not raw_sha256s:
        return {}
    rows = connection.execute(
        select(mail_messages.c.raw_sha256, mail_messages.c.tenant_id, mail_messages.c.item_id)
        .where(
            mail_messages.c.raw_sha256.in_(sorted(raw_sha256s)),
            mail_messages.c.status.in_(("ingested", "duplicate")),
            mail_messages.c.item_id.is_not(None),
        )
        .order_by(mail_messages.c.id)
    ).all()
    found: dict[tuple[str, str | None], int] = {}
    for row in rows:
        found.setdefault((row.raw_sha256, row.tenant_id), row.item_id)
    return found


def _existing_key(connection: Connection, key: str) -> int:
    item_id = _item_with_key(connection, key)
    if item_id is None:  # the conflicting insert's row is gone again: retry the message
        raise LookupError(f"item {key!r} conflicted on insert but cannot be read")
    return item_id


def _item_of_same_raw(connection: Connection, mail: InboundMail, raw_sha256: str) -> int | None:
    """The item another row with the very same bytes (for the same tenant) went to."""
    return connection.scalar(
        select(mail_messages.c.item_id)
        .where(
            mail_messages.c.raw_sha256 == raw_sha256,
            mail_messages.c.id != mail.mail_id,
            mail_messages.c.status.in_(("ingested", "duplicate")),
            mail_messages.c.item_id.is_not(None),
            _same_tenant(mail_messages.c.tenant_id, mail.tenant_id),
        )
        .order_by(mail_messages.c.id)
        .limit(1)
    )


def _thread_by_message_ids(connection: Connection, mail: InboundMail) -> _Candidate | None:
    """The item a reply answers: the most direct parent we know, an open item first."""
    if not mail.answers:
        return None
    rows = connection.execute(
        select(
            item_message_ids.c.message_id,
            work_items.c.id,
            work_items.c.status,
            work_items.c.payload,
        )
        .join(work_items, work_items.c.id == item_message_ids.c.item_id)
        .where(
            item_message_ids.c.message_id.in_(mail.answers),
            _same_tenant(item_message_ids.c.tenant_id, mail.tenant_id),
            work_items.c.channel == Channel.EMAIL.value,
        )
    ).all()
    if not rows:
        return None
    rank = {message_id: index for index, message_id in enumerate(mail.answers)}
    best = min(
        rows,
        key=lambda row: (rank[row.message_id], row.status not in OPEN_STATUSES, -row.id),
    )
    return _Candidate(best.id, best.status, best.payload or {})


def _has_message(payload: Mapping[str, Any], key: str) -> bool:
    return any(message.get("key") == key for message in payload.get("messages", []))


def _add_events(connection: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Insert item events: in one statement a run of rows with the same keys on PostgreSQL."""
    if connection.dialect.name != "postgresql":
        connection.execute(item_events.insert(), events)
        return
    for run in _grouped(events):
        connection.execute(_insert_rows(item_events, tuple(run[0]), ()), _as_rows(run))


def _insert_message_ids(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert (message_id, item_id, tenant_id) rows, and empty the list."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        for run in _grouped(rows):
            statement = _insert_rows(item_message_ids, tuple(run[0]), ("message_id", "item_id"))
            connection.execute(statement, _as_rows(run))
        rows.clear()
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        insert(item_message_ids).on_conflict_do_nothing(index_elements=["message_id", "item_id"]),
        list(rows),
    )
    rows.clear()


def _without_text(mail: InboundMail) -> dict[str, Any]:
    summary = dict(mail.summary)
    summary.pop("text", None)
    return summary


__all__ = [
    "BatchTriage",
    "InboundMail",
    "IngestOutcome",
    "IngestResult",
    "MailDecision",
    "MailDirectory",
    "MailRecord",
    "MailStore",
    "PendingMail",
    "contact_of",
    "peek_subject",
]
