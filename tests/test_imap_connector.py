"""The IMAP connector against a real Dovecot, a real Redis and real databases.

Every message must be stored exactly once whatever happens between fetch and checkpoint:
the connector killed mid-batch, the server restarted, the mailbox renumbered, a second
connector started beside the first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from click.testing import CliRunner
from rq import Queue
from sqlalchemy import Engine, create_engine, func, select

from integrations.imap.connector import Backoff, ImapConnector, header_message_id
from integrations.imap.leader import LeaderLock, Leadership, leader_key
from tests.conftest import REPO_ROOT, SHARED_CORPUS
from triage.cli import cli
from triage.cli.run import app_children
from triage.constants import QUEUE_BULK, QUEUE_DEFAULT
from triage.errors import SettingsError
from triage.settings import ImapSettings, Settings, normalize_database_url
from triage.store.db import make_engine
from triage.store.mailbox import Checkpoint, MailboxStore
from triage.store.migrate import upgrade
from triage.store.tables import mail_messages, mailbox_checkpoints

if TYPE_CHECKING:
    from tests.dovecot import DovecotServer

# Loaded as a plugin rather than imported, so that pytest rewrites its asserts.
pytest_plugins = ("tests.dovecot",)

FAST = Backoff(initial=0.1, maximum=0.5)


# -- helpers -------------------------------------------------------------------------


def message(n: int, *, body: str = "", subject: str = "", charset: str = "utf-8") -> bytes:
    """A plain message with a unique Message-ID, CRLF line ends (as IMAP serves it)."""
    text = body or f"Please call me back about order {n}.\r\nلطفاً با من تماس بگیرید."
    headers = (
        f"From: Client {n} <client{n}@example.org>\r\n"
        f"To: inbox+acme-dental@agency.example\r\n"
        f"Subject: {subject or f'Message {n}'}\r\n"
        f"Message-ID: <msg-{n}@example.org>\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return headers.encode("ascii") + text.encode(charset) + b"\r\n"


@dataclass
class RecordingDispatcher:
    """Records the ingest batches; `fail_on` makes that call raise, like a crash."""

    calls: list[tuple[list[int], bool]] = field(default_factory=list)
    fail_on: int | None = None

    def ingest_mail(self, mail_ids: list[int], *, backfill: bool) -> str:
        if self.fail_on is not None and len(self.calls) + 1 == self.fail_on:
            self.fail_on = None
            raise KeyboardInterrupt("simulated crash after the rows committed")
        self.calls.append((list(mail_ids), backfill))
        return f"job-{len(self.calls)}"

    @property
    def ids(self) -> list[int]:
        return [mail_id for ids, _backfill in self.calls for mail_id in ids]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[MailboxStore]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield MailboxStore(engine)
    engine.dispose()


def read_engine(database_url: str) -> Engine:
    """An engine for the test's own reads. Monshi's SQLite engine begins every transaction
    with BEGIN IMMEDIATE (the write lock), so a test polling through it would starve the
    connector's writes; plain deferred reads in WAL mode never block a writer."""
    if database_url.startswith("sqlite"):
        return create_engine(database_url)
    return make_engine(normalize_database_url(database_url), pool_size=1)


@pytest.fixture
def reader(sqlite_url: str) -> Iterator[Engine]:
    engine = read_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def rows(reader: Engine) -> list[tuple[int, int, str | None]]:
    """(uidvalidity, uid, message_id) of every stored row."""
    with reader.connect() as connection:
        return [
            (int(row.uidvalidity), int(row.uid), row.message_id)
            for row in connection.execute(
                select(mail_messages).order_by(mail_messages.c.uidvalidity, mail_messages.c.uid)
            )
        ]


