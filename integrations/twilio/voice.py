"""Twilio voice webhooks: answer in the client's name, hunt, whisper, voicemail, after hours.

Every step reads and writes Redis only (call state, reservations, the call-event stream)
and answers within milliseconds; the database learns about the call from the event
stream, which the worker processes drain (workers/call_persister.py). Every step is
idempotent: its answer is kept under the CallSid and the step, and a retried webhook
gets the same TwiML back without a second reservation or event. If Redis is down or
slow, /twilio/voice still answers valid TwiML (the client's fallback number, or
voicemail) and spools the call to local disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import redis
from aiohttp import web
from multidict import MultiDictProxy

from integrations.twilio import twiml
from integrations.twilio.signature import signed
from triage.classify.keywords import match_category
from triage.directory import AfterHours, Directory, TenantProfile
from triage.redact import redact_phone
from triage.store.calls import CallEvent, CallState, CallStore, Commit
from triage.store.presence import ReservationPlan, reservation_plan
from triage.voice import (
    CallContext,
    HuntState,
    Routing,
    after_hours_policy,
    caller_context,
    hunt_tiers,
    may_try_another,
    prompt,
    whisper_text,
)
from triage.web.state import CALLS, CLOCK, DIRECTORY, MODELS, PRESENCE, SPOOL

log = logging.getLogger(__name__)

# Stands for the CallSid in TwiML rendered once and reused for every call.
CALL_PLACEHOLDER = "CAxCALLxSIDxPLACEHOLDER"
# Beyond this the caller would hear silence: answer from memory instead.
STORE_TIMEOUT_SECONDS = 0.5
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

Form = MultiDictProxy[str | Any]


def _xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


def _step_keys(request: web.Request, call_sid: str, step: str) -> list[str]:
    keys = [f"{call_sid}:{step}"]
    token = request.headers.get(IDEMPOTENCY_HEADER)
    if token:
        keys.append(f"token:{token}")
    return keys


def _base(state: CallState) -> dict[str, Any]:
    return {
        "tenant": state.tenant,
        "from": state.caller,
        "to": state.called,
        "priority": state.priority,
        "language": state.language,
    }


def _event(state: CallState, kind: str, key: str = "", **data: Any) -> CallEvent:
    return CallEvent(
        kind=kind, call_sid=state.call_sid, data={"base": _base(state), "key": key, **data}
    )


class CallFlow:
    """The decisions of one request, with the app's collaborators at hand."""

    def __init__(self, request: web.Request) -> None:
        self.app = request.app
        self.cache = request.app[DIRECTORY]
        self.calls: CallStore = request.app[CALLS]
        self.presence = request.app[PRESENCE]
        self.now: Callable[[], datetime] = request.app[CLOCK]

    @property
    def directory(self) -> Any:
        return self.cache.directory

    def reserve_request(
        self, tenant: TenantProfile, state: CallState
    ) -> tuple[list[str], list[str | int]] | None:
        """The atomic reservation to run for the next ring of this call (None: voicemail)."""
        hunt = HuntState(state.attempts, state.ring_used, state.tried)
        if not may_try_another(tenant, hunt):
            return None

        def work_out(directory: Directory, held_counts: Mapping[str, int]) -> Any:
            routing = Routing(state.language, state.skill or None, state.reason or None)
            tiers = hunt_tiers(
                tenant,
                directory,
                routing,
                held_counts,
                after_hours=state.after_hours,
                exclude=state.tried,
            )
            return reservation_plan(tiers)

        # Who may be rung depends on these alone, not on the call: worked out once.
        key = (tenant.id, state.language, state.skill, state.after_hours, state.tried)
        plan: ReservationPlan | None = self.cache.planned(key, work_out)
        if plan is None:
            return None
        return self.presence.planned_request(plan, state.call_sid, tenant.voice.ring_seconds)

    async def hunt(
        self, tenant: TenantProfile, state: CallState, *, greet: str | None = None
    ) -> tuple[str, CallState, list[CallEvent]]:
        """Reserve the next eligible secretary and dial her, or take a voicemail."""
        secretary_id = await self.calls.reserve(self.reserve_request(tenant, state))
        return self.ring(tenant, state, secretary_id, greet=greet)

    def ring(
        self,
        tenant: TenantProfile,
        state: CallState,
        secretary_id: str | None,
        *,
        greet: str | None = None,
    ) -> tuple[str, CallState, list[CallEvent]]:
        """Dial the reserved secretary (her whisper first), or voicemail when nobody was."""
        if secretary_id is None:
            return self.voicemail(tenant, state, greet=greet)
        attempt = state.attempts + 1
        state = state.evolve(attempts=attempt, current=secretary_id)
        secretary = self.directory.secretaries[secretary_id]
        template = self.cache.render(
            ("dial", tenant.id, secretary_id, state.called, attempt, greet),
            lambda: twiml.dial_secretary(
                tenant,
                secretary,
                CALL_PLACEHOLDER,
                caller_id=state.called,
                attempt=attempt,
                greeting_language=greet,
            ),
        )
        body = template.replace(CALL_PLACEHOLDER, state.call_sid)
        event = _event(state, "ringing", str(attempt), secretary=secretary_id, attempt=attempt)
        return body, state, [event]

    def voicemail(
        self,
        tenant: TenantProfile | None,
        state: CallState,
        *,
        greet: str | None = None,
        key: str = "voicemail",
    ) -> tuple[str, CallState, list[CallEvent]]:
        state = state.evolve(voicemail=True, current="")
        body = self.cache.render(
            ("voicemail", tenant.id if tenant else None, state.language, key, greet),
            lambda: twiml.voicemail(tenant, state.language, key, greeting_language=greet),
        )
        return body, state, [_event(state, "voicemail_offered", reason=key)]


