"""An SMS travels the whole way: signed webhook -> stored item -> RQ job -> pool -> claim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from rq import Queue

from tests.factories import (
    ACME_NUMBER,
    PARS_NUMBER,
    sms_params,
    twilio_signature,
)
from triage.constants import QUEUE_DEFAULT
from triage.settings import Settings
from triage.store.repository import Repository
from triage.web.app import create_app
from triage.web.state import TOKENS
from triage.web.tokens import TOKEN_CACHE_SECONDS
from workers.main import run_worker


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings))


async def post_sms(
    client: TestClient[Any, Any], settings: Settings, params: dict[str, str], signature: str | None
) -> Any:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return await client.post("/twilio/sms", data=params, headers=headers)


def signed(settings: Settings, params: dict[str, str]) -> str:
    return twilio_signature(settings.twilio_auth_token, settings.public_url + "/twilio/sms", params)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sms_is_stored_routed_claimed_and_completed(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params(ACME_NUMBER, "+989121112233", "Can I move my cleaning to Thursday?")
    response = await post_sms(client, settings, params, signed(settings, params))
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert "<Response" in await response.text()

    item = store.get_item(1)
    assert item.status.value == "received"
    assert item.tenant_id == "acme-dental"
    assert item.external_id == params["MessageSid"]

    assert run_worker(settings, burst=True)
    item = store.get_item(1)
    assert (item.status.value, item.pool) == ("queued", "tenant:acme-dental")

    token = store.issue_token("sara")
    claimed = await client.post("/api/v1/queue/claim", headers=auth(token))
    assert claimed.status == 200
    body = await claimed.json()
    assert body["id"] == 1
    assert body["body"] == "Can I move my cleaning to Thursday?"
    assert body["held_by"] == "sara"
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204

    fetched = await client.get("/api/v1/items/1", headers=auth(token))
    assert (await fetched.json())["status"] == "claimed"

    done = await client.post(
        "/api/v1/items/1/complete",
        json={"outcome": "rescheduled", "notes": "moved to Thu 10:00"},
        headers=auth(token),
    )
    assert done.status == 200
    assert (await done.json())["status"] == "completed"
    kinds = [(event.kind, event.actor) for event in store.events(1)]
    assert kinds == [
        ("received", "twilio:sms"),
        ("triaged", "worker:triage"),
        ("queued", "worker:triage"),
        ("claimed", "secretary:sara"),
        ("completed", "secretary:sara"),
    ]


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
async def test_unsigned_or_forged_sms_is_refused_and_nothing_stored(
    client: TestClient[Any, Any], settings: Settings, store: Repository, signature: str | None
) -> None:
    params = sms_params(ACME_NUMBER, "+989121112233", "hello")
    response = await post_sms(client, settings, params, signature)
    assert response.status == 403
    assert store.count_items() == 0


async def test_signature_over_other_url_or_tampered_body_is_refused(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params(ACME_NUMBER, "+989121112233", "hello")
    wrong_url = twilio_signature(
        settings.twilio_auth_token, "https://attacker.example/twilio/sms", params
    )
    assert (await post_sms(client, settings, params, wrong_url)).status == 403
    good = signed(settings, params)
    tampered = {**params, "Body": "transfer the money"}
    assert (await post_sms(client, settings, tampered, good)).status == 403
    assert store.count_items() == 0


async def test_retried_webhook_makes_one_item_and_one_job(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params(ACME_NUMBER, "+989121112233", "retry me")
    for _ in range(3):
        response = await post_sms(client, settings, params, signed(settings, params))
        assert response.status == 200
    assert store.count_items() == 1
    assert [event.kind for event in store.events(1)] == ["received"]
    connection = redis.Redis.from_url(settings.redis_url)
    assert Queue(QUEUE_DEFAULT, connection=connection).count == 1
    connection.close()


async def test_sms_to_unknown_number_is_kept_unmatched_for_supervisors(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params("+14165550199", "+989121112233", "who gets this?")
    assert (await post_sms(client, settings, params, signed(settings, params))).status == 200
    run_worker(settings, burst=True)
    item = store.get_item(1)
    assert item.tenant_id is None
    assert item.pool == "unmatched"

    sara = store.issue_token("sara")
    assert (await client.post("/api/v1/queue/claim", headers=auth(sara))).status == 204
    assert (await client.get("/api/v1/items/1", headers=auth(sara))).status == 403

    maryam = store.issue_token("maryam")
    claimed = await client.post("/api/v1/queue/claim", headers=auth(maryam))
    assert claimed.status == 200
    assert (await claimed.json())["unmatched"] is True


async def test_secretary_cannot_see_or_complete_another_tenants_item(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params(PARS_NUMBER, "+989121112233", "سلام، نوبت فردا را لغو کنید")
    await post_sms(client, settings, params, signed(settings, params))
    run_worker(settings, burst=True)
    reza = store.issue_token("reza")
    claimed = await client.post("/api/v1/queue/claim", headers=auth(reza))
    assert (await claimed.json())["body"] == "سلام، نوبت فردا را لغو کنید"

    sara = store.issue_token("sara")
    assert (await client.get("/api/v1/items/1", headers=auth(sara))).status == 403
    forbidden = await client.post(
        "/api/v1/items/1/complete", json={"outcome": "done"}, headers=auth(sara)
    )
    assert forbidden.status == 403
    assert store.get_item(1).status.value == "claimed"


async def test_api_refuses_missing_unknown_and_revoked_tokens(
    client: TestClient[Any, Any], store: Repository
) -> None:
    assert (await client.post("/api/v1/queue/claim")).status == 401
    assert (await client.post("/api/v1/queue/claim", headers=auth("nope"))).status == 401
    token = store.issue_token("sara")
    cache = client.server.app[TOKENS]
    cache.clock = lambda: 1000.0
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204
    assert store.revoke_tokens("sara") == 1
    # The web process honours a revocation within the token cache's bound (tests/test_tokens).
    cache.clock = lambda: 1000.0 + TOKEN_CACHE_SECONDS
    response = await client.post("/api/v1/queue/claim", headers=auth(token))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_complete_validates_input_and_state(
    client: TestClient[Any, Any], settings: Settings, store: Repository
) -> None:
    params = sms_params(ACME_NUMBER, "+12125550100", "hi")
    await post_sms(client, settings, params, signed(settings, params))
    run_worker(settings, burst=True)
    token = store.issue_token("sara")
    headers = auth(token)
    # Not claimed yet: completing is a conflict.
    response = await client.post("/api/v1/items/1/complete", json={"outcome": "x"}, headers=headers)
    assert response.status == 409
    await client.post("/api/v1/queue/claim", headers=headers)
    for bad in ({}, {"outcome": ""}, {"outcome": 5}, {"outcome": "ok", "notes": 3}, [1]):
        response = await client.post("/api/v1/items/1/complete", json=bad, headers=headers)
        assert response.status == 400, bad
    response = await client.post("/api/v1/items/1/complete", data=b"not json", headers=headers)
    assert response.status == 400
    assert (await client.get("/api/v1/items/999", headers=headers)).status == 404
    assert (await client.get("/api/v1/items/abc", headers=headers)).status == 404
    assert store.get_item(1).status.value == "claimed"


async def test_readyz_reports_healthy_dependencies(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"] == {"redis": "ok", "database": "ok"}


async def test_readyz_names_the_failing_part(
    aiohttp_client: Any, env: dict[str, str], store: Repository
) -> None:
    from tests.conftest import free_port

    dead_redis = Settings.from_env({**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    client = await aiohttp_client(create_app(dead_redis))
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"] == "ok"
