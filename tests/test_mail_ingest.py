"""Mail ingest on both databases: stored raw messages become items, replies, recorded auto
mail, duplicates, rejections or quarantined poison, and the whole MIME corpus gets through.

Rows are written with the connector's own MailboxStore, so no IMAP server is needed here.
"""

from __future__ import annotations

import base64
import email.policy
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import redis
import sqlalchemy.exc
from sqlalchemy import select, update

from integrations.imap.parse import parse_message
from tests.conftest import SHARED_CORPUS
from triage.constants import MAIL_MAX_ATTEMPTS, MAIL_THREAD_WINDOW_DAYS
from triage.mail import ParsedMail
from triage.mail_threading import answered_ids, content_digest, dedupe_key, thread_subject
from triage.models import ItemStatus, Priority
from triage.settings import Settings
from triage.store.mail_items import MailStore
from triage.store.mailbox import FetchedMail, MailboxStore
from triage.store.repository import Repository
from triage.store.tables import agency, item_message_ids, mail_messages, tenant_email_addresses
from workers import context
from workers.dispatch import Dispatcher
from workers.mail_jobs import ingest_mail_batch, ingest_stored_mail
from workers.main import run_worker

INBOX = "inbox@agency.example"
BOX = "inbox@agency.example@imap.agency.example/INBOX"
ACME = "info@acmedental.example"
ACME_BILLING = "billing@acmedental.example"
PARS = "info@parsclinic.example"
CUSTOMER = "leila@customer.example"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The repository's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def repo(store: Repository) -> Repository:
    """The seeded store plus the agency inbox and the tenants' addresses."""
    with store.engine.begin() as connection:
        connection.execute(
            agency.insert(),
            [{"key": "name", "value": "Agency"}, {"key": "inbox", "value": INBOX}],
        )
        connection.execute(
            tenant_email_addresses.insert(),
            [
                {"address": ACME, "tenant_id": "acme-dental"},
                {"address": ACME_BILLING, "tenant_id": "acme-dental"},
                {"address": PARS, "tenant_id": "pars-clinic"},
            ],
        )
    store.clock = Clock(T0)
    return store


@pytest.fixture
def worker(repo: Repository, settings: Settings) -> Iterator[context.WorkerContext]:
    """The worker process's context, as `monshi worker` installs it."""
    connection = redis.Redis.from_url(settings.redis_url)
    ctx = context.WorkerContext(repo, connection, Dispatcher(connection))
    context.install(ctx)
    yield ctx
    context.install(None)
    connection.close()


_uids = itertools.count(1)


def stored(
    repo: Repository, *raws: bytes, mailbox: str = BOX, size: int | None = None
) -> list[int]:
    """Store raw messages as the connector does; returns their mail_messages ids."""
    fetched = [FetchedMail(uid=next(_uids), raw=raw, size=size or len(raw)) for raw in raws]
    return [row.id for row in MailboxStore(repo.engine).store_messages(mailbox, 1, fetched)]


def message(
    *,
    to: str = ACME,
    sender: str = f"Leila Karimi <{CUSTOMER}>",
    subject: str = "Cleaning on Thursday?",
    body: str = "Can I move my cleaning to Thursday?",
    message_id: str | None = "<m1@customer.example>",
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    for name, value in (headers or {}).items():
        msg[name] = value
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 08:55:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)


def row(repo: Repository, mail_id: int) -> Any:
    with repo.engine.connect() as connection:
        return connection.execute(select(mail_messages).where(mail_messages.c.id == mail_id)).one()


def ingest(repo: Repository, *raws: bytes) -> list[Any]:
    """Store and ingest messages; returns their rows afterwards."""
    ids = stored(repo, *raws)
    ingest_mail_batch(ids)
    return [row(repo, mail_id) for mail_id in ids]


