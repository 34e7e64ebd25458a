"""JSON API for acting on work items and listing them: release, transfer, snooze, notes and
history; my queue; the supervisors' item search; and the agency config for admins.

Every action answers 400 for a bad body, 403 when the item belongs to a tenant the caller
is not assigned to (or the action is above her role), 404 for an unknown item, 409 when
the item's state does not allow it, 422 for a transfer to someone or somewhere the item
cannot go.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import redis
from aiohttp import web

from triage.config import parse_config
from triage.directory import Directory
from triage.errors import (
    ConfigError,
)
from triage.models import Category, Channel, ItemEvent, ItemStatus, Priority, Role, WorkItem
from triage.sla import ItemFacts, Routing, routing_for
from triage.store import actions
from triage.store.config_store import apply_config, export_config_toml
from triage.web.api import SECRETARY, authenticated, error_response, item_json
from triage.web.state import DIRECTORY, DISPATCHER, REPOSITORY

log = logging.getLogger(__name__)

MAX_REASON = 500
MAX_NOTE = 10_000
MAX_SNOOZE = timedelta(days=90)
QUEUE_DEFAULT_LIMIT = 50
QUEUE_MAX_LIMIT = 200
ITEMS_DEFAULT_LIMIT = 100
ITEMS_MAX_LIMIT = 500
MAX_CONFIG_BYTES = 1024**2

T = TypeVar("T")


class BadRequest(Exception):
    """A request the handler refuses with 400 and this message."""


def _item_id(request: web.Request) -> int:
    raw = request.match_info["item_id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(
            text=json.dumps({"error": {"code": "not_found", "message": f"no item {raw!r}"}}),
            content_type="application/json",
        )
    return int(raw)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as error:
        raise BadRequest("the body must be JSON") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(f"{key}: a non-empty string of at most {limit} characters")
    return value.strip()


def _moment(raw: str, name: str) -> datetime:
    """An ISO-8601 date and time with a UTC offset ("Z" or "+03:30")."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise BadRequest(
            f"{name}: an ISO-8601 date and time, e.g. 2026-03-01T09:00:00+03:30"
        ) from error
    if moment.tzinfo is None:
        raise BadRequest(f"{name}: needs a UTC offset (Z or +hh:mm)")
    return moment


async def _act(work: Callable[[], T], answer: Callable[[T], web.Response]) -> web.Response:
    """Run a store action in a thread (its refusals become HTTP answers in api.bearer_auth)."""
    return answer(await asyncio.to_thread(work))


def _item_answer(item: WorkItem) -> web.Response:
    return web.json_response(item_json(item))


def event_json(event: ItemEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "item_id": event.item_id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "data": event.data,
    }


