"""Outbound SMS through Twilio's REST API (the `twilio` library's Client).

`TWILIO_API_URL` points the client at another host speaking Twilio's REST protocol (a
local fake in tests, a regional edge in production); empty means api.twilio.com.
"""

from __future__ import annotations

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from triage.settings import Settings

# Seconds a REST call may take before the job fails (and RQ retries it).
REST_TIMEOUT_SECONDS = 10.0


class SmsSender:
    """Sends SMS from one Twilio account."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str = "",
        timeout: float = REST_TIMEOUT_SECONDS,
    ) -> None:
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_url:
            # Every resource of the 2010-04-01 API (Messages included) is built on this URL.
            self.client.api.base_url = api_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsSender | None:
        """A sender when the account is configured (TWILIO_ACCOUNT_SID and _AUTH_TOKEN)."""
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            return None
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            api_url=settings.twilio_api_url,
        )

    def send(self, *, to: str, from_: str, body: str) -> str:
        """Send one SMS; returns Twilio's message SID. Raises TwilioException on failure."""
        message = self.client.messages.create(to=to, from_=from_, body=body)
        return str(message.sid)
