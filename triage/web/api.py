"""JSON API v0 for secretaries: bearer tokens, claim, read and complete work items."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from datetime import datetime
from typing import Any

import redis
from aiohttp import web
from aiohttp.typedefs import Handler

from triage.errors import (
    Forbidden,
    InvalidTarget,
    InvalidTransition,
    LeaseExpired,
    MonshiError,
    NotFound,
)
from triage.models import SPAM_POOL, Category, Priority, Secretary, WorkItem
from triage.routing import pool_for
from triage.sla import due_after_reclassify
from triage.store.triage_records import reclassify_item
from triage.web.state import DIRECTORY, DISPATCHER, REPOSITORY, TOKENS

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
SECRETARY = web.RequestKey("secretary", Secretary)

MAX_OUTCOME = 64
MAX_NOTES = 10_000


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


# Every handler authenticated() made: the app refuses to start with an API route not in it.
AUTHENTICATED: weakref.WeakSet[Handler] = weakref.WeakSet()  # not kept alive by it


def authenticated(handler: Handler) -> Handler:
    """An /api/v1/ handler: it needs a live bearer token, and store refusals become answers.

    A guard on each handler rather than a middleware, like the Twilio signature check
    (integrations.twilio.signature.signed), so the webhooks run with no middleware.
    """

    async def checked(request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("a bearer token is required")
        secretary = await _secretary_for(request, token.strip())
        if secretary is None:
            return _unauthorized("the token is unknown or revoked")
        request[SECRETARY] = secretary
        try:
            return await handler(request)
        except (NotFound, Forbidden, InvalidTransition, InvalidTarget) as error:
            return refusal_response(error)

    functools.update_wrapper(checked, handler)
    AUTHENTICATED.add(checked)
    return checked


async def _secretary_for(request: web.Request, token: str) -> Secretary | None:
    """The token's secretary: from the cache (no thread hop, no query) or the database."""
    cache = request.app[TOKENS]
    secretary = cache.get(token)
    if secretary is None:
        asked_at = cache.clock()
        secretary = await asyncio.to_thread(request.app[REPOSITORY].secretary_for_token, token)
        if secretary is not None:
            cache.put(token, secretary, asked_at)
    return secretary


# A store action's refusal, as every /api/v1 handler answers it (raised through the
# guard above, so handlers need not catch them).
_REFUSALS: tuple[tuple[type[MonshiError], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Forbidden, 403, "forbidden"),
    (LeaseExpired, 409, "lease_expired"),  # before InvalidTransition, its base
    (InvalidTransition, 409, "conflict"),
    (InvalidTarget, 422, "invalid_target"),
)


def refusal_response(error: MonshiError) -> web.Response:
    for kind, status, code in _REFUSALS:
        if isinstance(error, kind):
            return error_response(status, code, str(error))
    raise error