# -- the incoming call ---------------------------------------------------------------------


async def incoming_call(request: web.Request) -> web.Response:
    """POST /twilio/voice: greet in the client's name, then IVR, hunt, or after-hours policy."""
    form = await request.post()
    call_sid, caller, called = (
        str(form.get("CallSid", "")),
        str(form.get("From", "")),
        str(form.get("To", "")),
    )
    if not call_sid:
        raise web.HTTPBadRequest(text="CallSid is required")
    flow = CallFlow(request)
    tenant = flow.directory.tenant_for_number(called)
    # The store's round trips (one, or two: see _answer) carry this deadline, which is
    # cheaper than asyncio.timeout.
    deadline = asyncio.get_running_loop().time() + STORE_TIMEOUT_SECONDS
    try:
        return _xml(await _answer(request, flow, tenant, form, call_sid, caller, called, deadline))
    except (TimeoutError, redis.RedisError) as error:
        log.warning("call %s answered from memory, the store failed: %r", call_sid, error)
        return _xml(_answer_from_memory(request, tenant, form, call_sid, caller, called))


async def _answer(
    request: web.Request,
    flow: CallFlow,
    tenant: TenantProfile | None,
    form: Form,
    call_sid: str,
    caller: str,
    called: str,
    deadline: float,
) -> str:
    """The answer to an incoming call, committed with the call's state and events.

    One round trip when the answer could be worked out before Redis replied: a caller
    who is not calling again within 30 minutes, and who is not put through to a
    secretary (nobody free, after hours, the IVR menu). Calls arrive fastest when they
    outnumber free secretaries, and then nearly all of them are such calls. Otherwise a
    second round trip commits what the first one's reply decides.
    """
    keys = _step_keys(request, call_sid, "voice")
    now = flow.now()
    if tenant is None:
        state = _new_state(None, CallContext(), call_sid, caller, called, now)
        body, state, events = flow.voicemail(None, state, key="unknown_number")
        commit = Commit(state, [_started(state, form), *events], body)
        start = await flow.calls.begin_call(
            keys, "", caller, call_sid, deadline=deadline, foreseen=commit
        )
        if start.cached is not None:
            return start.cached
        log.info("call %s to %s: no client owns the number", call_sid, called)
        if not start.committed:  # the same caller again: no repeat is told for no client
            await flow.calls.commit(commit.state, commit.events, keys, body, deadline)
        return body
    open_now = tenant.hours.is_open(now)
    policy = None if open_now else after_hours_policy(tenant)
    hunting = (open_now and tenant.ivr is None) or policy is AfterHours.ON_CALL
    # Who may be rung does not depend on the caller (VIP, repeat): the reservation rides
    # in the same round trip as the retry check and the repeat mark.
    known = caller_context(tenant, caller, None, call_sid)
    state = _new_state(tenant, known, call_sid, caller, called, now, not open_now)
    reserve = flow.reserve_request(tenant, state) if hunting else None
    foreseen = _outcome(flow, tenant, form, state, policy, hunting, None)
    start = await flow.calls.begin_call(
        keys, tenant.id, caller, call_sid, reserve, deadline, foreseen
    )
    if start.cached is not None:
        return start.cached
    if start.committed:
        body = foreseen.response
    else:
        context = caller_context(tenant, caller, start.previous, call_sid)
        if context != known:
            state = _new_state(tenant, context, call_sid, caller, called, now, not open_now)
        decided = _outcome(flow, tenant, form, state, policy, hunting, start.reserved)
        await flow.calls.commit(decided.state, decided.events, keys, decided.response, deadline)
        body = decided.response
    # The call is on record in the event stream; a line per call at INFO cost a tenth
    # of the CPU of answering it.
    if log.isEnabledFor(logging.DEBUG):
        log.debug("call %s from %s for %s answered", call_sid, redact_phone(caller), tenant.id)
    return body


