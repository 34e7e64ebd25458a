"""Twilio's side of one voice call, played against Monshi's voice webhooks.

`CallSimulator` posts the incoming-call webhook, follows the TwiML each answer returns as
Twilio would (gather, a dial whose <Number url> whispers to the secretary, record,
redirect, hangup) and ends with the call's status callback. It is transport-independent:
requests go through an injected `PostWebhook`, real HTTP for `monshi simulate call`, an
in-process test client in tests. Every request is signed as Twilio signs it.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Final
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import phonenumbers
from twilio.request_validator import RequestValidator

# (path with query, form params, X-Twilio-Signature) -> (HTTP status, body)
PostWebhook = Callable[[str, dict[str, str], str], Awaitable[tuple[int, str]]]

VOICE_PATH: Final = "/twilio/voice"
STATUS_CALLBACK_PATH: Final = "/twilio/voice/status"
TWILIO_API_VERSION: Final = "2010-04-01"
TWILIO_API_BASE: Final = f"https://api.twilio.com/{TWILIO_API_VERSION}/Accounts"
# Used when no TWILIO_ACCOUNT_SID is set: a well-formed sid that is clearly not real.
PLACEHOLDER_ACCOUNT_SID: Final = "AC" + "0" * 32
# The headers Twilio sends with every webhook, besides the signature.
TWILIO_WEBHOOK_HEADERS: Final[Mapping[str, str]] = {
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "TwilioProxy/1.1",
    "Accept": "*/*",
}
SIGNATURE_HEADER: Final = "X-Twilio-Signature"

DEFAULT_RECORD_SECONDS: Final = 8
DEFAULT_TALK_SECONDS: Final = 42
DEFAULT_MESSAGE: Final = "Please call me back."
ANSWER_ANY: Final = "any"
ANSWER_NONE: Final = "none"
SPEECH_CONFIDENCE: Final = "0.92"
# A call that has not ended after this many requests is following a loop of TwiML.
MAX_REQUESTS: Final = 50

# Seconds the simulated clock advances, for a CallDuration that reads like a real call.
_PROMPT_SECONDS: Final = 3  # a <Say>, <Play> or the caller's answer to a <Gather>
_RING_BEFORE_ANSWER_SECONDS: Final = 6
_DEFAULT_DIAL_TIMEOUT: Final = 30  # Twilio's default <Dial timeout>
_DEFAULT_GATHER_TIMEOUT: Final = 5
_DEFAULT_MAX_LENGTH: Final = 3600  # Twilio's default <Record maxLength>

_PROMPT_VERBS: Final = frozenset({"Say", "Play", "Pause"})


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two letters and 32 hex digits (e.g. "CA" for a call)."""
    return prefix + uuid.uuid4().hex


