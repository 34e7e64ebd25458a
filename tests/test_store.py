"""The repository on SQLite and PostgreSQL: idempotent inbound, atomic claims, the audit trail."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import ACME_NUMBER, add_secretary, add_tenant
from triage.models import Channel
from triage.store.repository import Repository
from workers import context
from workers.dispatch import Dispatcher
from workers.main import requeue_stale_items


def inbound(repo: Repository, external_id: str, tenant_id: str | None = "acme-dental") -> int:
    item_id, _ = repo.record_inbound(
        channel=Channel.SMS,
        external_id=external_id,
        tenant_id=tenant_id,
        sender="+989121112233",
        recipient=ACME_NUMBER,
        body=f"message {external_id}",
        actor="test",
    )
    return item_id


@pytest.fixture
def seeded(repo: Repository) -> Repository:
    add_tenant(repo.engine, "acme-dental", ACME_NUMBER)
    return repo


def test_inbound_is_stored_once_per_channel_and_external_id(seeded: Repository) -> None:
    first, created = seeded.record_inbound(
        channel=Channel.SMS,
        external_id="SM1",
        tenant_id="acme-dental",
        sender="a",
        recipient="b",
        body="x",
        actor="test",
    )
    again, created_again = seeded.record_inbound(
        channel=Channel.SMS,
        external_id="SM1",
        tenant_id="acme-dental",
        sender="a",
        recipient="b",
        body="different body, same sid",
        actor="test",
    )
    assert (created, created_again) == (True, False)
    assert first == again
    assert seeded.get_item(first).body == "x"
    # The same id on another channel is another thing.
    other, created_other = seeded.record_inbound(
        channel=Channel.CALL,
        external_id="SM1",
        tenant_id="acme-dental",
        sender="a",
        recipient="b",
        body="",
        actor="test",
    )
    assert created_other and other != first


def test_tenant_lookup_by_number(seeded: Repository) -> None:
    assert seeded.tenant_for_number(ACME_NUMBER) == "acme-dental"
    assert seeded.tenant_for_number("+15555550000") is None


def test_claim_order_is_priority_then_age(seeded: Repository) -> None:
    add_secretary(seeded.engine, "sara", tenants_primary=["acme-dental"], capacity=10)
    ids = [inbound(seeded, f"SM{n}") for n in range(3)]
    for item_id in ids:
        seeded.route_item(item_id, "tenant:acme-dental", actor="test")
    with seeded.engine.begin() as connection:
        connection.execute(
            text("UPDATE work_items SET priority_rank = 0 WHERE id = :id"), {"id": ids[2]}
        )
    order = [seeded.claim_next_item("sara") for _ in range(4)]
    assert [item.id if item else None for item in order] == [ids[2], ids[0], ids[1], None]


def test_claim_respects_capacity(seeded: Repository) -> None:
    add_secretary(seeded.engine, "sara", tenants_primary=["acme-dental"], capacity=2)
    for n in range(4):
        seeded.route_item(inbound(seeded, f"SM{n}"), "tenant:acme-dental", actor="test")
    assert seeded.claim_next_item("sara") is not None
    assert seeded.claim_next_item("sara") is not None
    assert seeded.claim_next_item("sara") is None


def test_parallel_claimers_never_share_an_item(seeded: Repository) -> None:
    claimers = [f"s{n}" for n in range(8)]
    for secretary_id in claimers:
        add_secretary(seeded.engine, secretary_id, tenants_primary=["acme-dental"], capacity=1000)
    total = 120
    for n in range(total):
        seeded.route_item(inbound(seeded, f"SM{n}"), "tenant:acme-dental", actor="test")
    claimed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def claim_all(secretary_id: str) -> None:
        try:
            while (item := seeded.claim_next_item(secretary_id)) is not None:
                with lock:
                    claimed.append(item.id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=claim_all, args=(s,)) for s in claimers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    counts = Counter(claimed)
    assert len(counts) == total
    assert max(counts.values()) == 1
    with seeded.engine.connect() as connection:
        claim_events = connection.scalar(
            text("SELECT count(*) FROM item_events WHERE kind = 'claimed'")
        )
    assert claim_events == total


def test_item_events_are_append_only(seeded: Repository) -> None:
    inbound(seeded, "SM1")
    with pytest.raises(DBAPIError, match="append-only"), seeded.engine.begin() as connection:
        connection.execute(text("UPDATE item_events SET actor = 'forger'"))
    with pytest.raises(DBAPIError, match="append-only"), seeded.engine.begin() as connection:
        connection.execute(text("DELETE FROM item_events"))
    assert [event.actor for event in seeded.events(1)] == ["test"]


def test_route_is_idempotent(seeded: Repository) -> None:
    item_id = inbound(seeded, "SM1")
    assert seeded.route_item(item_id, "tenant:acme-dental", actor="test") is True
    assert seeded.route_item(item_id, "tenant:acme-dental", actor="test") is False
    assert [event.kind for event in seeded.events(item_id)] == ["received", "queued"]


def test_items_never_routed_are_enqueued_again(seeded: Repository, redis_url: str) -> None:
    """An item whose ingest job was lost (Redis down at the webhook) is not lost."""
    stale = inbound(seeded, "SM-old")
    seeded.clock = lambda: Repository(seeded.engine).clock() + timedelta(minutes=5)
    inbound(seeded, "SM-new")  # stored "now" by the shifted clock: not stale yet
    connection = redis.Redis.from_url(redis_url)
    ctx = context.WorkerContext(seeded, connection, Dispatcher(connection))
    assert requeue_stale_items(ctx) == 1
    queued = Dispatcher(connection).queues["monshi-default"].get_job_ids()
    assert queued == [f"ingest-{stale}"]
    connection.close()


def test_mail_stored_but_never_ingested_is_enqueued_again(
    seeded: Repository, redis_url: str
) -> None:
    """A mail whose ingest job was lost (or gave up on it) is swept up when a worker starts."""
    from triage.store.tables import mail_messages

    now = seeded.clock()
    rows = [
        {"uid": 1, "fetched_at": now - timedelta(minutes=10), "status": "stored"},
        {"uid": 2, "fetched_at": now - timedelta(minutes=10), "status": "ingested"},
        {"uid": 3, "fetched_at": now, "status": "stored"},  # its job may still be on its way
    ]
    with seeded.engine.begin() as connection:
        for row in rows:
            connection.execute(
                mail_messages.insert().values(
                    mailbox="INBOX", uidvalidity=7, raw_sha256="0" * 64, size=3, raw=b"x\r\n",
                    attempts=0, **row,
                )
            )  # fmt: skip
        stale_id = connection.scalar(text("SELECT id FROM mail_messages WHERE uid = 1"))
    connection_redis = redis.Redis.from_url(redis_url)
    ctx = context.WorkerContext(seeded, connection_redis, Dispatcher(connection_redis))
    assert requeue_stale_items(ctx) == 1
    # A backfill: on the bulk queue, which workers drain after live traffic.
    jobs = Dispatcher(connection_redis).queues["monshi-bulk"].get_jobs()
    assert [job.args for job in jobs] == [([stale_id],)]
    connection_redis.close()
