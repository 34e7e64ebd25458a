"""Mail ingest and triage in batches, on both databases: the batch path decides what the
message-by-message path decides (threads, duplicates, quarantine), and a failure inside a
batch falls back to one message (or one item) at a time without losing or doubling any.
"""

from __future__ import annotations

import threading
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from tests import test_mail_ingest
from tests.test_mail_ingest import (
    ACME,
    ACME_BILLING,
    CUSTOMER,
    PARS,
    T0,
    Clock,
    message,
    poison_parse,
    row,
    stored,
)
from triage.classify.model import TrainedModel, load, newest_compatible
from triage.classify.pipeline import TriageInput, TriageRequest, triage, triage_many
from triage.classify.registry import ModelRegistry
from triage.constants import MAIL_MAX_ATTEMPTS, QUEUE_URGENT
from triage.models import Channel, ItemStatus
from triage.store import mail_items
from triage.store.mail_items import InboundMail, MailStore
from triage.store.repository import Repository
from triage.store.tables import mail_messages, work_items
from triage.store.triage_batch import (
    Decision,
    apply_triage_batch,
    earlier_contacts,
    get_items,
)
from triage.store.triage_records import recent_contact
from workers import context
from workers.mail_jobs import ingest_mail_batch, ingest_stored_mail
from workers.main import warm_up
from workers.triage_batch import triage_and_queue_many

# The seeded store with the agency inbox and the tenants' addresses, and a worker context.
repo = test_mail_ingest.repo
worker = test_mail_ingest.worker

REPLY_HEADERS = {"In-Reply-To": "<m1@customer.example>", "References": "<m1@customer.example>"}


def test_a_reply_threads_onto_an_item_made_earlier_in_the_same_batch(
    repo: Repository, worker: Any
) -> None:
    ids = stored(
        repo,
        message(),
        message(
            subject="Re: Cleaning on Thursday?",
            body="Or Friday morning, if Thursday is full.",
            message_id="<m2@customer.example>",
            headers=REPLY_HEADERS,
        ),
        # Answers the reply only: found through the Message-IDs the batch wrote meanwhile.
        message(
            subject="Re: Re: Cleaning on Thursday?",
            body="Friday at 9 then.",
            message_id="<m3@customer.example>",
            headers={"In-Reply-To": "<m2@customer.example>"},
        ),
        # No Message-IDs to follow: the subject rule finds the item made in this batch.
        message(
            subject="Re: Cleaning on Thursday?",
            body="Sorry, one more thing.",
            message_id="<m4@customer.example>",
        ),
    )
    assert ingest_mail_batch(ids) == {"created": 1, "attached": 3}
    rows = [row(repo, mail_id) for mail_id in ids]
    assert {r.item_id for r in rows} == {rows[0].item_id}
    assert [(r.status, r.attempts) for r in rows] == [("ingested", 1)] * 4
    item = repo.get_item(rows[0].item_id)
    assert [m["message_id"] for m in item.payload["messages"]] == [
        "m1@customer.example",
        "m2@customer.example",
        "m3@customer.example",
        "m4@customer.example",
    ]
    kinds = [e.kind for e in repo.events(item.id)]
    assert kinds.count("reply") == 3 and kinds.count("triaged") == 1
    assert item.status is ItemStatus.QUEUED and item.triage is not None


def test_duplicates_within_one_batch(repo: Repository, worker: Any) -> None:
    original = message(to=f"{ACME}, {ACME_BILLING}")
    ids = stored(
        repo,
        original,
        original,  # the same bytes fetched twice (another UID)
        # Delivered through the other address: other bytes, the same message (dedupe key).
        b"Delivered-To: " + ACME_BILLING.encode() + b"\r\n" + original,
        message(to=ACME, body="Another text under a reused Message-ID."),
        message(to=PARS),  # the same Message-ID for another client
    )
    counts = ingest_mail_batch(ids)
    assert counts == {"created": 3, "duplicate": 2}
    first, copy, via_billing, reused, other_client = (row(repo, mail_id) for mail_id in ids)
    assert (copy.status, copy.item_id) == ("duplicate", first.item_id)
    assert (via_billing.status, via_billing.item_id) == ("duplicate", first.item_id)
    assert reused.status == "ingested" and reused.item_id != first.item_id
    assert other_client.status == "ingested" and other_client.tenant_id == "pars-clinic"
    assert repo.count_items() == 3
    # And the batch again is nothing at all.
    assert ingest_mail_batch(ids) == {}