def sign_webhook(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends for a form POST of `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def number_location(number: str, side: str) -> dict[str, str]:
    """Twilio's FromCountry/FromState/FromCity/FromZip (or To..., Caller..., Called...).

    Twilio fills in city, state and zip only for some North American numbers; a simulation
    cannot know them, so they stay empty, as Twilio sends them for most of the world.
    """
    country = ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None:
        # Fictional numbers (555-01xx) have no region; their country code still names one.
        country = phonenumbers.region_code_for_number(parsed) or (
            phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        )
        country = "" if country == phonenumbers.UNKNOWN_REGION else country
    return {f"{side}Country": country, f"{side}State": "", f"{side}City": "", f"{side}Zip": ""}


# --- The parameter sets Twilio posts, all in one place --------------------------------


def call_params(
    *,
    call_sid: str,
    account_sid: str,
    from_: str,
    to: str,
    status: str,
    direction: str = "inbound",
    parent_call_sid: str | None = None,
) -> dict[str, str]:
    """The parameters of every voice request about one call leg."""
    params = {
        "CallSid": call_sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Caller": from_,
        "Called": to,
        "CallStatus": status,
        "Direction": direction,
        "ApiVersion": TWILIO_API_VERSION,
        **number_location(from_, "From"),
        **number_location(to, "To"),
        **number_location(from_, "Caller"),
        **number_location(to, "Called"),
    }
    if parent_call_sid is not None:
        params["ParentCallSid"] = parent_call_sid
    return params


def gather_digits_params(digits: str) -> dict[str, str]:
    """Added to a <Gather action> request when keys were pressed."""
    return {"Digits": digits}


def gather_speech_params(speech: str) -> dict[str, str]:
    """Added to a <Gather action> request when words were recognised."""
    return {"SpeechResult": speech, "Confidence": SPEECH_CONFIDENCE}


def dial_action_params(status: str, dial_call_sid: str, duration: int) -> dict[str, str]:
    """Added to a <Dial action> request: how the dialled leg ended."""
    params = {"DialCallStatus": status, "DialCallSid": dial_call_sid}
    if status == "completed":
        params["DialCallDuration"] = str(duration)
    return params


def recording_url(account_sid: str, recording_sid: str) -> str:
    return f"{TWILIO_API_BASE}/{account_sid}/Recordings/{recording_sid}"


def record_action_params(account_sid: str, recording_sid: str, duration: int) -> dict[str, str]:
    """Added to a <Record action> request; the caller ended the recording by hanging up."""
    return {
        "RecordingUrl": recording_url(account_sid, recording_sid),
        "RecordingDuration": str(duration),
        "RecordingSid": recording_sid,
        "Digits": "hangup",
    }


def recording_status_params(
    *, call_sid: str, account_sid: str, recording_sid: str, duration: int, started: datetime
) -> dict[str, str]:
    """The whole recordingStatusCallback request (it carries no call parameters)."""
    return {
        "AccountSid": account_sid,
        "CallSid": call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": recording_url(account_sid, recording_sid),
        "RecordingStatus": "completed",
        "RecordingDuration": str(duration),
        "RecordingChannels": "1",
        "RecordingStartTime": format_datetime(started),
        "RecordingSource": "RecordVerb",
        "RecordingTrack": "both",
    }


def transcription_params(
    *, account_sid: str, recording_sid: str, transcription_sid: str, text: str
) -> dict[str, str]:
    """Added to the call parameters in a transcribeCallback request."""
    return {
        "TranscriptionSid": transcription_sid,
        "TranscriptionText": text,
        "TranscriptionStatus": "completed",
        "TranscriptionUrl": f"{TWILIO_API_BASE}/{account_sid}/Transcriptions/{transcription_sid}",
        "TranscriptType": "fast",
        "RecordingSid": recording_sid,
        "RecordingUrl": recording_url(account_sid, recording_sid),
    }


def status_callback_params(duration: int, timestamp: datetime) -> dict[str, str]:
    """Added to the call parameters in the number's final status callback."""
    return {
        "CallStatus": "completed",
        "CallDuration": str(duration),
        "Timestamp": format_datetime(timestamp),
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "0",
    }


# --- What a simulation takes and gives back -------------------------------------------


@dataclass(frozen=True, slots=True)
class CallOptions:
    """One call: who calls whom, and how the caller and the secretaries behave."""

    to: str
    from_: str
    say: str | None = None  # what the caller says at the first <Gather> taking speech
    digits: str | None = None  # what the caller presses at the first <Gather> taking dtmf
    answer: str = ANSWER_ANY  # who picks up a dial: "any", "none", or a secretary id or phone
    record_seconds: int = DEFAULT_RECORD_SECONDS
    message: str = DEFAULT_MESSAGE  # the voicemail's transcript
    talk_seconds: int = DEFAULT_TALK_SECONDS
    call_sid: str | None = None  # default: a new random CallSid


@dataclass(frozen=True, slots=True)
class Step:
    """One request Twilio made and what it was answered."""

    path: str  # with its query
    params: dict[str, str]
    status: int
    verbs: tuple[str, ...]  # the top-level TwiML verbs of the answer; () if none
    body: str = ""
    leg: str = "caller"  # "caller", or "secretary" for a dialled leg's whisper


@dataclass(slots=True)
class CallResult:
    call_sid: str
    status: str = "in-progress"  # "completed", or "failed" when a webhook failed
    duration: int = 0
    steps: list[Step] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)  # secretary ids (else phone numbers)
    answered_by: str | None = None
    forwarded_to: str | None = None
    recording_sid: str | None = None
    transcription_sid: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def voicemail(self) -> bool:
        return self.recording_sid is not None


class _WebhookFailed(Exception):
    """Ends the simulation: Twilio would have played its "application error"."""


class _Unplayable(Exception):
    """TwiML the simulation cannot play; becomes a _WebhookFailed naming the document."""


# A request to make next: the absolute URL and the form.
_Request = tuple[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class _Dialled:
    phone: str
    whisper_url: str | None  # absolute
    secretary: str | None

    @property
    def name(self) -> str:
        return self.secretary or self.phone


class CallSimulator:
    """Plays Twilio's side of calls against one instance.

    `public_url` is the URL the instance believes it is reached at (its MONSHI_PUBLIC_URL):
    relative TwiML URLs resolve against it and every request is signed for it. `post`
    receives the path and query only, so it can send them anywhere.
    """

    def __init__(
        self,
        post: PostWebhook,
        *,
        auth_token: str,
        public_url: str,
        account_sid: str = PLACEHOLDER_ACCOUNT_SID,
        echo: Callable[[str], None] | None = None,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        self._post = post
        self._auth_token = auth_token
        self._public_url = public_url.rstrip("/")
        self._account_sid = account_sid
        self._echo = echo
        self._max_requests = max_requests

    async def run(self, options: CallOptions) -> CallResult:
        """Play one whole call; a webhook failure ends it with `result.error` set."""
        call = _Call(self, options)
        try:
            await call.play()
        except _WebhookFailed as failure:
            call.result.status = "failed"
            call.result.error = str(failure)
        return call.result


class _Call:
    """The state of one simulated call, and how each verb is played."""

    def __init__(self, simulator: CallSimulator, options: CallOptions) -> None:
        self.post = simulator._post
        self.auth_token = simulator._auth_token
        self.public_url = simulator._public_url
        self.account_sid = simulator._account_sid
        self.echo = simulator._echo
        self.max_requests = simulator._max_requests
        self.options = options
        self.result = CallResult(call_sid=options.call_sid or new_sid("CA"))
        self.caller_input_used = False
        self.requests = 0

    # -- bookkeeping

    def note(self, line: str) -> None:
        self.result.lines.append(line)
        if self.echo is not None:
            self.echo(line)

    def parent_params(self, status: str = "in-progress") -> dict[str, str]:
        return call_params(
            call_sid=self.result.call_sid,
            account_sid=self.account_sid,
            from_=self.options.from_,
            to=self.options.to,
            status=status,
        )

    def resolve(self, document_url: str, reference: str) -> str:
        """A TwiML URL made absolute, as Twilio resolves it against the document's URL."""
        return urljoin(document_url, reference.strip())

    def tick(self, seconds: int) -> None:
        self.result.duration += max(0, seconds)

    async def fetch(self, url: str, params: dict[str, str], leg: str = "caller") -> ET.Element:
        """POST a webhook whose answer Twilio plays: it must be 2xx and a TwiML <Response>."""
        body, root = await self.send(url, params, leg)
        if root is None:
            path = self.result.steps[-1].path
            raise _WebhookFailed(f"{path} did not answer TwiML: {_excerpt(body)!r}")
        return root

    async def notify(self, url: str, params: dict[str, str]) -> None:
        """POST a status callback: it must be 2xx; Twilio ignores what it says."""
        await self.send(url, params, "caller")

    async def send(
        self, url: str, params: dict[str, str], leg: str
    ) -> tuple[str, ET.Element | None]:
        """POST one signed webhook to the absolute `url` and record the step."""
        self.requests += 1
        if self.requests > self.max_requests:
            raise _WebhookFailed(
                f"the call has not ended after {self.max_requests} requests (does the TwiML loop?)"
            )
        path = _path_and_query(url)
        signature = sign_webhook(self.auth_token, url, params)
        status, body = await self.post(path, params, signature)
        root = _parse_twiml(body)
        verbs = tuple(child.tag for child in root) if root is not None else ()
        self.result.steps.append(Step(path, params, status, verbs, body, leg))
        answered = ", ".join(verbs) if verbs else ("(empty)" if root is not None else "")
        self.note(
            f"POST {path} -> {status}"
            + (f": {answered}" if answered else "")
            + ("  [secretary leg]" if leg != "caller" else "")
        )
        if not 200 <= status < 300:
            raise _WebhookFailed(
                f"{path} answered HTTP {status}"
                + (f": {_excerpt(body)}" if body.strip() else "")
                + (f" (the signature was computed for {url})" if status == 403 else "")
            )
        return body, root

    # -- the caller's leg

    async def play(self) -> None:
        first = f"{self.public_url}{VOICE_PATH}"
        self.note(f"call {self.result.call_sid} from {self.options.from_} to {self.options.to}")
        following: _Request | None = (first, self.parent_params("ringing"))
        while following is not None:
            url, params = following
            root = await self.fetch(url, params)
            with _naming_the_document(url):
                following = await self.play_document(url, root)
        timestamp = datetime.now(UTC)
        status_url = f"{self.public_url}{STATUS_CALLBACK_PATH}"
        status = {**self.parent_params(), **status_callback_params(self.result.duration, timestamp)}
        await self.notify(status_url, status)
        self.result.status = "completed"
        self.note(f"call ended after {self.result.duration} s: {self.outcome()}")

    def outcome(self) -> str:
        result = self.result
        if result.answered_by:
            return f"answered by {result.answered_by}"
        if result.forwarded_to:
            return f"forwarded to {result.forwarded_to}"
        if result.voicemail:
            return "voicemail recorded"
        return "nobody answered, no voicemail"

    async def play_document(self, url: str, root: ET.Element) -> _Request | None:
        """Play the verbs of one document; the request to make next, or None at the end."""
        for verb in root:
            tag = verb.tag
            if tag in _PROMPT_VERBS:
                self.prompt(verb)
            elif tag == "Gather":
                following = self.gather(url, verb)
                if following is not None:
                    return following
            elif tag == "Dial":
                action_params = await self.dial(url, verb)
                action = verb.get("action")
                if action:
                    return self.resolve(url, action), {**self.parent_params(), **action_params}
            elif tag == "Record":
                await self.record(url, verb)
                return None  # the caller hung up to end the message
            elif tag == "Redirect":
                return self.resolve(url, verb.text or url), self.parent_params()
            elif tag in ("Hangup", "Reject"):
                self.note("  hang up" if tag == "Hangup" else f"  reject ({verb.get('reason')})")
                return None
            else:
                raise _Unplayable(f"<{tag}> is a verb this simulation cannot play")
        return None

    def prompt(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            language = f" ({verb.get('language')})" if verb.get("language") else ""
            self.note(f"  says{language}: {(verb.text or '').strip()}")
        elif verb.tag == "Play":
            self.note(f"  plays {(verb.text or '').strip()}")
        self.tick(_PROMPT_SECONDS)

    def gather(self, url: str, gather: ET.Element) -> _Request | None:
        """The caller's answer to a <Gather>: the action to post, or None to fall through."""
        for nested in gather:
            if nested.tag in _PROMPT_VERBS:
                self.prompt(nested)
        accepted = set((gather.get("input") or "dtmf").split())
        answer: dict[str, str] = {}
        if not self.caller_input_used:
            digits, speech = self.options.digits, self.options.say
            if digits and "dtmf" in accepted:
                answer = gather_digits_params(_keys_gathered(digits, gather))
                self.note(f"  caller presses {answer['Digits']}")
            elif speech and "speech" in accepted:
                answer = gather_speech_params(speech)
                language = f" ({gather.get('language')})" if gather.get("language") else ""
                self.note(f"  caller says{language}: {speech}")
        if answer:
            self.caller_input_used = True
            self.tick(_PROMPT_SECONDS)
        else:
            self.note("  caller says nothing")
            self.tick(_int_attribute(gather, "timeout", _DEFAULT_GATHER_TIMEOUT))
            if gather.get("actionOnEmptyResult") != "true":
                return None  # Twilio goes on with the next verb
        action = self.resolve(url, gather.get("action") or url)
        return action, {**self.parent_params(), **answer}

    async def dial(self, url: str, dial: ET.Element) -> dict[str, str]:
        """Ring what the <Dial> names; the parameters its action request adds."""
        number_text = (dial.text or "").strip()
        nouns = list(dial)
        if not nouns and number_text:
            self.result.forwarded_to = number_text
            self.note(f"  forwarded to {number_text}")
            self.tick(_RING_BEFORE_ANSWER_SECONDS + self.options.talk_seconds)
            return dial_action_params("completed", new_sid("CA"), self.options.talk_seconds)
        for noun in nouns:
            if noun.tag != "Number":
                raise _Unplayable(f"<Dial><{noun.tag}> is not something this simulation dials")
        if not nouns:
            raise _Unplayable("<Dial> names nothing to dial")
        targets = [self.dialled(url, number) for number in nouns]
        timeout = _int_attribute(dial, "timeout", _DEFAULT_DIAL_TIMEOUT)
        caller_id = dial.get("callerId") or self.options.from_
        for target in targets:
            self.result.dialled.append(target.name)
            self.note(f"  ringing {target.name} ({target.phone}) for up to {timeout} s")
        # Twilio rings every <Number> of one <Dial> at once; the first to pick up wins.
        answering = next((target for target in targets if self.picks_up(target)), None)
        child_sid = new_sid("CA")
        if answering is None:
            self.note("  no answer")
            self.tick(timeout)
            return dial_action_params("no-answer", child_sid, 0)
        self.tick(_RING_BEFORE_ANSWER_SECONDS)
        connected = True
        if answering.whisper_url is not None:
            child = call_params(
                call_sid=child_sid,
                account_sid=self.account_sid,
                from_=caller_id,
                to=answering.phone,
                status="in-progress",
                direction="outbound-dial",
                parent_call_sid=self.result.call_sid,
            )
            connected = await self.whisper(answering, child)
        if not connected:
            self.note(f"  {answering.name} hung up before the call was connected")
            return dial_action_params("no-answer", child_sid, 0)
        self.result.answered_by = answering.name
        self.note(f"  connected to {answering.name}, talking {self.options.talk_seconds} s")
        self.tick(self.options.talk_seconds)
        return dial_action_params("completed", child_sid, self.options.talk_seconds)

    def dialled(self, url: str, number: ET.Element) -> _Dialled:
        whisper = number.get("url")
        absolute = self.resolve(url, whisper) if whisper else None
        secretaries = parse_qs(urlsplit(absolute).query).get("secretary") if absolute else None
        return _Dialled(
            phone=(number.text or "").strip(),
            whisper_url=absolute,
            secretary=secretaries[0] if secretaries else None,
        )

    def picks_up(self, target: _Dialled) -> bool:
        answer = self.options.answer
        if answer == ANSWER_ANY:
            return True
        if answer == ANSWER_NONE:
            return False
        return answer in (target.secretary, target.phone)

    # -- the secretary's leg

    async def whisper(self, target: _Dialled, child: dict[str, str]) -> bool:
        """Play the <Number url> TwiML to the secretary; True if the call gets connected."""
        assert target.whisper_url is not None
        following: _Request | bool = (target.whisper_url, child)
        while not isinstance(following, bool):
            url, params = following
            root = await self.fetch(url, params, leg="secretary")
            with _naming_the_document(url):
                following = self.play_whisper(url, root, target, child)
        return following

    def play_whisper(
        self, url: str, root: ET.Element, target: _Dialled, child: dict[str, str]
    ) -> _Request | bool:
        """The secretary presses 1 at any <Gather>; a hang-up declines the call."""
        for verb in root:
            if verb.tag in _PROMPT_VERBS:
                self.prompt(verb)
            elif verb.tag == "Gather":
                for nested in verb:
                    if nested.tag in _PROMPT_VERBS:
                        self.prompt(nested)
                self.note(f"  {target.name} presses 1")
                action = self.resolve(url, verb.get("action") or url)
                return action, {**child, **gather_digits_params("1")}
            elif verb.tag == "Redirect":
                return self.resolve(url, verb.text or url), child
            elif verb.tag in ("Hangup", "Reject"):
                return False
            else:
                raise _Unplayable(f"<{verb.tag}> has no place in a whisper")
        return True  # the whisper's TwiML ran out: Twilio bridges the two legs

    # -- voicemail

    async def record(self, url: str, record: ET.Element) -> None:
        """The caller leaves a message and hangs up; then Twilio's callbacks about it."""
        account = self.account_sid
        max_length = _int_attribute(record, "maxLength", _DEFAULT_MAX_LENGTH)
        duration = min(self.options.record_seconds, max_length)
        recording_sid = new_sid("RE")
        started = datetime.now(UTC)
        self.result.recording_sid = recording_sid
        self.note(f"  caller leaves a message ({duration} s) and hangs up")
        self.tick(duration)
        action = self.resolve(url, record.get("action") or url)
        params = {
            **self.parent_params("completed"),
            **record_action_params(account, recording_sid, duration),
        }
        # The caller has hung up: Twilio still requests the action but plays nothing of it.
        await self.fetch(action, params)
        callback = record.get("recordingStatusCallback")
        if callback:
            status = recording_status_params(
                call_sid=self.result.call_sid,
                account_sid=account,
                recording_sid=recording_sid,
                duration=duration,
                started=started,
            )
            await self.notify(self.resolve(url, callback), status)
        transcribe = record.get("transcribeCallback")
        if transcribe:
            transcription_sid = new_sid("TR")
            self.result.transcription_sid = transcription_sid
            fields = transcription_params(
                account_sid=account,
                recording_sid=recording_sid,
                transcription_sid=transcription_sid,
                text=self.options.message,
            )
            await self.notify(
                self.resolve(url, transcribe), {**self.parent_params("completed"), **fields}
            )


@contextmanager
def _naming_the_document(url: str) -> Iterator[None]:
    """Turn TwiML the simulation cannot play into a failure naming the document's path."""
    try:
        yield
    except _Unplayable as problem:
        raise _WebhookFailed(f"{_path_and_query(url)}: {problem}") from None


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


def _parse_twiml(body: str) -> ET.Element | None:
    """The <Response> element of a TwiML body, or None if the body is not TwiML."""
    try:
        root = ET.fromstring(body.strip())
    except ET.ParseError:
        return None
    return root if root.tag == "Response" else None


def _excerpt(body: str) -> str:
    return " ".join(body.split())[:300]


def _int_attribute(element: ET.Element, name: str, default: int) -> int:
    value = element.get(name)
    try:
        return int(value) if value is not None else default
    except ValueError as error:
        raise _Unplayable(f"<{element.tag} {name}={value!r}> is not a whole number") from error


def _keys_gathered(digits: str, gather: ET.Element) -> str:
    """What Twilio hands over of `digits`: up to finishOnKey, at most numDigits keys."""
    finish = gather.get("finishOnKey", "#")
    if finish and finish in digits:
        digits = digits[: digits.index(finish)]
    limit = gather.get("numDigits")
    if limit is not None and limit.isdigit():
        digits = digits[: int(limit)]
    return digits
