"""The connector's store on both databases: raw mail once per UID, a forward-only checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, update

from triage.store.db import make_engine
from triage.store.mailbox import Checkpoint, FetchedMail, MailboxStore
from triage.store.migrate import upgrade
from triage.store.tables import mail_messages

BOX = "inbox@agency.example@mail.example/INBOX"


@pytest.fixture
def store(database_url: str) -> Iterator[MailboxStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield MailboxStore(engine)
    engine.dispose()


def mail(uid: int, body: bytes = b"hello", size: int | None = None) -> FetchedMail:
    raw = b"Message-ID: <%d@example>\r\nSubject: s\r\n\r\n" % uid + body
    return FetchedMail(uid=uid, raw=raw, size=size or len(raw), message_id=f"<{uid}@example>")


def rows(store: MailboxStore) -> list[tuple[int, int, str, int]]:
    with store.engine.connect() as connection:
        return [
            (row.uidvalidity, row.uid, row.status, row.attempts)
            for row in connection.execute(
                select(mail_messages).order_by(mail_messages.c.uidvalidity, mail_messages.c.uid)
            )
        ]


def test_messages_are_stored_raw_with_their_hash_and_size(store: MailboxStore) -> None:
    big = FetchedMail(uid=3, raw=b"Subject: big\r\n\r\n", size=90_000_000)
    stored = store.store_messages(BOX, 7, [mail(2), mail(1, "سلام".encode()), big])
    assert [(s.uid, s.status, s.new) for s in stored] == [
        (1, "stored", True),
        (2, "stored", True),
        (3, "stored", True),
    ]
    with store.engine.connect() as connection:
        row = connection.execute(
            select(mail_messages).where(mail_messages.c.id == stored[0].id)
        ).one()
        big_row = connection.execute(
            select(mail_messages).where(mail_messages.c.id == stored[2].id)
        ).one()
    assert row.raw == mail(1, "سلام".encode()).raw
    assert row.raw_sha256 == hashlib.sha256(row.raw).hexdigest()
    assert (row.message_id, row.size, row.attempts, row.mailbox) == (
        "<1@example>",
        len(row.raw),
        0,
        BOX,
    )
    assert big_row.size == 90_000_000 and big.truncated and not mail(1).truncated


def test_storing_again_reuses_the_rows_and_reports_their_status(store: MailboxStore) -> None:
    first = store.store_messages(BOX, 7, [mail(1), mail(2)])
    with store.engine.begin() as connection:
        connection.execute(
            update(mail_messages).where(mail_messages.c.uid == 1).values(status="ingested")
        )
    again = store.store_messages(BOX, 7, [mail(1), mail(2), mail(3)])
    assert [(s.id, s.status, s.new) for s in again[:2]] == [
        (first[0].id, "ingested", False),
        (first[1].id, "stored", False),
    ]
    assert again[2].new and again[2].id not in {s.id for s in first}
    assert len(rows(store)) == 3


def test_the_same_uid_under_a_new_uidvalidity_is_a_new_row(store: MailboxStore) -> None:
    old = store.store_messages(BOX, 7, [mail(1)])
    new = store.store_messages(BOX, 8, [mail(1)])
    other_box = store.store_messages(BOX + "-2", 7, [mail(1)])
    assert len({old[0].id, new[0].id, other_box[0].id}) == 3
    assert store.store_messages(BOX, 7, []) == []


def test_the_checkpoint_only_moves_forward_under_one_uidvalidity(store: MailboxStore) -> None:
    assert store.checkpoint(BOX) is None
    assert store.advance_checkpoint(BOX, 7, 10) == Checkpoint(BOX, 7, 10)
    assert store.advance_checkpoint(BOX, 7, 4) == Checkpoint(BOX, 7, 10)
    assert store.advance_checkpoint(BOX, 7, 12) == Checkpoint(BOX, 7, 12)
    assert store.checkpoint(BOX) == Checkpoint(BOX, 7, 12)
    # A new UIDVALIDITY starts over, even at a lower UID.
    assert store.advance_checkpoint(BOX, 9, 3) == Checkpoint(BOX, 9, 3)
    assert store.checkpoint(BOX) == Checkpoint(BOX, 9, 3)
    assert store.checkpoint("other") is None


def test_stored_ids_lists_only_this_mailboxs_waiting_rows(store: MailboxStore) -> None:
    stored = store.store_messages(BOX, 7, [mail(1), mail(2), mail(3)])
    store.store_messages("elsewhere", 7, [mail(1)])
    with store.engine.begin() as connection:
        connection.execute(
            update(mail_messages)
            .where(mail_messages.c.id == stored[1].id)
            .values(status="rejected", error="no")
        )
    assert store.stored_ids(BOX) == [stored[0].id, stored[2].id]
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(mail_messages)) == 4