def _outcome(
    flow: CallFlow,
    tenant: TenantProfile,
    form: Form,
    state: CallState,
    policy: AfterHours | None,
    hunting: bool,
    reserved: str | None,
) -> Commit:
    """The call's first answer, state and events, once the reservation is known."""
    events = [_started(state, form)]
    if policy is AfterHours.FORWARD:
        number, called = tenant.fallback_number, state.called
        assert number
        body = flow.cache.render(
            ("forward", tenant.id, called),
            lambda: twiml.forward(tenant, number, called, tenant.language),
        )
        events.append(_event(state, "forwarded", number=number))
    elif policy is AfterHours.VOICEMAIL:
        body, state, more = flow.voicemail(tenant, state, greet=tenant.language, key="after_hours")
        events += more
    elif hunting:
        body, state, more = flow.ring(tenant, state, reserved, greet=tenant.language)
        events += more
    else:
        body = flow.cache.render(("ivr", tenant.id), lambda: twiml.ivr_menu(tenant))
    return Commit(state, events, body)


def _new_state(
    tenant: TenantProfile | None,
    context: CallContext,
    call_sid: str,
    caller: str,
    called: str,
    now: datetime,
    after_hours: bool = False,
) -> CallState:
    return CallState(
        call_sid=call_sid,
        tenant=tenant.id if tenant else "",
        caller=caller,
        called=called,
        language=tenant.language if tenant else "en",
        priority=context.priority.value,
        started=now.timestamp(),
        tags=tuple(context.tags),
        after_hours=after_hours,
    )


def _started(state: CallState, form: Form) -> CallEvent:
    params = {key: str(value) for key, value in form.items()}
    return _event(
        state, "call_started", tags=list(state.tags), after_hours=state.after_hours, params=params
    )


def _answer_from_memory(
    request: web.Request,
    tenant: TenantProfile | None,
    form: Form,
    call_sid: str,
    caller: str,
    called: str,
) -> str:
    """Redis is down or slow: the fallback number or a voicemail, and the call spooled."""
    state = _new_state(tenant, CallContext(), call_sid, caller, called, request.app[CLOCK]())
    if tenant is not None and tenant.fallback_number:
        body = twiml.forward(tenant, tenant.fallback_number, called, tenant.language)
        outcome = _event(state, "forwarded", number=tenant.fallback_number)
    else:
        body = twiml.voicemail(
            tenant, state.language, greeting_language=tenant.language if tenant else None
        )
        state = state.evolve(voicemail=True)
        outcome = _event(state, "voicemail_offered", reason="store unavailable")
    events = [
        _started(state, form),
        _event(state, "answered_by_fallback", reason="store unavailable"),
        outcome,
    ]
    _spool(request, state, events)
    return body


def _spool(request: web.Request, state: CallState, events: list[CallEvent]) -> None:
    at = request.app[CLOCK]().timestamp()
    request.app[SPOOL].put([CallEvent(e.kind, e.call_sid, e.data, at) for e in events])


