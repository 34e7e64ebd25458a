"""TwiML for each moment of a call, built with the twilio library's VoiceResponse."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from triage.directory import SecretaryProfile, TenantProfile
from triage.voice import prompt

VOICE = "/twilio/voice"
WHISPER_TIMEOUT_SECONDS = 8


def url(path: str, **query: str | int) -> str:
    return f"{VOICE}{path}?{urlencode(query)}" if query else f"{VOICE}{path}"


def _say(node: VoiceResponse, text: str, tenant: TenantProfile | None, language: str) -> None:
    if tenant is None:
        node.say(text, language="fa-IR" if language == "fa" else "en-US")
        return
    node.say(text, language=tenant.say_language(language), voice=tenant.voice.say_voice)


def greet(response: VoiceResponse, tenant: TenantProfile, language: str) -> None:
    """The client's greeting: its recording, or its text said in its language."""
    if tenant.voice.greeting_audio and language == tenant.language:
        response.play(tenant.voice.greeting_audio)
        return
    text = tenant.greeting_in(language) or tenant.greeting or tenant.name
    _say(response, text, tenant, language)


def ivr_menu(tenant: TenantProfile) -> str:
    assert tenant.ivr is not None
    response = VoiceResponse()
    greet(response, tenant, tenant.language)
    gather = response.gather(
        input="speech dtmf",
        action=url("/gather"),
        method="POST",
        action_on_empty_result=True,
        num_digits=1,
        timeout=tenant.ivr.timeout_seconds,
        language=tenant.speech_language(),
        speech_timeout="auto",
    )
    if tenant.ivr.prompt_audio:
        gather.play(tenant.ivr.prompt_audio)
    else:
        gather.say(
            tenant.ivr.prompt,
            language=tenant.say_language(),
            voice=tenant.voice.say_voice,
        )
    return str(response)


def dial_secretary(
    tenant: TenantProfile,
    secretary: SecretaryProfile,
    call_sid: str,
    caller_id: str,
    attempt: int,
    greeting_language: str | None = None,
) -> str:
    """Ring one secretary; she hears the whisper before the caller is connected."""
    response = VoiceResponse()
    if greeting_language:
        greet(response, tenant, greeting_language)
    dial = response.dial(
        action=url("/dial-status", attempt=attempt, secretary=secretary.id),
        method="POST",
        timeout=tenant.voice.ring_seconds,
        caller_id=caller_id,
        answer_on_bridge=True,
    )
    dial.number(
        secretary.phone,
        url=url("/whisper", call=call_sid, secretary=secretary.id, attempt=attempt),
        method="POST",
    )
    return str(response)


def voicemail(
    tenant: TenantProfile | None,
    language: str,
    key: str = "voicemail",
    greeting_language: str | None = None,
) -> str:
    """Take a message. Twilio transcribes English only, so only English asks for it."""
    response = VoiceResponse()
    if tenant is not None and greeting_language:
        greet(response, tenant, greeting_language)
    _say(response, prompt(language, key), tenant, language)
    tenant_id = tenant.id if tenant else ""
    max_length = tenant.voice.voicemail_max_seconds if tenant else 120
    options: dict[str, object] = {}
    if language == "en":
        options = {
            "transcribe": True,
            "transcribe_callback": url("/transcription", tenant=tenant_id),
        }
    response.record(
        action=url("/recorded", lang=language),
        method="POST",
        max_length=max_length,
        play_beep=True,
        recording_status_callback=url("/recording", tenant=tenant_id),
        recording_status_callback_event="completed",
        **options,
    )
    return str(response)


def forward(tenant: TenantProfile, number: str, caller_id: str, language: str) -> str:
    response = VoiceResponse()
    greet(response, tenant, language)
    response.dial(number, caller_id=caller_id)
    return str(response)


def whisper(text: str, language_code: str, call_sid: str, secretary_id: str, attempt: int) -> str:
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=WHISPER_TIMEOUT_SECONDS,
        action=url("/whisper/answer", call=call_sid, secretary=secretary_id, attempt=attempt),
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(text, language=language_code)
    return str(response)


def connect() -> str:
    """An empty document: the secretary's leg ends its URL and the caller is bridged."""
    return str(VoiceResponse())


def hang_up(text: str | None = None, language_code: str = "en-US") -> str:
    response = VoiceResponse()
    if text:
        response.say(text, language=language_code)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
