"""GET /api/v1/queue and GET /api/v1/items through the real web app, on both databases."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.item_support import SMALL_CONFIG as config
from tests.item_support import add_people, auth, new_item
from triage.models import AssignmentKind, Channel, ItemStatus, Priority
from triage.routing import eligible, serving_key
from triage.settings import Settings
from triage.store.repository import Repository
from triage.web.app import create_app
from triage.web.state import REPOSITORY

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    add_people(store)
    test_client = await aiohttp_client(create_app(settings, background=False))
    test_client.app[REPOSITORY].clock = lambda: NOW
    yield test_client


async def get(
    client: TestClient[Any, Any], store: Repository, who: str, path: str
) -> tuple[int, Any]:
    response = await client.get(path, headers=auth(store, who))
    return response.status, await response.json()


async def test_my_queue_counts_per_priority_orders_and_shows_time_left(
    client: TestClient[Any, Any], store: Repository
) -> None:
    store.clock = lambda: NOW - timedelta(hours=1)
    low = new_item(store, priority=Priority.LOW)
    late = new_item(store, priority=Priority.HIGH, due_at=NOW + timedelta(minutes=30))
    soon = new_item(store, priority=Priority.HIGH, due_at=NOW + timedelta(minutes=5))
    overdue = new_item(store, priority=Priority.NORMAL, due_at=NOW - timedelta(minutes=2))
    new_item(store, "pars-clinic", priority=Priority.URGENT)  # not sara's tenant
    new_item(store, priority=Priority.URGENT, snoozed_until=NOW + timedelta(hours=1))
    new_item(store, priority=Priority.URGENT, pinned_to="omid")
    new_item(store, priority=Priority.URGENT, routed=False)  # not triaged yet
    pinned_to_her = new_item(store, "acme-dental", priority=Priority.LOW, pinned_to="sara")

    status, body = await get(client, store, "sara", "/api/v1/queue")
    assert status == 200
    assert body["counts"] == {"urgent": 0, "high": 2, "normal": 1, "low": 2}
    assert body["total"] == 5
    assert [item["id"] for item in body["items"]][:3] == [soon, late, overdue]
    assert {item["id"] for item in body["items"][3:]} == {low, pinned_to_her}
    left = {item["id"]: item["seconds_left"] for item in body["items"]}
    assert (left[soon], left[late], left[overdue], left[low]) == (300, 1800, -120, None)
    assert body["items"][0]["due_at"] == (NOW + timedelta(minutes=5)).isoformat()

    status, page = await get(client, store, "sara", "/api/v1/queue?limit=2&offset=1")
    assert [item["id"] for item in page["items"]] == [late, overdue]
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, 5)
    for bad in ("limit=0", "limit=201", "limit=x", "offset=-1"):
        status, body = await get(client, store, "sara", f"/api/v1/queue?{bad}")
        assert (status, body["error"]["code"]) == (400, "bad_request"), bad

    status, body = await get(client, store, "reza", "/api/v1/queue")
    assert (body["total"], body["counts"]["urgent"]) == (1, 1)
    # The queue is what a claim gives: sara's claim takes the head of her queue.
    response = await client.post("/api/v1/queue/claim", headers=auth(store, "sara"))
    assert (await response.json())["id"] == soon


async def test_the_queue_is_exactly_what_routing_rules_allow(
    client: TestClient[Any, Any], store: Repository
) -> None:
    """Every combination of the attributes eligibility reads, against `eligible` itself."""
    combos = itertools.product(
        ("acme-dental", "pars-clinic", None),  # tenant (None: unmatched)
        (None, "en", "ar"),  # language
        (None, "scheduling", "travel"),  # required skill
        (None, "sara", "maryam"),  # pinned to
        (0, 2, 3),  # escalation
        (None, NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)),  # backup_at
    )
    for n, (tenant, language, skill, pin, escalation, backup_at) in enumerate(combos):
        new_item(
            store,
            tenant,
            language=language,
            required_skill=skill,
            pinned_to=pin,
            escalation=escalation,
            backup_at=backup_at,
            snoozed_until=NOW + timedelta(hours=1) if n % 7 == 0 else None,
        )
    new_item(store, "acme-dental", pool="spam")
    everything = [store.get_item(item_id) for item_id in range(1, store.count_items() + 1)]
    for who in ("sara", "reza", "maryam", "omid", "ali"):
        secretary = store.secretary(who)
        kinds = {
            tenant: AssignmentKind.BACKUP if who == "maryam" else AssignmentKind.PRIMARY
            for tenant in store.assigned_tenants(who)
        }
        expected = sorted(
            (
                item
                for item in everything
                if eligible(
                    item, secretary, kinds.get(item.tenant_id) if item.tenant_id else None, NOW
                )
            ),
            key=serving_key,
        )
        shown: list[int] = []
        while True:
            status, body = await get(
                client, store, who, f"/api/v1/queue?limit=200&offset={len(shown)}"
            )
            assert status == 200 and body["total"] == len(expected), who
            shown.extend(item["id"] for item in body["items"])
            if len(body["items"]) < 200:
                break
        assert shown == [item.id for item in expected], who
    assert store.get_item(1).status is ItemStatus.QUEUED


async def test_supervisors_list_and_filter_items_page_by_page(
    client: TestClient[Any, Any], store: Repository
) -> None:
    ids = []
    for day in range(6):
        store.clock = lambda day=day: NOW - timedelta(days=6 - day)  # type: ignore[misc]
        ids.append(
            new_item(
                store,
                "acme-dental" if day % 2 else "pars-clinic",
                channel=Channel.EMAIL if day < 3 else Channel.SMS,
                priority=Priority.URGENT if day == 4 else Priority.NORMAL,
                category="accounting" if day == 5 else "message",
            )
        )
    store.clock = lambda: NOW
    stray = new_item(store, None, routed=False)

    status, body = await get(client, store, "maryam", "/api/v1/items")
    assert status == 200
    assert [item["id"] for item in body["items"]] == [stray, *reversed(ids)]
    assert body["next"] is None

    cases = {
        "tenant=acme-dental": [ids[5], ids[3], ids[1]],
        "channel=email": [ids[2], ids[1], ids[0]],
        "status=received": [stray],
        "status=queued&tenant=pars-clinic": [ids[4], ids[2], ids[0]],
        "category=accounting": [ids[5]],
        "priority=urgent": [ids[4]],
        "created_from=" + (NOW - timedelta(days=2)).isoformat().replace("+", "%2B"): [
            stray,
            ids[5],
            ids[4],
        ],
        # created_to is exclusive: day 1 (2026-11-20 14:00) is not in it.
        "created_from=2026-11-19T00:00:00Z&created_to=2026-11-20T14:00:00Z": [ids[0]],
    }
    for query, expected in cases.items():
        status, body = await get(client, store, "ali", f"/api/v1/items?{query}")
        assert status == 200, query
        assert [item["id"] for item in body["items"]] == expected, query

    seen: list[int] = []
    path: str | None = "/api/v1/items?limit=3&tenant=acme-dental&channel=sms"
    pages = 0
    while path is not None:
        status, body = await get(client, store, "maryam", path)
        assert status == 200
        seen.extend(item["id"] for item in body["items"])
        path = body["next"]
        pages += 1
        if path:
            assert "tenant=acme-dental" in path and "channel=sms" in path
    assert seen == [ids[5], ids[3]] and pages == 1
    status, body = await get(client, store, "maryam", "/api/v1/items?limit=2")
    assert len(body["items"]) == 2 and body["next"] is not None
    status, rest = await get(client, store, "maryam", body["next"])
    assert [item["id"] for item in rest["items"]] == [ids[4], ids[3]]

    for bad in (
        "channel=fax",
        "status=lost",
        "category=gossip",
        "priority=asap",
        "created_from=yesterday",
        "created_to=2026-11-20T00:00:00",
        "created_from=2026-11-21T00:00:00Z&created_to=2026-11-20T00:00:00Z",
        "limit=0",
        "limit=501",
        "before=x",
        "colour=red",
        "tenant=",
    ):
        status, body = await get(client, store, "maryam", f"/api/v1/items?{bad}")
        assert (status, body["error"]["code"]) == (400, "bad_request"), bad

    for secretary in ("sara", "reza"):
        status, body = await get(client, store, secretary, "/api/v1/items")
        assert (status, body["error"]["code"]) == (403, "forbidden")


async def test_admins_read_and_apply_the_agency_config(
    client: TestClient[Any, Any], store: Repository
) -> None:
    for who in ("sara", "maryam"):
        response = await client.get("/api/v1/config", headers=auth(store, who))
        assert response.status == 403
        response = await client.put("/api/v1/config", data=config, headers=auth(store, who))
        assert response.status == 403

    admin = auth(store, "ali")
    response = await client.put("/api/v1/config?dry_run=true", data="[agency", headers=admin)
    body = await response.json()
    assert response.status == 400 and "TOML syntax error" in body["problems"][0]
    response = await client.put(
        "/api/v1/config", data=config.replace('"en"', '"xx"', 1), headers=admin
    )
    assert response.status == 400 and (await response.json())["problems"]

    response = await client.put("/api/v1/config?dry_run=true", data=config, headers=admin)
    body = await response.json()
    assert response.status == 200 and body["applied"] is False and body["changes"]
    response = await client.get("/api/v1/config", headers=admin)
    assert response.status == 200 and 'name = "Test Agency"' not in await response.text()

    response = await client.put("/api/v1/config", data=config, headers=admin)
    body = await response.json()
    assert response.status == 200 and body["applied"] is True
    response = await client.get("/api/v1/config", headers=admin)
    exported = await response.text()
    assert response.content_type == "application/toml"
    assert 'name = "Test Agency"' in exported and 'id = "acme-dental"' in exported
    assert "pars-clinic" not in exported
