"""Playing Twilio's side of calls against the real web app, for the voice tests."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from tests.factories import twilio_signature
from triage.settings import Settings
from triage.store.config_store import apply_config_path
from triage.store.db import make_engine
from triage.store.migrate import upgrade

AGENCY_TOML = """
[agency]
name = "Test Agency"
inbox = "inbox@agency.example"

[[tenants]]
id = "acme-dental"
name = "Acme Dental"
language = "en"
timezone = "America/New_York"
greeting = "Thank you for calling Acme Dental."
phone_numbers = ["+12125550143"]
secretaries = ["sara", "emily"]
backups = ["david"]
fallback_number = "+12125550199"
vip_numbers = ["+12125550188"]

[tenants.hours]
always_open = true

[tenants.voice]
ring_seconds = 15
max_attempts = 3
max_ring_seconds = 60
wrap_up_seconds = 30

[[tenants]]
id = "pars-clinic"
name = "کلینیک پارس"
language = "fa"
timezone = "Asia/Tehran"
greeting = "با کلینیک پارس تماس گرفته‌اید."
phone_numbers = ["+982188776655"]
secretaries = ["reza", "maryam"]

[tenants.hours]
sat = "09:00-17:00"
sun = "09:00-17:00"
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"

[tenants.ivr]
prompt = "برای نوبت دهی یک، برای امور مالی دو را فشار دهید یا موضوع را بگویید."

[tenants.ivr.options]
"1" = { skill = "scheduling" }
"2" = { skill = "accounting" }

[[tenants]]
id = "hudson-law"
name = "Hudson Law"
language = "en"
timezone = "America/New_York"
greeting = "Hudson Law."
phone_numbers = ["+12125550144"]
secretaries = ["emily"]
fallback_number = "+12125550177"

[tenants.hours]
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"
thu = "09:00-17:00"
fri = "09:00-17:00"

[tenants.voice]
after_hours = "forward"

[[tenants]]
id = "caspian-travel"
name = "Caspian Travel"
language = "en"
languages = ["en", "fa"]
timezone = "America/Toronto"
greeting = "Thank you for calling Caspian Travel."
phone_numbers = ["+14165550123"]
secretaries = ["emily", "sara"]
backups = ["reza"]

[tenants.greetings]
fa = "با آژانس مسافرتی کاسپین تماس گرفته‌اید."

[tenants.hours]
mon = "09:00-18:00"
tue = "09:00-18:00"
wed = "09:00-18:00"
thu = "09:00-18:00"
fri = "09:00-18:00"

[tenants.voice]
after_hours = "on_call"
on_call = ["david"]

[tenants.ivr]
prompt = "Bookings: press 1. Billing: press 2. Or say how we can help. فارسی: ۹"

[tenants.ivr.options]
"1" = { skill = "travel" }
"2" = { skill = "accounting" }
"9" = { language = "fa" }

[[secretaries]]
id = "sara"
name = "Sara Ahmadi"
role = "secretary"
languages = ["fa", "en"]
skills = ["scheduling", "message"]
capacity = 3
phone = "+989121234567"

[[secretaries]]
id = "emily"
name = "Emily Clark"
role = "secretary"
languages = ["en"]
skills = ["accounting", "support"]
capacity = 3
phone = "+12125550161"

[[secretaries]]
id = "david"
name = "David Stone"
role = "supervisor"
languages = ["en"]
skills = ["support"]
capacity = 3
phone = "+12125550162"

[[secretaries]]
id = "reza"
name = "Reza Karimi"
role = "secretary"
languages = ["fa", "en"]
skills = ["scheduling"]
capacity = 3
phone = "+989123456789"