def test_plain_mail_becomes_a_routed_item_through_a_real_worker(
    repo: Repository, settings: Settings
) -> None:
    ids = stored(repo, message())
    connection = redis.Redis.from_url(settings.redis_url)
    Dispatcher(connection).ingest_mail(ids, backfill=False)
    connection.close()
    assert run_worker(settings, burst=True)

    mail_row = row(repo, ids[0])
    assert (mail_row.status, mail_row.tenant_id, mail_row.attempts) == (
        "ingested",
        "acme-dental",
        1,
    )
    item = repo.get_item(mail_row.item_id)
    assert (item.status, item.pool, item.tenant_id) == (
        ItemStatus.QUEUED,
        "tenant:acme-dental",
        "acme-dental",
    )
    assert (item.channel.value, item.sender, item.recipient) == ("email", CUSTOMER, ACME)
    assert item.subject == "Cleaning on Thursday?"
    assert item.body.strip() == "Can I move my cleaning to Thursday?"
    assert item.priority is Priority.NORMAL
    assert item.external_id.startswith("acme-dental:m1@customer.example:")
    mail = item.payload["mail"]
    assert mail["message_id"] == "m1@customer.example"
    assert mail["from"] == {"name": "Leila Karimi", "address": CUSTOMER}
    assert (mail["kind"], mail["mail_id"]) == ("ordinary", ids[0])
    # Triage read it once queued: the same pool, now with a category and its reasons.
    assert [(e.kind, e.actor) for e in repo.events(item.id)] == [
        ("received", "imap:ingest"),
        ("queued", "worker:ingest"),
        ("triaged", "worker:triage"),
    ]
    assert item.category == "scheduling"
    assert item.triage is not None and item.triage["language"] == "en"


def test_plus_tag_names_the_tenant(repo: Repository, worker: Any) -> None:
    (mail_row,) = ingest(repo, message(to="inbox+pars-clinic@agency.example"))
    item = repo.get_item(mail_row.item_id)
    assert (item.tenant_id, item.pool) == ("pars-clinic", "tenant:pars-clinic")
    assert item.recipient == "inbox+pars-clinic@agency.example"


def test_auto_forward_keeps_the_client_address_in_delivered_to(
    repo: Repository, worker: Any
) -> None:
    raw = message(
        to="friends@customer.example",
        headers={"Delivered-To": ACME, "X-Forwarded-To": INBOX},
    )
    (mail_row,) = ingest(repo, raw)
    item = repo.get_item(mail_row.item_id)
    assert (item.tenant_id, item.recipient) == ("acme-dental", ACME)
    assert item.payload["mail"]["tenant_match"]["header"] == "delivered-to"


def test_mail_for_no_client_is_an_unmatched_item_for_supervisors(
    repo: Repository, worker: Any
) -> None:
    (mail_row,) = ingest(repo, message(to="someone@elsewhere.example"))
    item = repo.get_item(mail_row.item_id)
    assert (item.tenant_id, item.pool, item.status) == (None, "unmatched", ItemStatus.QUEUED)
    assert mail_row.tenant_id is None
    assert item.external_id.startswith("-:m1@customer.example:")
    assert repo.claim_next_item("sara") is None
    claimed = repo.claim_next_item("maryam")
    assert claimed is not None and claimed.id == item.id


def test_manual_forward_shows_the_original_sender_and_subject(
    repo: Repository, worker: Any
) -> None:
    body = (
        "Please call her back today.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Leila Karimi <leila@customer.example>\n"
        "Date: Sun, 1 Nov 2026 at 18:20\n"
        "Subject: Broken crown, need an appointment\n"
        "To: <info@acmedental.example>\n\n"
        "Hello, my crown broke. Can I come in tomorrow?\n"
    )
    raw = message(
        to="inbox+acme-dental@agency.example",
        sender="Dr. Acme <owner@acmedental.example>",
        subject="Fwd: Broken crown, need an appointment",
        body=body,
    )
    (mail_row,) = ingest(repo, raw)
    item = repo.get_item(mail_row.item_id)
    assert (item.tenant_id, item.sender) == ("acme-dental", CUSTOMER)
    assert item.subject == "Broken crown, need an appointment"
    original = item.payload["mail"]["original"]
    assert original["from"]["address"] == CUSTOMER
    assert original["forwarded_by"]["address"] == "owner@acmedental.example"
    assert item.payload["mail"]["from"]["address"] == "owner@acmedental.example"
    assert "my crown broke" in item.body


