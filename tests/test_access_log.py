"""aiohttp's access log in `monshi web`: every request but an answered incoming call."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import free_port
from triage.web.access_log import WebhookAccessLogger


async def test_answered_incoming_calls_are_not_access_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def voice(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("CallSid") == "bad":
            raise web.HTTPForbidden(text="invalid Twilio signature")
        return web.Response(text="<Response/>", content_type="text/xml")

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/twilio/voice", voice)
    app.router.add_post("/twilio/voice/status", voice)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(
        app,
        access_log_class=WebhookAccessLogger,
        access_log=logging.getLogger("test.access"),
        access_log_format="%r %s",
    )
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    with caplog.at_level(logging.INFO, logger="test.access"):
        try:
            async with aiohttp.ClientSession() as session:
                for path, call, status in [
                    ("/twilio/voice", "CA1", 200),
                    ("/twilio/voice", "bad", 403),
                    ("/twilio/voice/status", "CA1", 200),
                ]:
                    async with session.post(url + path, data={"CallSid": call}) as response:
                        assert response.status == status
                async with session.get(url + "/healthz") as response:
                    assert response.status == 200
        finally:
            await runner.cleanup()  # lets every request finish, its log line included
    lines = [record.getMessage() for record in caplog.records if record.name == "test.access"]
    assert lines == [
        "POST /twilio/voice HTTP/1.1 403",
        "POST /twilio/voice/status HTTP/1.1 200",
        "GET /healthz HTTP/1.1 200",
    ]
