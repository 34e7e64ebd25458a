"""The IMAP connector: watch the agency inbox and hand every new message to ingest exactly once.

For each batch of new UIDs it fetches `BODY.PEEK[]` (so `\\Seen` is never set, and never
read: mail opened in another client is fetched all the same), stores the raw bytes, enqueues
the ingest job, and only then advances the checkpoint (UIDVALIDITY + last UID) or moves the
batch to the processed folder. A crash anywhere in between makes the next run fetch those
UIDs again, and the store hands back the rows it already has. A new UIDVALIDITY means the
server renumbered the mailbox: everything in it is fetched again under the new value, and
ingest's dedupe (tenant + Message-ID + hash of the raw bytes) makes no second item.

It waits with IDLE when the server offers it (re-issued every IDLE_RENEW_SECONDS, well
inside the 29 minutes RFC 2177 allows), else polls; reconnects with capped exponential
backoff and jitter; and fetches only while it holds the mailbox's leader lease.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, Final, Protocol

import redis
from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.imapclient import SocketTimeout  # type: ignore[import-untyped]
from sqlalchemy.exc import SQLAlchemyError

from integrations.imap.leader import LeaderLock, Leadership
from triage.redact import redact_email
from triage.settings import ImapSettings
from triage.store.mailbox import STATUS_STORED, FetchedMail, MailboxStore

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS: Final = 600.0
# How often a blocked IDLE looks up to see whether it was asked to stop.
IDLE_CHECK_SECONDS: Final = 1.0
# UIDs looked up per SEARCH, and bytes fetched per batch: memory stays bounded by these,
# not by the size of the mailbox.
SEARCH_WINDOW: Final = 20_000
BATCH_BYTES: Final = 32 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS: Final = 15.0
READ_TIMEOUT_SECONDS: Final = 120.0

# The connection or the server failed: reconnect after a backoff.
CONNECTION_ERRORS: Final = (imaplib.IMAP4.error, OSError)
# The database or Redis failed: nothing advanced, so retry the whole batch after a backoff.
BACKEND_ERRORS: Final = (SQLAlchemyError, redis.RedisError)


class MailDispatcher(Protocol):
    """What the connector needs of workers.dispatch.Dispatcher."""

    def ingest_mail(self, mail_ids: list[int], *, backfill: bool) -> str: ...


class LeadershipLost(Exception):
    """The leader lease went to another connector: stop fetching now."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: each delay is drawn from [cap/2, cap]."""

    initial: float = 1.0
    maximum: float = 60.0
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, failures: int) -> float:
        ceiling = min(self.maximum, self.initial * 2.0 ** min(failures, 32))
        return ceiling / 2 + self.random() * ceiling / 2


@dataclass(slots=True)
class ConnectorStats:
    """What this connector did, for logs and tests."""

    connections: int = 0
    syncs: int = 0
    fetched: int = 0
    stored_new: int = 0
    enqueued_batches: int = 0
    last_error: str = ""


def connect(settings: ImapSettings, timeout: float = READ_TIMEOUT_SECONDS) -> Any:
    """A logged-in IMAPClient: implicit TLS, STARTTLS or plain text, password or XOAUTH2.

    STARTTLS that the server does not offer is an error, never a fall back to plain text.
    """
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    timeouts = SocketTimeout(connect=CONNECT_TIMEOUT_SECONDS, read=timeout)
    client = IMAPClient(
        settings.host,
        port=settings.port,
        ssl=settings.security == "tls",
        ssl_context=context,
        timeout=timeouts,
    )
    try:
        if settings.security == "starttls":
            client.starttls(context)
        if settings.oauth2_token:
            client.oauth2_login(settings.user, settings.oauth2_token)
        else:
            client.login(settings.user, settings.password)
    except BaseException:
        with contextlib.suppress(*CONNECTION_ERRORS):
            client.shutdown()
        raise
    return client


def close(client: Any) -> None:
    """Log out, or just close the socket when the connection is already broken."""
    try:
        client.logout()
    except CONNECTION_ERRORS:
        with contextlib.suppress(*CONNECTION_ERRORS):
            client.shutdown()


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID header of a raw message, cheaply (the header only), or None."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = raw if end < 0 else raw[: end + 2]
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Message-ID")
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:998] or None