def test_persian_mail_in_windows_1256_reads_right(repo: Repository, worker: Any) -> None:
    # windows-1256 has no Persian yeh: Persian written in it uses the Arabic one (ي).
    text = "سلام، لطفا نوبت فردای من را لغو کنید.".replace("ی", "ي")
    raw = (
        b"From: =?windows-1256?b?"
        + _b64("مريم".encode("cp1256"))
        + b"?= <maryam@customer.example>\r\n"
        b"To: " + PARS.encode() + b"\r\n"
        b"Subject: =?windows-1256?b?" + _b64("لغو نوبت".encode("cp1256")) + b"?=\r\n"
        b"Message-ID: <fa1@customer.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1256\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text.encode("cp1256") + b"\r\n"
    )
    (mail_row,) = ingest(repo, raw)
    item = repo.get_item(mail_row.item_id)
    assert (item.tenant_id, item.subject, item.body.strip()) == ("pars-clinic", "لغو نوبت", text)
    assert "windows-1256" in item.payload["mail"]["charsets"]


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def test_one_message_to_two_addresses_of_a_tenant_is_one_item(
    repo: Repository, worker: Any
) -> None:
    raw = message(to=f"{ACME}, {ACME_BILLING}")
    # The same message as delivered through each address: only the trace headers differ.
    via_info = b"Delivered-To: " + ACME.encode() + b"\r\n" + raw
    via_billing = b"Delivered-To: " + ACME_BILLING.encode() + b"\r\n" + raw
    rows = ingest(repo, raw, via_info, via_billing)
    assert [r.status for r in rows] == ["ingested", "duplicate", "duplicate"]
    assert {r.item_id for r in rows} == {rows[0].item_id}
    assert repo.count_items() == 1


def test_same_raw_message_fetched_twice_is_a_duplicate(repo: Repository, worker: Any) -> None:
    raw = message()
    (first,) = ingest(repo, raw)
    # After a UIDVALIDITY resync, or from a second folder: a new row with the same bytes.
    again = stored(repo, raw, mailbox=BOX + "-processed")
    assert ingest_mail_batch(again) == {"duplicate": 1}
    second = row(repo, again[0])
    assert (second.status, second.item_id, second.tenant_id) == (
        "duplicate",
        first.item_id,
        "acme-dental",
    )
    assert repo.count_items() == 1
    assert [e.kind for e in repo.events(first.item_id)] == ["received", "queued", "triaged"]


def test_reused_message_id_with_another_body_makes_two_items(repo: Repository, worker: Any) -> None:
    rows = ingest(
        repo,
        message(body="First message."),
        message(body="A different message, same Message-ID."),
    )
    assert [r.status for r in rows] == ["ingested", "ingested"]
    assert rows[0].item_id != rows[1].item_id
    assert repo.get_item(rows[1].item_id).body.strip() == "A different message, same Message-ID."


def test_batch_run_twice_does_nothing_the_second_time(repo: Repository, worker: Any) -> None:
    ids = stored(repo, message(), message(message_id="<m2@customer.example>", body="two"))
    assert ingest_mail_batch(ids) == {"created": 2}
    assert ingest_mail_batch(ids) == {}
    assert repo.count_items() == 2