async def fallback(request: web.Request) -> web.Response:
    """POST /twilio/voice/fallback (the numbers' Fallback URL): voicemail, no Redis, no SQL."""
    form = await request.post()
    call_sid, caller, called = (
        str(form.get("CallSid", "")),
        str(form.get("From", "")),
        str(form.get("To", "")),
    )
    tenant = request.app[DIRECTORY].directory.tenant_for_number(called)
    state = _new_state(
        tenant, CallContext(), call_sid, caller, called, request.app[CLOCK]()
    ).evolve(voicemail=True)
    body = twiml.voicemail(
        tenant, state.language, greeting_language=tenant.language if tenant else None
    )
    if call_sid:
        _spool(
            request,
            state,
            [
                _started(state, form),
                _event(
                    state, "answered_by_fallback", reason=str(form.get("ErrorCode", "fallback url"))
                ),
                _event(state, "voicemail_offered", reason="fallback url"),
            ],
        )
    return _xml(body)


# -- the steps after it ---------------------------------------------------------------------


Step = Callable[
    [web.Request, CallFlow, Form, CallState, TenantProfile | None],
    Awaitable[tuple[str, CallState | None, list[CallEvent]]],
]


def call_step(
    step_name: Callable[[web.Request, Form], str], *, call_param: str = "CallSid"
) -> Callable[[Step], Callable[[web.Request], Awaitable[web.Response]]]:
    """Wrap a step: load the call, answer a retry from the cache, commit state+events+answer.

    When the call state is gone (Redis lost it, or the step outlived the call), the step
    takes a voicemail rather than failing: Twilio never gets an error from us.
    """

    def decorate(step: Step) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            form = await request.post()
            call_sid = str(request.query.get("call") or form.get(call_param, ""))
            flow = CallFlow(request)
            keys = _step_keys(request, str(form.get("CallSid", call_sid)), step_name(request, form))
            try:
                async with asyncio.timeout(STORE_TIMEOUT_SECONDS * 2):
                    cached = await flow.calls.cached_response(keys)
                    if cached is not None:
                        return _xml(cached)
                    state = await flow.calls.load(call_sid)
                    if state is None:
                        log.info(
                            "call %s: no state for %s; taking a message", call_sid, request.path
                        )
                        return _xml(twiml.voicemail(None, "en"))
                    tenant = flow.directory.tenants.get(state.tenant)
                    body, new_state, events = await step(request, flow, form, state, tenant)
                    await flow.calls.commit(new_state, events, keys, body)
                    return _xml(body)
            except (TimeoutError, redis.RedisError) as error:
                log.warning(
                    "call %s step %s failed on the store: %r", call_sid, request.path, error
                )
                return _xml(twiml.voicemail(None, "en"))

        return handler

    return decorate


async def _skill_from_speech(request: web.Request, speech: str) -> tuple[str, str]:
    """The skill a caller's words ask for: the category model when this process has one
    and it is sure, else the keyword rules. ("", "") when neither can tell."""
    models = request.app[MODELS]
    model = models.loaded if models is not None else None
    if model is not None:
        (prediction,) = await asyncio.to_thread(model.predict, [speech])
        category = prediction.category.value
        if not prediction.needs_review and category != "spam":
            words = ", ".join(name for name, _ in prediction.top_features[:2])
            return (
                category,
                f"said {words or speech[:30]!r} ({category} {prediction.confidence:.2f})",
            )
    match = match_category(speech)
    if match is not None:
        return match.category, f'said "{match.keyword}"'
    return "", ""


@call_step(lambda request, form: "gather")
async def gathered(
    request: web.Request, flow: CallFlow, form: Form, state: CallState, tenant: TenantProfile | None
) -> tuple[str, CallState | None, list[CallEvent]]:
    """POST /twilio/voice/gather: a digit or words choose the skill (and maybe the language)."""
    if tenant is None or tenant.ivr is None:
        return flow.voicemail(tenant, state)
    digits = str(form.get("Digits", "")).strip()
    speech = str(form.get("SpeechResult", "")).strip()
    skill, language, reason = "", state.language, ""
    if digits and digits[:1] in tenant.ivr.options:
        option = tenant.ivr.options[digits[:1]]
        skill, language, reason = (
            option.skill or "",
            option.language or language,
            f"digit {digits[:1]}",
        )
    elif speech:
        skill, reason = await _skill_from_speech(request, speech)
    state = state.evolve(skill=skill, language=language, reason=reason)
    ivr_event = _event(
        state,
        "ivr",
        digits=digits,
        speech=speech,
        skill=skill or None,
        language=language,
        reason=reason or "no choice",
    )
    body, state, events = await flow.hunt(tenant, state)
    return body, state, [ivr_event, *events]