def test_a_poison_message_in_a_batch_is_quarantined_alone(repo: Repository, worker: Any) -> None:
    ids = stored(
        repo,
        message(message_id="<a@customer.example>", body="one"),
        message(message_id="<p@customer.example>", headers={"X-Test-Poison": "yes"}),
        message(
            message_id="<b@customer.example>",
            subject="Re: Cleaning on Thursday?",
            headers={"In-Reply-To": "<a@customer.example>"},
            body="two",
        ),
    )
    counts = ingest_stored_mail(MailStore(repo), ids, parse=poison_parse)
    assert counts == {"created": 1, "attached": 1, "quarantined": 1}
    good, poison, reply = (row(repo, mail_id) for mail_id in ids)
    # The others went through in the batch, on their first and only try.
    assert [(r.status, r.attempts) for r in (good, reply)] == [("ingested", 1)] * 2
    assert reply.item_id == good.item_id
    assert (poison.status, poison.attempts, poison.item_id) == (
        "quarantined",
        MAIL_MAX_ATTEMPTS,
        None,
    )
    assert "ValueError: the parser choked on this one" in poison.error


def test_a_batch_whose_transaction_fails_goes_one_message_at_a_time(
    repo: Repository, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message the database side fails on inside the batch (here: only inside it) rolls
    the batch back; each message is then ingested on its own, on the same try."""
    real = MailStore._create

    def fails_in_a_batch(
        self: MailStore, connection: Any, mail: InboundMail, *a: Any, **k: Any
    ) -> int | None:
        if self._batch is not None and mail.message_id == "c@customer.example":
            raise ValueError("refused inside the batch")
        return real(self, connection, mail, *a, **k)

    monkeypatch.setattr(MailStore, "_create", fails_in_a_batch)
    ids = stored(
        repo,
        *(message(message_id=f"<{n}@customer.example>", body=n) for n in "abcd"),
    )
    assert ingest_mail_batch(ids) == {"created": 4}
    rows = [row(repo, mail_id) for mail_id in ids]
    assert [(r.status, r.attempts, r.error) for r in rows] == [("ingested", 1, None)] * 4
    assert len({r.item_id for r in rows}) == 4
    assert repo.count_items() == 4
    # Nothing of the rolled-back batch stayed: one `received` event per item.
    for r in rows:
        assert [e.kind for e in repo.events(r.item_id)].count("received") == 1


def test_a_message_tried_before_is_not_counted_with_the_batch(
    repo: Repository, worker: Any
) -> None:
    """A message that stopped an earlier run goes one at a time, after the fresh ones: a
    message that kills the worker never runs up the others' tries."""
    ids = stored(repo, *(message(message_id=f"<{n}@customer.example>", body=n) for n in "abc"))
    with repo.engine.begin() as connection:
        connection.execute(
            update(mail_messages).where(mail_messages.c.id == ids[0]).values(attempts=2)
        )
    assert ingest_mail_batch(ids) == {"created": 3}
    assert [row(repo, mail_id).attempts for mail_id in ids] == [3, 1, 1]
    # Fresh ones first: the retried message's item is the newest.
    items = [row(repo, mail_id).item_id for mail_id in ids]
    assert items[0] == max(items)


# -- triage in batches ---------------------------------------------------------------


@pytest.fixture(scope="module")
def model(model_dir: Path) -> TrainedModel:
    path = newest_compatible(model_dir)
    assert path is not None
    return load(path)


def test_triage_many_decides_what_triage_decides_item_by_item(model: TrainedModel) -> None:
    inputs = [
        TriageInput(text="Can I move my cleaning to next Tuesday at 10:30?", channel="email"),  # type: ignore[arg-type]
        TriageInput(text="Invoice INV-2231 is overdue, 1,250 USD", channel="email"),  # type: ignore[arg-type]
        TriageInput(text="سلام، فردا ساعت ۵ عصر وقت دندانپزشکی می‌خواستم", channel="email"),  # type: ignore[arg-type]
        TriageInput(text="", channel="email"),  # type: ignore[arg-type]
        TriageInput(
            text="CONGRATULATIONS you won a FREE cruise, click here to claim",
            subject="You are a WINNER",
            channel=Channel.EMAIL,
        ),
        TriageInput(text="URGENT: water is flooding the office, call me now", channel="email"),  # type: ignore[arg-type]
    ]
    requests = [
        TriageRequest(item, timezone=zone, default_region=region)
        for item, zone, region in zip(
            inputs,
            ["America/New_York", "UTC", "Asia/Tehran", "UTC", "UTC", "America/New_York"],
            ["US", "US", "IR", "US", "US", "US"],
            strict=True,
        )
    ]
    calls: list[int] = []

    class Counting:
        version = model.version

        def predict(self, texts: Any) -> Any:
            calls.append(len(texts))
            return model.predict(texts)

    together = triage_many(requests, model=Counting(), now=T0)
    # One call, for the texts neither a rule nor the spam check decided (the empty one aside).
    assert calls == [sum(result.confidence is not None for result in together)]
    assert calls[0] >= 4
    alone = [
        triage(r.item, model=model, now=T0, timezone=r.timezone, default_region=r.default_region)
        for r in requests
    ]
    assert together == alone
    assert together[3].needs_review and together[3].confidence is None
    assert {e.kind for e in together[0].entities} >= {"datetime"}


def test_apply_triage_batch_leaves_items_no_longer_waiting_alone(
    repo: Repository, worker: Any, model: TrainedModel
) -> None:
    ids = stored(repo, *(message(message_id=f"<{n}@customer.example>", body=n) for n in "ab"))
    ingest_stored_mail(MailStore(repo), ids)
    first, second = (row(repo, mail_id).item_id for mail_id in ids)
    with repo.engine.begin() as connection:  # a secretary took the first meanwhile
        connection.execute(
            update(work_items)
            .where(work_items.c.id == first)
            .values(status=ItemStatus.CLAIMED.value, held_by="sara")
        )
    result = triage(TriageInput(text="a", channel=Channel.EMAIL), model=model, now=T0)
    changed = apply_triage_batch(
        repo,
        [
            Decision(first, result.to_json(), "tenant:acme-dental"),
            Decision(second, result.to_json(), "spam"),
        ],
    )
    assert changed == [second]
    claimed, moved = repo.get_item(first), repo.get_item(second)
    assert claimed.status is ItemStatus.CLAIMED and claimed.triage is None
    assert (moved.status, moved.pool, moved.triage) == (
        ItemStatus.QUEUED,
        "spam",
        result.to_json(),
    )
    assert [e.kind for e in repo.events(second)][-2:] == ["triaged", "queued"]


def test_earlier_contacts_agree_with_recent_contact(repo: Repository, worker: Any) -> None:
    senders = [CUSTOMER, "someone@else.example", CUSTOMER, CUSTOMER]
    ids = []
    for n, sender in enumerate(senders):
        repo.clock = Clock(T0 + timedelta(minutes=n))
        ids += stored(repo, message(message_id=f"<{n}@x.example>", sender=sender, body=str(n)))
        ingest_stored_mail(MailStore(repo), ids[-1:])
    items = get_items(repo, [row(repo, mail_id).item_id for mail_id in ids])
    since = T0 - timedelta(hours=1)
    expected = {
        item.id
        for item in items
        if recent_contact(repo, "acme-dental", item.sender, since=since, before_id=item.id)
    }
    assert earlier_contacts(repo, items, since) == expected == {items[2].id, items[3].id}
    # Outside the window nothing counts.
    assert earlier_contacts(repo, items, T0 + timedelta(hours=1)) == set()


def test_a_failed_triage_batch_goes_item_by_item(
    repo: Repository, worker: Any, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = stored(repo, *(message(message_id=f"<{n}@customer.example>", body=n) for n in "ab"))
    ingest_stored_mail(MailStore(repo), ids)
    items = [row(repo, mail_id).item_id for mail_id in ids]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("the batch path broke")

    monkeypatch.setattr("workers.triage_batch.triage_many", broken)
    ctx = context.WorkerContext(
        worker.repository, worker.redis, worker.dispatcher, ModelRegistry(model_dir)
    )
    pools = triage_and_queue_many(ctx, items, system_faults=())
    assert pools == {items[0]: "tenant:acme-dental", items[1]: "tenant:acme-dental"}
    with repo.engine.connect() as connection:
        triaged = connection.scalars(
            select(work_items.c.id).where(
                work_items.c.id.in_(items), work_items.c.triage.is_not(None)
            )
        ).all()
    assert sorted(triaged) == sorted(items)


def test_a_worker_loads_its_model_before_its_first_job(
    repo: Repository, worker: Any, model_dir: Path
) -> None:
    registry = ModelRegistry(model_dir)
    ctx = context.WorkerContext(worker.repository, worker.redis, worker.dispatcher, registry)
    assert registry.loaded is None
    warm_up(ctx)
    newest = newest_compatible(model_dir)
    assert newest is not None
    loaded = registry.loaded
    assert loaded is not None and loaded.version == load(newest).version


def test_a_batch_waits_for_the_batch_being_written(
    repo: Repository, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches take turns (PostgreSQL: an advisory lock; SQLite: its write lock): a reply
    in one batch sees the item that a batch on another worker was writing meanwhile."""
    (parent,) = stored(repo, message())
    (reply,) = stored(
        repo,
        message(
            subject="Re: Cleaning on Thursday?",
            body="Or Friday.",
            message_id="<m2@customer.example>",
            headers=REPLY_HEADERS,
        ),
    )
    inside, go_on = threading.Event(), threading.Event()
    released: list[bool] = []
    real = mail_items._items_with_keys

    def parent_batch_pauses(connection: Any, keys: Any) -> dict[str, int]:
        if any("m1@customer.example" in key for key in keys):
            inside.set()
            released.append(go_on.wait(20))
        return real(connection, keys)

    monkeypatch.setattr(mail_items, "_items_with_keys", parent_batch_pauses)
    outcomes: dict[str, dict[str, int]] = {}

    def run(name: str, mail_id: int) -> None:
        outcomes[name] = ingest_stored_mail(MailStore(repo), [mail_id])

    first = threading.Thread(target=run, args=("parent", parent))
    first.start()
    assert inside.wait(20)  # the parent's batch is inside its transaction
    second = threading.Thread(target=run, args=("reply", reply))
    second.start()
    second.join(1.0)
    # Still waiting for its turn (not reading here: SQLite's reader would queue as well).
    assert second.is_alive()
    go_on.set()
    first.join(30)
    second.join(30)
    assert released == [True]  # the parent's batch went through as a batch
    assert outcomes == {"parent": {"created": 1}, "reply": {"attached": 1}}
    assert row(repo, reply).item_id == row(repo, parent).item_id


def test_a_batch_schedules_the_escalation_of_each_new_item(repo: Repository, worker: Any) -> None:
    """The batch's escalation jobs go to Redis in one pipeline: each new item due at a time
    has its first step scheduled, as the job-per-item path schedules it."""
    ids = stored(
        repo, *(message(message_id=f"<e{n}@customer.example>", body=f"Note {n}") for n in "abc")
    )
    assert ingest_mail_batch(ids) == {"created": 3}
    registry = ScheduledJobRegistry(QUEUE_URGENT, connection=worker.redis)
    scheduled = registry.get_job_ids()
    for mail_id in ids:
        item = repo.get_item(row(repo, mail_id).item_id)
        assert item.due_at is not None
        (job_id,) = [job for job in scheduled if job.startswith(f"sla-{item.id}-")]
        job = Job.fetch(job_id, connection=worker.redis)
        assert job.args[0] == item.id
        assert job.args[2] == item.due_at.astimezone(UTC).isoformat()


TRIAGED_COLUMNS = (
    "status",
    "pool",
    "priority_rank",
    "category",
    "language",
    "spam",
    "needs_review",
    "required_skill",
    "due_at",
    "backup_at",
)


def _triaged_state(repo: Repository, item_id: int) -> tuple[Any, ...]:
    with repo.engine.connect() as connection:
        stored_row = connection.execute(select(work_items).where(work_items.c.id == item_id)).one()
    triage_json = dict(stored_row.triage)
    events = [(e.actor, e.kind) for e in repo.events(item_id)]
    return (*(getattr(stored_row, column) for column in TRIAGED_COLUMNS), triage_json, events)


@pytest.fixture
def after_commit(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The item ids each ingest hands to triage after its commit (the batch left them)."""
    handed: list[list[int]] = []

    def spy(ctx: Any, item_ids: Any, **kwargs: Any) -> Any:
        handed.append(list(item_ids))
        return triage_and_queue_many(ctx, item_ids, **kwargs)

    monkeypatch.setattr("workers.mail_jobs.triage_and_queue_many", spy)
    return handed


def test_a_batch_stores_its_new_items_triaged_as_triage_after_the_commit_would(
    repo: Repository, worker: Any, after_commit: list[list[int]]
) -> None:
    """Triage decided before the ingest transaction and written with the INSERT leaves each
    item as triaging it after the commit leaves it: the same columns, JSON and events."""
    bodies = [
        "Can I move my cleaning to Thursday?",
        "URGENT: the invoice of $1,250 is overdue, call me at +1 212 555 0142 today.",
        "Exclusive offer for you! Use promo code FALL25 for 25% off. Limited time only - buy now.",
        "سلام، لطفاً برای سه‌شنبه ساعت ۱۰:۳۰ نوبت بگذارید.",
    ]

    def batch(prefix: str) -> list[int]:
        return stored(
            repo,
            *(
                message(
                    message_id=f"<{prefix}{n}@customer.example>",
                    sender=f"{prefix}{n}@customer.example",
                    body=body,
                )
                for n, body in enumerate(bodies)
            ),
        )

    before = batch("before")
    assert ingest_mail_batch(before) == {"created": 4}
    assert after_commit == []  # nothing left to triage after the commit
    # The same mail from other senders, triaged after the commit (no triage before it).
    after = batch("after")
    ingest_stored_mail(
        MailStore(repo),
        after,
        on_created=lambda ids: triage_and_queue_many(worker, ids, system_faults=()),
    )
    for one, other in zip(before, after, strict=True):
        decided = _triaged_state(repo, row(repo, one).item_id)
        assert decided == _triaged_state(repo, row(repo, other).item_id)
        assert decided[-1][-1] == ("worker:triage", "triaged") or decided[1] == "spam"
    spam = _triaged_state(repo, row(repo, before[2]).item_id)
    assert spam[1] == "spam" and spam[-1][-1] == ("worker:triage", "queued")


def test_a_repeat_sender_guessed_wrong_is_triaged_after_the_commit(
    repo: Repository, worker: Any, monkeypatch: pytest.MonkeyPatch, after_commit: list[list[int]]
) -> None:
    """The repeat-sender answer triage decided with is asked again under the ingest's lock:
    when an item from the sender came in between, the new item is stored untriaged and
    triaged after the commit, as a repeat contact."""
    (first,) = stored(repo, message(message_id="<r1@customer.example>", body="First."))
    ingest_mail_batch([first])
    (second,) = stored(repo, message(message_id="<r2@customer.example>", body="Second."))
    # Triage before the ingest does not see the first item (as if it came in meanwhile).
    monkeypatch.setattr("workers.triage_batch.first_contacts", lambda *args: {})
    assert ingest_mail_batch([second]) == {"created": 1}
    item = repo.get_item(row(repo, second).item_id)
    assert after_commit == [[item.id]]
    assert item.triage is not None
    assert "repeat contact within 30 min" in item.triage["reasons"]
    assert [e.kind for e in repo.events(item.id)].count("triaged") == 1


def test_a_batch_whose_triage_fails_is_triaged_after_the_commit(
    repo: Repository, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = stored(repo, *(message(message_id=f"<f{n}@customer.example>", body=n) for n in "ab"))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("triage broke")

    # The batch paths break; one item at a time (workers.triage) still works.
    monkeypatch.setattr("workers.triage_batch.triage_many", broken)
    assert ingest_mail_batch(ids) == {"created": 2}
    for mail_id in ids:
        item = repo.get_item(row(repo, mail_id).item_id)
        assert item.status is ItemStatus.QUEUED and item.triage is not None
        assert [e.kind for e in repo.events(item.id)].count("triaged") == 1


def test_a_key_taken_outside_the_batch_sends_it_message_by_message(
    repo: Repository, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch reads its dedupe keys under its lock, but a message ingested on its own
    does not take that lock: if its item takes a key the batch is about to insert, the batch
    (on PostgreSQL its new items go in together at the end) rolls back and goes message by
    message, and the copy is a duplicate, never a second item."""
    original = message(to=f"{ACME}, {ACME_BILLING}")
    (first,) = stored(repo, original)
    via_billing, other = stored(
        repo,
        b"Delivered-To: " + ACME_BILLING.encode() + b"\r\n" + original,
        message(message_id="<other@customer.example>", body="Another question."),
    )
    assert ingest_stored_mail(MailStore(repo), [first]) == {"created": 1}
    # As if the first item came in after the batch read its keys.
    monkeypatch.setattr(mail_items, "_items_with_keys", lambda connection, keys: {})
    assert ingest_mail_batch([via_billing, other]) == {"duplicate": 1, "created": 1}
    assert row(repo, via_billing).item_id == row(repo, first).item_id
    assert row(repo, other).status == "ingested"
    assert repo.count_items() == 2
    item = repo.get_item(row(repo, other).item_id)
    assert item.triage is not None and item.status is ItemStatus.QUEUED
