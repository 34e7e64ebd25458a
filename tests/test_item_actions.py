"""Release, transfer, snooze, notes and complete through the real web app, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis import Redis
from rq import Queue
from sqlalchemy import update

from tests.item_support import add_people, auth, new_item
from triage.constants import QUEUE_URGENT
from triage.models import ItemStatus
from triage.settings import Settings
from triage.store.repository import Repository
from triage.store.tables import work_items
from triage.web.app import create_app
from triage.web.state import REPOSITORY


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    add_people(store)
    yield await aiohttp_client(create_app(settings, background=False))


async def call(
    client: TestClient[Any, Any],
    store: Repository,
    who: str,
    method: str,
    path: str,
    body: Any = None,
) -> tuple[int, Any]:
    response = await client.request(method, path, json=body, headers=auth(store, who))
    payload = await response.json() if response.content_type == "application/json" else None
    return response.status, payload


async def claim(client: TestClient[Any, Any], store: Repository, who: str) -> int:
    status, body = await call(client, store, who, "POST", "/api/v1/queue/claim")
    assert status == 200, body
    return int(body["id"])


def kinds(store: Repository, item_id: int) -> list[str]:
    return [event.kind for event in store.events(item_id)]


async def test_release_puts_a_claimed_item_back_with_its_reason(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    assert store.get_item(item_id).lease_expires_at is not None

    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/release", {"reason": "  "}
    )
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert "reason" in body["error"]["message"]
    # Omid works the same tenant but does not hold it: a state conflict, not a permission one.
    status, body = await call(
        client, store, "omid", "POST", f"/api/v1/items/{item_id}/release", {"reason": "mine now"}
    )
    assert status == 409 and "claimed by sara" in body["error"]["message"]

    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/release", {"reason": "need Farsi"}
    )
    assert status == 200
    assert (body["status"], body["held_by"], body["lease_expires_at"]) == ("queued", None, None)
    item = store.get_item(item_id)
    assert (item.status, item.held_by, item.lease_expires_at) == (ItemStatus.QUEUED, None, None)
    released = store.events(item_id)[-1]
    assert (released.kind, released.actor) == ("released", "secretary:sara")
    assert released.data == {"reason": "need Farsi", "holder": "sara"}

    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/release", {"reason": "again"}
    )
    assert status == 409 and "not claimed" in body["error"]["message"]
    # Back in the queue: the next claim gets it again.
    assert await claim(client, store, "omid") == item_id


async def test_a_supervisor_releases_a_secretarys_item(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    status, body = await call(
        client, store, "maryam", "POST", f"/api/v1/items/{item_id}/release", {"reason": "stuck"}
    )
    assert status == 200 and body["held_by"] is None
    assert store.events(item_id)[-1].data == {"reason": "stuck", "holder": "sara"}
    assert store.events(item_id)[-1].actor == "secretary:maryam"


async def test_transfer_to_a_secretary_pins_the_item_to_her(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store)
    other_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    path = f"/api/v1/items/{item_id}/transfer"

    for bad in ({}, {"secretary": "omid", "pool": "unmatched"}, {"secretary": 7}, [1]):
        status, body = await call(client, store, "sara", "POST", path, bad)
        assert status == 400, bad
    status, body = await call(client, store, "sara", "POST", path, {"secretary": "nobody"})
    assert (status, body["error"]["code"]) == (422, "invalid_target")
    # Reza works for pars-clinic only: he could never claim it.
    status, body = await call(client, store, "sara", "POST", path, {"secretary": "reza"})
    assert status == 422 and "not assigned to tenant acme-dental" in body["error"]["message"]
    assert store.get_item(item_id).held_by == "sara"

    status, body = await call(client, store, "sara", "POST", path, {"secretary": "omid"})
    assert status == 200
    assert (body["status"], body["held_by"], body["pinned_to"]) == ("queued", None, "omid")
    event = store.events(item_id)[-1]
    assert (event.kind, event.data["to_secretary"], event.data["holder"]) == (
        "transferred",
        "omid",
        "sara",
    )
    # Pinned to omid: sara's next claim skips it, omid's takes it first.
    assert await claim(client, store, "sara") == other_id
    assert await claim(client, store, "omid") == item_id


async def test_transfer_to_a_pool_moves_and_unpins(
    client: TestClient[Any, Any], store: Repository
) -> None:
    stray = new_item(store, None)  # an SMS to a number no tenant owns
    status, body = await call(
        client, store, "maryam", "POST", f"/api/v1/items/{stray}/transfer", {"pool": "tenant:nope"}
    )
    assert status == 422 and "no tenant 'nope'" in body["error"]["message"]
    status, body = await call(
        client, store, "maryam", "POST", f"/api/v1/items/{stray}/transfer", {"pool": "vip"}
    )
    assert status == 422
    status, body = await call(
        client,
        store,
        "maryam",
        "POST",
        f"/api/v1/items/{stray}/transfer",
        {"pool": "tenant:acme-dental"},
    )
    assert status == 200
    assert (body["pool"], body["tenant"], body["unmatched"]) == (
        "tenant:acme-dental",
        "acme-dental",
        False,
    )
    assert store.events(stray)[-1].data["from_pool"] == "unmatched"
    # Now acme's: sara may claim it.
    assert await claim(client, store, "sara") == stray

    pinned = new_item(store, pinned_to="omid")
    for pool in ("tenant:pars-clinic", "unmatched", "spam"):
        status, body = await call(
            client, store, "omid", "POST", f"/api/v1/items/{pinned}/transfer", {"pool": pool}
        )
        assert (status, body["error"]["code"]) == (403, "forbidden"), pool
    status, body = await call(
        client, store, "maryam", "POST", f"/api/v1/items/{pinned}/transfer", {"pool": "spam"}
    )
    assert (status, body["pool"], body["pinned_to"]) == (200, "spam", None)
    assert store.get_item(pinned).tenant_id == "acme-dental"


async def test_snooze_hides_an_item_until_its_time(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    repository = client.app[REPOSITORY]
    now = datetime.now(UTC).replace(microsecond=0)
    repository.clock = lambda: now
    path = f"/api/v1/items/{item_id}/snooze"
    for bad in (
        {"until": "tomorrow"},
        {"until": "2030-01-01T09:00:00"},  # no offset
        {"until": (now - timedelta(minutes=1)).isoformat()},
        {"until": (now + timedelta(days=91)).isoformat()},
        {},
    ):
        status, body = await call(client, store, "sara", "POST", path, bad)
        assert (status, body["error"]["code"]) == (400, "bad_request"), bad

    until = now + timedelta(hours=1)
    tehran = until.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+03:30").tzinfo)
    status, body = await call(client, store, "sara", "POST", path, {"until": tehran.isoformat()})
    assert status == 200
    assert (body["status"], body["held_by"], body["lease_expires_at"]) == ("queued", None, None)
    assert datetime.fromisoformat(body["snoozed_until"]) == until
    assert store.events(item_id)[-1].kind == "snoozed"

    status, _ = await call(client, store, "sara", "POST", "/api/v1/queue/claim")
    assert status == 204
    status, body = await call(client, store, "sara", "GET", "/api/v1/queue")
    assert body["total"] == 0

    repository.clock = lambda: until + timedelta(seconds=1)
    status, body = await call(client, store, "sara", "GET", "/api/v1/queue")
    assert [item["id"] for item in body["items"]] == [item_id]
    assert await claim(client, store, "sara") == item_id


async def test_actions_on_a_completed_item_conflict_but_notes_are_welcome(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/complete", {"outcome": "called"}
    )
    assert status == 200
    done = store.get_item(item_id)
    assert done.lease_expires_at is None and done.first_response_at is not None

    for action, payload in (
        ("release", {"reason": "oops"}),
        ("transfer", {"secretary": "omid"}),
        ("transfer", {"pool": "tenant:acme-dental"}),
        ("snooze", {"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}),
    ):
        status, body = await call(
            client, store, "sara", "POST", f"/api/v1/items/{item_id}/{action}", payload
        )
        assert (status, body["error"]["code"]) == (409, "conflict"), action
        assert "completed" in body["error"]["message"]

    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/notes", {"text": ""}
    )
    assert status == 400
    status, body = await call(
        client,
        store,
        "sara",
        "POST",
        f"/api/v1/items/{item_id}/notes",
        {"text": "Client called back, all settled"},
    )
    assert status == 201
    assert (body["kind"], body["actor"], body["data"]) == (
        "note",
        "secretary:sara",
        {"text": "Client called back, all settled"},
    )
    status, body = await call(client, store, "sara", "GET", f"/api/v1/items/{item_id}/events")
    assert status == 200
    assert [event["kind"] for event in body["events"]] == [
        "received",
        "queued",
        "claimed",
        "completed",
        "note",
    ]
    assert kinds(store, item_id)[-1] == "note"


async def test_unknown_items_are_404_for_every_action(
    client: TestClient[Any, Any], store: Repository
) -> None:
    for action, payload in (
        ("release", {"reason": "x"}),
        ("transfer", {"pool": "unmatched"}),
        ("snooze", {"until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}),
        ("notes", {"text": "x"}),
    ):
        status, body = await call(
            client, store, "maryam", "POST", f"/api/v1/items/999/{action}", payload
        )
        assert (status, body["error"]["code"]) == (404, "not_found"), action
    status, _ = await call(client, store, "maryam", "GET", "/api/v1/items/999/events")
    assert status == 404
    status, _ = await call(
        client, store, "maryam", "POST", "/api/v1/items/abc/notes", {"text": "x"}
    )
    assert status == 404


async def test_releasing_an_item_pinned_to_its_holder_unpins_it(
    client: TestClient[Any, Any], store: Repository
) -> None:
    item_id = new_item(store, pinned_to="sara")
    assert await claim(client, store, "sara") == item_id
    status, body = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/release", {"reason": "on leave"}
    )
    assert (status, body["pinned_to"]) == (200, None)
    # Anyone of the tenant may take it now; before, only sara could.
    assert await claim(client, store, "omid") == item_id

    pinned_elsewhere = new_item(store, pinned_to="omid")
    with store.engine.begin() as connection:
        connection.execute(
            update(work_items)
            .where(work_items.c.id == pinned_elsewhere)
            .values(
                status="claimed",
                held_by="sara",
                lease_expires_at=datetime.now(UTC) + timedelta(minutes=5),
            )
        )
    status, body = await call(
        client,
        store,
        "sara",
        "POST",
        f"/api/v1/items/{pinned_elsewhere}/release",
        {"reason": "not mine"},
    )
    assert (status, body["pinned_to"]) == (200, "omid")


async def test_a_move_to_another_tenant_reroutes_the_item(
    client: TestClient[Any, Any], store: Repository, settings: Settings
) -> None:
    queued_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    store.clock = lambda: queued_at
    stray = new_item(store, None)
    travel = new_item(store, category="travel", required_skill="travel")
    assert store.get_item(stray).backup_at is None
    connection = Redis.from_url(settings.redis_url)
    escalations = Queue(QUEUE_URGENT, connection=connection)
    planned = escalations.count

    status, body = await call(
        client,
        store,
        "maryam",
        "POST",
        f"/api/v1/items/{stray}/transfer",
        {"pool": "tenant:acme-dental"},
    )
    assert status == 200
    # acme-dental has no hours in its config (always open) and the default SLA: a normal
    # item is due 4 hours after it was first queued, backups may take it after 30 minutes.
    assert datetime.fromisoformat(body["due_at"]) == queued_at + timedelta(hours=4)
    assert store.get_item(stray).backup_at == queued_at + timedelta(minutes=30)
    assert escalations.count == planned + 1  # its escalation planned again
    connection.close()

    # Nobody at pars-clinic has the skill "travel": the item must not wait for one.
    status, body = await call(
        client,
        store,
        "maryam",
        "POST",
        f"/api/v1/items/{travel}/transfer",
        {"pool": "tenant:pars-clinic"},
    )
    assert (status, body["tenant"], body["required_skill"]) == (200, "pars-clinic", None)
    status, body = await call(client, store, "reza", "GET", "/api/v1/queue")
    assert [item["id"] for item in body["items"]] == [travel]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("release", {"reason": "late"}),
        ("transfer", {"pool": "unmatched"}),
        ("snooze", {"until": "tomorrow"}),
    ],
)
async def test_a_holder_whose_lease_ran_out_can_no_longer_move_the_item(
    client: TestClient[Any, Any], store: Repository, action: str, body: dict[str, str]
) -> None:
    if action == "snooze":
        body = {"until": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    item_id = new_item(store)
    assert await claim(client, store, "sara") == item_id
    with store.engine.begin() as connection:
        connection.execute(
            update(work_items)
            .where(work_items.c.id == item_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    status, answer = await call(
        client, store, "sara", "POST", f"/api/v1/items/{item_id}/{action}", body
    )
    assert (status, answer["error"]["code"]) == (409, "lease_expired"), answer
    item = store.get_item(item_id)
    assert (item.status, item.held_by) == (ItemStatus.CLAIMED, "sara")
    assert kinds(store, item_id)[-1] == "claimed"