def _bad_requests(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BadRequest as error:
            return error_response(400, "bad_request", str(error))

    wrapped.__doc__ = handler.__doc__
    wrapped.__name__ = handler.__name__
    return wrapped


# -- actions ---------------------------------------------------------------------------


@_bad_requests
async def release(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/release {"reason": ...}: back to the queue (holder or supervisor)."""
    item_id = _item_id(request)
    reason = _text(await _json_object(request), "reason", MAX_REASON)
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    return await _act(
        lambda: actions.release_item(repository, item_id, secretary, reason),
        _item_answer,
    )


@_bad_requests
async def transfer(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/transfer {"secretary": id} or {"pool": "tenant:x" | "unmatched"}."""
    item_id = _item_id(request)
    body = await _json_object(request)
    targets = [key for key in ("secretary", "pool") if key in body]
    if len(targets) != 1 or not isinstance(body[targets[0]], str) or not body[targets[0]]:
        raise BadRequest('the body must be {"secretary": ID} or {"pool": POOL}, not both')
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    target = body[targets[0]]
    if targets == ["secretary"]:
        return await _act(
            lambda: actions.transfer_to_secretary(repository, item_id, secretary, target),
            _item_answer,
        )
    directory = request.app[DIRECTORY].directory
    dispatcher = request.app[DISPATCHER]

    def move() -> WorkItem:
        before = repository.get_item(item_id)
        moved = actions.transfer_to_pool(
            repository, item_id, secretary, target, reroute=partial(_reroute, directory)
        )
        if moved.due_at is not None and moved.due_at != before.due_at:
            # A new due time: a worker plans its escalation again (the old plan's jobs
            # find the item due at another time and do nothing).
            try:
                dispatcher.plan_escalation(item_id)
            except redis.RedisError:
                log.exception("item %s: due time changed, escalation not planned", item_id)
        return moved

    return await _act(move, _item_answer)


def _reroute(directory: Directory, item: WorkItem, queued_at: datetime) -> Routing:
    """What the ingest job would have decided had the item come in for its new tenant."""
    call = item.payload.get("call")
    ivr = call.get("ivr") if isinstance(call, dict) else None
    ivr_skill = ivr.get("skill") if isinstance(ivr, dict) else None
    rule_skill = (item.triage or {}).get("skill")
    facts = ItemFacts(
        priority=item.priority,
        spam=False,  # moved into a tenant's pool: work, whatever triage thought
        ivr_skill=ivr_skill if isinstance(ivr_skill, str) else None,
        skill=rule_skill if isinstance(rule_skill, str) else item.category,
    )
    tenant = directory.tenants.get(item.tenant_id or "")
    return routing_for(tenant, directory.secretaries, facts, queued_at, default=directory.sla)


@_bad_requests
async def snooze(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/snooze {"until": ISO-8601 with offset}: out of every queue
    until then, nobody holding it."""
    item_id = _item_id(request)
    raw = (await _json_object(request)).get("until")
    if not isinstance(raw, str):
        raise BadRequest("until: an ISO-8601 date and time with a UTC offset")
    until = _moment(raw, "until")
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    now = repository.clock()
    if until <= now:
        raise BadRequest(f"until: must be in the future (it is {now.isoformat()} now)")
    if until - now > MAX_SNOOZE:
        raise BadRequest(f"until: at most {MAX_SNOOZE.days} days ahead")
    return await _act(
        lambda: actions.snooze_item(repository, item_id, secretary, until),
        _item_answer,
    )


@_bad_requests
async def add_note(request: web.Request) -> web.Response:
    """POST /api/v1/items/{id}/notes {"text": ...}: a note on the item, in any state; 201."""
    item_id = _item_id(request)
    text = _text(await _json_object(request), "text", MAX_NOTE)
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    return await _act(
        lambda: actions.add_note(repository, item_id, secretary, text),
        lambda event: web.json_response(event_json(event), status=201),
    )


async def item_events(request: web.Request) -> web.Response:
    """GET /api/v1/items/{id}/events: the item's history (notes included), oldest first."""
    item_id = _item_id(request)
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    return await _act(
        lambda: actions.item_events_for(repository, item_id, secretary),
        lambda events: web.json_response({"events": [event_json(event) for event in events]}),
    )


# -- listings --------------------------------------------------------------------------


def _bounded_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name}: an integer from {low} to {high}")
    return int(raw)


@_bad_requests
async def my_queue(request: web.Request) -> web.Response:
    """GET /api/v1/queue?limit=&offset=: what waits for me, in serving order, with counts
    per priority over all of it and each item's due time and seconds left."""
    limit = _bounded_int(request, "limit", QUEUE_DEFAULT_LIMIT, 1, QUEUE_MAX_LIMIT)
    offset = _bounded_int(request, "offset", 0, 0, 1_000_000)
    repository, secretary = request.app[REPOSITORY], request[SECRETARY]
    page = await asyncio.to_thread(
        actions.queue_for, repository, secretary, limit=limit, offset=offset
    )
    return web.json_response(
        {
            "counts": {priority.value: count for priority, count in page.counts.items()},
            "total": page.total,
            "limit": limit,
            "offset": offset,
            "items": [_queued_json(item, page.now) for item in page.items],
        }
    )


def _queued_json(item: WorkItem, now: datetime) -> dict[str, Any]:
    left = None if item.due_at is None else round((item.due_at - now).total_seconds())
    return {**item_json(item), "seconds_left": left}


_FILTERS: dict[str, list[str]] = {
    "channel": [channel.value for channel in Channel],
    "status": [status.value for status in ItemStatus],
    "category": [category.value for category in Category],
    "priority": [priority.value for priority in Priority],
}
_ITEM_QUERY = {"tenant", "created_from", "created_to", "limit", "before", *_FILTERS}


def _item_filter(request: web.Request) -> actions.ItemFilter:
    query = request.query
    unknown = sorted(set(query) - _ITEM_QUERY)
    if unknown:
        raise BadRequest(f"unknown filter {unknown[0]!r}: one of {', '.join(sorted(_ITEM_QUERY))}")
    chosen: dict[str, str | None] = {}
    for name, allowed in _FILTERS.items():
        value = query.get(name)
        if value is not None and value not in allowed:
            raise BadRequest(f"{name}: one of {', '.join(allowed)}")
        chosen[name] = value
    created_from = (
        _moment(query["created_from"], "created_from") if "created_from" in query else None
    )
    created_to = _moment(query["created_to"], "created_to") if "created_to" in query else None
    if created_from and created_to and created_from >= created_to:
        raise BadRequest("created_from must be before created_to")
    tenant = query.get("tenant")
    if tenant is not None and not tenant:
        raise BadRequest("tenant: a tenant id")
    return actions.ItemFilter(
        tenant=tenant,
        channel=chosen["channel"],
        status=chosen["status"],
        category=chosen["category"],
        priority=Priority(chosen["priority"]) if chosen["priority"] else None,
        created_from=created_from,
        created_to=created_to,
    )


@_bad_requests
async def list_items(request: web.Request) -> web.Response:
    """GET /api/v1/items: supervisors' and admins' search, newest first, paged by `before`."""
    secretary = request[SECRETARY]
    if secretary.role is Role.SECRETARY:
        return error_response(
            403, "forbidden", "only supervisors and admins list items; GET /api/v1/queue is yours"
        )
    item_filter = _item_filter(request)
    limit = _bounded_int(request, "limit", ITEMS_DEFAULT_LIMIT, 1, ITEMS_MAX_LIMIT)
    raw_before = request.query.get("before")
    if raw_before is not None and not raw_before.isdigit():
        raise BadRequest("before: an item id")
    before = None if raw_before is None else int(raw_before)
    repository = request.app[REPOSITORY]
    items = await asyncio.to_thread(
        actions.list_items, repository, secretary, item_filter, limit=limit, before=before
    )
    next_link = None
    if len(items) == limit:
        query = {key: value for key, value in request.query.items() if key != "before"}
        next_link = f"{request.path}?{urlencode({**query, 'before': items[-1].id})}"
    return web.json_response({"items": [item_json(item) for item in items], "next": next_link})


# -- config (admins) ---------------------------------------------------------------------


def _admin_only(request: web.Request) -> web.Response | None:
    if request[SECRETARY].role is Role.ADMIN:
        return None
    return error_response(403, "forbidden", "only admins read or change the agency config")


async def get_config(request: web.Request) -> web.Response:
    """GET /api/v1/config: the agency config as TOML, what `monshi config export` prints."""
    refused = _admin_only(request)
    if refused:
        return refused
    text = await asyncio.to_thread(export_config_toml, request.app[REPOSITORY].engine)
    return web.Response(text=text, content_type="application/toml", charset="utf-8")


async def put_config(request: web.Request) -> web.Response:
    """PUT /api/v1/config?dry_run=true: apply a TOML config as `monshi config apply` does.

    400 with every problem for an invalid file; nothing is written then.
    """
    refused = _admin_only(request)
    if refused:
        return refused
    dry_run = request.query.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        return error_response(400, "bad_request", "dry_run: true or false")
    raw = await request.read()
    if len(raw) > MAX_CONFIG_BYTES:
        return error_response(400, "bad_request", "the config is larger than 1 MiB")
    try:
        config = parse_config(raw.decode("utf-8"), source="request body")
    except UnicodeDecodeError:
        return error_response(400, "bad_request", "the config must be UTF-8 TOML")
    except ConfigError as error:
        return web.json_response(
            {
                "error": {"code": "invalid_config", "message": str(error)},
                "problems": error.problems,
            },
            status=400,
        )
    engine = request.app[REPOSITORY].engine
    try:
        result = await asyncio.to_thread(apply_config, engine, config, dry_run=dry_run == "true")
    except ConfigError as error:
        return web.json_response(
            {
                "error": {"code": "invalid_config", "message": str(error)},
                "problems": error.problems,
            },
            status=409,
        )
    return web.json_response(
        {"changes": result.changes, "summary": result.summary, "applied": result.applied}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/items/{item_id}/release", authenticated(release))
    app.router.add_post("/api/v1/items/{item_id}/transfer", authenticated(transfer))
    app.router.add_post("/api/v1/items/{item_id}/snooze", authenticated(snooze))
    app.router.add_post("/api/v1/items/{item_id}/notes", authenticated(add_note))
    app.router.add_get("/api/v1/items/{item_id}/events", authenticated(item_events))
    app.router.add_get("/api/v1/queue", authenticated(my_queue))
    app.router.add_get("/api/v1/items", authenticated(list_items))
    app.router.add_get("/api/v1/config", authenticated(get_config))
    app.router.add_put("/api/v1/config", authenticated(put_config))