def _unauthorized(message: str) -> web.Response:
    response = error_response(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="monshi"'
    return response


def item_json(item: WorkItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "tenant": item.tenant_id,
        "unmatched": item.unmatched,
        "channel": item.channel.value,
        "status": item.status.value,
        "priority": item.priority.value,
        "pool": item.pool,
        "from": item.sender,
        "to": item.recipient,
        "subject": item.subject,
        "body": item.body,
        "language": item.language,
        "category": item.category,
        "needs_review": item.needs_review,
        "spam": item.spam,
        "confidence": item.confidence,
        "triage": item.triage,
        "held_by": item.held_by,
        "outcome": item.outcome,
        "notes": item.notes,
        "created_at": item.created_at.isoformat(),
        "claimed_at": item.claimed_at.isoformat() if item.claimed_at else None,
        "completed_at": item.completed_at.isoformat() if item.completed_at else None,
        "required_skill": item.required_skill,
        "pinned_to": item.pinned_to,
        "due_at": _when(item.due_at),
        "escalation": item.escalation,
        "first_response_at": _when(item.first_response_at),
        "lease_expires_at": _when(item.lease_expires_at),
        "snoozed_until": _when(item.snoozed_until),
    }


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _item_id(request: web.Request) -> int:
    raw = request.match_info["item_id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text=f"no item {raw!r}")
    return int(raw)


async def claim(request: web.Request) -> web.Response:
    """POST /api/v1/queue/claim: the best item I may take, held for a lease, or 204.

    204 when nothing is eligible or I already hold my capacity.
    """
    secretary = request[SECRETARY]
    item = await asyncio.to_thread(request.app[REPOSITORY].claim_next_item, secretary.id)
    if item is None:
        return web.Response(status=204)
    return web.json_response(item_json(item))


async def heartbeat(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/heartbeat: renew my lease on an item I hold.

    409 `conflict` when I do not hold it, 409 `lease_expired` when my lease ran out (the
    item went back to the queue; claim again), 403 when it is not my tenant's.
    """
    item_id = _item_id(request)
    item = await asyncio.to_thread(request.app[REPOSITORY].heartbeat, item_id, request[SECRETARY])
    return web.json_response(item_json(item))


async def get_item(request: web.Request) -> web.Response:
    """GET /api/v1/items/{id}: 403 when the item belongs to a tenant not assigned to me."""
    item_id = _item_id(request)
    item = await asyncio.to_thread(
        request.app[REPOSITORY].get_item_for, item_id, request[SECRETARY]
    )
    return web.json_response(item_json(item))


async def complete(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/complete with JSON {"outcome": ..., "notes": ...}."""
    item_id = _item_id(request)
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return error_response(400, "bad_request", "the body must be JSON")
    if not isinstance(body, dict):
        return error_response(400, "bad_request", "the body must be a JSON object")
    outcome = body.get("outcome")
    notes = body.get("notes", "")
    if not isinstance(outcome, str) or not outcome.strip() or len(outcome) > MAX_OUTCOME:
        return error_response(
            400, "bad_request", f"outcome: a non-empty string of at most {MAX_OUTCOME} characters"
        )
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        return error_response(
            400, "bad_request", f"notes: a string of at most {MAX_NOTES} characters"
        )
    item = await asyncio.to_thread(
        request.app[REPOSITORY].complete_item,
        item_id,
        request[SECRETARY],
        outcome.strip(),
        notes,
    )
    return web.json_response(item_json(item))


async def reclassify(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/reclassify with {"category": ..., "priority"?: ...}.

    The correction is kept: `monshi model train` learns from it.
    """
    item_id = _item_id(request)
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return error_response(400, "bad_request", "the body must be JSON")
    categories = [category.value for category in Category]
    category = body.get("category") if isinstance(body, dict) else None
    if category not in categories:
        return error_response(400, "bad_request", f"category: one of {', '.join(categories)}")
    raw_priority = body.get("priority")
    priorities = [priority.value for priority in Priority]
    if raw_priority is not None and raw_priority not in priorities:
        return error_response(400, "bad_request", f"priority: one of {', '.join(priorities)}")
    repository = request.app[REPOSITORY]
    directory = request.app[DIRECTORY].directory

    def correct() -> WorkItem:
        item = repository.get_item(item_id)
        tenant = directory.tenants.get(item.tenant_id or "")
        corrected = reclassify_item(
            repository,
            item_id,
            request[SECRETARY],
            category,
            Priority(raw_priority) if raw_priority else None,
            spam_pool=SPAM_POOL,
            tenant_pool=pool_for(item.tenant_id),
            due_for=lambda priority, queued_at: due_after_reclassify(
                tenant, priority, queued_at, default=directory.sla
            ),
        )
        if corrected.due_at is not None and corrected.due_at != item.due_at:
            # A new due time: a worker plans its escalation (the old plan's jobs find the
            # item due at another time and do nothing).
            try:
                request.app[DISPATCHER].plan_escalation(item_id)
            except redis.RedisError:
                # The correction is stored; only the new escalation plan is lost.
                log.exception("item %s: due time changed, escalation not planned", item_id)
        return corrected

    item = await asyncio.to_thread(correct)
    return web.json_response(item_json(item))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/queue/claim", authenticated(claim))
    app.router.add_get("/api/v1/items/{item_id}", authenticated(get_item))
    app.router.add_post("/api/v1/items/{item_id}/complete", authenticated(complete))
    app.router.add_post("/api/v1/items/{item_id}/heartbeat", authenticated(heartbeat))
    app.router.add_post("/api/v1/items/{item_id}/reclassify", authenticated(reclassify))
