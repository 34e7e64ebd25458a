"""The call simulator against a scripted voice app behind the real signature check.

The fake app answers each path with TwiML built by twilio's VoiceResponse and records
what it received; the check rejects any request not signed exactly as Twilio signs.
These tests are about the simulator: the real voice handlers have their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from click.testing import CliRunner, Result
from twilio.twiml.voice_response import VoiceResponse

from integrations.twilio.call_simulator import (
    SIGNATURE_HEADER,
    CallOptions,
    CallResult,
    CallSimulator,
    PostWebhook,
)
from integrations.twilio.signature import TWILIO_SIGNATURE, TwilioSignature, signed
from tests.conftest import free_port
from tests.voice_support import ACME, configure
from triage.cli import cli
from triage.models import Channel
from triage.presence import PresenceStatus
from triage.settings import Settings
from triage.web.app import create_app
from triage.web.state import ASYNC_REDIS, DISPATCHER, PRESENCE, REPOSITORY
from workers.call_persister import CallPersister

TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "https://monshi.example"
ACCOUNT_SID = "AC" + "1" * 32
TENANT_NUMBER = "+12125550143"
CALLER = "+15557654321"
SARA_PHONE = "+989121234567"
EMILY_PHONE = "+16465550142"
CALL_SID = re.compile(r"CA[0-9a-f]{32}")

# What a path answers: TwiML (a VoiceResponse or a string) or a whole aiohttp response,
# given the request's query and form.
Answer = Callable[[dict[str, str], dict[str, str]], "VoiceResponse | str | web.Response"]


@dataclass
class Received:
    path: str  # with its query
    route: str  # the path alone
    params: dict[str, str]


@dataclass
class FakeVoice:
    """A scripted voice app: each path answers with its script, and every request is kept."""

    script: dict[str, Answer]
    received: list[Received] = field(default_factory=list)

    def app(self, public_url: str = PUBLIC_URL) -> web.Application:
        app = web.Application()
        app[TWILIO_SIGNATURE] = TwilioSignature(TOKEN, public_url)
        app.router.add_post("/twilio/{tail:.*}", signed(self.handle))
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        params = {key: str(value) for key, value in form.items()}
        self.received.append(Received(request.path_qs, request.path, params))
        answer = self.script.get(request.path)
        if answer is None:
            raise web.HTTPNotFound(text=f"no script for {request.path}")
        result = answer(dict(request.query), params)
        if isinstance(result, web.Response):
            return result
        return web.Response(text=str(result), content_type="text/xml")

    def paths(self) -> list[str]:
        return [request.route for request in self.received]

    def at(self, route: str) -> dict[str, str]:
        [params] = [request.params for request in self.received if request.route == route]
        return params


def twiml(build: Callable[[VoiceResponse], object]) -> Answer:
    """An Answer that always returns the TwiML `build` writes into a VoiceResponse."""

    def answer(_query: dict[str, str], _params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        build(response)
        return response

    return answer


def empty_twiml() -> Answer:
    return twiml(lambda response: None)


def acknowledge(_query: dict[str, str], _params: dict[str, str]) -> web.Response:
    """How a status callback is usually answered: 204, no body."""
    return web.Response(status=204)


def transport(client: TestClient[Any, Any]) -> PostWebhook:
    async def post(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
        response = await client.post(path, data=params, headers={SIGNATURE_HEADER: signature})
        return response.status, await response.text()

    return post


async def run_call(
    aiohttp_client: Any, voice: FakeVoice, token: str = TOKEN, **options: Any
) -> CallResult:
    client = await aiohttp_client(voice.app())
    simulator = CallSimulator(
        transport(client), auth_token=token, public_url=PUBLIC_URL, account_sid=ACCOUNT_SID
    )
    return await simulator.run(CallOptions(to=TENANT_NUMBER, from_=CALLER, **options))


def ivr_script(after_gather: Answer | None = None) -> dict[str, Answer]:
    def greet(response: VoiceResponse) -> None:
        response.say("Thank you for calling Hudson and Park.", language="en-US")
        gather = response.gather(
            input="speech dtmf",
            action="/twilio/voice/gather?menu=main",
            action_on_empty_result=True,
            language="en-US",
            timeout=5,
        )
        gather.say("Press 1 for appointments, 2 for billing.")
        response.say("This is never reached when the gather has an action.")

    return {
        "/twilio/voice": twiml(greet),
        "/twilio/voice/gather": after_gather or twiml(lambda response: response.hangup()),
        "/twilio/voice/status": acknowledge,
    }


# --- IVR ------------------------------------------------------------------------------


async def test_ivr_digits_are_posted_to_the_gather_action_then_the_call_ends(
    aiohttp_client: Any,
) -> None:
    voice = FakeVoice(ivr_script())
    result = await run_call(aiohttp_client, voice, digits="2")

    assert result.ok, result.error
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/gather", "/twilio/voice/status"]
    assert voice.received[1].path == "/twilio/voice/gather?menu=main"
    incoming, gathered, status = (request.params for request in voice.received)
    assert CALL_SID.fullmatch(incoming["CallSid"])
    assert incoming["CallStatus"] == "ringing" and incoming["Direction"] == "inbound"
    assert (incoming["From"], incoming["To"]) == (CALLER, TENANT_NUMBER)
    assert (incoming["Caller"], incoming["Called"]) == (CALLER, TENANT_NUMBER)
    assert incoming["AccountSid"] == ACCOUNT_SID and incoming["ApiVersion"] == "2010-04-01"
    assert incoming["FromCountry"] == incoming["ToCountry"] == "US"
    assert gathered["CallSid"] == status["CallSid"] == incoming["CallSid"]
    assert gathered["Digits"] == "2" and "SpeechResult" not in gathered
    assert gathered["CallStatus"] == "in-progress"
    assert status["CallStatus"] == "completed" and int(status["CallDuration"]) > 0
    assert [step.verbs for step in result.steps] == [("Say", "Gather", "Say"), ("Hangup",), ()]
    assert [step.status for step in result.steps] == [200, 200, 204]
    assert result.status == "completed" and result.dialled == [] and not result.voicemail
    assert "  caller presses 2" in result.lines


async def test_ivr_speech_is_posted_with_its_confidence(aiohttp_client: Any) -> None:
    voice = FakeVoice(ivr_script())
    result = await run_call(aiohttp_client, voice, say="I need to book an appointment")

    assert result.ok, result.error
    gathered = voice.at("/twilio/voice/gather")
    assert gathered["SpeechResult"] == "I need to book an appointment"
    assert 0 < float(gathered["Confidence"]) <= 1
    assert "Digits" not in gathered


async def test_ivr_without_input_posts_an_empty_result_when_asked_to(aiohttp_client: Any) -> None:
    voice = FakeVoice(ivr_script())
    result = await run_call(aiohttp_client, voice)

    assert result.ok, result.error
    gathered = voice.at("/twilio/voice/gather")
    assert {"Digits", "SpeechResult", "Confidence"}.isdisjoint(gathered)


async def test_a_gather_without_input_or_empty_action_falls_through_to_the_next_verb(
    aiohttp_client: Any,
) -> None:
    def greet(response: VoiceResponse) -> None:
        response.gather(input="dtmf", action="/twilio/voice/gather", num_digits=1)
        response.redirect("/twilio/voice/after")

    script = {
        "/twilio/voice": twiml(greet),
        "/twilio/voice/after": twiml(lambda response: response.hangup()),
        "/twilio/voice/status": acknowledge,
    }
    voice = FakeVoice(script)
    # Speech is offered, but this gather only takes keys.
    result = await run_call(aiohttp_client, voice, say="hello")

    assert result.ok, result.error
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/after", "/twilio/voice/status"]


@pytest.mark.parametrize(
    ("pressed", "num_digits", "posted"), [("123#4", 2, "12"), ("1#23", 3, "1"), ("45", None, "45")]
)
async def test_digits_stop_at_the_finish_key_and_at_num_digits(
    aiohttp_client: Any, pressed: str, num_digits: int | None, posted: str
) -> None:
    def greet(response: VoiceResponse) -> None:
        response.gather(input="dtmf", action="/twilio/voice/gather", num_digits=num_digits)

    voice = FakeVoice({**ivr_script(), "/twilio/voice": twiml(greet)})
    result = await run_call(aiohttp_client, voice, digits=pressed)

    assert result.ok, result.error
    assert voice.at("/twilio/voice/gather")["Digits"] == posted


async def test_relative_and_absolute_action_urls_resolve_as_twilio_resolves_them(
    aiohttp_client: Any,
) -> None:
    def greet(response: VoiceResponse) -> None:
        # Relative to the document's URL, /twilio/voice: "voice/gather" is /twilio/voice/gather.
        response.gather(action="voice/gather?step=1", action_on_empty_result=True)

    def next_step(response: VoiceResponse) -> None:
        response.redirect(f"{PUBLIC_URL}/twilio/voice/menu?step=2&lang=en")

    script = {
        "/twilio/voice": twiml(greet),
        "/twilio/voice/gather": twiml(next_step),
        "/twilio/voice/menu": twiml(lambda response: response.hangup()),
        "/twilio/voice/status": acknowledge,
    }
    voice = FakeVoice(script)
    result = await run_call(aiohttp_client, voice)

    # Every request passed the signature check, so each was signed for its public URL.
    assert result.ok, result.error
    assert [request.path for request in voice.received] == [
        "/twilio/voice",
        "/twilio/voice/gather?step=1",
        "/twilio/voice/menu?step=2&lang=en",
        "/twilio/voice/status",
    ]


# --- Dialling secretaries -------------------------------------------------------------


def hunt_script(after_hunt: Answer) -> dict[str, Answer]:
    """Rings emily, then sara (each with a whisper), then `after_hunt`."""

    def dial(secretary: str, phone: str, attempt: int) -> Callable[[VoiceResponse], None]:
        def build(response: VoiceResponse) -> None:
            dial = response.dial(
                action=f"/twilio/voice/dial-status?attempt={attempt}",
                timeout=20,
                caller_id=TENANT_NUMBER,
            )
            dial.number(phone, url=f"/twilio/voice/whisper?secretary={secretary}")

        return build

    def dial_status(query: dict[str, str], params: dict[str, str]) -> VoiceResponse | str:
        if params["DialCallStatus"] == "completed":
            response = VoiceResponse()
            response.hangup()
            return response
        if query["attempt"] == "1":
            return twiml(dial("sara", SARA_PHONE, 2))(query, params)
        return after_hunt(query, params)  # type: ignore[return-value]

    def whisper(query: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        gather = response.gather(
            num_digits=1,
            action=f"/twilio/voice/whisper/accept?secretary={query['secretary']}",
            action_on_empty_result=True,
        )
        gather.say("Call for Hudson and Park. Press 1 to accept.")
        return response

    def accept(query: dict[str, str], params: dict[str, str]) -> VoiceResponse:
        response = VoiceResponse()
        if params.get("Digits") != "1":
            response.hangup()
        return response

    return {
        "/twilio/voice": twiml(dial("emily", EMILY_PHONE, 1)),
        "/twilio/voice/dial-status": dial_status,
        "/twilio/voice/whisper": whisper,
        "/twilio/voice/whisper/accept": accept,
        "/twilio/voice/status": acknowledge,
    }


async def test_a_named_secretary_answers_after_the_whisper_and_pressing_1(
    aiohttp_client: Any,
) -> None:
    voice = FakeVoice(hunt_script(twiml(lambda response: response.hangup())))
    result = await run_call(aiohttp_client, voice, answer="sara", talk_seconds=42)

    assert result.ok, result.error
    # emily does not pick up: her whisper is never requested, as with real Twilio.
    assert [request.path for request in voice.received] == [
        "/twilio/voice",
        "/twilio/voice/dial-status?attempt=1",
        "/twilio/voice/whisper?secretary=sara",
        "/twilio/voice/whisper/accept?secretary=sara",
        "/twilio/voice/dial-status?attempt=2",
        "/twilio/voice/status",
    ]
    parent_sid = voice.received[0].params["CallSid"]
    first, whisper, accept, second = (request.params for request in voice.received[1:5])
    assert first["DialCallStatus"] == "no-answer" and first["CallSid"] == parent_sid
    assert "DialCallDuration" not in first
    assert CALL_SID.fullmatch(whisper["CallSid"]) and whisper["CallSid"] != parent_sid
    assert whisper["ParentCallSid"] == parent_sid
    assert (whisper["From"], whisper["To"]) == (TENANT_NUMBER, SARA_PHONE)
    assert whisper["Direction"] == "outbound-dial" and whisper["CallStatus"] == "in-progress"
    assert accept["Digits"] == "1" and accept["CallSid"] == whisper["CallSid"]
    assert second["CallSid"] == parent_sid
    assert second["DialCallStatus"] == "completed"
    assert second["DialCallSid"] == whisper["CallSid"]
    assert second["DialCallDuration"] == "42"
    assert result.dialled == ["emily", "sara"] and result.answered_by == "sara"
    assert [step.leg for step in result.steps].count("secretary") == 2
    assert int(voice.at("/twilio/voice/status")["CallDuration"]) >= 42 + 20


async def test_any_means_the_first_secretary_dialled_answers(aiohttp_client: Any) -> None:
    voice = FakeVoice(hunt_script(twiml(lambda response: response.hangup())))
    result = await run_call(aiohttp_client, voice)

    assert result.ok, result.error
    assert result.dialled == ["emily"] and result.answered_by == "emily"
    assert voice.received[1].path == "/twilio/voice/whisper?secretary=emily"


async def test_a_whisper_that_hangs_up_counts_as_no_answer(aiohttp_client: Any) -> None:
    script = hunt_script(twiml(lambda response: response.hangup()))
    script["/twilio/voice/whisper"] = twiml(lambda response: response.hangup())
    voice = FakeVoice(script)
    result = await run_call(aiohttp_client, voice, answer="emily")

    assert result.ok, result.error
    first = voice.received[2]
    assert first.path == "/twilio/voice/dial-status?attempt=1"
    assert first.params["DialCallStatus"] == "no-answer"
    assert result.answered_by is None and result.dialled == ["emily", "sara"]


async def test_no_answer_twice_then_voicemail_with_recording_and_transcription(
    aiohttp_client: Any,
) -> None:
    def voicemail(response: VoiceResponse) -> None:
        response.say("Nobody can take your call. Please leave a message.")
        response.record(
            action="/twilio/voice/recorded",
            recording_status_callback="/twilio/voice/recording",
            transcribe_callback="/twilio/voice/transcription",
            max_length=120,
        )

    script = hunt_script(twiml(voicemail))
    script["/twilio/voice/recorded"] = twiml(lambda response: response.hangup())
    script["/twilio/voice/recording"] = acknowledge
    script["/twilio/voice/transcription"] = acknowledge
    voice = FakeVoice(script)
    result = await run_call(
        aiohttp_client, voice, answer="none", record_seconds=11, message="Call me at 5."
    )

    assert result.ok, result.error
    assert voice.paths() == [
        "/twilio/voice",
        "/twilio/voice/dial-status",
        "/twilio/voice/dial-status",
        "/twilio/voice/recorded",
        "/twilio/voice/recording",
        "/twilio/voice/transcription",
        "/twilio/voice/status",
    ]
    parent_sid = voice.received[0].params["CallSid"]
    for attempt in voice.received[1:3]:
        assert attempt.params["DialCallStatus"] == "no-answer"
    recorded = voice.at("/twilio/voice/recorded")
    assert re.fullmatch(r"RE[0-9a-f]{32}", recorded["RecordingSid"])
    assert recorded["RecordingDuration"] == "11" and recorded["Digits"] == "hangup"
    assert recorded["RecordingUrl"] == (
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
        f"/Recordings/{recorded['RecordingSid']}"
    )
    recording = voice.at("/twilio/voice/recording")
    assert recording["RecordingSid"] == recorded["RecordingSid"]
    assert recording["RecordingUrl"] == recorded["RecordingUrl"]
    assert recording["RecordingStatus"] == "completed"
    assert recording["RecordingDuration"] == "11" and recording["RecordingChannels"] == "1"
    assert recording["RecordingSource"] == "RecordVerb"
    assert (recording["CallSid"], recording["AccountSid"]) == (parent_sid, ACCOUNT_SID)
    transcription = voice.at("/twilio/voice/transcription")
    assert re.fullmatch(r"TR[0-9a-f]{32}", transcription["TranscriptionSid"])
    assert transcription["TranscriptionText"] == "Call me at 5."
    assert transcription["TranscriptionStatus"] == "completed"
    assert transcription["TranscriptionUrl"].endswith(transcription["TranscriptionSid"])
    assert transcription["RecordingSid"] == recorded["RecordingSid"]
    assert (transcription["From"], transcription["To"]) == (CALLER, TENANT_NUMBER)
    assert transcription["CallSid"] == parent_sid
    assert result.voicemail and result.recording_sid == recorded["RecordingSid"]
    assert result.transcription_sid == transcription["TranscriptionSid"]
    assert result.answered_by is None and result.dialled == ["emily", "sara"]


async def test_a_recording_longer_than_max_length_is_cut(aiohttp_client: Any) -> None:
    script = {
        "/twilio/voice": twiml(lambda response: response.record(max_length=5)),
        "/twilio/voice/status": acknowledge,
    }
    voice = FakeVoice(script)
    result = await run_call(aiohttp_client, voice, record_seconds=30)

    assert result.ok, result.error
    # Without an action Twilio posts the recording to the document's own URL.
    assert voice.paths() == ["/twilio/voice", "/twilio/voice", "/twilio/voice/status"]
    assert voice.received[1].params["RecordingDuration"] == "5"


async def test_a_plain_number_is_a_forward_and_its_action_hears_completed(
    aiohttp_client: Any,
) -> None:
    def forward(response: VoiceResponse) -> None:
        response.say("Connecting you to our office.")
        response.dial("+12125550199", action="/twilio/voice/dial-status?forward=1")

    script = {
        "/twilio/voice": twiml(forward),
        "/twilio/voice/dial-status": twiml(lambda response: response.hangup()),
        "/twilio/voice/status": acknowledge,
    }
    voice = FakeVoice(script)
    result = await run_call(aiohttp_client, voice, answer="none")

    assert result.ok, result.error
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/dial-status", "/twilio/voice/status"]
    assert voice.at("/twilio/voice/dial-status")["DialCallStatus"] == "completed"
    assert result.forwarded_to == "+12125550199" and result.dialled == []
    assert "  forwarded to +12125550199" in result.lines


async def test_a_forward_without_action_goes_on_with_the_next_verb(aiohttp_client: Any) -> None:
    def forward(response: VoiceResponse) -> None:
        response.dial("+12125550199")
        response.redirect("/twilio/voice/after")

    script = {
        "/twilio/voice": twiml(forward),
        "/twilio/voice/after": twiml(lambda response: response.hangup()),
        "/twilio/voice/status": acknowledge,
    }
    voice = FakeVoice(script)
    result = await run_call(aiohttp_client, voice)

    assert result.ok, result.error
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/after", "/twilio/voice/status"]


# --- Failures stop the call -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda query, params: web.Response(status=500, text="boom"), "answered HTTP 500: boom"),
        (lambda query, params: web.Response(text="OK"), "did not answer TwiML: 'OK'"),
        (lambda query, params: "<Result/>", "did not answer TwiML"),
        (twiml(lambda response: response.enqueue("support")), "<Enqueue>"),
    ],
    ids=["500", "plain-text", "not-a-response", "unsupported-verb"],
)
async def test_a_failing_webhook_stops_the_call(
    aiohttp_client: Any, answer: Answer, expected: str
) -> None:
    voice = FakeVoice(ivr_script(after_gather=answer))
    result = await run_call(aiohttp_client, voice, digits="1")

    assert not result.ok and result.status == "failed"
    assert result.error is not None and "/twilio/voice/gather?menu=main" in result.error
    assert expected in result.error
    # Nothing after the failure: no status callback either.
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/gather"]


async def test_a_wrong_token_is_refused_by_the_check_and_named(aiohttp_client: Any) -> None:
    voice = FakeVoice(ivr_script())
    result = await run_call(aiohttp_client, voice, token="not-the-token")

    assert not result.ok
    assert result.error == (
        "/twilio/voice answered HTTP 403: invalid Twilio signature "
        f"(the signature was computed for {PUBLIC_URL}/twilio/voice)"
    )
    assert voice.received == []  # the check refused it before the handler


async def test_a_twiml_loop_is_stopped(aiohttp_client: Any) -> None:
    script = {"/twilio/voice": twiml(lambda response: response.redirect("/twilio/voice"))}
    voice = FakeVoice(script)
    client = await aiohttp_client(voice.app())
    simulator = CallSimulator(
        transport(client), auth_token=TOKEN, public_url=PUBLIC_URL, max_requests=7
    )
    result = await simulator.run(CallOptions(to=TENANT_NUMBER, from_=CALLER))

    assert not result.ok and "not ended after 7 requests" in (result.error or "")
    assert len(voice.received) == 7


# --- The command ----------------------------------------------------------------------


@contextmanager
def serve_in_thread(app: web.Application, port: int | None = None) -> Iterator[str]:
    """Serve `app` over real HTTP on its own thread and loop; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    port = port or free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def simulate_call(url: str, *args: str, env: dict[str, str | None] | None = None) -> Result:
    command = ["simulate", "call", "--url", url, "--to", TENANT_NUMBER, "--from", CALLER, *args]
    base_env: dict[str, str | None] = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "MONSHI_PUBLIC_URL": PUBLIC_URL,
    }
    return CliRunner().invoke(cli, command, env={**base_env, **(env or {})})


