"""The OpenAPI 3.1 document of the JSON API, served at /api/v1/openapi.json.

Written by hand next to the handlers; a test checks that every /api/v1/ route the app
serves is described here, so the document cannot silently fall behind.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

DOCUMENT_PATH = "/api/v1/openapi.json"  # public: no bearer token needed
_ERROR = {"$ref": "#/components/schemas/Error"}
_ITEM = {"$ref": "#/components/schemas/Item"}
_PRESENCE = {"$ref": "#/components/schemas/Presence"}
_EVENT = {"$ref": "#/components/schemas/ItemEvent"}
_MAIL_LIST = {
    "type": "object",
    "properties": {
        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/StoredMail"}}
    },
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    },
    {
        "name": "before",
        "in": "query",
        "description": "a message id: list older messages (the next page)",
        "schema": {"type": "integer", "minimum": 1},
    },
]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "the request body is invalid",
        401: "no live bearer token",
        403: "not allowed for this secretary",
        404: "no such item or message",
        409: "the item or secretary is not in a state that allows this",
        422: "the secretary or pool named cannot take the item",
    }
    return {str(code): _json(_ERROR, reasons[code]) for code in codes}


_ITEM_ID = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Monshi secretary API",
        "version": "1",
        "description": "Work queue and presence for the agency's secretaries.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/queue/claim": {
            "post": {
                "operationId": "claimNextItem",
                "summary": "Claim the best item I may take (priority, then SLA due time, then "
                "age), held for a lease that heartbeats renew.",
                "responses": {
                    "200": _json(_ITEM, "the item, now held by me until lease_expires_at"),
                    "204": {"description": "nothing is waiting for me, or I hold my capacity"},
                    **_errors(401),
                },
            }
        },
        "/items/{item_id}": {
            "get": {
                "operationId": "getItem",
                "summary": "One work item (of a tenant I am assigned to).",
                "parameters": [_ITEM_ID],
                "responses": {"200": _json(_ITEM, "the item"), **_errors(401, 403, 404)},
            }
        },
        "/items/{item_id}/complete": {
            "post": {
                "operationId": "completeItem",
                "summary": "Complete an item I hold, with an outcome and notes.",
                "parameters": [_ITEM_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["outcome"],
                                "properties": {
                                    "outcome": {"type": "string", "minLength": 1, "maxLength": 64},
                                    "notes": {"type": "string", "maxLength": 10000},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ITEM, "the completed item"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/items/{item_id}/heartbeat": {
            "post": {
                "operationId": "heartbeatItem",
                "summary": "Renew my lease on an item I hold (the console does while it is open).",
                "description": "409 with code lease_expired when the lease already ran out: "
                "the item went back to the queue, with an item event naming who lost it.",
                "parameters": [_ITEM_ID],
                "responses": {
                    "200": _json(_ITEM, "the item, its lease_expires_at moved on"),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/items/{item_id}/reclassify": {
            "post": {
                "operationId": "reclassifyItem",
                "summary": "Correct an item's category (and priority); kept to retrain the model.",
                "parameters": [_ITEM_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["category"],
                                "properties": {
                                    "category": {
                                        "enum": [
                                            "scheduling",
                                            "travel",
                                            "accounting",
                                            "documents",
                                            "social_media",
                                            "sales",
                                            "support",
                                            "message",
                                            "spam",
                                        ]
                                    },
                                    "priority": {"enum": ["urgent", "high", "normal", "low"]},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ITEM, "the item, reclassified"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/items/{item_id}/release": {
            "post": {
                "operationId": "releaseItem",
                "summary": "Put an item I hold (or, for supervisors, anyone's) back in the queue, "
                "with a reason; a pin to its holder goes with it.",
                "parameters": [_ITEM_ID],
                "requestBody": _body(
                    {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}, ["reason"]
                ),
                "responses": {
                    "200": _json(_ITEM, "the item, queued again"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/items/{item_id}/transfer": {
            "post": {
                "operationId": "transferItem",
                "summary": "Send an open or claimed item to one secretary (pinned to her, queued) "
                "or to a pool (unpinned, queued).",
                "description": "Exactly one of secretary and pool. The secretary must be one "
                "who could claim it (assigned to its tenant; for unmatched items a supervisor), "
                "else 422. A secretary moves items only into pools of her own tenants (403 "
                "otherwise); supervisors and admins anywhere, unmatched and spam included. A "
                "tenant pool makes the item that tenant's, with that tenant's required skill "
                "and (unless it was answered) due and backup times, counted from when it was "
                "first queued. A claimed item can be transferred "
                "by its holder or a supervisor (409 for anyone else).",
                "parameters": [_ITEM_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "required": ["secretary"],
                                        "properties": {"secretary": {"type": "string"}},
                                    },
                                    {
                                        "type": "object",
                                        "required": ["pool"],
                                        "properties": {
                                            "pool": {
                                                "type": "string",
                                                "pattern": "^(tenant:.+|unmatched|spam)$",
                                            }
                                        },
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ITEM, "the item, queued where it was sent"),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/items/{item_id}/snooze": {
            "post": {
                "operationId": "snoozeItem",
                "summary": "Take an open or claimed item out of every queue until a moment "
                "(at most 90 days ahead); nobody holds it meanwhile, a pin stays.",
                "parameters": [_ITEM_ID],
                "requestBody": _body(
                    {
                        "until": {
                            "type": "string",
                            "format": "date-time",
                            "description": "ISO-8601 with a UTC offset, in the future",
                        }
                    },
                    ["until"],
                ),
                "responses": {
                    "200": _json(_ITEM, "the item, snoozed_until set"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/items/{item_id}/notes": {
            "post": {
                "operationId": "addItemNote",
                "summary": "Add a note to an item, in any state (completed too).",
                "parameters": [_ITEM_ID],
                "requestBody": _body(
                    {"text": {"type": "string", "minLength": 1, "maxLength": 10000}}, ["text"]
                ),
                "responses": {
                    "201": _json(_EVENT, "the note, as an item event of kind note"),
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        "/items/{item_id}/events": {
            "get": {
                "operationId": "listItemEvents",
                "summary": "An item's history, oldest first: every change and note.",
                "parameters": [_ITEM_ID],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"events": {"type": "array", "items": _EVENT}},
                        },
                        "the events",
                    ),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/queue": {
            "get": {
                "operationId": "getMyQueue",
                "summary": "What waits for me: the items a claim of mine could get now, in the "
                "order claims serve them, with counts per priority over all of them.",
                "description": "Items pinned to me, and unpinned items of my tenants in my "
                "languages and skills (as a backup, once they waited the backup delay or "
                "breached); supervisors and admins also unmatched and escalated items. Snoozed "
                "and spam items are not in it. Paged by limit and offset; total and counts "
                "cover the whole queue.",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "counts": {
                                    "type": "object",
                                    "properties": {
                                        name: {"type": "integer"}
                                        for name in ("urgent", "high", "normal", "low")
                                    },
                                },
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "allOf": [
                                            _ITEM,
                                            {
                                                "type": "object",
                                                "properties": {
                                                    "seconds_left": {
                                                        "type": ["integer", "null"],
                                                        "description": "until due_at; negative "
                                                        "when overdue, null without a due time",
                                                    }
                                                },
                                            },
                                        ]
                                    },
                                },
                            },
                        },
                        "my queue",
                    ),
                    **_errors(400, 401),
                },
            }
        },
        "/items": {
            "get": {
                "operationId": "listItems",
                "summary": "List and filter items, newest first (supervisors and admins).",
                "description": "Paged by id: next is the URL of the next page (the same "
                "filters, before = the last id), null on the last page. created_to is "
                "exclusive. An unknown filter or value is a 400.",
                "parameters": [
                    {"name": "tenant", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "channel",
                        "in": "query",
                        "schema": {"enum": ["sms", "call", "email"]},
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"enum": ["received", "queued", "claimed", "completed"]},
                    },
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "priority",
                        "in": "query",
                        "schema": {"enum": ["urgent", "high", "normal", "low"]},
                    },
                    {
                        "name": "created_from",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "created_to",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                    },
                    {
                        "name": "before",
                        "in": "query",
                        "description": "an item id: list older items (the next page)",
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _ITEM},
                                "next": {"type": ["string", "null"]},
                            },
                        },
                        "a page of items",
                    ),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/config": {
            "get": {
                "operationId": "exportConfig",
                "summary": "The agency config as TOML, as `monshi config export` prints it "
                "(admins).",
                "responses": {
                    "200": {
                        "description": "the config",
                        "content": {"application/toml": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 403),
                },
            },
            "put": {
                "operationId": "applyConfig",
                "summary": "Apply a TOML agency config, as `monshi config apply` does (admins).",
                "description": "400 lists every problem of an invalid file; 409 when it "
                "would remove a secretary who holds items. Nothing is written then, nor "
                "with dry_run=true.",
                "parameters": [
                    {
                        "name": "dry_run",
                        "in": "query",
                        "schema": {"enum": ["true", "false"], "default": "false"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/toml": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "changes": {"type": "array", "items": {"type": "string"}},
                                "summary": {"type": "string"},
                                "applied": {"type": "boolean"},
                            },
                        },
                        "what changed (or would)",
                    ),
                    **_errors(400, 401, 403, 409),
                },
            },
        },
        "/me/presence": {
            "get": {
                "operationId": "getMyPresence",
                "summary": "My presence.",
                "responses": {"200": _json(_PRESENCE, "my state"), **_errors(401)},
            },
            "put": {
                "operationId": "setMyPresence",
                "summary": "Set my presence: available, break or offline.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status"],
                                "properties": {
                                    "status": {"enum": ["available", "break", "offline"]}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_PRESENCE, "my state afterwards"),
                    **_errors(400, 401, 409),
                },
            },
        },
        "/secretaries": {
            "get": {
                "operationId": "listSecretaries",
                "summary": "Every secretary with her presence (supervisors and admins).",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "secretaries": {
                                    "type": "array",
                                    "items": {"type": "object"},
                                }
                            },
                        },
                        "the secretaries",
                    ),
                    **_errors(401, 403),
                },
            }
        },
        "/mail/quarantine": {
            "get": {
                "operationId": "listQuarantinedMail",
                "summary": "Messages whose ingest kept failing, newest first, with the error "
                "(supervisors and admins).",
                "parameters": _PAGING,
                "responses": {
                    "200": _json(_MAIL_LIST, "the quarantined messages"),
                    **_errors(400, 401, 403),
                },
            }
        },
        "/mail/quarantine/{mail_id}/retry": {
            "post": {
                "operationId": "retryQuarantinedMail",
                "summary": "Reset a quarantined message's attempts and ingest it again "
                "(supervisors and admins).",
                "parameters": [
                    {
                        "name": "mail_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "202": _json(
                        {
                            "allOf": [
                                {"$ref": "#/components/schemas/StoredMail"},
                                {"type": "object", "properties": {"job_id": {"type": "string"}}},
                            ]
                        },
                        "stored again and enqueued",
                    ),
                    **_errors(401, 403, 404, 409),
                },
            }
        },
        "/mail/rejections": {
            "get": {
                "operationId": "listMailRejections",
                "summary": "Messages recorded but not work, newest first: unparseable ones and "
                "auto-replies, bounces, bulk and list mail, with the reason "
                "(supervisors and admins).",
                "parameters": _PAGING,
                "responses": {
                    "200": _json(_MAIL_LIST, "the messages"),
                    **_errors(400, 401, 403),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                },
            },
            "Item": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "tenant": {"type": ["string", "null"]},
                    "unmatched": {"type": "boolean"},
                    "channel": {"enum": ["sms", "call", "email"]},
                    "status": {"enum": ["received", "queued", "claimed", "completed"]},
                    "priority": {"enum": ["urgent", "high", "normal", "low"]},
                    "pool": {"type": ["string", "null"]},
                    "from": {"type": "string"},
                    "to": {"type": "string"},
                    "subject": {"type": "string"},
                    "body": {"type": "string"},
                    "language": {"type": ["string", "null"]},
                    "category": {"type": ["string", "null"]},
                    "needs_review": {"type": "boolean"},
                    "spam": {"type": "boolean"},
                    "confidence": {"type": ["number", "null"]},
                    "triage": {"type": ["object", "null"]},
                    "held_by": {"type": ["string", "null"]},
                    "outcome": {"type": ["string", "null"]},
                    "notes": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "claimed_at": {"type": ["string", "null"], "format": "date-time"},
                    "completed_at": {"type": ["string", "null"], "format": "date-time"},
                    "required_skill": {"type": ["string", "null"]},
                    "pinned_to": {"type": ["string", "null"]},
                    "due_at": {"type": ["string", "null"], "format": "date-time"},
                    "escalation": {"type": "integer", "minimum": 0, "maximum": 3},
                    "first_response_at": {"type": ["string", "null"], "format": "date-time"},
                    "lease_expires_at": {"type": ["string", "null"], "format": "date-time"},
                    "snoozed_until": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "ItemEvent": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "item_id": {"type": "integer"},
                    "at": {"type": "string", "format": "date-time"},
                    "actor": {"type": "string"},
                    "kind": {"type": "string"},
                    "data": {"type": "object"},
                },
            },
            "StoredMail": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "mailbox": {"type": "string"},
                    "uidvalidity": {"type": "integer"},
                    "uid": {"type": "integer"},
                    "status": {
                        "enum": ["stored", "ingested", "duplicate", "rejected", "quarantined"]
                    },
                    "attempts": {"type": "integer"},
                    "error": {"type": ["string", "null"]},
                    "message_id": {"type": ["string", "null"]},
                    "size": {"type": "integer"},
                    "fetched_at": {"type": "string", "format": "date-time"},
                    "subject": {"type": ["string", "null"]},
                    "from": {"type": ["string", "null"]},
                    "kind": {"enum": ["rejected", "auto_reply", "bounce", "bulk", "list", None]},
                    "reason": {"type": ["string", "null"]},
                    "item_id": {"type": ["integer", "null"]},
                },
            },
            "Presence": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "status": {
                        "enum": ["available", "break", "offline", "ringing", "on_call", "wrap_up"]
                    },
                    "since": {"type": ["string", "null"], "format": "date-time"},
                    "until": {"type": ["string", "null"], "format": "date-time"},
                    "call_sid": {"type": ["string", "null"]},
                    "idle_since": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
}


async def openapi_document(_request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def add_routes(app: web.Application) -> None:
    app.router.add_get(DOCUMENT_PATH, openapi_document)
