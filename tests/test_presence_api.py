"""The presence API through the real web app, Redis and both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from tests.factories import add_secretary
from triage.presence import PresenceStatus
from triage.settings import Settings
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.presence import Presence
from triage.store.repository import Repository
from triage.web.app import create_app

ALLOWED_MESSAGE = "available, break, offline"


@pytest.fixture
def store(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    add_secretary(engine, "sara")
    add_secretary(engine, "reza", capacity=2)
    add_secretary(engine, "maryam", role="supervisor")
    add_secretary(engine, "admin", role="admin")
    yield Repository(engine)
    engine.dispose()


@pytest.fixture
def presence(settings: Settings) -> Iterator[Presence]:
    """The same Redis the app uses, for setting up calls as the voice path would."""
    connection = redis.Redis.from_url(settings.redis_url)
    yield Presence(connection)
    connection.close()


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings))


def auth(store: Repository, secretary_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.issue_token(secretary_id)}"}


async def put_status(
    client: TestClient[Any, Any], headers: dict[str, str], status: str
) -> tuple[int, Any]:
    response = await client.put("/api/v1/me/presence", json={"status": status}, headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me/presence"),
        ("PUT", "/api/v1/me/presence"),
        ("GET", "/api/v1/secretaries"),
    ],
)
async def test_presence_endpoints_need_a_token(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    response = await client.request(method, path, json={"status": "available"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    forged = await client.request(
        method, path, json={"status": "available"}, headers={"Authorization": "Bearer nope"}
    )
    assert forged.status == 401


async def test_a_secretary_sets_and_reads_her_presence(
    client: TestClient[Any, Any], store: Repository, presence: Presence
) -> None:
    headers = auth(store, "sara")
    initial = await client.get("/api/v1/me/presence", headers=headers)
    assert initial.status == 200
    assert await initial.json() == {
        "id": "sara",
        "status": "offline",
        "since": None,
        "until": None,
        "call_sid": None,
        "idle_since": None,
    }
    status, body = await put_status(client, headers, "available")
    assert status == 200
    assert (body["id"], body["status"], body["until"], body["call_sid"]) == (
        "sara",
        "available",
        None,
        None,
    )
    since = datetime.fromisoformat(body["since"])
    assert since.tzinfo is not None
    assert since.timestamp() == pytest.approx(presence.state("sara").since, abs=1e-3)
    assert body["idle_since"] == body["since"]

    status, body = await put_status(client, headers, "break")
    assert (status, body["status"]) == (200, "break")
    fetched = await client.get("/api/v1/me/presence", headers=headers)
    assert await fetched.json() == body
    assert presence.state("sara").status == "break"
    assert presence.state("reza").status == "offline"  # only her own


@pytest.mark.parametrize(
    "body",
    [
        {"status": "ringing"},
        {"status": "on_call"},
        {"status": "wrap_up"},
        {"status": "lunch"},
        {"status": "AVAILABLE"},
        {"status": 1},
        {"state": "available"},
        {},
        ["available"],
        "available",
    ],
)
async def test_anything_but_a_manual_status_is_refused(
    client: TestClient[Any, Any], store: Repository, presence: Presence, body: Any
) -> None:
    response = await client.put("/api/v1/me/presence", json=body, headers=auth(store, "sara"))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "bad_request"
    assert ALLOWED_MESSAGE in error["message"]
    assert presence.state("sara").status == "offline"


async def test_a_body_that_is_not_json_is_refused(
    client: TestClient[Any, Any], store: Repository
) -> None:
    response = await client.put(
        "/api/v1/me/presence",
        data="status=available",
        headers={**auth(store, "sara"), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["message"] == "the body must be JSON"


async def test_no_presence_change_while_on_a_call(
    client: TestClient[Any, Any], store: Repository, presence: Presence
) -> None:
    headers = auth(store, "sara")
    assert (await put_status(client, headers, "available"))[0] == 200
    assert presence.reserve([["sara"]], "CA1", 20) == "sara"
    assert presence.start_call("sara", "CA1")
    status, body = await put_status(client, headers, "break")
    assert status == 409
    assert body["error"]["code"] == "conflict"
    mine = await (await client.get("/api/v1/me/presence", headers=headers)).json()
    assert (mine["status"], mine["call_sid"]) == ("on_call", "CA1")


async def test_a_break_while_ringing_is_accepted_and_holds_after_the_release(
    client: TestClient[Any, Any], store: Repository, presence: Presence
) -> None:
    headers = auth(store, "sara")
    await put_status(client, headers, "available")
    assert presence.reserve([["sara"]], "CA1", 20) == "sara"
    status, body = await put_status(client, headers, "break")
    assert (status, body["status"], body["call_sid"]) == (200, "ringing", "CA1")
    assert body["until"] is not None
    assert presence.release("sara", "CA1")
    mine = await (await client.get("/api/v1/me/presence", headers=headers)).json()
    assert mine["status"] == "break"


async def test_a_plain_secretary_may_not_list_the_secretaries(
    client: TestClient[Any, Any], store: Repository
) -> None:
    response = await client.get("/api/v1/secretaries", headers=auth(store, "sara"))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize("viewer", ["maryam", "admin"])
async def test_supervisors_and_admins_see_every_secretary_with_her_presence(
    client: TestClient[Any, Any], store: Repository, presence: Presence, viewer: str
) -> None:
    presence.set_status("sara", PresenceStatus.AVAILABLE)
    presence.set_status("reza", PresenceStatus.AVAILABLE)
    presence.set_status("maryam", PresenceStatus.BREAK)
    assert presence.reserve([["reza"]], "CA7", 20) == "reza"
    response = await client.get("/api/v1/secretaries", headers=auth(store, viewer))
    assert response.status == 200
    listed = (await response.json())["secretaries"]
    assert [(s["id"], s["role"], s["presence"]["status"]) for s in listed] == [
        ("admin", "admin", "offline"),
        ("maryam", "supervisor", "break"),
        ("reza", "secretary", "ringing"),
        ("sara", "secretary", "available"),
    ]
    reza = listed[2]
    assert (reza["name"], reza["languages"], reza["skills"], reza["capacity"]) == (
        "Reza",
        ["fa", "en"],
        ["scheduling"],
        2,
    )
    assert reza["presence"]["call_sid"] == "CA7"
    assert reza["presence"]["id"] == "reza"
    assert "phone" not in reza