def test_command_plays_the_call_over_http_and_prints_each_step() -> None:
    voice = FakeVoice(hunt_script(twiml(lambda response: response.hangup())))
    with serve_in_thread(voice.app()) as url:
        result = simulate_call(url, "--answer", "sara", "--talk-seconds", "30")

    assert result.exit_code == 0, result.output
    assert voice.received[4].params["DialCallDuration"] == "30"
    lines = result.stdout.splitlines()
    posts = [line for line in lines if line.startswith("POST ")]
    assert posts == [
        "POST /twilio/voice -> 200: Dial",
        "POST /twilio/voice/dial-status?attempt=1 -> 200: Dial",
        "POST /twilio/voice/whisper?secretary=sara -> 200: Gather  [secretary leg]",
        "POST /twilio/voice/whisper/accept?secretary=sara -> 200: (empty)  [secretary leg]",
        "POST /twilio/voice/dial-status?attempt=2 -> 200: Hangup",
        "POST /twilio/voice/status -> 204",
    ]
    assert lines[-1].startswith("call ended after ") and lines[-1].endswith("answered by sara")
    assert result.stderr == ""


def test_command_without_public_url_signs_for_the_url_it_posts_to() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    voice = FakeVoice(ivr_script())
    with serve_in_thread(voice.app(public_url=url), port):
        accepted = simulate_call(url, "--digits", "1", env={"MONSHI_PUBLIC_URL": None})
    public = FakeVoice(ivr_script())
    with serve_in_thread(public.app(public_url=PUBLIC_URL)) as other_url:
        refused = simulate_call(other_url, env={"MONSHI_PUBLIC_URL": None})

    assert accepted.exit_code == 0, accepted.output
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/gather", "/twilio/voice/status"]
    assert refused.exit_code == 1 and public.received == []
    assert f"computed for {other_url}/twilio/voice" in refused.stderr