[[secretaries]]
id = "maryam"
name = "Maryam Hosseini"
role = "supervisor"
languages = ["fa"]
skills = ["accounting"]
capacity = 3
phone = "+989127654321"
"""

ACME = "+12125550143"
PARS = "+982188776655"
HUDSON = "+12125550144"
CASPIAN = "+14165550123"
CALLER = "+12125550123"


def configure(settings: Settings, tmp_path: Path) -> None:
    """Migrate the test database and apply the voice test agency."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    path = tmp_path / "agency.toml"
    path.write_text(AGENCY_TOML, encoding="utf-8")
    apply_config_path(engine, path)
    engine.dispose()


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Twiml:
    status: int
    root: ET.Element

    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    def find(self, path: str) -> ET.Element:
        node = self.root.find(path)
        assert node is not None, f"no {path} in {ET.tostring(self.root, encoding='unicode')}"
        return node

    def has(self, path: str) -> bool:
        return self.root.find(path) is not None

    def text(self) -> str:
        return " ".join(node.text or "" for node in self.root.iter() if node.text)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class FakeTwilio:
    """Signs and posts exactly as Twilio would; parses the TwiML it gets back."""

    def __init__(self, client: TestClient[Any, Any], settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def post(
        self, path: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> Twiml:
        signature = twilio_signature(
            self.settings.twilio_auth_token, self.settings.public_url + path, params
        )
        response = await self.client.post(
            path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}
        )
        body = await response.text()
        assert response.status == 200, (response.status, body)
        assert response.content_type == "text/xml", body
        return Twiml(response.status, ET.fromstring(body))

    def call_params(self, call_sid: str, to: str, caller: str = CALLER) -> dict[str, str]:
        return {
            "CallSid": call_sid,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": to,
            "Caller": caller,
            "Called": to,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    async def incoming(self, call_sid: str, to: str, caller: str = CALLER) -> Twiml:
        return await self.post("/twilio/voice", self.call_params(call_sid, to, caller))

    async def answer_whisper(self, dial: Twiml, call_sid: str, digits: str = "1") -> Twiml:
        """The secretary's leg: fetch the whisper, then press `digits`."""
        number = dial.find("Dial/Number")
        child = new_sid()
        leg = {
            "CallSid": child,
            "ParentCallSid": call_sid,
            "AccountSid": "AC" + "0" * 32,
            "From": CALLER,
            "To": number.text or "",
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
        }
        whisper = await self.post(number.attrib["url"], leg)
        gather = whisper.find("Gather")
        return await self.post(gather.attrib["action"], {**leg, "Digits": digits})

    async def dial_result(
        self, dial: Twiml, call_sid: str, to: str, status: str, duration: int = 0
    ) -> Twiml:
        action = dial.find("Dial").attrib["action"]
        params = {
            **self.call_params(call_sid, to),
            "CallStatus": "in-progress",
            "DialCallStatus": status,
            "DialCallSid": new_sid(),
            "DialCallDuration": str(duration),
        }
        return await self.post(action, params)

    async def voicemail(
        self,
        record: Twiml,
        call_sid: str,
        to: str,
        seconds: int,
        text: str | None,
        recording_sid: str | None = None,
    ) -> str:
        """Leave a message: the Record action, then the recording and transcription callbacks.

        Passing the `recording_sid` of an earlier call replays the same callbacks (a retry).
        """
        node = record.find("Record")
        recording_sid = recording_sid or new_sid("RE")
        recording_url = f"https://api.twilio.com/recordings/{recording_sid}"
        base = self.call_params(call_sid, to)
        await self.post(
            node.attrib["action"],
            {**base, "RecordingUrl": recording_url, "RecordingDuration": str(seconds)},
        )
        await self.post(
            node.attrib["recordingStatusCallback"],
            {
                "AccountSid": base["AccountSid"],
                "CallSid": call_sid,
                "RecordingSid": recording_sid,
                "RecordingUrl": recording_url,
                "RecordingStatus": "completed",
                "RecordingDuration": str(seconds),
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            },
        )
        if text is not None and "transcribeCallback" in node.attrib:
            await self.post(
                node.attrib["transcribeCallback"],
                {
                    **base,
                    "TranscriptionSid": "TR" + recording_sid[2:],
                    "TranscriptionText": text,
                    "TranscriptionStatus": "completed",
                    "RecordingSid": recording_sid,
                    "RecordingUrl": recording_url,
                },
            )
        return recording_sid

    async def hang_up(self, call_sid: str, to: str, duration: int) -> Twiml:
        params = {
            **self.call_params(call_sid, to),
            "CallStatus": "completed",
            "CallDuration": str(duration),
        }
        return await self.post("/twilio/voice/status", params)
