"""A local server speaking Twilio's REST protocol for Messages, for the twilio Client to call.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json with form fields To, From, Body and
HTTP Basic auth (account SID, auth token) answers 201 with Twilio's JSON message
resource; bad credentials get Twilio's 401 error body (code 20003), a missing field its
400 (code 21604 for To, 21603 for From, 21602 for Body). It runs in a thread of its own,
so synchronous code (an RQ worker) can call it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

MISSING_FIELD_CODES = {"To": 21604, "From": 21603, "Body": 21602}


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)  # statuses of refused requests
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message)
        return app

    async def create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorized(request.headers.get("Authorization", ""), sid):
            self.rejected.append(401)
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        for name, code in MISSING_FIELD_CODES.items():
            if not form.get(name):
                self.rejected.append(400)
                return _error(400, code, f"A '{name}' phone number is required.")
        now = format_datetime(datetime.now(UTC), usegmt=True)
        message_sid = "SM" + uuid.uuid4().hex
        resource = {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": str(form["Body"]),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": str(form["From"]),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
            },
            "to": str(form["To"]),
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }
        self.messages.append({**resource, "authorization": request.headers["Authorization"]})
        return web.json_response(resource, status=201)

    def _authorized(self, header: str, sid: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == sid and password == self.auth_token


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


class ServerThread:
    """Serves an aiohttp app on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