def test_command_exits_1_naming_the_failing_webhook() -> None:
    failing = lambda query, params: web.Response(status=500, text="boom")  # noqa: E731
    voice = FakeVoice(ivr_script(after_gather=failing))
    with serve_in_thread(voice.app()) as url:
        result = simulate_call(url, "--digits", "3")

    assert result.exit_code == 1
    assert "POST /twilio/voice/gather?menu=main -> 500" in result.stdout
    assert result.stderr.strip() == "error: /twilio/voice/gather?menu=main answered HTTP 500: boom"
    assert voice.paths() == ["/twilio/voice", "/twilio/voice/gather"]


def test_command_unreachable_instance_fails_with_the_reason() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = simulate_call(url)

    assert result.exit_code == 1
    assert f"cannot reach {url}/twilio/voice" in result.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--call-sid", "SM" + "0" * 32], "--call-sid"),
        (["--digits", "12a"], "--digits"),
        (["--record-seconds", "0"], "--record-seconds"),
    ],
)
def test_command_rejects_bad_options_before_calling(args: list[str], hint: str) -> None:
    voice = FakeVoice(ivr_script())
    with serve_in_thread(voice.app()) as url:
        result = simulate_call(url, *args)

    assert result.exit_code == 2 and hint in result.output
    assert voice.received == []


