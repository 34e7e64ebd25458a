"""SLA escalation end to end: items queued by the ingest job get their due time and their
escalation jobs in RQ's scheduled registry; RQ's scheduler (in a real SimpleWorker, burst
mode) enqueues each at its moment, a fresh worker every step; the on-call SMS reaches a
local server speaking Twilio's REST protocol.

The clock is injected: the repository's, and the RQ scheduler's "now" (the one function
its scheduler reads), so the timeline runs in milliseconds on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from integrations.twilio.rest import SmsSender
from tests.fake_twilio import FakeTwilio, ServerThread
from triage.constants import QUEUE_URGENT, WORKER_QUEUES
from triage.models import Channel, ItemStatus, Priority
from triage.settings import Settings
from triage.sla import WARNING
from triage.store.config_store import apply_config_path
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.repository import Repository
from workers import context
from workers.dispatch import Dispatcher
from workers.main import run_worker

TEHRAN = ZoneInfo("Asia/Tehran")
ALERT_NUMBER = "+989121000000"
PARS_NUMBER = "+982188776655"

CONFIG = f"""
[agency]
name = "Test Agency"
inbox = "inbox@agency.example"

[[tenants]]
id = "pars"
name = "Pars Dental"
language = "en"
timezone = "Asia/Tehran"
phone_numbers = ["{PARS_NUMBER}"]
email_addresses = ["info@pars.example"]
secretaries = ["reza"]
backups = ["sara"]

[tenants.hours]
sat = "09:00-17:00"
sun = "09:00-17:00"
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"

[tenants.sla]
normal = 30
backup_delay = 60                       # longer than the target: the breach opens it
alert_number = "{ALERT_NUMBER}"

[[tenants]]
id = "allday"
name = "All Day"
language = "en"
timezone = "UTC"
phone_numbers = ["+12125550143"]
secretaries = ["sara"]

[[secretaries]]
id = "reza"
name = "Reza"
role = "secretary"
languages = ["en", "fa"]
skills = ["accounting"]
capacity = 2
phone = "+989123456789"

[[secretaries]]
id = "sara"
name = "Sara"
role = "secretary"
languages = ["en", "fa"]
skills = ["scheduling"]
capacity = 3
phone = "+989121234567"
"""


class Clock:
    """The one "now" of a test: the repository's and RQ's scheduler's."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)  # as utcnow gives it


@pytest.fixture
def fake_twilio(env: dict[str, str]) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
    server = ServerThread(fake.app())
    fake.url = server.start()
    yield fake
    server.stop()


@pytest.fixture
def configured(settings: Settings, tmp_path: Path) -> Iterator[str]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    path = tmp_path / "agency.toml"
    path.write_text(CONFIG, encoding="utf-8")
    apply_config_path(engine, path)
    engine.dispose()
    yield settings.database_url