def test_reply_by_in_reply_to_attaches_to_the_open_item(repo: Repository, worker: Any) -> None:
    (first,) = ingest(repo, message())
    repo.clock = Clock(T0 + timedelta(hours=2))
    reply = message(
        subject="Re: Cleaning on Thursday?",
        body="Or Friday morning, if Thursday is full.",
        message_id="<m2@customer.example>",
        headers={"In-Reply-To": "<m1@customer.example>", "References": "<m1@customer.example>"},
    )
    (second,) = ingest(repo, reply)
    assert (second.status, second.item_id) == ("ingested", first.item_id)
    assert repo.count_items() == 1
    item = repo.get_item(first.item_id)
    assert item.status is ItemStatus.QUEUED
    assert item.updated_at == T0 + timedelta(hours=2)
    messages = item.payload["messages"]
    assert [m["message_id"] for m in messages] == ["m1@customer.example", "m2@customer.example"]
    assert "Friday morning" in messages[1]["text"]
    events = repo.events(item.id)
    assert [e.kind for e in events] == ["received", "queued", "triaged", "reply"]
    assert events[-1].data["message_id"] == "m2@customer.example"
    with repo.engine.connect() as connection:
        known = set(
            connection.scalars(
                select(item_message_ids.c.message_id).where(item_message_ids.c.item_id == item.id)
            )
        )
    assert known == {"m1@customer.example", "m2@customer.example"}

    # The same reply fetched again is a duplicate, not a second reply.
    again = stored(repo, reply, mailbox=BOX + "-other")
    assert ingest_mail_batch(again) == {"duplicate": 1}
    assert len(repo.get_item(item.id).payload["messages"]) == 2


def test_reply_to_a_completed_item_opens_a_new_linked_item(repo: Repository, worker: Any) -> None:
    (first,) = ingest(repo, message())
    sara = repo.secretary("sara")
    assert repo.claim_next_item("sara") is not None
    repo.complete_item(first.item_id, sara, "rescheduled")
    reply = message(
        subject="Re: Cleaning on Thursday?",
        body="Thanks! One more question.",
        message_id="<m3@customer.example>",
        headers={"In-Reply-To": "<m1@customer.example>"},
    )
    (second,) = ingest(repo, reply)
    assert second.item_id != first.item_id
    item = repo.get_item(second.item_id)
    assert item.status is ItemStatus.QUEUED
    assert item.payload["previous_item"] == first.item_id
    assert [e.kind for e in repo.events(item.id)] == ["received", "follows", "queued", "triaged"]


def test_reply_threads_only_within_its_tenant(repo: Repository, worker: Any) -> None:
    (first,) = ingest(repo, message())
    reply = message(
        to=PARS,
        subject="Re: Cleaning on Thursday?",
        message_id="<m2@customer.example>",
        headers={"In-Reply-To": "<m1@customer.example>"},
    )
    (second,) = ingest(repo, reply)
    assert second.item_id != first.item_id
    assert repo.get_item(second.item_id).tenant_id == "pars-clinic"


def reply_without_ids(message_id: str, body: str) -> bytes:
    return message(subject="RE: cleaning on thursday?", body=body, message_id=message_id)


def test_reply_by_subject_and_sender_attaches_within_the_window(
    repo: Repository, worker: Any
) -> None:
    (first,) = ingest(repo, message())
    repo.clock = Clock(T0 + timedelta(days=MAIL_THREAD_WINDOW_DAYS) - timedelta(minutes=1))
    (within,) = ingest(repo, reply_without_ids("<m2@customer.example>", "Any news?"))
    assert within.item_id == first.item_id
    # Another sender with the same subject is another conversation.
    (stranger,) = ingest(
        repo,
        message(
            sender="other@customer.example",
            subject="Re: Cleaning on Thursday?",
            message_id="<x1@customer.example>",
        ),
    )
    assert stranger.item_id != first.item_id
    # A fresh message with the same subject but no sign of being a reply is a new item.
    (fresh,) = ingest(repo, message(message_id="<m9@customer.example>", body="New question."))
    assert fresh.item_id != first.item_id


def test_reply_by_subject_after_the_window_opens_a_new_item(repo: Repository, worker: Any) -> None:
    (first,) = ingest(repo, message())
    repo.clock = Clock(T0 + timedelta(days=MAIL_THREAD_WINDOW_DAYS, minutes=1))
    (late,) = ingest(repo, reply_without_ids("<m2@customer.example>", "Any news?"))
    assert late.status == "ingested"
    assert late.item_id != first.item_id
    assert repo.count_items() == 2


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"X-Autoreply": "yes"}, "auto_reply"),
        ({"List-Id": "Dental news <news.dental.example>"}, "list"),
        ({"Precedence": "bulk"}, "bulk"),
        (None, "bounce"),
    ],
)
def test_machine_mail_is_recorded_completed_and_never_queued(
    repo: Repository, worker: Any, headers: dict[str, str] | None, kind: str
) -> None:
    raw = bounce() if headers is None else message(subject="Out of office", headers=headers)
    (mail_row,) = ingest(repo, raw)
    assert mail_row.status == "ingested"
    item = repo.get_item(mail_row.item_id)
    assert (item.status, item.outcome, item.priority, item.pool) == (
        ItemStatus.COMPLETED,
        kind,
        Priority.LOW,
        None,
    )
    assert item.payload["mail"]["kind"] == kind
    events = repo.events(item.id)
    assert [e.kind for e in events] == ["received", "filtered"]
    assert events[1].data["kind"] == kind
    assert events[1].data["reason"]
    assert repo.claim_next_item("maryam") is None