def test_command_call_sid_is_used_for_every_parent_request() -> None:
    sid = "CA" + "ab" * 16
    voice = FakeVoice(ivr_script())
    with serve_in_thread(voice.app()) as url:
        result = simulate_call(url, "--call-sid", sid, "--digits", "1")

    assert result.exit_code == 0, result.output
    assert {request.params["CallSid"] for request in voice.received} == {sid}


# --- Against the real voice webhooks --------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "answered_by", "outcome_events"),
    [
        ("emily", "emily", {"accepted", "handled_live"}),
        ("none", None, {"voicemail", "transcribed"}),
    ],
)
async def test_the_simulator_plays_whole_calls_through_the_real_voice_app(
    aiohttp_client: Any,
    settings: Settings,
    tmp_path: Path,
    answer: str,
    answered_by: str | None,
    outcome_events: set[str],
) -> None:
    configure(settings, tmp_path)
    settings = dataclasses.replace(settings, spool_dir=str(tmp_path / "spool"))
    app = create_app(settings, background=False)
    client = await aiohttp_client(app)
    for secretary in ("sara", "emily"):  # sara has waited longest: she is rung first
        app[PRESENCE].set_status(secretary, PresenceStatus.AVAILABLE)
    simulator = CallSimulator(
        transport(client),
        auth_token=settings.twilio_auth_token,
        public_url=settings.public_url,
        account_sid=settings.twilio_account_sid,
    )
    result = await simulator.run(CallOptions(to=ACME, from_=CALLER, answer=answer))

    assert result.ok, result.error
    assert all(step.status == 200 for step in result.steps)
    assert result.dialled == ["sara", "emily"] and result.answered_by == answered_by
    assert result.voicemail is (answered_by is None)
    persister = CallPersister(app[ASYNC_REDIS], app[REPOSITORY], app[DISPATCHER])
    while await persister.drain_once():
        pass
    repository = app[REPOSITORY]
    item_id = repository.item_id_for(Channel.CALL, result.call_sid)
    assert item_id is not None
    kinds = {event.kind for event in repository.events(item_id)}
    assert outcome_events | {"call_started", "call_ended"} <= kinds
