"""JSON API over stored mail for supervisors: the quarantine (and its retry) and the
messages that are recorded but are not work (unparseable, auto-replies, bounces, lists).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from triage.store.mail_items import MailRecord, MailStore
from triage.web.api import SECRETARY, authenticated, error_response
from triage.web.state import DISPATCHER, REPOSITORY

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def mail_json(record: MailRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "mailbox": record.mailbox,
        "uidvalidity": record.uidvalidity,
        "uid": record.uid,
        "status": record.status,
        "attempts": record.attempts,
        "error": record.error,
        "message_id": record.message_id,
        "size": record.size,
        "fetched_at": record.fetched_at.isoformat(),
        "subject": record.subject,
        "from": record.sender,
        "kind": record.kind,
        "reason": record.reason,
        "item_id": record.item_id,
    }


def _refused(request: web.Request) -> web.Response | None:
    if request[SECRETARY].role.sees_all_tenants:
        return None
    return error_response(403, "forbidden", "only supervisors and admins see stored mail")


def _paging(request: web.Request) -> tuple[int, int | None] | web.Response:
    """`limit` (1..500, default 100) and `before` (an id: the page after that one)."""
    raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
    raw_before = request.query.get("before")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return error_response(400, "bad_request", f"limit: an integer from 1 to {MAX_LIMIT}")
    if raw_before is not None and not raw_before.isdigit():
        return error_response(400, "bad_request", "before: a message id")
    return int(raw_limit), None if raw_before is None else int(raw_before)


async def list_quarantine(request: web.Request) -> web.Response:
    """GET /api/v1/mail/quarantine: messages whose ingest kept failing, newest first."""
    refused = _refused(request)
    if refused:
        return refused
    paging = _paging(request)
    if isinstance(paging, web.Response):
        return paging
    limit, before = paging
    store = MailStore(request.app[REPOSITORY])
    records = await asyncio.to_thread(store.quarantined, limit=limit, before=before)
    return web.json_response({"messages": [mail_json(record) for record in records]})


async def retry_quarantined(request: web.Request) -> web.Response:
    """POST /api/v1/mail/quarantine/{mail_id}/retry: attempts back to 0, ingest enqueued."""
    refused = _refused(request)
    if refused:
        return refused
    raw = request.match_info["mail_id"]
    if not raw.isdigit():
        return error_response(404, "not_found", f"no stored message {raw!r}")
    mail_id = int(raw)
    store = MailStore(request.app[REPOSITORY])
    await asyncio.to_thread(store.retry, mail_id)
    # Stored again before it is enqueued: if Redis fails here the row waits as `stored`,
    # and the connector re-enqueues waiting rows when it starts.
    job_id = await asyncio.to_thread(request.app[DISPATCHER].ingest_mail, [mail_id], backfill=False)
    record = await asyncio.to_thread(store.record, mail_id)
    return web.json_response({**mail_json(record), "job_id": job_id}, status=202)


async def list_rejections(request: web.Request) -> web.Response:
    """GET /api/v1/mail/rejections: unparseable mail and mail no human needs, with reasons."""
    refused = _refused(request)
    if refused:
        return refused
    paging = _paging(request)
    if isinstance(paging, web.Response):
        return paging
    limit, before = paging
    store = MailStore(request.app[REPOSITORY])
    records = await asyncio.to_thread(store.rejections, limit=limit, before=before)
    return web.json_response({"messages": [mail_json(record) for record in records]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/mail/quarantine", authenticated(list_quarantine))
    app.router.add_post("/api/v1/mail/quarantine/{mail_id}/retry", authenticated(retry_quarantined))
    app.router.add_get("/api/v1/mail/rejections", authenticated(list_rejections))
