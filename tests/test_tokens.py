"""The web process's bearer-token cache: how long a revoked token may still be honoured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from triage.models import Role, Secretary
from triage.settings import Settings
from triage.store.repository import Repository
from triage.web.app import create_app
from triage.web.state import REPOSITORY, TOKENS
from triage.web.tokens import TOKEN_CACHE_SECONDS, TokenCache


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings, background=False))


@pytest.fixture
def ticks(client: TestClient[Any, Any]) -> Ticks:
    ticks = Ticks()
    client.server.app[TOKENS].clock = ticks
    return ticks


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_bound_is_a_few_seconds() -> None:
    assert 0 < TOKEN_CACHE_SECONDS <= 5


async def test_a_revoked_token_stops_working_within_the_bound(
    client: TestClient[Any, Any], store: Repository, ticks: Ticks
) -> None:
    token = store.issue_token("sara")
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204
    assert store.revoke_tokens("sara") == 1

    ticks.now += TOKEN_CACHE_SECONDS - 0.5
    # Still held from the lookup above: the bound is the price of skipping the database.
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204
    ticks.now += 0.5
    refused = await client.post("/api/v1/queue/claim", headers=auth(token))
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # A refused token is not held: it stays refused, and never counts as live again.
    ticks.now += 0.1
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 401


async def test_a_lookup_is_reused_within_the_bound_and_repeated_after_it(
    client: TestClient[Any, Any], store: Repository, ticks: Ticks
) -> None:
    repository = client.server.app[REPOSITORY]
    lookups: list[str] = []
    lookup = repository.secretary_for_token

    def counting(token: str) -> Secretary | None:
        lookups.append(token)
        return lookup(token)

    repository.secretary_for_token = counting  # type: ignore[method-assign]
    token = store.issue_token("sara")
    for _ in range(3):
        assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204
    assert len(lookups) == 1
    ticks.now += TOKEN_CACHE_SECONDS
    assert (await client.post("/api/v1/queue/claim", headers=auth(token))).status == 204
    assert len(lookups) == 2
    # Unknown tokens are asked about every time (and a new token works at once).
    for _ in range(2):
        assert (await client.post("/api/v1/queue/claim", headers=auth("nope"))).status == 401
    assert len(lookups) == 4


def test_an_entry_ages_from_when_its_lookup_began() -> None:
    ticks = Ticks()
    cache = TokenCache(ttl=5.0, clock=ticks)
    sara = Secretary(
        id="sara",
        name="Sara",
        role=Role.SECRETARY,
        languages=("en",),
        skills=(),
        capacity=2,
        phone="",
    )
    asked_at = ticks.now
    ticks.now += 2.0  # a slow lookup: a revocation may have landed while it ran
    cache.put("token", sara, asked_at)
    assert cache.get("token") == sara
    ticks.now = asked_at + 4.99
    assert cache.get("token") == sara
    ticks.now = asked_at + 5.0
    assert cache.get("token") is None
    assert cache.get("other") is None