class Timeline:
    """Runs a fresh burst SimpleWorker, with RQ's scheduler, at the clock's moment."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        clock: Clock,
        sms: SmsSender,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.engine = make_engine(database_url)
        self.repository = Repository(self.engine, clock=clock)
        self.redis = redis.Redis.from_url(redis_url)
        self.dispatcher = Dispatcher(self.redis)
        self.clock = clock
        self.sms = sms
        # The scheduler moves a job to its queue when this says its moment has come.
        monkeypatch.setattr("rq.scheduler.current_timestamp", lambda: int(clock().timestamp()))

    def run_worker(self) -> bool:
        """A new worker process's life: its own context, RQ's scheduler, jobs, exit."""
        context.install(
            context.WorkerContext(
                repository=self.repository,
                redis=self.redis,
                dispatcher=Dispatcher(self.redis),
                sms=self.sms,
            )
        )
        try:
            queues = [Queue(name, connection=self.redis) for name in WORKER_QUEUES]
            worker = SimpleWorker(queues, connection=self.redis)
            return worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
        finally:
            context.install(None)

    def at(self, moment: datetime) -> Timeline:
        self.clock.now = moment
        self.run_worker()
        return self

    def scheduled(self) -> list[str]:
        registry = ScheduledJobRegistry(QUEUE_URGENT, connection=self.redis)
        return sorted(registry.get_job_ids())

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()


@pytest.fixture
def timeline(
    configured: str,
    redis_url: str,
    fake_twilio: FakeTwilio,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Timeline]:
    sms = SmsSender(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"], api_url=fake_twilio.url)
    # 2026-11-25 is a Wednesday; the office is closed Thursday and Friday.
    clock = Clock(datetime(2026, 11, 25, 16, 55, tzinfo=TEHRAN))
    line = Timeline(configured, redis_url, clock, sms, monkeypatch)
    yield line
    line.close()


def receive_email(line: Timeline, external_id: str, body: str) -> int:
    item_id, created = line.repository.record_inbound(
        channel=Channel.EMAIL,
        external_id=external_id,
        tenant_id="pars",
        sender="ali@example.com",
        recipient="info@pars.example",
        subject="Copy of my records",
        body=body,
        actor="test",
    )
    assert created
    line.dispatcher.ingest(item_id)
    return item_id


def escalations(line: Timeline, item_id: int) -> list[dict[str, Any]]:
    return [event.data for event in line.repository.events(item_id) if event.kind == "escalated"]


def tehran(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=TEHRAN)


def test_escalation_timeline_from_wednesday_evening_to_saturday_morning(
    timeline: Timeline, fake_twilio: FakeTwilio, env: dict[str, str]
) -> None:
    line = timeline
    item_id = receive_email(line, "m-1", "Could you send me a copy of my dental records please?")
    line.run_worker()  # the ingest job: triage, queue, plan the escalation

    item = line.repository.get_item(item_id)
    assert (item.status, item.priority, item.escalation) == (ItemStatus.QUEUED, Priority.NORMAL, 0)
    assert item.due_at == tehran(28, 9, 25)  # 5 minutes on Wednesday, 25 on Saturday
    assert item.backup_at == tehran(28, 9, 55)  # 60 business minutes
    stamp = int(tehran(28, 9, 25).timestamp())
    # One step at a time: the warning's job schedules the breach's, and so on.
    assert line.scheduled() == [f"sla-{item_id}-1-{stamp}"]
    queued = [event.data for event in line.repository.events(item_id) if event.kind == "queued"]
    assert queued[0]["due_at"] == tehran(28, 9, 25).isoformat()

    # Thursday, Friday, Saturday morning: nothing is due yet, whoever runs the scheduler.
    for moment in (tehran(26, 12, 0), tehran(27, 23, 0), tehran(28, 9, 17, 29)):
        line.at(moment)
        assert line.repository.get_item(item_id).escalation == 0
    assert line.scheduled() == [f"sla-{item_id}-1-{stamp}"]

    # The warning point, 75% of 30 business minutes: the item rises to high.
    line.at(tehran(28, 9, 17, 30))
    item = line.repository.get_item(item_id)
    assert (item.escalation, item.priority) == (1, Priority.HIGH)
    assert item.due_at == tehran(28, 9, 25)  # the promise made when it was queued stands
    assert escalations(line, item_id) == [
        {
            "level": 1,
            "name": "warning",
            "from": 0,
            "priority": "high",
            "priority_from": "normal",
            "due_at": tehran(28, 9, 25).astimezone(UTC).isoformat(),
        }
    ]
    assert line.scheduled() == [f"sla-{item_id}-2-{stamp}"]

    # The breach: open to backups now (no second rise).
    line.at(tehran(28, 9, 25))
    item = line.repository.get_item(item_id)
    assert (item.escalation, item.priority) == (2, Priority.HIGH)
    assert item.backup_at == tehran(28, 9, 25)
    assert fake_twilio.messages == []

    # The second breach, one more target later: supervisors, and the on-call SMS.
    line.at(tehran(28, 9, 55))
    assert line.repository.get_item(item_id).escalation == 3
    assert [data["name"] for data in escalations(line, item_id)] == [
        "warning",
        "breach",
        "supervisors",
    ]
    assert len(fake_twilio.messages) == 1
    message = fake_twilio.messages[0]
    assert message["to"] == ALERT_NUMBER
    assert message["from"] == PARS_NUMBER
    assert message["body"] == (
        f"Monshi: item {item_id} (Pars Dental, high email) has no answer, "
        "due Sat 09:25 +0330. Now with supervisors."
    )
    expected = f"{env['TWILIO_ACCOUNT_SID']}:{env['TWILIO_AUTH_TOKEN']}".encode()
    assert message["authorization"] == "Basic " + base64.b64encode(expected).decode()
    assert fake_twilio.rejected == []
    alerted = [e.data for e in line.repository.events(item_id) if e.kind == "alerted"]
    assert alerted == [{"to": "+989*******00", "sid": message["sid"]}]

    # Later workers change nothing and send nothing again.
    line.at(tehran(28, 12, 0))
    line.dispatcher.alert_on_call(item_id)
    line.run_worker()
    assert len(escalations(line, item_id)) == 3
    assert len(fake_twilio.messages) == 1
    assert line.scheduled() == []


def test_an_answered_item_does_not_escalate(timeline: Timeline, fake_twilio: FakeTwilio) -> None:
    line = timeline
    item_id = receive_email(line, "m-2", "Please send the records to my new address.")
    line.run_worker()
    assert line.repository.get_item(item_id).due_at == tehran(28, 9, 25)
    # Reza (primary) claims it on Saturday at 9:10: the first response.
    line.clock.now = tehran(28, 9, 10)
    claimed = line.repository.claim_next_item("reza")
    assert claimed is not None and claimed.id == item_id
    assert claimed.first_response_at == tehran(28, 9, 10)
    for moment in (tehran(28, 9, 17, 30), tehran(28, 9, 25), tehran(28, 9, 55)):
        line.at(moment)
    item = line.repository.get_item(item_id)
    assert (item.escalation, item.priority) == (0, Priority.NORMAL)
    assert escalations(line, item_id) == []
    assert fake_twilio.messages == []


def test_a_reclassified_priority_moves_the_due_time_and_its_escalation(
    timeline: Timeline,
) -> None:
    from triage.sla import due_after_reclassify
    from triage.store.directory_store import load_directory
    from triage.store.triage_records import reclassify_item
    from workers.escalation import plan_stored

    line = timeline
    item_id = receive_email(line, "m-3", "Please send me my records when you can.")
    line.run_worker()
    assert line.repository.get_item(item_id).due_at == tehran(28, 9, 25)

    pars = load_directory(line.engine).tenants["pars"]
    reza = line.repository.secretary("reza")
    line.clock.now = tehran(28, 9, 1)
    item = reclassify_item(
        line.repository,
        item_id,
        reza,
        "documents",
        Priority.URGENT,
        spam_pool="spam",
        tenant_pool="tenant:pars",
        due_for=lambda priority, queued_at: due_after_reclassify(pars, priority, queued_at),
    )
    # Urgent is 15 business minutes from the queued moment: 5 on Wednesday, 10 on Saturday.
    assert item.due_at == tehran(28, 9, 10)
    reclassified = [e.data for e in line.repository.events(item_id) if e.kind == "reclassified"]
    assert reclassified[-1]["due_at"] == tehran(28, 9, 10).isoformat()
    context.install(
        context.WorkerContext(line.repository, line.redis, line.dispatcher, sms=line.sms)
    )
    try:
        new_plan = plan_stored(context.current(), item_id)
    finally:
        context.install(None)
    assert new_plan == f"sla-{item_id}-1-{int(tehran(28, 9, 10).timestamp())}"
    # The old plan's job stays; it will find the item due at another time and stop.
    assert line.scheduled() == sorted(
        [f"sla-{item_id}-1-{int(tehran(28, 9, 25).timestamp())}", new_plan]
    )

    def levels() -> list[int]:
        return [data["level"] for data in escalations(line, item_id)]

    line.at(tehran(28, 9, 10))  # the new breach; its warning (9:08:45) fires with it
    assert line.repository.get_item(item_id).escalation == 2
    assert levels() == [1, 2]
    line.at(tehran(28, 9, 24))  # the old warning (9:17:30): due at another time, no-op
    assert levels() == [1, 2]
    line.at(tehran(28, 9, 25))  # the new second breach (and the old breach, a no-op)
    assert levels() == [1, 2, 3]
    line.at(tehran(28, 9, 55))  # the old second breach: no-op
    assert levels() == [1, 2, 3]
    assert line.scheduled() == []


def test_scheduled_escalation_survives_a_worker_restart_with_the_real_clock(
    settings: Settings, configured: str
) -> None:
    """Through the production entry (`run_worker`, RQ's scheduler on): a job planned for a
    second from now is not run by a worker that stops before then, and is by the next."""
    engine = make_engine(configured)
    repository = Repository(engine)
    connection = redis.Redis.from_url(settings.redis_url)
    dispatcher = Dispatcher(connection)
    try:
        item_id, _ = repository.record_inbound(
            channel=Channel.SMS,
            external_id="SM-restart",
            tenant_id="allday",
            sender="+989121112233",
            recipient="+12125550143",
            body="Please call me back about my booking.",
            actor="test",
        )
        dispatcher.ingest(item_id)
        assert run_worker(settings, burst=True)
        item = repository.get_item(item_id)
        assert item.due_at is not None and item.due_at > datetime.now(UTC)
        soon = datetime.now(UTC) + timedelta(seconds=1.5)
        job_id = dispatcher.schedule_escalation(item_id, item.due_at, {WARNING: soon})
        assert job_id is not None

        run_worker(settings, burst=True)  # a worker that stops before the moment
        assert repository.get_item(item_id).escalation == 0
        registry = ScheduledJobRegistry(QUEUE_URGENT, connection=connection)
        assert job_id in registry.get_job_ids()

        wait_until(lambda: datetime.now(UTC) >= soon + timedelta(seconds=1))
        assert run_worker(settings, burst=True)  # a new worker, after the moment
        assert repository.get_item(item_id).escalation == WARNING
        assert job_id not in registry.get_job_ids()
    finally:
        connection.close()
        engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_mail_triaged_in_a_batch_gets_its_due_time_and_escalation_jobs(
    settings: Settings, store: Repository
) -> None:
    """The batched mail path (workers/triage_batch.py) decides as the per-item job does."""
    from tests.test_mail_ingest import ACME, T0, message, stored
    from triage.store.tables import agency, tenant_email_addresses
    from workers.mail_jobs import ingest_mail_batch

    with store.engine.begin() as connection:
        connection.execute(
            agency.insert(),
            [{"key": "name", "value": "Agency"}, {"key": "inbox", "value": "inbox@agency.example"}],
        )
        connection.execute(
            tenant_email_addresses.insert(), [{"address": ACME, "tenant_id": "acme-dental"}]
        )
    store.clock = Clock(T0)
    connection = redis.Redis.from_url(settings.redis_url)
    context.install(context.WorkerContext(store, connection, Dispatcher(connection)))
    try:
        ids = stored(store, message(), message(message_id="<m9@customer.example>", body="Hi"))
        assert ingest_mail_batch(ids)["created"] == 2
    finally:
        context.install(None)
    items = [store.get_item(item_id) for item_id in (1, 2)]
    # No hours configured: open around the clock; no [sla]: the built-in targets.
    for item in items:
        assert item.status is ItemStatus.QUEUED
        target = {Priority.NORMAL: 240, Priority.HIGH: 60, Priority.LOW: 480}[item.priority]
        assert item.due_at == T0 + timedelta(minutes=target)
        assert item.backup_at == T0 + timedelta(minutes=30)
    registry = ScheduledJobRegistry(QUEUE_URGENT, connection=connection)
    assert len(registry.get_job_ids()) == 2  # one first step each
    connection.close()


def test_a_callers_ivr_choice_is_the_required_skill_when_someone_has_it() -> None:
    from triage.classify.pipeline import TriageInput, triage
    from triage.config import parse_config
    from triage.directory import build_directory
    from triage.models import WorkItem
    from workers.triage import routing_of

    directory = build_directory(parse_config(CONFIG), "1")
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # Saturday 9:30 in Tehran

    def call(ivr_skill: str) -> WorkItem:
        return WorkItem(
            id=7,
            tenant_id="pars",
            channel=Channel.CALL,
            external_id="CA1",
            status=ItemStatus.RECEIVED,
            priority=Priority.NORMAL,
            pool=None,
            sender="+989121112233",
            recipient=PARS_NUMBER,
            subject="Missed call",
            body="I need to talk about my invoice",
            language="en",
            category=ivr_skill,
            held_by=None,
            outcome=None,
            notes=None,
            created_at=now,
            updated_at=now,
            payload={"call": {"ivr": {"skill": ivr_skill, "digits": "1"}}},
        )

    text = TriageInput(text="I need to talk about my invoice", channel=Channel.CALL)
    result = triage(text, model=None, now=now)  # no model: no category, no skill to fall to
    assert result.skill is None
    assert routing_of(directory, call("scheduling"), result, now).required_skill == "scheduling"
    # Nobody at pars has "support": an item nobody could take gets no required skill.
    assert routing_of(directory, call("support"), result, now).required_skill is None


async def test_reclassify_through_the_api_moves_the_due_time_and_plans_escalation_again(
    aiohttp_client: Any, settings: Settings, configured: str
) -> None:
    from triage.web.app import create_app

    engine = make_engine(configured)
    repository = Repository(engine)
    connection = redis.Redis.from_url(settings.redis_url)
    try:
        item_id, _ = repository.record_inbound(
            channel=Channel.SMS,
            external_id="SM-reclassify",
            tenant_id="allday",
            sender="+989121112233",
            recipient="+12125550143",
            body="Please call me back about my booking.",
            actor="test",
        )
        Dispatcher(connection).ingest(item_id)
        assert run_worker(settings, burst=True)
        before = repository.get_item(item_id)
        assert before.due_at is not None and before.priority is not Priority.URGENT
        [queued] = [e for e in repository.events(item_id) if e.kind == "queued"]
        registry = ScheduledJobRegistry(QUEUE_URGENT, connection=connection)
        old_jobs = set(registry.get_job_ids())
        assert len(old_jobs) == 1

        client = await aiohttp_client(create_app(settings))
        token = repository.issue_token("sara")
        response = await client.post(
            f"/api/v1/items/{item_id}/reclassify",
            json={"category": "scheduling", "priority": "urgent"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 200
        body = await response.json()
        # "allday" has no hours: open around the clock; urgent is 15 minutes.
        due = queued.at + timedelta(minutes=15)
        assert datetime.fromisoformat(body["due_at"]) == due
        assert repository.get_item(item_id).due_at == due

        assert run_worker(settings, burst=True)  # the planning job
        new_jobs = set(registry.get_job_ids()) - old_jobs
        assert new_jobs == {f"sla-{item_id}-1-{int(due.timestamp())}"}
    finally:
        connection.close()
        engine.dispose()


def test_a_step_enqueued_before_its_moment_waits_for_it(timeline: Timeline) -> None:
    """Another machine's clock moved the job early: it puts itself back, acting on nothing."""
    from workers.dispatch import ESCALATE_JOB

    line = timeline
    item_id = receive_email(line, "m-4", "Could you send me my records?")
    line.run_worker()
    due = tehran(28, 9, 25)
    line.clock.now = tehran(28, 9, 0)
    line.dispatcher.queues[QUEUE_URGENT].enqueue(
        ESCALATE_JOB, item_id, WARNING, due.isoformat(), tehran(28, 9, 17, 30).isoformat(), {}
    )
    line.run_worker()
    assert line.repository.get_item(item_id).escalation == 0
    early = [job for job in line.scheduled() if not job.startswith(f"sla-{item_id}-1-")]
    assert len(early) == 1
    registry = ScheduledJobRegistry(QUEUE_URGENT, connection=line.redis)
    assert registry.get_scheduled_time(early[0]) == tehran(28, 9, 17, 30).astimezone(UTC)
    line.at(tehran(28, 9, 17, 30))
    assert line.repository.get_item(item_id).escalation == 1
    assert len(escalations(line, item_id)) == 1  # the planned job and the early one: once


def test_the_rest_client_speaks_twilios_protocol_to_the_fake(
    fake_twilio: FakeTwilio, env: dict[str, str]
) -> None:
    from twilio.base.exceptions import TwilioRestException

    sid, token = env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"]
    sender = SmsSender(sid, token, api_url=fake_twilio.url)
    message_sid = sender.send(to=ALERT_NUMBER, from_=PARS_NUMBER, body="سلام")
    assert message_sid.startswith("SM") and len(message_sid) == 34
    assert [(m["to"], m["from"], m["body"]) for m in fake_twilio.messages] == [
        (ALERT_NUMBER, PARS_NUMBER, "سلام")
    ]
    with pytest.raises(TwilioRestException) as raised:
        SmsSender(sid, "wrong-token", api_url=fake_twilio.url).send(
            to=ALERT_NUMBER, from_=PARS_NUMBER, body="x"
        )
    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert fake_twilio.rejected == [401]
    assert len(fake_twilio.messages) == 1