async def whisper(request: web.Request) -> web.Response:
    """POST /twilio/voice/whisper: the secretary's leg hears who the call is for; 1 accepts."""
    form = await request.post()
    parent, secretary_id = request.query.get("call", ""), request.query.get("secretary", "")
    attempt = int(request.query.get("attempt", "0") or 0)
    flow = CallFlow(request)
    secretary = flow.directory.secretaries.get(secretary_id)
    language = secretary.languages[0] if secretary and secretary.languages else "en"
    try:
        async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
            state = await flow.calls.load(parent)
    except (TimeoutError, redis.RedisError):
        state = None
    tenant = flow.directory.tenants.get(state.tenant) if state else None
    context = (
        CallContext(vip="vip" in state.tags, repeat="repeat" in state.tags)
        if state
        else CallContext()
    )
    text = whisper_text(
        language, tenant.name if tenant else "a client", context, state.skill if state else None
    )
    code = "fa-IR" if language == "fa" else "en-US"
    del form
    return _xml(twiml.whisper(text, code, parent, secretary_id, attempt))


@call_step(
    lambda request, form: (
        f"answer:{request.query.get('secretary', '')}:{request.query.get('attempt', '')}"
    ),
    call_param="ParentCallSid",
)
async def whisper_answer(
    request: web.Request, flow: CallFlow, form: Form, state: CallState, tenant: TenantProfile | None
) -> tuple[str, CallState | None, list[CallEvent]]:
    """POST /twilio/voice/whisper/answer: 1 connects the caller; anything else hangs up."""
    secretary_id = request.query.get("secretary", "")
    if str(form.get("Digits", "")).strip() != "1" or state.current != secretary_id:
        return twiml.hang_up(), None, []
    started = await asyncio.to_thread(flow.presence.start_call, secretary_id, state.call_sid)
    if not started:
        return twiml.hang_up(), None, []
    state = state.evolve(accepted=secretary_id)
    return twiml.connect(), state, [_event(state, "accepted", secretary_id, secretary=secretary_id)]


@call_step(lambda request, form: f"dial:{request.query.get('attempt', '')}")
async def dial_status(
    request: web.Request, flow: CallFlow, form: Form, state: CallState, tenant: TenantProfile | None
) -> tuple[str, CallState | None, list[CallEvent]]:
    """POST /twilio/voice/dial-status: answered → wrap-up; otherwise the next one, or voicemail."""
    secretary_id = request.query.get("secretary", "")
    attempt = request.query.get("attempt", "")
    status = str(form.get("DialCallStatus", ""))
    wrap_up = tenant.voice.wrap_up_seconds if tenant else 0
    if state.accepted == secretary_id and secretary_id:
        await asyncio.to_thread(flow.presence.end_call, secretary_id, state.call_sid, wrap_up)
        if status == "completed":
            duration = int(str(form.get("DialCallDuration", "0")) or 0)
            event = _event(
                state, "handled_live", secretary_id, secretary=secretary_id, duration=duration
            )
            return twiml.hang_up(), state.evolve(current=""), [event]
    else:
        await asyncio.to_thread(flow.presence.release, secretary_id, state.call_sid)
    ring = tenant.voice.ring_seconds if tenant else 0
    state = state.evolve(
        current="",
        accepted="",
        tried=(*state.tried, secretary_id),
        ring_used=state.ring_used + ring,
    )
    not_answered = _event(state, "not_answered", attempt, secretary=secretary_id, status=status)
    if tenant is None:
        body, state, events = flow.voicemail(None, state)
    else:
        body, state, events = await flow.hunt(tenant, state)
    return body, state, [not_answered, *events]


async def recorded(request: web.Request) -> web.Response:
    """POST /twilio/voice/recorded (the Record action): thank the caller and hang up."""
    language = request.query.get("lang", "en")
    return _xml(twiml.hang_up(prompt(language, "thanks"), "fa-IR" if language == "fa" else "en-US"))