def bounce() -> bytes:
    """A delivery report (RFC 3464) as Postfix writes it."""
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.agency.example>\r\n"
        b"To: " + ACME.encode() + b"\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce1@mx.agency.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        b"\r\n"
        b"--b1\r\n"
        b"Content-Type: text/plain\r\n\r\n"
        b"This is the mail system. Your message could not be delivered.\r\n"
        b"--b1\r\n"
        b"Content-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.agency.example\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@customer.example\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n"
        b"--b1--\r\n"
    )


def test_oversized_message_becomes_an_item_saying_so(repo: Repository, worker: Any) -> None:
    header_only = message(body="")
    (mail_id,) = stored(repo, header_only, size=31 * 1024 * 1024)
    ingest_mail_batch([mail_id])
    item = repo.get_item(row(repo, mail_id).item_id)
    assert item.subject == "Cleaning on Thursday?"
    assert item.body.startswith("message too large to show: 31.0 MB")
    assert item.payload["mail"]["oversized"] is True
    assert item.status is ItemStatus.QUEUED


def poison_parse(raw: bytes, *, max_bytes: int) -> ParsedMail:
    """The real parser, except that it fails on messages marked as poison."""
    if b"X-Test-Poison: yes" in raw:
        raise ValueError("the parser choked on this one")
    return parse_message(raw, max_bytes=max_bytes)


def test_poison_message_is_quarantined_and_the_rest_of_the_batch_goes_on(
    repo: Repository, worker: Any
) -> None:
    ids = stored(
        repo,
        message(message_id="<a@customer.example>", body="one"),
        message(message_id="<p@customer.example>", headers={"X-Test-Poison": "yes"}),
        message(message_id="<b@customer.example>", body="three"),
    )
    counts = ingest_stored_mail(MailStore(repo), ids, parse=poison_parse)
    assert counts == {"created": 2, "quarantined": 1}
    good, poison, also_good = (row(repo, mail_id) for mail_id in ids)
    assert (good.status, also_good.status) == ("ingested", "ingested")
    assert (poison.status, poison.attempts, poison.item_id) == (
        "quarantined",
        MAIL_MAX_ATTEMPTS,
        None,
    )
    assert "ValueError: the parser choked on this one" in poison.error
    assert repo.count_items() == 2


def test_message_that_stopped_the_worker_each_time_is_quarantined_untried(
    repo: Repository, worker: Any
) -> None:
    (mail_id,) = stored(repo, message())
    # Five tries began and none finished: the worker died under this message each time.
    with repo.engine.begin() as connection:
        connection.execute(
            update(mail_messages)
            .where(mail_messages.c.id == mail_id)
            .values(attempts=MAIL_MAX_ATTEMPTS)
        )
    assert ingest_mail_batch([mail_id]) == {"quarantined": 1}
    quarantined = row(repo, mail_id)
    assert quarantined.status == "quarantined"
    assert "the worker stopped while processing it" in quarantined.error
    assert repo.count_items() == 0


def test_system_faults_propagate_for_rq_to_retry(repo: Repository, worker: Any) -> None:
    def database_gone(raw: bytes, *, max_bytes: int) -> ParsedMail:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed"))

    ids = stored(repo, message())
    with pytest.raises(sqlalchemy.exc.OperationalError):
        ingest_stored_mail(MailStore(repo), ids, parse=database_gone)
    waiting = row(repo, ids[0])
    assert (waiting.status, waiting.error) == ("stored", None)
    # RQ's retry, with the database back, finishes it.
    assert ingest_mail_batch(ids) == {"created": 1}


