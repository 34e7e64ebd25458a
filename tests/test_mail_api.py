"""The stored-mail API on both databases: supervisors see the quarantine and the mail that is
not work, and can send a quarantined message back to ingest; secretaries cannot."""

from __future__ import annotations

import email.policy
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from rq import Queue

from tests.factories import add_secretary
from triage.constants import QUEUE_DEFAULT
from triage.settings import Settings
from triage.store.mail_items import MailStore
from triage.store.mailbox import FetchedMail, MailboxStore
from triage.store.repository import Repository
from triage.store.tables import tenant_email_addresses
from triage.web.app import create_app
from workers import context
from workers.dispatch import Dispatcher
from workers.mail_jobs import ingest_stored_mail
from workers.main import run_worker

BOX = "inbox@agency.example@imap.agency.example/INBOX"
ENDPOINTS = [
    ("get", "/api/v1/mail/quarantine"),
    ("post", "/api/v1/mail/quarantine/1/retry"),
    ("get", "/api/v1/mail/rejections"),
]


def message(subject: str, *, headers: dict[str, str] | None = None, uid: int) -> FetchedMail:
    msg = EmailMessage()
    for name, value in (headers or {}).items():
        msg[name] = value
    msg["From"] = "leila@customer.example"
    msg["To"] = "info@acmedental.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uid}@customer.example>"
    msg.set_content("hello")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    return FetchedMail(uid=uid, raw=raw, size=len(raw))


@pytest.fixture
def mail(store: Repository, settings: Settings) -> Iterator[dict[str, int]]:
    """One quarantined, one rejected and one auto-reply message; their ids by name."""
    add_secretary(store.engine, "ali", role="admin")
    with store.engine.begin() as connection:
        connection.execute(
            tenant_email_addresses.insert().values(
                address="info@acmedental.example", tenant_id="acme-dental"
            )
        )
    rows = MailboxStore(store.engine).store_messages(
        BOX,
        1,
        [
            message("Invoice =?utf-8?q?f=C3=BCr?= May", uid=1),
            message("garbage", uid=2),
            message("Out of office", headers={"Auto-Submitted": "auto-replied"}, uid=3),
        ],
    )
    quarantined, rejected, auto = (r.id for r in rows)
    one_try = MailStore(store, max_attempts=1)
    assert one_try.begin_attempt(quarantined) is not None
    assert one_try.record_failure(quarantined, "ValueError: the parser choked")
    assert MailStore(store).reject(rejected, "no header block: not a message")
    connection = redis.Redis.from_url(settings.redis_url)
    context.install(context.WorkerContext(store, connection, Dispatcher(connection)))
    try:
        assert ingest_stored_mail(MailStore(store), [auto]) == {"filtered": 1}
    finally:
        context.install(None)
        connection.close()
    yield {"quarantined": quarantined, "rejected": rejected, "auto": auto}


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, mail: dict[str, int]
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings, background=False))


def auth(store: Repository, secretary_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.issue_token(secretary_id)}"}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_mail_api_needs_a_token(client: TestClient[Any, Any], method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status == 401


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_plain_secretary_is_refused(
    client: TestClient[Any, Any], store: Repository, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=auth(store, "sara"))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize("who", ["maryam", "ali"])
async def test_supervisors_and_admins_see_the_quarantine(
    client: TestClient[Any, Any], store: Repository, mail: dict[str, int], who: str
) -> None:
    response = await client.get("/api/v1/mail/quarantine", headers=auth(store, who))
    assert response.status == 200
    (listed,) = (await response.json())["messages"]
    assert listed["id"] == mail["quarantined"]
    assert (listed["status"], listed["attempts"]) == ("quarantined", 1)
    assert listed["error"] == "ValueError: the parser choked"
    assert (listed["mailbox"], listed["uid"], listed["uidvalidity"]) == (BOX, 1, 1)
    assert listed["subject"] == "Invoice für May"


async def test_retry_puts_the_message_back_and_a_worker_ingests_it(
    client: TestClient[Any, Any], store: Repository, settings: Settings, mail: dict[str, int]
) -> None:
    headers = auth(store, "maryam")
    mail_id = mail["quarantined"]
    response = await client.post(f"/api/v1/mail/quarantine/{mail_id}/retry", headers=headers)
    assert response.status == 202
    body = await response.json()
    assert (body["status"], body["attempts"], body["error"]) == ("stored", 0, None)
    connection = redis.Redis.from_url(settings.redis_url)
    assert Queue(QUEUE_DEFAULT, connection=connection).get_job_ids() == [body["job_id"]]
    connection.close()

    assert run_worker(settings, burst=True)
    record = MailStore(store).record(mail_id)
    assert record.status == "ingested"
    item = store.get_item(record.item_id or 0)
    assert (item.tenant_id, item.pool) == ("acme-dental", "tenant:acme-dental")
    listed = await client.get("/api/v1/mail/quarantine", headers=headers)
    assert (await listed.json())["messages"] == []

    again = await client.post(f"/api/v1/mail/quarantine/{mail_id}/retry", headers=headers)
    assert again.status == 409
    missing = await client.post("/api/v1/mail/quarantine/9999/retry", headers=headers)
    assert missing.status == 404
    assert (await client.post("/api/v1/mail/quarantine/x/retry", headers=headers)).status == 404


async def test_rejections_list_unparseable_and_machine_mail_with_reasons(
    client: TestClient[Any, Any], store: Repository, mail: dict[str, int]
) -> None:
    response = await client.get("/api/v1/mail/rejections", headers=auth(store, "maryam"))
    assert response.status == 200
    listed = {m["id"]: m for m in (await response.json())["messages"]}
    assert set(listed) == {mail["rejected"], mail["auto"]}
    rejected = listed[mail["rejected"]]
    assert (rejected["kind"], rejected["reason"]) == ("rejected", "no header block: not a message")
    auto = listed[mail["auto"]]
    assert (auto["status"], auto["kind"]) == ("ingested", "auto_reply")
    assert auto["reason"] == "Auto-Submitted: auto-replied"
    assert auto["subject"] == "Out of office"
    assert auto["from"] == "leila@customer.example"
    assert auto["item_id"] is not None


async def test_lists_page_by_limit_and_before(
    client: TestClient[Any, Any], store: Repository, mail: dict[str, int]
) -> None:
    headers = auth(store, "maryam")
    first = await client.get("/api/v1/mail/rejections?limit=1", headers=headers)
    (newest,) = (await first.json())["messages"]
    assert newest["id"] == mail["auto"]
    page = await client.get(
        f"/api/v1/mail/rejections?limit=1&before={newest['id']}", headers=headers
    )
    assert [m["id"] for m in (await page.json())["messages"]] == [mail["rejected"]]
    for query in ("limit=0", "limit=501", "limit=x", "before=y"):
        bad = await client.get(f"/api/v1/mail/quarantine?{query}", headers=headers)
        assert bad.status == 400, query