def _callback_state(request: web.Request, form: Form) -> CallState:
    """A minimal state for callbacks of calls whose Redis state is gone (fallback voicemail)."""
    return CallState(
        call_sid=str(form.get("CallSid", "")),
        tenant=request.query.get("tenant", ""),
        caller=str(form.get("From", "")),
        called=str(form.get("To", "")),
        language="en",
        priority="normal",
        started=0.0,
    )


async def _record_callback(
    request: web.Request, make: Callable[[CallState, Form], CallEvent], step: str
) -> web.Response:
    """Recording, transcription and status callbacks: one event each, spooled if need be."""
    form = await request.post()
    calls: CallStore = request.app[CALLS]
    call_sid = str(form.get("CallSid", ""))
    keys = _step_keys(request, call_sid, step)
    try:
        async with asyncio.timeout(STORE_TIMEOUT_SECONDS * 2):
            if await calls.cached_response(keys) is not None:
                return _xml(twiml.empty())
            state = await calls.load(call_sid) or _callback_state(request, form)
            events = [make(state, form)]
            await _settle_presence(request, state, step)
            await calls.commit(None, events, keys, twiml.empty())
    except (TimeoutError, redis.RedisError) as error:
        log.warning("call %s callback %s spooled: %r", call_sid, step, error)
        state = _callback_state(request, form)
        _spool(request, state, [make(state, form)])
    return _xml(twiml.empty())


async def _settle_presence(request: web.Request, state: CallState, step: str) -> None:
    """When the call ends, free whoever it still holds (the caller hung up mid-ring)."""
    if not step.startswith("status:") or not state.current:
        return
    presence = request.app[PRESENCE]
    if state.accepted:
        tenant = request.app[DIRECTORY].directory.tenants.get(state.tenant)
        wrap_up = tenant.voice.wrap_up_seconds if tenant else 0
        await asyncio.to_thread(presence.end_call, state.accepted, state.call_sid, wrap_up)
    else:
        await asyncio.to_thread(presence.release, state.current, state.call_sid)


async def recording(request: web.Request) -> web.Response:
    """POST /twilio/voice/recording (recordingStatusCallback): the voicemail's audio."""
    form = await request.post()
    sid = str(form.get("RecordingSid", ""))
    return await _record_callback(
        request,
        lambda state, f: _event(
            state,
            "recording",
            sid,
            sid=sid,
            url=str(f.get("RecordingUrl", "")),
            duration=int(str(f.get("RecordingDuration", "0")) or 0),
            status=str(f.get("RecordingStatus", "")),
        ),
        f"recording:{sid}",
    )


async def transcription(request: web.Request) -> web.Response:
    """POST /twilio/voice/transcription (transcribeCallback): the voicemail's words."""
    form = await request.post()
    sid = str(form.get("TranscriptionSid", ""))
    return await _record_callback(
        request,
        lambda state, f: _event(
            state,
            "transcription",
            sid,
            sid=sid,
            text=str(f.get("TranscriptionText", "")),
            status=str(f.get("TranscriptionStatus", "")),
            recording=str(f.get("RecordingSid", "")),
        ),
        f"transcription:{sid}",
    )


async def status(request: web.Request) -> web.Response:
    """POST /twilio/voice/status (the number's status callback): the call is over."""
    form = await request.post()
    call_status = str(form.get("CallStatus", ""))
    return await _record_callback(
        request,
        lambda state, f: _event(
            state,
            "call_ended",
            call_status,
            status=call_status,
            duration=int(str(f.get("CallDuration", "0")) or 0),
            answered=bool(state.accepted),
            voicemail=state.voicemail,
        ),
        f"status:{call_status}",
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/twilio/voice", signed(incoming_call))
    app.router.add_post("/twilio/voice/fallback", signed(fallback))
    app.router.add_post("/twilio/voice/gather", signed(gathered))
    app.router.add_post("/twilio/voice/whisper", signed(whisper))
    app.router.add_post("/twilio/voice/whisper/answer", signed(whisper_answer))
    app.router.add_post("/twilio/voice/dial-status", signed(dial_status))
    app.router.add_post("/twilio/voice/recorded", signed(recorded))
    app.router.add_post("/twilio/voice/recording", signed(recording))
    app.router.add_post("/twilio/voice/transcription", signed(transcription))
    app.router.add_post("/twilio/voice/status", signed(status))
