"""JSON API for presence: a secretary sets and reads her own; supervisors see everyone's."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from triage.errors import PresenceConflict
from triage.models import Secretary
from triage.presence import MANUAL_STATUSES, PresenceState, PresenceStatus
from triage.web.api import SECRETARY, authenticated, error_response
from triage.web.state import PRESENCE, REPOSITORY

ALLOWED = ", ".join(sorted(MANUAL_STATUSES))


def presence_json(state: PresenceState) -> dict[str, Any]:
    return {
        "id": state.secretary_id,
        "status": state.status.value,
        "since": _iso(state.since),
        "until": _iso(state.until),
        "call_sid": state.call_sid,
        "idle_since": _iso(state.idle_since),
    }


def _iso(seconds: float | None) -> str | None:
    # 0.0 is the store's "never".
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else None


async def get_my_presence(request: web.Request) -> web.Response:
    """GET /api/v1/me/presence: my state now."""
    secretary = request[SECRETARY]
    state = await asyncio.to_thread(request.app[PRESENCE].state, secretary.id)
    return web.json_response(presence_json(state))


async def put_my_presence(request: web.Request) -> web.Response:
    """PUT /api/v1/me/presence with JSON {"status": "available" | "break" | "offline"}.

    409 while I am on a call: that ends by the call ending, not by a click.
    """
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return error_response(400, "bad_request", "the body must be JSON")
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or status not in MANUAL_STATUSES:
        return error_response(
            400, "bad_request", f'the body must be {{"status": S}} with S one of {ALLOWED}'
        )
    secretary = request[SECRETARY]
    try:
        state = await asyncio.to_thread(
            request.app[PRESENCE].set_status, secretary.id, PresenceStatus(status)
        )
    except PresenceConflict as error:
        return error_response(409, "conflict", str(error))
    return web.json_response(presence_json(state))


async def list_secretaries(request: web.Request) -> web.Response:
    """GET /api/v1/secretaries: every secretary with her presence; supervisors and admins."""
    if not request[SECRETARY].role.sees_all_tenants:
        return error_response(403, "forbidden", "only supervisors and admins see every secretary")
    people = await asyncio.to_thread(request.app[REPOSITORY].list_secretaries)
    states = await asyncio.to_thread(request.app[PRESENCE].states, [s.id for s in people])
    return web.json_response({"secretaries": [_secretary_json(s, states[s.id]) for s in people]})


def _secretary_json(secretary: Secretary, state: PresenceState) -> dict[str, Any]:
    # No phone number: personal data the console does not need.
    return {
        "id": secretary.id,
        "name": secretary.name,
        "role": secretary.role.value,
        "languages": list(secretary.languages),
        "skills": list(secretary.skills),
        "capacity": secretary.capacity,
        "presence": presence_json(state),
    }


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/me/presence", authenticated(get_my_presence))
    app.router.add_put("/api/v1/me/presence", authenticated(put_my_presence))
    app.router.add_get("/api/v1/secretaries", authenticated(list_secretaries))
