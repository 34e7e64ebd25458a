"""aiohttp's access log, less the line for each incoming call, which logs its own.

An answered incoming call (POST /twilio/voice) is on record in the call-event stream and
so in the database; its handler logs a line only at DEBUG (the CallSid, the client, the
caller redacted). aiohttp's line said only "POST /twilio/voice 200" and cost about a tenth
of the CPU of answering the call. Failures (status 400 and above) and every other path
are still logged.
"""

from __future__ import annotations

from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

QUIET_PATHS = frozenset({"/twilio/voice"})


class WebhookAccessLogger(AccessLogger):
    """The default access log without answered incoming calls."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if response.status < 400 and request.path in QUIET_PATHS:
            return
        super().log(request, response, time)