def test_unparseable_message_is_rejected_with_its_reason(repo: Repository, worker: Any) -> None:
    rows = ingest(repo, b"\x00\x01\x02 not a message at all \xff\xfe", b"   \r\n")
    assert [r.status for r in rows] == ["rejected", "rejected"]
    assert all(r.error and r.item_id is None for r in rows)
    assert rows[0].error != rows[1].error
    assert repo.count_items() == 0


def corpus_files() -> list[Any]:
    root = SHARED_CORPUS / "mime"
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix != ".csv")


def test_whole_mime_corpus_yields_items_or_recorded_rejections(
    repo: Repository, worker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    files = corpus_files()
    assert len(files) > 400
    ids: list[int] = []
    for start in range(0, len(files), 100):
        ids += stored(repo, *(path.read_bytes() for path in files[start : start + 100]))
    began = time.monotonic()
    counts = ingest_mail_batch(ids)
    elapsed = time.monotonic() - began

    with repo.engine.connect() as connection:
        rows = connection.execute(
            select(mail_messages.c.status, mail_messages.c.error, mail_messages.c.item_id).where(
                mail_messages.c.id.in_(ids)
            )
        ).all()
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= {"ingested", "duplicate", "rejected"}, statuses
    assert all(r.error for r in rows if r.status == "rejected")
    assert all(r.item_id for r in rows if r.status in ("ingested", "duplicate"))
    assert sum(statuses.values()) == len(files)
    assert elapsed < 30, elapsed
    with capsys.disabled():
        print(f"\ncorpus: {len(files)} messages in {elapsed:.1f} s: {dict(counts)}")


# -- the pure rules -------------------------------------------------------------------------


def test_content_digest_ignores_trace_headers_and_line_endings_only() -> None:
    raw = message()
    relayed = (
        b"Received: from mx.acmedental.example by mx.agency.example; Mon, 2 Nov 2026\r\n"
        b"Delivered-To: " + ACME_BILLING.encode() + b"\r\n" + raw
    )
    assert content_digest(relayed) == content_digest(raw)
    assert content_digest(raw.replace(b"\r\n", b"\n")) == content_digest(raw)
    assert content_digest(message(body="Another body")) != content_digest(raw)
    assert content_digest(message(message_id="<other@customer.example>")) != content_digest(raw)
    assert content_digest(message(to=PARS)) != content_digest(raw)
    assert content_digest(b"no header block at all") != content_digest(b"")


def test_dedupe_key_fits_the_column_whatever_the_message_id() -> None:
    digest = "ab" * 32
    assert dedupe_key("acme-dental", "m1@x", digest) == f"acme-dental:m1@x:{digest[:32]}"
    assert dedupe_key(None, None, digest) == f"-:-:{digest[:32]}"
    long_id = "x" * 900 + "@example"
    key = dedupe_key("t" * 64, long_id, digest)
    assert len(key) <= 200
    assert key != dedupe_key("t" * 64, long_id + "2", digest)


def test_answered_ids_put_the_direct_parent_first() -> None:
    assert answered_ids(["c"], ["a", "b", "c"]) == ("c", "b", "a")
    assert answered_ids([], ["a", "", "b"]) == ("b", "a")
    many = [f"id{n}" for n in range(50)]
    assert answered_ids([], many) == tuple(reversed(many))[:20]
    assert answered_ids(["x" * 999], []) == ()


def test_only_a_reply_gets_a_thread_subject() -> None:
    assert thread_subject("Re: Invoice", answers_something=False) == "invoice"
    assert thread_subject("پاسخ: فاکتور", answers_something=False) == "فاکتور"
    assert thread_subject("Invoice", answers_something=False) == ""
    assert thread_subject("Fwd: Invoice", answers_something=False) == ""
    assert thread_subject("Invoice", answers_something=True) == "invoice"
    assert thread_subject("Re:", answers_something=True) == ""
