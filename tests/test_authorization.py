"""The authorization matrix: every /api/v1 route the app serves × every kind of caller.

Callers: a secretary assigned to the item's tenant (sara, acme-dental), one who is not
(reza, pars-clinic only), a supervisor assigned to nothing (sima: supervisors see all),
an admin, no token, and a revoked token of a secretary who would otherwise be allowed
(omid, acme-dental). Each row prepares a fresh acme-dental item in the state the action
needs *for that caller* (claimed by her, for complete), so a refusal can only come from
authorization. The routes come from the app's router: a route without a row fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from sqlalchemy import update

from integrations.twilio.signature import signed
from tests.factories import add_secretary
from tests.item_support import SMALL_CONFIG, new_item
from triage.settings import Settings
from triage.store.repository import Repository
from triage.store.tables import work_items
from triage.web.api import authenticated
from triage.web.app import check_guarded, create_app

ROLES = ("assigned", "unassigned", "supervisor", "admin", "no_token", "revoked")
WHO = {
    "assigned": "sara",
    "unassigned": "reza",
    "supervisor": "sima",
    "admin": "ali",
    "no_token": "sara",
    "revoked": "omid",
}


def queued(store: Repository, _who: str) -> int:
    return new_item(store)


def claimed_by_caller(store: Repository, who: str) -> int:
    """An acme item held by the caller on a live lease (for reza too: the tenant check
    must refuse him even when the row says he holds it)."""
    now = datetime.now(UTC)
    return new_item(
        store,
        status="claimed",
        held_by=who,
        claimed_at=now,
        lease_expires_at=now + timedelta(minutes=15),
    )


def in_future() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


@dataclass(frozen=True)
class Row:
    """How to call one route, and what each caller gets."""

    allowed: dict[str, int]
    item: Callable[[Repository, str], int] | None = None
    body: Callable[[], Any] | None = None
    text: str | None = None
    query: str = ""
    # Extra checks on a 2xx answer: (role, item id, JSON body) -> None.
    check: Callable[[str, int | None, Any], None] | None = None
    path_args: dict[str, str] = field(default_factory=dict)


def everyone(status: int) -> dict[str, int]:
    return {"assigned": status, "unassigned": status, "supervisor": status, "admin": status}


def tenant_scoped(status: int) -> dict[str, int]:
    """The item rule: her tenant's, or she is a supervisor or admin."""
    return {"assigned": status, "unassigned": 403, "supervisor": status, "admin": status}


SUPERVISORS_ONLY: dict[str, int] = {
    "assigned": 403,
    "unassigned": 403,
    "supervisor": 200,
    "admin": 200,
}
ADMINS_ONLY: dict[str, int] = {
    "assigned": 403,
    "unassigned": 403,
    "supervisor": 403,
    "admin": 200,
}


def claim_check(role: str, item_id: int | None, body: Any) -> None:
    # Only acme-dental's own secretary may be handed its item.
    assert role == "assigned" and body["id"] == item_id and body["tenant"] == "acme-dental"


def queue_check(role: str, item_id: int | None, body: Any) -> None:
    ids = [item["id"] for item in body["items"]]
    assert (item_id in ids) == (role == "assigned"), (role, ids)


def list_check(_role: str, item_id: int | None, body: Any) -> None:
    assert item_id in [item["id"] for item in body["items"]]


MATRIX: dict[tuple[str, str], Row] = {
    # A claim never hands an acme item to anyone but acme's secretaries (supervisors and
    # admins take unmatched and escalated items, not tenants' ordinary work).
    ("post", "/queue/claim"): Row(
        allowed={"assigned": 200, "unassigned": 204, "supervisor": 204, "admin": 204},
        item=queued,
        check=claim_check,
    ),
    ("get", "/queue"): Row(allowed=everyone(200), item=queued, check=queue_check),
    ("get", "/items"): Row(allowed=SUPERVISORS_ONLY, item=queued, check=list_check),
    ("get", "/items/{item_id}"): Row(allowed=tenant_scoped(200), item=queued),
    ("get", "/items/{item_id}/events"): Row(allowed=tenant_scoped(200), item=queued),
    ("post", "/items/{item_id}/complete"): Row(
        allowed=tenant_scoped(200),
        item=claimed_by_caller,
        body=lambda: {"outcome": "done"},
    ),
    ("post", "/items/{item_id}/heartbeat"): Row(allowed=tenant_scoped(200), item=claimed_by_caller),
    ("post", "/items/{item_id}/release"): Row(
        allowed=tenant_scoped(200),
        item=claimed_by_caller,
        body=lambda: {"reason": "back you go"},
    ),
    ("post", "/items/{item_id}/reclassify"): Row(
        allowed=tenant_scoped(200), item=queued, body=lambda: {"category": "travel"}
    ),
    ("post", "/items/{item_id}/transfer"): Row(
        allowed=tenant_scoped(200), item=queued, body=lambda: {"pool": "tenant:acme-dental"}
    ),
    ("post", "/items/{item_id}/snooze"): Row(
        allowed=tenant_scoped(200), item=queued, body=lambda: {"until": in_future()}
    ),
    ("post", "/items/{item_id}/notes"): Row(
        allowed=tenant_scoped(201), item=queued, body=lambda: {"text": "called twice"}
    ),
    ("get", "/me/presence"): Row(allowed=everyone(200)),
    ("put", "/me/presence"): Row(allowed=everyone(200), body=lambda: {"status": "break"}),
    ("get", "/secretaries"): Row(allowed=SUPERVISORS_ONLY),
    ("get", "/mail/quarantine"): Row(allowed=SUPERVISORS_ONLY),
    ("get", "/mail/rejections"): Row(allowed=SUPERVISORS_ONLY),
    # No such message: past the role check, a supervisor learns it does not exist.
    ("post", "/mail/quarantine/{mail_id}/retry"): Row(
        allowed={**SUPERVISORS_ONLY, "supervisor": 404, "admin": 404},
        path_args={"mail_id": "999"},
    ),
    ("get", "/config"): Row(allowed=ADMINS_ONLY),
    ("put", "/config"): Row(allowed=ADMINS_ONLY, text=SMALL_CONFIG, query="?dry_run=true"),
}


