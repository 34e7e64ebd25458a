"""POST /twilio/sms: an inbound SMS becomes a stored work item and an ingest job.

The answer is an empty TwiML <Response/>, sent as soon as the item is stored; routing
happens in a worker.
"""

from __future__ import annotations

import asyncio
import logging

import redis
from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from integrations.twilio.signature import signed
from triage.models import Channel
from triage.redact import redact_phone
from triage.web.state import DISPATCHER, REPOSITORY

log = logging.getLogger(__name__)

EMPTY_TWIML = str(MessagingResponse())


async def inbound_sms(request: web.Request) -> web.Response:
    """Store the SMS keyed on MessageSid (a retry finds it) and enqueue its ingest."""
    form = await request.post()
    message_sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    to_number = str(form.get("To", ""))
    from_number = str(form.get("From", ""))
    if not message_sid or not to_number:
        log.info("SMS webhook without MessageSid or To; nothing stored")
        raise web.HTTPBadRequest(text="MessageSid and To are required")
    repository = request.app[REPOSITORY]
    dispatcher = request.app[DISPATCHER]

    def store() -> tuple[int, bool]:
        tenant_id = repository.tenant_for_number(to_number)
        return repository.record_inbound(
            channel=Channel.SMS,
            external_id=message_sid,
            tenant_id=tenant_id,
            sender=from_number,
            recipient=to_number,
            body=str(form.get("Body", "")),
            payload={key: str(value) for key, value in form.items()},
            actor="twilio:sms",
        )

    item_id, created = await asyncio.to_thread(store)
    if created:
        try:
            await asyncio.to_thread(dispatcher.ingest, item_id)
        except redis.RedisError:
            # The item is stored; the worker's sweep of never-routed items enqueues it.
            log.exception("SMS item %s stored but its ingest job could not be enqueued", item_id)
        log.info(
            "SMS %s from %s stored as item %s", message_sid, redact_phone(from_number), item_id
        )
    else:
        log.info("SMS %s retried; item %s exists already", message_sid, item_id)
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/twilio/sms", signed(inbound_sms))