def count(reader: Engine) -> int:
    with reader.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(mail_messages)) or 0)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.02) -> float:
    """Seconds until `condition` held; fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


@contextmanager
def running(connector: ImapConnector) -> Iterator[threading.Thread]:
    """The connector's run loop in a thread, stopped and joined on exit."""
    stop = threading.Event()
    thread = threading.Thread(target=connector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the connector did not stop"


def connector_for(
    server: DovecotServer,
    store: MailboxStore,
    redis_client: redis.Redis,
    dispatcher: RecordingDispatcher | None = None,
    **settings: object,
) -> ImapConnector:
    return ImapConnector(
        server.settings(**settings),
        store,
        redis_client,
        dispatcher or RecordingDispatcher(),
        backoff=FAST,
    )


# -- settings, backoff, Message-ID ---------------------------------------------------


def test_imap_url_gives_every_part_and_variables_override_it() -> None:
    env = {
        "IMAP_URL": "imaps://inbox%40agency.example:p%40ss@mail.example/Client%20Mail?processed=Done",
        "IMAP_PASSWORD": "from-the-secret-store",
        "IMAP_BATCH": "50",
        "IMAP_IDLE": "off",
        "MAIL_MAX_BYTES": "1000",
    }
    imap = ImapSettings.from_env(env)
    assert imap is not None
    assert (imap.host, imap.port, imap.security, imap.user) == (
        "mail.example",
        993,
        "tls",
        "inbox@agency.example",
    )
    assert (imap.password, imap.mailbox, imap.processed_folder) == (
        "from-the-secret-store",
        "Client Mail",
        "Done",
    )
    assert (imap.batch_size, imap.idle, imap.max_bytes) == (50, False, 1000)
    assert "from-the-secret-store" not in repr(imap)
    starttls = ImapSettings.from_env({"IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_OAUTH2_TOKEN": "t"})
    assert starttls is not None and (starttls.security, starttls.port) == ("tls", 993)
    plain = ImapSettings.from_env({"IMAP_URL": "imap://u:p@h/"})
    assert plain is not None and (plain.security, plain.port, plain.mailbox) == (
        "starttls",
        143,
        "INBOX",
    )
    assert ImapSettings.from_env({}) is None
    settings = Settings.from_env(
        {**env, "DATABASE_URL": "sqlite:///x", "REDIS_URL": "redis://r", "MONSHI_SECRET_KEY": "k"}
    )
    assert settings.imap == imap and settings.mail_max_bytes == 1000


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IMAP_URL": "pop3://u:p@h/"}, "IMAP_URL"),
        ({"IMAP_URL": "imaps://u:p@h:70000/"}, "IMAP_URL"),
        ({"IMAP_URL": "imaps://u:p@h/?proccessed=x"}, "IMAP_URL"),
        ({"IMAP_URL": "imaps://u@h/"}, "IMAP_PASSWORD"),
        ({"IMAP_HOST": "h", "IMAP_PASSWORD": "p"}, "IMAP_USER"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_SECURITY": "ssl"}, "IMAP_SECURITY"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_PORT": "x"}, "IMAP_PORT"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_BATCH": "0"}, "IMAP_BATCH"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_IDLE": "sometimes"}, "IMAP_IDLE"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_POLL_SECONDS": "nan"}, "IMAP_POLL_SECONDS"),
        ({"IMAP_URL": "imaps://u:p@h/", "IMAP_LEADER_TTL_SECONDS": "0.2"}, "IMAP_LEADER_TTL"),
        ({"IMAP_URL": "imaps://u:p@h/", "MAIL_MAX_BYTES": "-1"}, "MAIL_MAX_BYTES"),
    ],
)
def test_malformed_imap_settings_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        ImapSettings.from_env(env)
    assert "p@h" not in str(caught.value)


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    low, high = Backoff(1, 60, random=lambda: 0.0), Backoff(1, 60, random=lambda: 0.999999)
    assert [low.delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert [round(high.delay(n)) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert high.delay(10_000) <= 60
    real = Backoff(1, 60)
    assert len({real.delay(3) for _ in range(20)}) > 1


def test_message_id_is_read_from_the_header_only() -> None:
    assert header_message_id(message(7)) == "<msg-7@example.org>"
    folded = b"Subject: x\r\nMessage-ID:\r\n <long@example.org>\r\n\r\nMessage-ID: <body@x>\r\n"
    assert header_message_id(folded) == "<long@example.org>"
    assert header_message_id(b"Subject: none\n\nMessage-ID: <body@x>\n") is None


# -- the leader lease ----------------------------------------------------------------


def test_one_lease_per_mailbox_renewed_and_released_by_its_holder_only(
    redis_client: redis.Redis,
) -> None:
    first = LeaderLock(redis_client, "box", ttl_seconds=5, token="first")
    second = LeaderLock(redis_client, "box", ttl_seconds=5, token="second")
    other_box = LeaderLock(redis_client, "other", ttl_seconds=5, token="second")
    assert first.acquire() and first.acquire()
    assert not second.acquire() and not second.renew() and not second.release()
    assert other_box.acquire()
    assert redis_client.get(leader_key("box")) == b"first" and first.holder() == "first"
    assert leader_key("box") == "monshi:imap-leader:box"
    assert 4000 < redis_client.pttl(leader_key("box")) <= 5000
    assert first.release()
    assert second.acquire() and first.holder() == "second"


def test_a_lease_whose_holder_stops_renewing_expires_to_the_standby(
    redis_client: redis.Redis,
) -> None:
    dead = LeaderLock(redis_client, "box", ttl_seconds=1, token="dead")
    standby = LeaderLock(redis_client, "box", ttl_seconds=1, token="standby")
    assert dead.acquire() and not standby.acquire()
    waited = wait_for(standby.acquire, timeout=3, step=0.05)
    assert 0.5 < waited < 1.5
    assert not dead.renew()


def test_leadership_renews_and_notices_a_stolen_lease_at_once(redis_client: redis.Redis) -> None:
    lock = LeaderLock(redis_client, "box", ttl_seconds=1, token="mine")
    assert lock.acquire()
    lost_calls: list[bool] = []
    leadership = Leadership(lock, on_lost=lambda: lost_calls.append(True))
    leadership.start()
    time.sleep(1.5)  # longer than the TTL: only renewal keeps it
    assert lock.holder() == "mine" and not leadership.lost.is_set()
    redis_client.set(leader_key("box"), "thief", px=5000)
    wait_for(leadership.lost.is_set, timeout=2)
    assert lost_calls == [True]
    leadership.stop()
    assert lock.holder() == "thief"  # a lost lease is not released: it is not ours


# -- fetching ------------------------------------------------------------------------


def test_sync_stores_each_message_once_byte_for_byte_without_setting_seen(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    # Windows-1256 has the Arabic yeh and no Persian one: Persian mail in it uses "ي".
    persian = message(1, body="سلام، لطفاً فردا ساعت 10 تماس بگيريد.", charset="windows-1256")
    messages = [persian, *(message(n) for n in range(2, 8))]
    dovecot.append(*messages)
    dovecot.append(message(8), flags=[b"\\Seen"])  # already read in another client
    dispatcher = RecordingDispatcher()
    connector = connector_for(dovecot, store, redis_client, dispatcher, batch_size=3)
    client = connector.connect_client(connector.settings)
    try:
        assert connector.sync(client) == 8
        assert connector.sync(client) == 0
    finally:
        client.logout()
    stored = rows(reader)
    assert [(uid, mid) for _v, uid, mid in stored] == [
        (n, f"<msg-{n}@example.org>") for n in range(1, 9)
    ]
    uidvalidity = dovecot.mailbox_status()["uidvalidity"]
    assert {v for v, _uid, _mid in stored} == {uidvalidity}
    assert store.checkpoint(connector.mailbox) == Checkpoint(connector.mailbox, uidvalidity, 8)
    with reader.connect() as connection:
        raw = connection.scalar(select(mail_messages.c.raw).where(mail_messages.c.uid == 1))
    assert raw == persian
    # Three batches of at most 3, each enqueued once, all of it a first import (bulk).
    assert [len(ids) for ids, _ in dispatcher.calls] == [3, 3, 2]
    assert sorted(dispatcher.ids) == sorted(store.stored_ids(connector.mailbox))
    assert all(backfill for _ids, backfill in dispatcher.calls)
    # BODY.PEEK[] and a read-only SELECT: nothing was marked read.
    other_client = dovecot.client()
    other_client.select_folder("INBOX", readonly=True)
    flags = other_client.get_flags(list(range(1, 9)))
    other_client.logout()
    assert [b"\\Seen" in flags[uid] for uid in range(1, 9)] == [False] * 7 + [True]


def test_corpus_messages_arrive_as_the_server_serves_them(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    corpus = sorted((SHARED_CORPUS / "mime").rglob("*.eml"))[:40]
    assert corpus, "the shared MIME corpus is missing"
    dovecot.append(*(path.read_bytes() for path in corpus))
    connector = connector_for(dovecot, store, redis_client)
    client = connector.connect_client(connector.settings)
    try:
        assert connector.sync(client) == len(corpus)
        served = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
    finally:
        client.logout()
    with reader.connect() as connection:
        stored = dict(connection.execute(select(mail_messages.c.uid, mail_messages.c.raw)).all())
    assert stored == {uid: data[b"BODY[]"] for uid, data in served.items()}


def test_a_message_over_the_size_cap_is_stored_as_its_header_with_its_real_size(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    big = message(1, body="x" * 5000)
    dovecot.append(big, message(2))
    connector = connector_for(dovecot, store, redis_client, max_bytes=2000)
    client = connector.connect_client(connector.settings)
    try:
        connector.sync(client)
    finally:
        client.logout()
    with reader.connect() as connection:
        found = connection.execute(
            select(mail_messages.c.uid, mail_messages.c.size, mail_messages.c.raw).order_by(
                mail_messages.c.uid
            )
        ).all()
    assert found[0].size == len(big) and found[0].raw == big.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert found[1].raw == message(2)


def test_idle_picks_up_new_mail_within_a_second_or_two(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dispatcher = RecordingDispatcher()
    connector = connector_for(dovecot, store, redis_client, dispatcher, poll_seconds=60)
    with running(connector):
        wait_for(lambda: connector.stats.syncs >= 1)
        time.sleep(0.2)  # in IDLE now
        for n in (1, 2):
            dovecot.append(message(n))
            assert wait_for(lambda n=n: count(reader) == n, timeout=3) < 2
    assert [(ids, backfill) for ids, backfill in dispatcher.calls] == [([1], False), ([2], False)]
    assert connector.stats.connections == 1
    assert redis_client.get(leader_key(connector.mailbox)) is None  # released on stop


def test_idle_is_issued_again_when_due_on_the_same_connection(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    connector = ImapConnector(
        dovecot.settings(), store, redis_client, RecordingDispatcher(), idle_renew_seconds=0.3
    )
    with running(connector):
        wait_for(lambda: connector.stats.syncs >= 4, timeout=3)
        dovecot.append(message(1))
        wait_for(lambda: count(reader) == 1, timeout=3)
    assert connector.stats.connections == 1


def test_a_server_without_idle_is_polled(
    dovecot_no_idle: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    connector = connector_for(dovecot_no_idle, store, redis_client, poll_seconds=0.3)
    with running(connector):
        wait_for(lambda: connector.stats.syncs >= 1)
        dovecot_no_idle.append(message(1))
        wait_for(lambda: count(reader) == 1, timeout=3)
        wait_for(lambda: connector.stats.syncs >= 4, timeout=3)
    assert connector.stats.connections == 1


def test_idle_can_be_turned_off_for_a_server_that_offers_it(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    connector = connector_for(dovecot, store, redis_client, idle=False, poll_seconds=0.2)
    with running(connector):
        wait_for(lambda: connector.stats.syncs >= 3, timeout=3)
        dovecot.append(message(1))
        wait_for(lambda: count(reader) == 1, timeout=3)


def test_a_crash_between_store_and_checkpoint_fetches_again_and_duplicates_nothing(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(*(message(n) for n in range(1, 11)))
    crashing = RecordingDispatcher(fail_on=2)
    first = connector_for(dovecot, store, redis_client, crashing, batch_size=4)
    client = first.connect_client(first.settings)
    with pytest.raises(KeyboardInterrupt):
        first.sync(client)
    client.shutdown()
    # Batch 2's rows committed, its job was never enqueued, the checkpoint is at batch 1.
    assert count(reader) == 8 and crashing.ids == [1, 2, 3, 4]
    assert store.checkpoint(first.mailbox) is not None
    assert store.checkpoint(first.mailbox).last_uid == 4  # type: ignore[union-attr]
    ids_before = {uid: mail_id for mail_id, uid in _ids_by_uid(reader)}

    dispatcher = RecordingDispatcher()
    second = connector_for(dovecot, store, redis_client, dispatcher, batch_size=4)
    with running(second):
        wait_for(lambda: count(reader) == 10 and second.stats.syncs >= 1)
        wait_for(lambda: store.checkpoint(second.mailbox).last_uid == 10)  # type: ignore[union-attr]
    assert [uid for _v, uid, _m in rows(reader)] == list(range(1, 11))
    ids_after = {uid: mail_id for mail_id, uid in _ids_by_uid(reader)}
    assert all(ids_after[uid] == ids_before[uid] for uid in ids_before)
    # At start every row still 'stored' is re-enqueued (batch 1's job may be lost too),
    # then batch 2 is fetched again and enqueued with its old ids, then batch 3.
    assert sorted(set(dispatcher.ids)) == sorted(ids_after.values())


def _ids_by_uid(reader: Engine) -> list[tuple[int, int]]:
    with reader.connect() as connection:
        return [
            (int(row.id), int(row.uid))
            for row in connection.execute(select(mail_messages.c.id, mail_messages.c.uid))
        ]


def test_a_new_uidvalidity_fetches_the_whole_mailbox_again(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(*(message(n) for n in range(1, 4)))
    dispatcher = RecordingDispatcher()
    connector = connector_for(dovecot, store, redis_client, dispatcher)
    old = dovecot.mailbox_status()["uidvalidity"]
    with running(connector):
        wait_for(lambda: count(reader) == 3)
        time.sleep(0.2)
        dovecot.set_uidvalidity(old + 1000)
        dovecot.append(message(4))  # wakes the IDLE
        wait_for(lambda: count(reader) == 7, timeout=5)
    assert [(v, uid) for v, uid, _m in rows(reader)] == [
        *((old, uid) for uid in (1, 2, 3)),
        *((old + 1000, uid) for uid in (1, 2, 3, 4)),
    ]
    assert store.checkpoint(connector.mailbox) == Checkpoint(connector.mailbox, old + 1000, 4)
    assert dispatcher.calls[-1][1] is True  # the resync is a backfill


def test_a_recreated_mailbox_whose_uids_start_again_below_the_checkpoint_is_fetched(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(*(message(n) for n in range(1, 6)))
    connector = connector_for(dovecot, store, redis_client)
    client = connector.connect_client(connector.settings)
    connector.sync(client)
    client.logout()
    dovecot.clear()
    time.sleep(1.1)  # Dovecot derives a new mailbox's UIDVALIDITY from the clock
    assert dovecot.append(message(6), message(7)) == [1, 2]
    client = connector.connect_client(connector.settings)
    assert connector.sync(client) == 2
    client.logout()
    assert [mid for _v, _uid, mid in rows(reader)][-2:] == [
        "<msg-6@example.org>",
        "<msg-7@example.org>",
    ]


def test_a_server_restart_is_outlasted_and_mail_delivered_meanwhile_is_fetched(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(message(1))
    connector = connector_for(dovecot, store, redis_client)
    with running(connector):
        wait_for(lambda: count(reader) == 1)
        dovecot.stop()
        dovecot.deliver_file(message(2), "1700000000.M1P1.test")
        dovecot.deliver_file(message(3), "1700000001.M2P1.test")
        time.sleep(1)  # the connector fails to reconnect, backing off
        dovecot.start()
        wait_for(lambda: count(reader) == 3, timeout=10)
    assert connector.stats.connections >= 2 and connector.stats.last_error
    assert sorted(mid for _v, _u, mid in rows(reader)) == [
        f"<msg-{n}@example.org>" for n in (1, 2, 3)
    ]


def test_a_processed_folder_receives_the_mail_and_a_crash_before_the_move_is_harmless(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(*(message(n) for n in range(1, 6)))
    crashing = RecordingDispatcher(fail_on=2)
    connector = connector_for(
        dovecot, store, redis_client, crashing, processed_folder="Processed", batch_size=3
    )
    client = connector.connect_client(connector.settings)
    with pytest.raises(KeyboardInterrupt):
        connector._watch(client)
    client.shutdown()
    assert dovecot.mailbox_status()["messages"] == 2  # batch 1 moved, batch 2 stored only
    assert dovecot.mailbox_status("Processed")["messages"] == 3
    dispatcher = RecordingDispatcher()
    connector = connector_for(
        dovecot, store, redis_client, dispatcher, processed_folder="Processed", batch_size=3
    )
    client = connector.connect_client(connector.settings)
    connector.sync(client)
    client.logout()
    assert dovecot.mailbox_status()["messages"] == 0
    assert dovecot.mailbox_status("Processed")["messages"] == 5
    assert [uid for _v, uid, _m in rows(reader)] == [1, 2, 3, 4, 5]
    # Batch 2 (UIDs 4, 5) was stored but never enqueued nor moved: now it is, with its rows.
    assert len(crashing.ids) == 3 and len(dispatcher.ids) == 2
    assert sorted(crashing.ids + dispatcher.ids) == sorted(store.stored_ids(connector.mailbox))


def test_losing_the_lease_stops_fetching_at_once(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    connector = connector_for(dovecot, store, redis_client)
    with running(connector):
        wait_for(connector.leading.is_set)
        wait_for(lambda: connector.stats.syncs >= 1)
        redis_client.set(leader_key(connector.mailbox), "another-connector", px=60_000)
        wait_for(lambda: not connector.leading.is_set(), timeout=2)
        dovecot.append(message(1))
        time.sleep(1)
        assert count(reader) == 0
    assert redis_client.get(leader_key(connector.mailbox)) == b"another-connector"


def test_tls_and_starttls_log_in_and_fetch(
    dovecot_tls: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot_tls.append(message(1))
    for security in ("tls", "starttls"):
        connector = connector_for(dovecot_tls, store, redis_client, security=security)
        client = connector.connect_client(connector.settings)
        try:
            assert client.socket().version().startswith("TLS")
            connector.sync(client)
        finally:
            client.logout()
    assert count(reader) == 1


def test_an_oauth2_token_logs_in_with_xoauth2(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis, reader: Engine
) -> None:
    dovecot.append(message(1))
    token = dovecot.settings().password  # this Dovecot checks an XOAUTH2 token as a password
    connector = connector_for(dovecot, store, redis_client, password="", oauth2_token=token)
    client = connector.connect_client(connector.settings)
    try:
        connector.sync(client)
    finally:
        client.logout()
    assert count(reader) == 1
    assert "method=XOAUTH2" in dovecot.log()


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis
) -> None:
    connector = connector_for(dovecot, store, redis_client, security="starttls")
    with pytest.raises(Exception, match="STARTTLS"):
        connector.connect_client(connector.settings)


def test_a_wrong_password_is_retried_with_backoff_not_a_crash(
    dovecot: DovecotServer, store: MailboxStore, redis_client: redis.Redis
) -> None:
    connector = connector_for(dovecot, store, redis_client, password="wrong")
    with running(connector) as thread:
        wait_for(lambda: "AUTHENTICATIONFAILED" in connector.stats.last_error, timeout=5)
        assert thread.is_alive()


# -- real processes ------------------------------------------------------------------


def imap_process(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m triage imap` with its log in `log_path`."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "triage", "imap"],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.wait(10)


def process_env(
    database_url: str, redis_url: str, server: DovecotServer, **extra: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MONSHI_SECRET_KEY": "test-secret-key",
        **server.env(**extra),
    }


def rows_ahead_of_checkpoint(reader: Engine) -> bool:
    """Whether rows were stored that the checkpoint does not cover yet (the crash window)."""
    with reader.connect() as connection:
        stored = connection.scalar(select(func.max(mail_messages.c.uid))) or 0
        checkpoint = connection.scalar(select(func.max(mailbox_checkpoints.c.last_uid))) or 0
    return stored > checkpoint


def kill_between_store_and_checkpoint(process: subprocess.Popen[bytes], reader: Engine) -> int:
    """SIGKILL the connector once its rows committed and its checkpoint has not moved yet.

    After each commit seen, the process is frozen (SIGSTOP) and looked at: killed when in
    the window, let go (SIGCONT) otherwise. Returns how many rows were stored at the kill.
    """
    seen = count(reader)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        now = count(reader)
        if now == seen:
            time.sleep(0.002)
            continue
        seen = now
        process.send_signal(signal.SIGSTOP)
        if rows_ahead_of_checkpoint(reader):
            kill(process)
            return count(reader)
        process.send_signal(signal.SIGCONT)
    kill(process)
    pytest.fail("the connector was never caught between its store and its checkpoint")


@pytest.mark.timeout(120)
def test_kill_9_between_store_and_checkpoint_then_restart_stores_every_message_once(
    dovecot: DovecotServer, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    total = 600
    client = dovecot.client()
    client.multiappend("INBOX", [message(n) for n in range(1, total + 1)])
    client.logout()
    engine = make_engine(database_url)
    upgrade(engine)
    store = MailboxStore(engine)
    reader = read_engine(database_url)
    env = process_env(
        database_url, redis_url, dovecot, IMAP_BATCH="20", IMAP_LEADER_TTL_SECONDS="1"
    )
    log_path = tmp_path / "imap.log"
    try:
        killed_at = [
            kill_between_store_and_checkpoint(imap_process(env, log_path), reader) for _ in range(3)
        ]
        assert killed_at[-1] < total and killed_at == sorted(killed_at)
        process = imap_process(env, log_path)
        try:
            wait_for(lambda: count(reader) == total, timeout=30)
            mailbox = dovecot.settings().mailbox_key
            wait_for(lambda: (store.checkpoint(mailbox) or Checkpoint("", 0, 0)).last_uid == total)
        finally:
            kill(process, signal.SIGTERM)
        assert process.returncode == 0, log_path.read_text()
        # Every row went to an ingest job: enqueued before its checkpoint, or again at start.
        connection = redis.Redis.from_url(redis_url)
        enqueued = {
            mail_id
            for name in (QUEUE_DEFAULT, QUEUE_BULK)
            for job in Queue(name, connection=connection).jobs
            for mail_id in job.args[0]
        }
        connection.close()
        with reader.connect() as connection_:
            all_ids = set(connection_.scalars(select(mail_messages.c.id)))
        assert all_ids <= enqueued
        with engine.connect() as connection:
            per_uid = connection.execute(
                select(mail_messages.c.uidvalidity, mail_messages.c.uid, func.count()).group_by(
                    mail_messages.c.uidvalidity, mail_messages.c.uid
                )
            ).all()
            distinct_ids = connection.scalar(
                select(func.count(func.distinct(mail_messages.c.message_id)))
            )
        assert len(per_uid) == total and {n for _v, _u, n in per_uid} == {1}
        assert {uid for _v, uid, _n in per_uid} == set(range(1, total + 1))
        assert distinct_ids == total
    finally:
        reader.dispose()
        engine.dispose()


@pytest.mark.timeout(120)
def test_two_connectors_one_leader_and_the_standby_takes_over_when_it_dies(
    dovecot: DovecotServer,
    sqlite_url: str,
    redis_url: str,
    tmp_path: Path,
    redis_client: redis.Redis,
    reader: Engine,
) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    env = process_env(sqlite_url, redis_url, dovecot, IMAP_LEADER_TTL_SECONDS="1.5")
    key = leader_key(dovecot.settings().mailbox_key)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [imap_process(env, logs[0])]
    try:
        wait_for(lambda: redis_client.get(key) is not None, timeout=15)
        processes.append(imap_process(env, logs[1]))
        time.sleep(1.5)  # the second one is up and standing by
        dovecot.append(*(message(n) for n in range(1, 21)))
        wait_for(lambda: count(reader) == 20, timeout=10)
        holder = (redis_client.get(key) or b"").decode()
        leader = next(p for p in processes if f":{p.pid}:" in holder)
        standby = next(p for p in processes if p is not leader)
        standby_log = logs[processes.index(standby)]
        assert "stored" not in standby_log.read_text()
        kill(leader)
        dovecot.append(*(message(n) for n in range(21, 26)))
        waited = wait_for(lambda: count(reader) == 25, timeout=15)
        assert waited < 6
        assert f":{standby.pid}:" in (redis_client.get(key) or b"").decode()
        assert "stored" in standby_log.read_text()
        assert [uid for _v, uid, _m in rows(reader)] == list(range(1, 26))
    finally:
        for process in processes:
            kill(process)


# -- the CLI -------------------------------------------------------------------------


def test_monshi_imap_says_which_variable_is_missing(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = CliRunner().invoke(
        cli, ["imap"], env={**env, "MONSHI_SECRET_KEY": "k", "IMAP_URL": "", "IMAP_HOST": ""}
    )
    assert result.exit_code != 0 and "IMAP_URL" in result.output


def test_monshi_run_starts_the_connector_only_when_imap_is_configured() -> None:
    without = app_children({"IMAP_URL": ""}, "127.0.0.1", 8080)
    with_imap = app_children({"IMAP_URL": "imaps://u:p@h/"}, "127.0.0.1", 8080)
    assert [child.name for child in without] == ["web", "worker"]
    assert [child.name for child in with_imap] == ["web", "worker", "imap"]
    assert with_imap[-1].argv[-1] == "imap"


def test_simulate_email_appends_the_file_with_its_recipient(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    path = tmp_path / "mail.eml"
    path.write_bytes(message(1))
    result = CliRunner().invoke(
        cli,
        ["simulate", "email", str(path), "--to", "inbox+hudson-law@agency.example"],
        env=dovecot.env(),
    )
    assert result.exit_code == 0, result.output
    assert "UID 1" in result.output
    imap = dovecot.client()
    imap.select_folder("INBOX", readonly=True)
    raw = imap.fetch([1], ["BODY.PEEK[]"])[1][b"BODY[]"]
    imap.logout()
    assert raw.startswith(b"Delivered-To: inbox+hudson-law@agency.example\r\n")
    assert raw.endswith(message(1))