def served_routes(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings, background=False)
    return {
        (route.method.lower(), route.resource.canonical.removeprefix("/api/v1"))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method != "HEAD"
        and not route.resource.canonical.endswith("openapi.json")
    }


def test_every_api_route_has_a_row_in_the_matrix(settings: Settings) -> None:
    served = served_routes(settings)
    assert served, "no API routes found"
    missing = sorted(served - set(MATRIX))
    assert not missing, f"routes with no authorization row: {missing}"
    stale = sorted(set(MATRIX) - served)
    assert not stale, f"rows for routes the app does not serve: {stale}"


@pytest.fixture
async def client(
    aiohttp_client: Any, settings: Settings, store: Repository
) -> AsyncIterator[TestClient[Any, Any]]:
    add_secretary(store.engine, "omid", tenants_primary=["acme-dental"])
    add_secretary(store.engine, "sima", role="supervisor")
    add_secretary(store.engine, "ali", role="admin")
    yield await aiohttp_client(create_app(settings, background=False))


def tokens(store: Repository) -> dict[str, dict[str, str]]:
    headers = {
        role: {"Authorization": f"Bearer {store.issue_token(WHO[role])}"}
        for role in ROLES
        if role != "no_token"
    }
    assert store.revoke_tokens(WHO["revoked"]) == 1
    headers["no_token"] = {}
    return headers


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=lambda part: str(part))
async def test_authorization_matrix(
    client: TestClient[Any, Any], store: Repository, method: str, path: str
) -> None:
    row = MATRIX[(method, path)]
    headers = tokens(store)
    expected = {**row.allowed, "no_token": 401, "revoked": 401}
    got: dict[str, int] = {}
    for role in ROLES:
        with store.engine.begin() as connection:  # each caller starts from an empty queue
            connection.execute(
                update(work_items)
                .where(work_items.c.status != "completed")
                .values(status="completed", held_by=None)
            )
        item_id = row.item(store, WHO[role]) if row.item else None
        url = "/api/v1" + path.format(item_id=item_id, **row.path_args) + row.query
        kwargs: dict[str, Any] = {"headers": headers[role]}
        if row.body is not None:
            kwargs["json"] = row.body()
        if row.text is not None:
            kwargs["data"] = row.text
        response = await client.request(method.upper(), url, **kwargs)
        got[role] = response.status
        if response.status != expected[role]:
            continue  # reported below, with every caller's answer
        if row.check and response.status in (200, 201):
            row.check(role, item_id, await response.json())
        if response.status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if response.status == 403:
            assert (await response.json())["error"]["code"] == "forbidden"
    assert got == expected


async def _unguarded(_request: web.Request) -> web.Response:
    return web.Response(text="anyone")


@pytest.mark.parametrize(
    ("path", "guard", "missing"),
    [
        ("/twilio/voice/new-step", None, "Twilio signature"),
        ("/twilio/voice/new-step", authenticated, "Twilio signature"),
        ("/api/v1/new-route", None, "bearer token"),
        ("/api/v1/new-route", signed, "bearer token"),
    ],
)
def test_a_route_without_its_guard_stops_the_app_from_starting(
    path: str, guard: Callable[[Handler], Handler] | None, missing: str
) -> None:
    app = web.Application()
    app.router.add_post(path, guard(_unguarded) if guard else _unguarded)
    with pytest.raises(RuntimeError, match=f"POST {path} does not check the {missing}"):
        check_guarded(app)


def test_guarded_routes_and_the_public_ones_pass() -> None:
    app = web.Application()
    app.router.add_post("/twilio/voice/new-step", signed(_unguarded))
    app.router.add_get("/api/v1/new-route", authenticated(_unguarded))
    app.router.add_get("/api/v1/openapi.json", _unguarded)
    app.router.add_get("/healthz", _unguarded)
    check_guarded(app)
