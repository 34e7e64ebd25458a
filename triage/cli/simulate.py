"""`monshi simulate ...`: send a running instance what Twilio or a mail server would send.

`simulate sms` posts one webhook (`post_twilio_webhook`); `simulate call` plays a whole
call with `integrations.twilio.call_simulator` over an aiohttp session; `simulate email`
APPENDs a message to the configured mailbox over IMAP. The Twilio ones sign for
the URL the server believes it is reached at: MONSHI_PUBLIC_URL when set (as behind a
proxy), else the --url given; both read the auth token as `webhook_credentials` says.
"""

from __future__ import annotations

import asyncio
import imaplib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Final

import click

from integrations.twilio.call_simulator import (
    ANSWER_ANY,
    DEFAULT_MESSAGE,
    DEFAULT_RECORD_SECONDS,
    DEFAULT_TALK_SECONDS,
    PLACEHOLDER_ACCOUNT_SID,
    SIGNATURE_HEADER,
    TWILIO_API_VERSION,
    TWILIO_WEBHOOK_HEADERS,
    CallOptions,
    CallResult,
    CallSimulator,
    new_sid,
    number_location,
    sign_webhook,
)
from triage.cli import cli
from triage.cli.run import DEFAULT_VAR_DIR, SECRETS_FILE_NAME, read_secrets_file

DEFAULT_URL: Final = "http://127.0.0.1:8080"
SMS_PATH: Final = "/twilio/sms"
WEBHOOK_TIMEOUT_SECONDS: Final = 15.0  # how long Twilio waits for a webhook's answer

# The GSM 03.38 alphabet: a body in it travels as 7-bit text, anything else as UCS-2.
_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")  # each costs an escape plus the character
_SID_PATTERN: Final = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
_DIGITS_PATTERN: Final = re.compile(r"^[0-9*#w]+$")  # keys, "w" a half-second pause


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What the instance answered, and the URL the signature was computed for."""

    status: int
    body: str
    signed_url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    """What a simulated Twilio needs to know: the auth token, account sid and public URL."""

    auth_token: str
    account_sid: str
    public_url: str


def sms_segments(body: str) -> int:
    """How many SMS segments Twilio would count for `body` (GSM-7 or UCS-2 encoding)."""
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in body):
        length = sum(2 if char in _GSM7_EXTENDED else 1 for char in body)
        single, multi = 160, 153
    else:
        # UCS-2 counts UTF-16 code units: characters outside the BMP take two.
        length = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if length <= single:
        return 1
    return -(-length // multi)


def sms_webhook_params(
    *,
    to: str,
    from_: str,
    body: str,
    account_sid: str,
    message_sid: str | None = None,
    messaging_service_sid: str | None = None,
) -> dict[str, str]:
    """The form fields of Twilio's incoming-message webhook for one plain SMS."""
    sid = message_sid or new_sid("SM")
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": str(sms_segments(body)),
        "SmsStatus": "received",
        "ApiVersion": TWILIO_API_VERSION,
        **number_location(from_, "From"),
        **number_location(to, "To"),
    }
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    return params


def webhook_credentials(
    var_dir: Path, environ: Mapping[str, str] | None = None
) -> TwilioCredentials:
    """Credentials from the environment, else from the secrets file `monshi run` keeps."""
    source = os.environ if environ is None else environ
    stored = read_secrets_file(var_dir / SECRETS_FILE_NAME)

    def setting(name: str) -> str:
        return source.get(name, "").strip() or stored.get(name, "")

    auth_token = setting("TWILIO_AUTH_TOKEN")
    if not auth_token:
        raise click.ClickException(
            f"TWILIO_AUTH_TOKEN is not set and {var_dir / SECRETS_FILE_NAME} does not have it "
            "(start `monshi run` once, or pass --var-dir)"
        )
    return TwilioCredentials(
        auth_token=auth_token,
        account_sid=setting("TWILIO_ACCOUNT_SID") or PLACEHOLDER_ACCOUNT_SID,
        public_url=source.get("MONSHI_PUBLIC_URL", "").strip().rstrip("/"),
    )


def signing_base(base_url: str, credentials: TwilioCredentials) -> str:
    """What the instance rebuilds signed URLs from: its public URL, else where it is reached."""
    return credentials.public_url or base_url.rstrip("/")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Twilio does not follow redirects from a webhook, so neither does the simulation."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> None:
        return None