class ImapConnector:
    """Fetches one mailbox into the store, while it holds that mailbox's leader lease."""

    def __init__(
        self,
        settings: ImapSettings,
        store: MailboxStore,
        connection: redis.Redis,
        dispatcher: MailDispatcher,
        *,
        backoff: Backoff | None = None,
        idle_renew_seconds: float = IDLE_RENEW_SECONDS,
        connect_client: Callable[[ImapSettings], Any] = connect,
        token: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.dispatcher = dispatcher
        self.mailbox = settings.mailbox_key
        self.lock = LeaderLock(connection, self.mailbox, settings.leader_ttl_seconds, token)
        self.backoff = backoff or Backoff()
        self.idle_renew_seconds = idle_renew_seconds
        self.connect_client = connect_client
        self.stats = ConnectorStats()
        self.leading = threading.Event()
        self._client: Any = None
        self._lost: threading.Event | None = None
        self._stop = threading.Event()
        self._failures = 0
        self._label = f"{redact_email(settings.user)} at {settings.host}/{settings.mailbox}"

    # -- the loops -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Stand by for the lease, then fetch while holding it; return once `stop` is set."""
        self._stop = stop
        failures = 0
        while not stop.is_set():
            try:
                acquired = self.lock.acquire()
            except redis.RedisError as error:
                log.warning("imap: cannot reach Redis for the leader lease: %s", error)
                self._sleep(self.backoff.delay(failures))
                failures += 1
                continue
            failures = 0
            if not acquired:
                self._sleep(self.lock.ttl_seconds / 4)
                continue
            self._lead()

    def _lead(self) -> None:
        leadership = Leadership(self.lock, on_lost=self._abort_connection)
        self._lost = leadership.lost
        leadership.start()
        self.leading.set()
        log.info("imap: leading %s (lease %s)", self._label, self.lock.token)
        try:
            self._keep_connected()
        finally:
            self.leading.clear()
            leadership.stop(release=True)
            self._lost = None
            log.info("imap: no longer leading %s", self._label)

    def _keep_connected(self) -> None:
        """Connect, sync and wait for mail until stopped, outlasting server and backend failures."""
        self._failures = 0
        requeued = False
        while not self._halted():
            try:
                if not requeued:
                    self._requeue_stored()
                    requeued = True
                with self._session() as client:
                    self._watch(client)
            except LeadershipLost:
                return
            except CONNECTION_ERRORS as error:
                if self._halted():
                    return
                self.stats.last_error = f"{type(error).__name__}: {error}"
                delay = self._next_delay()
                log.warning("imap: %s: %s; reconnecting in %.1f s", self._label, error, delay)
                self._sleep(delay)
            except BACKEND_ERRORS as error:
                if self._halted():
                    return
                self.stats.last_error = f"{type(error).__name__}: {error}"
                delay = self._next_delay()
                log.exception("imap: store or queue failed; retrying in %.1f s", delay)
                self._sleep(delay)

    def _next_delay(self) -> float:
        delay = self.backoff.delay(self._failures)
        self._failures += 1
        return delay

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        client = self.connect_client(self.settings)
        self._client = client
        self.stats.connections += 1
        try:
            if self._lost is not None and self._lost.is_set():
                raise LeadershipLost
            yield client
        finally:
            self._client = None
            close(client)

    def _watch(self, client: Any) -> None:
        use_idle = self.settings.idle and client.has_capability("IDLE")
        if self.settings.processed_folder and not client.folder_exists(
            self.settings.processed_folder
        ):
            client.create_folder(self.settings.processed_folder)
        while not self._halted():
            self.sync(client)
            self._failures = 0  # a whole pass worked: the next failure starts small again
            if use_idle:
                self._idle(client)
            else:
                self._sleep(self.settings.poll_seconds)

    def _idle(self, client: Any) -> None:
        """Wait in IDLE until the server reports new mail, IDLE is due again, or we stop."""
        client.idle()
        due = time.monotonic() + self.idle_renew_seconds
        try:
            while not self._halted() and (left := due - time.monotonic()) > 0:
                wait = min(IDLE_CHECK_SECONDS, left)
                checked = time.monotonic()
                responses = client.idle_check(timeout=wait)
                if any(_is_news(response) for response in responses):
                    return
                # idle_check swallows EOF and returns early with nothing: the server closed
                # the connection. idle_done below then raises, and we reconnect.
                if not responses and time.monotonic() - checked < wait / 2:
                    return
        finally:
            if not (self._lost is not None and self._lost.is_set()):
                client.idle_done()

    # -- one pass over the mailbox ---------------------------------------------------

    def sync(self, client: Any) -> int:
        """Fetch, store and hand over everything new; returns how many messages were fetched."""
        settings = self.settings
        moving = bool(settings.processed_folder)
        selected = client.select_folder(settings.mailbox, readonly=not moving)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        uidnext = int(selected.get(b"UIDNEXT") or 0)
        self.stats.syncs += 1
        checkpoint = self.store.checkpoint(self.mailbox)
        if checkpoint is not None and checkpoint.uidvalidity != uidvalidity:
            log.warning(
                "imap: %s: UIDVALIDITY changed from %d to %d; fetching the whole mailbox again",
                self._label,
                checkpoint.uidvalidity,
                uidvalidity,
            )
        resync = checkpoint is None or checkpoint.uidvalidity != uidvalidity
        last_uid = 0 if checkpoint is None or resync else checkpoint.last_uid
        # With a processed folder, whatever is still in the mailbox is unfinished (a crash
        # before the move), so everything there is looked at; the store knows what it has.
        first = 1 if moving else last_uid + 1
        fetched = 0
        done = last_uid
        if selected.get(b"EXISTS") and (moving or not uidnext or first < uidnext):
            for uids in self._new_uids(client, first, uidnext):
                backfill = resync or len(uids) > settings.batch_size
                for batch in self._batches(client, uids):
                    fetched += self._hand_over(client, uidvalidity, batch, backfill=backfill)
                    done = max(done, batch[-1][0])
        # A UID below UIDNEXT was in the mailbox when it was selected, so it has been handed
        # over or is gone for good: the checkpoint may skip to there. This also records the
        # UIDVALIDITY of an empty mailbox, so its first message is live mail, not a backfill.
        if uidnext and ((resync and done == 0) or done < uidnext - 1):
            self._check_lease()
            self.store.advance_checkpoint(self.mailbox, uidvalidity, uidnext - 1)
        return fetched

    def _new_uids(self, client: Any, first: int, uidnext: int) -> Iterator[list[int]]:
        """UIDs from `first` on, a window at a time (all of them when UIDNEXT is unknown)."""
        if not uidnext:
            yield sorted(uid for uid in client.search(["UID", f"{first}:*"]) if uid >= first)
            return
        start = first
        while start < uidnext:
            end = min(start + SEARCH_WINDOW, uidnext) - 1
            self._check_lease()
            # "n:m" with m below every UID still matches the highest one: filter.
            found = [uid for uid in client.search(["UID", f"{start}:{end}"]) if start <= uid <= end]
            if found:
                yield sorted(found)
            start = end + 1

    def _batches(self, client: Any, uids: list[int]) -> Iterator[list[tuple[int, int]]]:
        """(uid, size) batches of at most batch_size messages and BATCH_BYTES bytes."""
        sizes: dict[int, int] = {}
        for response_uid, data in client.fetch(uids, ["RFC822.SIZE"]).items():
            sizes[int(response_uid)] = int(data.get(b"RFC822.SIZE", 0))
        batch: list[tuple[int, int]] = []
        batch_bytes = 0
        for uid in uids:
            if uid not in sizes:  # expunged meanwhile
                continue
            size = min(sizes[uid], self.settings.max_bytes)
            if batch and (
                len(batch) >= self.settings.batch_size or batch_bytes + size > BATCH_BYTES
            ):
                yield batch
                batch, batch_bytes = [], 0
            batch.append((uid, sizes[uid]))
            batch_bytes += size
        if batch:
            yield batch

    def _hand_over(
        self, client: Any, uidvalidity: int, batch: Sequence[tuple[int, int]], *, backfill: bool
    ) -> int:
        """Fetch one batch, store it, enqueue its ingest, then advance the checkpoint."""
        messages = self._fetch(client, batch)
        self._check_lease()
        if messages:
            stored = self.store.store_messages(self.mailbox, uidvalidity, messages)
            waiting = [row.id for row in stored if row.status == STATUS_STORED]
            new = sum(row.new for row in stored)
            if waiting:
                self.dispatcher.ingest_mail(waiting, backfill=backfill)
                self.stats.enqueued_batches += 1
            self.stats.fetched += len(messages)
            self.stats.stored_new += new
            log.info(
                "imap: %s: stored %d new of %d message(s), UIDs %d-%d%s",
                self._label,
                new,
                len(messages),
                batch[0][0],
                batch[-1][0],
                " (backfill)" if backfill else "",
            )
        uids = [uid for uid, _size in batch]
        if self.settings.processed_folder:
            self._move(client, uids)
        self.store.advance_checkpoint(self.mailbox, uidvalidity, max(uids))
        return len(messages)

    def _fetch(self, client: Any, batch: Sequence[tuple[int, int]]) -> list[FetchedMail]:
        """The batch's raw bytes; a message over max_bytes comes as its header only."""
        whole = [uid for uid, size in batch if size <= self.settings.max_bytes]
        headers_only = [uid for uid, size in batch if size > self.settings.max_bytes]
        sizes = dict(batch)
        found: dict[int, FetchedMail] = {}
        if whole:
            for uid, data in client.fetch(whole, ["BODY.PEEK[]"]).items():
                raw = data.get(b"BODY[]")
                if raw is not None:
                    found[int(uid)] = _mail(int(uid), bytes(raw), len(raw))
        if headers_only:
            for uid, data in client.fetch(headers_only, ["BODY.PEEK[HEADER]"]).items():
                raw = data.get(b"BODY[HEADER]")
                if raw is not None:
                    log.info("imap: UID %s is %d bytes, over MAIL_MAX_BYTES", uid, sizes[uid])
                    found[int(uid)] = _mail(int(uid), bytes(raw), sizes[int(uid)])
        return [found[uid] for uid in sorted(found)]

    def _move(self, client: Any, uids: list[int]) -> None:
        folder = self.settings.processed_folder
        if client.has_capability("MOVE"):
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        client.delete_messages(uids)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    def _requeue_stored(self) -> None:
        """Enqueue again what was stored but never ingested: its job may have been lost."""
        ids = self.store.stored_ids(self.mailbox)
        for start in range(0, len(ids), self.settings.batch_size):
            self.dispatcher.ingest_mail(
                ids[start : start + self.settings.batch_size], backfill=True
            )
        if ids:
            log.warning("imap: %s: re-enqueued %d stored message(s)", self._label, len(ids))

    # -- stopping ------------------------------------------------------------------

    def _halted(self) -> bool:
        return self._stop.is_set() or (self._lost is not None and self._lost.is_set())

    def _check_lease(self) -> None:
        if self._lost is not None and self._lost.is_set():
            raise LeadershipLost

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when asked to stop or when the lease is lost."""
        deadline = time.monotonic() + seconds
        while not self._halted():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stop.wait(min(remaining, 0.2))

    def _abort_connection(self) -> None:
        """Called from the lease thread: cut the connection so a blocked read returns now."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(*CONNECTION_ERRORS):
            client.socket().shutdown(socket.SHUT_RDWR)


def _mail(uid: int, raw: bytes, size: int) -> FetchedMail:
    return FetchedMail(uid=uid, raw=raw, size=size, message_id=header_message_id(raw))


def _is_news(response: Any) -> bool:
    """An IDLE response that means new mail, or the server hanging up."""
    if not isinstance(response, tuple) or len(response) < 2:
        return False
    return bool(response[1] == b"EXISTS" or response[0] == b"BYE")
