"""`monshi simulate sms` against a real HTTP server that records what it receives."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from twilio.request_validator import RequestValidator

from tests.conftest import free_port
from triage.cli import cli
from triage.cli.simulate import sms_segments

TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "https://monshi.example"
ACCOUNT_SID = "AC" + "1" * 32
# Every variable simulate reads, unset unless a test sets it.
CLEAN_ENV: dict[str, str | None] = {
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_ACCOUNT_SID": None,
    "MONSHI_PUBLIC_URL": None,
}
TWILIO_SMS_FIELDS = {
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body", "NumMedia",
    "NumSegments", "SmsStatus", "ApiVersion", "FromCity", "FromState", "FromZip",
    "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry",
}  # fmt: skip


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    params: dict[str, str]


@dataclass
class FakeTwilioTarget:
    """An aiohttp server on its own thread and loop, answering /twilio/sms with `status`."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def target() -> Iterator[FakeTwilioTarget]:
    state = FakeTwilioTarget()

    async def sms(request: web.Request) -> web.Response:
        form = await request.post()
        state.received.append(
            Received(str(request.url), dict(request.headers), {k: str(v) for k, v in form.items()})
        )
        return web.Response(status=state.status, text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/twilio/sms", sms)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    port = free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def simulate_sms(
    target: FakeTwilioTarget, *args: str, env: dict[str, str | None] | None = None
) -> Result:
    command = ["simulate", "sms", "--url", target.url, "--to", "+12125550143"]
    command += ["--from", "+15557654321", "--body", "Please call me back", *args]
    return CliRunner().invoke(cli, command, env={**CLEAN_ENV, **(env or {})})


def test_request_is_signed_for_the_public_url_with_every_twilio_field(
    target: FakeTwilioTarget,
) -> None:
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "MONSHI_PUBLIC_URL": PUBLIC_URL + "/"}
    env["TWILIO_ACCOUNT_SID"] = ACCOUNT_SID
    result = simulate_sms(target, env=env)

    assert result.exit_code == 0, result.output
    [request] = target.received
    params = request.params
    assert TWILIO_SMS_FIELDS - set(params) == set()
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"])
    assert params["SmsSid"] == params["SmsMessageSid"] == params["MessageSid"]
    assert params["AccountSid"] == ACCOUNT_SID
    assert (params["From"], params["To"]) == ("+15557654321", "+12125550143")
    assert params["Body"] == "Please call me back"
    assert params["NumMedia"] == "0" and params["NumSegments"] == "1"
    assert params["SmsStatus"] == "received" and params["ApiVersion"] == "2010-04-01"
    assert params["ToCountry"] == params["FromCountry"] == "US"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")

    validator = RequestValidator(TOKEN)
    signature = request.headers["X-Twilio-Signature"]
    assert validator.validate(PUBLIC_URL + "/twilio/sms", params, signature)
    assert not validator.validate(request.url, params, signature)
    assert not RequestValidator("another-token").validate(
        PUBLIC_URL + "/twilio/sms", params, signature
    )
    assert result.output.strip() == f"HTTP 200 MessageSid {params['MessageSid']}"


def test_without_public_url_the_request_url_is_signed(target: FakeTwilioTarget) -> None:
    result = simulate_sms(target, env={"TWILIO_AUTH_TOKEN": TOKEN})

    assert result.exit_code == 0, result.output
    [request] = target.received
    assert request.url == target.url + "/twilio/sms"
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(TOKEN).validate(request.url, request.params, signature)


@pytest.mark.parametrize("status", [403, 500, 302])
def test_a_non_2xx_answer_fails_the_command(target: FakeTwilioTarget, status: int) -> None:
    target.status = status
    result = simulate_sms(target, env={"TWILIO_AUTH_TOKEN": TOKEN})

    assert result.exit_code == 1
    assert f"HTTP {status} MessageSid SM" in result.output
    assert len(target.received) == 1


def test_unreachable_instance_fails_with_the_reason() -> None:
    unreachable = FakeTwilioTarget(url=f"http://127.0.0.1:{free_port()}")
    result = simulate_sms(unreachable, env={"TWILIO_AUTH_TOKEN": TOKEN})

    assert result.exit_code == 1
    assert "cannot reach" in result.output and "refused" in result.output


def test_message_sid_can_be_forced_for_retries(target: FakeTwilioTarget) -> None:
    sid = "SM" + "ab" * 16
    for _ in range(2):
        assert (
            simulate_sms(target, "--message-sid", sid, env={"TWILIO_AUTH_TOKEN": TOKEN}).exit_code
            == 0
        )
    assert [request.params["MessageSid"] for request in target.received] == [sid, sid]

    bad = simulate_sms(target, "--message-sid", "not-a-sid", env={"TWILIO_AUTH_TOKEN": TOKEN})
    assert bad.exit_code == 2 and len(target.received) == 2


def test_token_comes_from_secrets_env_when_not_in_environment(
    target: FakeTwilioTarget, tmp_path: Path
) -> None:
    (tmp_path / "secrets.env").write_text(
        f"# written by monshi run\nTWILIO_AUTH_TOKEN={TOKEN}\nMONSHI_SECRET_KEY=unused\n"
    )
    result = simulate_sms(target, "--var-dir", str(tmp_path))

    assert result.exit_code == 0, result.output
    [request] = target.received
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(TOKEN).validate(request.url, request.params, signature)


def test_environment_token_wins_over_secrets_env(target: FakeTwilioTarget, tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("TWILIO_AUTH_TOKEN=stale\n")
    result = simulate_sms(target, "--var-dir", str(tmp_path), env={"TWILIO_AUTH_TOKEN": TOKEN})

    assert result.exit_code == 0, result.output
    [request] = target.received
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(TOKEN).validate(request.url, request.params, signature)


def test_no_token_anywhere_is_an_error_naming_the_variable(
    target: FakeTwilioTarget, tmp_path: Path
) -> None:
    result = simulate_sms(target, "--var-dir", str(tmp_path))

    assert result.exit_code == 1
    assert "TWILIO_AUTH_TOKEN" in result.output
    assert target.received == []


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extended GSM characters cost two
        ("{" * 81, 2),
        ("سلام" * 17 + "سل", 1),  # 70 UCS-2 characters
        ("س" * 71, 2),
        ("س" * 134, 2),
        ("س" * 135, 3),
    ],
)
def test_sms_segments(body: str, segments: int) -> None:
    assert sms_segments(body) == segments