def post_twilio_webhook(
    base_url: str,
    path: str,
    params: Mapping[str, str],
    credentials: TwilioCredentials,
    timeout: float = WEBHOOK_TIMEOUT_SECONDS,
) -> WebhookResponse:
    """POST `params` form-encoded to base_url + path, signed as Twilio signs webhooks.

    Raises OSError (URLError) when the instance cannot be reached.
    """
    url = base_url.rstrip("/") + path
    signed_url = signing_base(base_url, credentials) + path
    signature = sign_webhook(credentials.auth_token, signed_url, params)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode("utf-8"),
        method="POST",
        headers={**TWILIO_WEBHOOK_HEADERS, SIGNATURE_HEADER: signature},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, body = error.code, error.read()
    return WebhookResponse(
        status=status, body=body.decode("utf-8", errors="replace"), signed_url=signed_url
    )


@cli.group()
def simulate() -> None:
    """Send a running instance what Twilio or a mail server would send."""


@simulate.command("sms")
@click.option("--to", "to", required=True, help="The Twilio number texted (a tenant's number).")
@click.option("--from", "from_", required=True, help="The sender's number, E.164.")
@click.option("--body", required=True, help="The message text.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Where the instance listens.")
@click.option("--message-sid", help="Use this MessageSid (SM + 32 hex), e.g. to replay a retry.")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR,
    show_default=True,
    help="Where `monshi run` keeps secrets.env (used when TWILIO_AUTH_TOKEN is not set).",
)
def simulate_sms(
    to: str, from_: str, body: str, url: str, message_sid: str | None, var_dir: Path
) -> None:
    """POST a signed incoming-SMS webhook to URL/twilio/sms, exactly as Twilio does."""
    if message_sid is not None and not _SID_PATTERN.match(message_sid):
        raise click.BadParameter("must be SM followed by 32 hex digits", param_hint="--message-sid")
    credentials = webhook_credentials(var_dir)
    params = sms_webhook_params(
        to=to,
        from_=from_,
        body=body,
        account_sid=credentials.account_sid,
        message_sid=message_sid,
    )
    response = _post_or_fail(url, SMS_PATH, params, credentials)
    _report(response, params["MessageSid"])


@simulate.command("call")
@click.option("--to", "to", required=True, help="The Twilio number called (a tenant's number).")
@click.option("--from", "from_", required=True, help="The caller's number, E.164.")
@click.option("--say", help="What the caller says at the first IVR prompt taking speech.")
@click.option("--digits", help="What the caller presses at the first IVR prompt taking keys.")
@click.option(
    "--answer",
    default=ANSWER_ANY,
    show_default=True,
    help="Who picks up when secretaries are dialled: a secretary id (or phone), any, none.",
)
@click.option(
    "--message",
    default=DEFAULT_MESSAGE,
    show_default=True,
    help="The voicemail's transcript, if the call ends in voicemail.",
)
@click.option(
    "--record-seconds",
    type=click.IntRange(1, 3600),
    default=DEFAULT_RECORD_SECONDS,
    show_default=True,
    help="How long the voicemail is (RecordingDuration).",
)
@click.option(
    "--talk-seconds",
    type=click.IntRange(1, 14400),
    default=DEFAULT_TALK_SECONDS,
    show_default=True,
    help="How long a connected call lasts (DialCallDuration).",
)
@click.option("--call-sid", help="Use this CallSid (CA + 32 hex), e.g. to replay a call.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="Where the instance listens.")
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_VAR_DIR,
    show_default=True,
    help="Where `monshi run` keeps secrets.env (used when TWILIO_AUTH_TOKEN is not set).",
)
def simulate_call(
    to: str,
    from_: str,
    say: str | None,
    digits: str | None,
    answer: str,
    message: str,
    record_seconds: int,
    talk_seconds: int,
    call_sid: str | None,
    url: str,
    var_dir: Path,
) -> None:
    """Play Twilio's side of a whole call: POST URL/twilio/voice and follow the TwiML.

    Gathers get --digits or --say, dialled secretaries hear their whisper and press 1
    (or do not pick up, per --answer), voicemails get their recording and transcription
    callbacks, and the call ends with its status callback. Each request is printed with
    its HTTP status and the verbs answered; a failing webhook exits 1.
    """
    if call_sid is not None and not (_SID_PATTERN.match(call_sid) and call_sid[:2] == "CA"):
        raise click.BadParameter("must be CA followed by 32 hex digits", param_hint="--call-sid")
    if digits is not None and not _DIGITS_PATTERN.match(digits):
        raise click.BadParameter("keys are 0-9, * and #", param_hint="--digits")
    credentials = webhook_credentials(var_dir)
    options = CallOptions(
        to=to,
        from_=from_,
        say=say,
        digits=digits,
        answer=answer,
        record_seconds=record_seconds,
        message=message,
        talk_seconds=talk_seconds,
        call_sid=call_sid,
    )
    result = asyncio.run(_play_call(url, credentials, options))
    if not result.ok:
        click.echo(f"error: {result.error}", err=True)
        raise click.exceptions.Exit(1)


