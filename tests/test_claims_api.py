"""Claim and heartbeat over HTTP: the lease in the answer, its renewal, its loss."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.test_claims import START, Clock, add_items
from triage.settings import Settings
from triage.store.repository import Repository
from triage.web.app import create_app
from triage.web.state import REPOSITORY


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings, background=False))


def auth(store: Repository, secretary_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.issue_token(secretary_id)}"}


async def test_heartbeat_renews_the_lease_until_it_runs_out(
    client: TestClient[Any, Any], store: Repository
) -> None:
    clock = Clock()
    client.server.app[REPOSITORY].clock = clock
    (item_id,) = add_items(store, [{"tenant_id": "acme-dental", "pool": "tenant:acme-dental"}])
    sara, reza, maryam = (auth(store, s) for s in ("sara", "reza", "maryam"))

    claimed = await client.post("/api/v1/queue/claim", headers=sara)
    assert claimed.status == 200
    body = await claimed.json()
    assert (body["id"], body["held_by"]) == (item_id, "sara")
    assert datetime.fromisoformat(body["lease_expires_at"]) == START + timedelta(minutes=15)
    assert datetime.fromisoformat(body["first_response_at"]) == START

    clock.now += timedelta(minutes=10)
    beat = await client.post(f"/api/v1/items/{item_id}/heartbeat", headers=sara)
    assert beat.status == 200
    renewed = datetime.fromisoformat((await beat.json())["lease_expires_at"])
    assert renewed == clock.now + timedelta(minutes=15)

    other_tenant = await client.post(f"/api/v1/items/{item_id}/heartbeat", headers=reza)
    assert other_tenant.status == 403
    not_holder = await client.post(f"/api/v1/items/{item_id}/heartbeat", headers=maryam)
    assert not_holder.status == 409
    assert (await not_holder.json())["error"]["code"] == "conflict"
    missing = await client.post("/api/v1/items/999/heartbeat", headers=sara)
    assert missing.status == 404
    assert (await client.post(f"/api/v1/items/{item_id}/heartbeat")).status == 401

    clock.now = renewed
    lost = await client.post(f"/api/v1/items/{item_id}/heartbeat", headers=sara)
    assert lost.status == 409
    assert (await lost.json())["error"]["code"] == "lease_expired"
    late = await client.post(
        f"/api/v1/items/{item_id}/complete", json={"outcome": "done"}, headers=sara
    )
    assert late.status == 409
    assert (await late.json())["error"]["code"] == "lease_expired"

    # The next claim sweeps the lease and serves the item again, to whoever may take it.
    again = await client.post("/api/v1/queue/claim", headers=sara)
    assert again.status == 200
    assert (await again.json())["id"] == item_id
    kinds = [(event.kind, event.data.get("secretary")) for event in store.events(item_id)]
    assert kinds == [("claimed", None), ("lease_expired", "sara"), ("claimed", None)]
    done = await client.post(
        f"/api/v1/items/{item_id}/complete", json={"outcome": "done"}, headers=sara
    )
    assert done.status == 200
    assert (await done.json())["lease_expires_at"] is None