async def _play_call(
    base_url: str, credentials: TwilioCredentials, options: CallOptions
) -> CallResult:
    """One call over an aiohttp session to base_url; printing each step as it happens."""
    import aiohttp  # here, so that every other `monshi` command starts without it

    base = base_url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def post(path: str, params: dict[str, str], signature: str) -> tuple[int, str]:
            headers = {**TWILIO_WEBHOOK_HEADERS, SIGNATURE_HEADER: signature}
            try:
                async with session.post(
                    base + path, data=params, headers=headers, allow_redirects=False
                ) as response:
                    return response.status, await response.text(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as error:
                reason = str(error) or f"no answer within {WEBHOOK_TIMEOUT_SECONDS:g} s"
                raise click.ClickException(f"cannot reach {base}{path}: {reason}") from error

        simulator = CallSimulator(
            post,
            auth_token=credentials.auth_token,
            public_url=signing_base(base_url, credentials),
            account_sid=credentials.account_sid,
            echo=click.echo,
        )
        return await simulator.run(options)


def _post_or_fail(
    url: str, path: str, params: Mapping[str, str], credentials: TwilioCredentials
) -> WebhookResponse:
    try:
        return post_twilio_webhook(url, path, params, credentials)
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise click.ClickException(f"cannot reach {url.rstrip('/')}{path}: {reason}") from error


def _report(response: WebhookResponse, sid: str) -> None:
    """Print the status and sid; on a non-2xx answer show the body and exit 1."""
    click.echo(f"HTTP {response.status} MessageSid {sid}")
    if response.ok:
        return
    if response.body.strip():
        click.echo(response.body.strip()[:2000], err=True)
    if response.status == 403:
        click.echo(
            f"(the signature was computed for {response.signed_url}; the instance checks it "
            "against its MONSHI_PUBLIC_URL and TWILIO_AUTH_TOKEN)",
            err=True,
        )
    raise click.exceptions.Exit(1)


@simulate.command("email")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    help="Deliver it as addressed to this (e.g. inbox+acme-dental@...): adds a Delivered-To "
    "header, and a To header when the message has none.",
)
@click.option("--replace-to", is_flag=True, help="Also replace the message's To header with --to.")
def simulate_email(path: Path, to: str | None, replace_to: bool) -> None:
    """APPEND the message in PATH (.eml) to the mailbox IMAP_URL names, over real IMAP.

    Prints the UID the server gave it. The connector (`monshi imap`) picks it up as it
    would any delivered mail.
    """
    from integrations.imap.append import address_message, append_message
    from triage.errors import SettingsError
    from triage.settings import ImapSettings

    try:
        settings = ImapSettings.from_env(os.environ)
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    if settings is None:
        raise click.ClickException(
            "no mailbox configured: set IMAP_URL (or IMAP_HOST, IMAP_USER and IMAP_PASSWORD)"
        )
    if replace_to and not to:
        raise click.BadParameter("needs --to", param_hint="--replace-to")
    raw = path.read_bytes()
    if to:
        try:
            raw = address_message(raw, to, replace_to=replace_to)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--to") from error
    try:
        appended = append_message(settings, raw)
    except (OSError, imaplib.IMAP4.error) as error:
        raise click.ClickException(
            f"cannot append to {settings.host}:{settings.port}/{settings.mailbox}: {error}"
        ) from error
    if appended is None:
        click.echo(f"appended to {settings.mailbox} (the server did not report the UID)")
    else:
        uidvalidity, uid = appended
        click.echo(f"appended to {settings.mailbox}: UID {uid} (UIDVALIDITY {uidvalidity})")
