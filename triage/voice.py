"""Decisions of a live call, over plain values: who may be rung, in what order, what is said.

The Twilio edge (integrations/twilio/voice.py) asks these questions and turns the answers
into TwiML; nothing here knows about HTTP, Redis or TwiML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from triage.directory import AfterHours, Directory, SecretaryProfile, TenantProfile
from triage.models import Priority

REPEAT_WINDOW_SECONDS = 30 * 60
# A voicemail this short, with no words in it, is someone hanging up at the beep.
HANG_UP_RECORDING_SECONDS = 2
# A call that ends unanswered and without a voicemail after this long was a real caller
# who gave up waiting: it becomes a call-back task. Shorter ones are hang-ups.
MISSED_CALL_SECONDS = 5


@dataclass(frozen=True, slots=True)
class CallContext:
    """What is known about the caller when the call arrives."""

    vip: bool = False
    repeat: bool = False

    @property
    def priority(self) -> Priority:
        if self.vip:
            return Priority.URGENT
        if self.repeat:
            return Priority.HIGH
        return Priority.NORMAL

    @property
    def tags(self) -> list[str]:
        return [tag for tag, on in (("vip", self.vip), ("repeat", self.repeat)) if on]


@dataclass(frozen=True, slots=True)
class Routing:
    """What the caller needs: a language, and a skill when the IVR or speech told us."""

    language: str
    skill: str | None = None
    reason: str | None = None  # e.g. 'digit 1', 'said "appointment"'


@dataclass(frozen=True, slots=True)
class HuntState:
    attempts: int = 0
    ring_seconds_used: int = 0
    tried: tuple[str, ...] = field(default_factory=tuple)


def caller_context(
    tenant: TenantProfile, caller: str, previous_call: str | None, call_sid: str
) -> CallContext:
    """VIP by the tenant's list; repeat when the same caller's previous call was another call."""
    return CallContext(
        vip=caller in tenant.vip_numbers,
        repeat=previous_call is not None and previous_call != call_sid,
    )


def hunt_tiers(
    tenant: TenantProfile,
    directory: Directory,
    routing: Routing,
    held_counts: Mapping[str, int],
    *,
    after_hours: bool = False,
    exclude: Iterable[str] = (),
) -> list[list[str]]:
    """Secretaries who may be rung for this call, in tiers tried in order.

    Eligible: assigned to the tenant (or on call for it after hours), speaking the caller's
    language, under capacity, not tried already on this call. Primaries come before
    backups. When a skill is asked for, those with it come first; if nobody with the
    skill is eligible, the call still reaches someone who speaks the language rather
    than going straight to voicemail. Within a tier the reservation picks the longest
    idle (that needs live presence, which Redis holds).
    """
    skip = set(exclude)

    def eligible(secretary_id: str) -> SecretaryProfile | None:
        secretary = directory.secretaries.get(secretary_id)
        if secretary is None or secretary_id in skip:
            return None
        if routing.language not in secretary.languages:
            return None
        if held_counts.get(secretary_id, 0) >= secretary.capacity:
            return None
        return secretary

    if after_hours:
        groups: list[tuple[str, ...]] = [tenant.voice.on_call]
    else:
        groups = [tenant.primaries, tenant.backups]
    tiers: list[list[str]] = []
    if routing.skill:
        skilled = [
            [sid for sid in group if (s := eligible(sid)) and routing.skill in s.skills]
            for group in groups
        ]
        tiers.extend(tier for tier in skilled if tier)
    placed = {sid for tier in tiers for sid in tier}
    for group in groups:
        tier = [sid for sid in group if eligible(sid) and sid not in placed]
        if tier:
            tiers.append(tier)
    return tiers


def may_try_another(tenant: TenantProfile, hunt: HuntState) -> bool:
    """Whether the hunt goes on after a secretary did not answer (else: voicemail)."""
    ring = tenant.voice.ring_seconds
    return (
        hunt.attempts < tenant.voice.max_attempts
        and hunt.ring_seconds_used + ring <= tenant.voice.max_ring_seconds
    )


def after_hours_policy(tenant: TenantProfile) -> AfterHours:
    """The after-hours policy, degraded to voicemail when its prerequisite is missing."""
    policy = tenant.voice.after_hours
    if policy is AfterHours.FORWARD and not tenant.fallback_number:
        return AfterHours.VOICEMAIL
    if policy is AfterHours.ON_CALL and not tenant.voice.on_call:
        return AfterHours.VOICEMAIL
    return policy


def is_hang_up(recording_seconds: int, transcript: str | None) -> bool:
    return recording_seconds < HANG_UP_RECORDING_SECONDS and not (transcript or "").strip()


# -- what is said -----------------------------------------------------------------------

_WHISPER = {
    "en": {
        "call_for": "Call for {tenant}.",
        "vip": "A V I P caller.",
        "repeat": "This caller called again within thirty minutes.",
        "reason": "Reason: {reason}.",
        "accept": "Press 1 to accept.",
    },
    "fa": {
        "call_for": "تماس برای {tenant}.",
        "vip": "تماس‌گیرنده ویژه است.",
        "repeat": "این تماس‌گیرنده در نیم ساعت گذشته هم تماس گرفته است.",
        "reason": "موضوع: {reason}.",
        "accept": "برای پذیرش، عدد یک را فشار دهید.",
    },
}

_SKILL_NAMES = {
    "fa": {
        "scheduling": "نوبت و قرار",
        "travel": "سفر",
        "accounting": "حسابداری",
        "documents": "مدارک",
        "social_media": "شبکه‌های اجتماعی",
        "sales": "فروش",
        "support": "پشتیبانی",
        "message": "پیغام",
    },
    "en": {
        "scheduling": "scheduling",
        "travel": "travel",
        "accounting": "accounting",
        "documents": "documents",
        "social_media": "social media",
        "sales": "sales",
        "support": "support",
        "message": "a message",
    },
}

_PROMPTS = {
    "en": {
        "voicemail": "Nobody can take your call right now. Please leave a message after the tone.",
        "after_hours": "We are closed now. Please leave a message after the tone.",
        "thanks": "Thank you. Goodbye.",
        "unknown_number": "Thank you for calling. Please leave a message after the tone.",
    },
    "fa": {
        "voicemail": "در حال حاضر کسی پاسخگو نیست. لطفاً پس از شنیدن صدای بوق پیغام بگذارید.",
        "after_hours": "اکنون ساعت کاری نیست. لطفاً پس از شنیدن صدای بوق پیغام بگذارید.",
        "thanks": "سپاسگزاریم. خدانگهدار.",
        "unknown_number": "از تماس شما سپاسگزاریم. لطفاً پس از شنیدن صدای بوق پیغام بگذارید.",
    },
}


def whisper_text(language: str, tenant_name: str, context: CallContext, skill: str | None) -> str:
    """What the secretary hears before the caller is connected, in her language."""
    words = _WHISPER.get(language, _WHISPER["en"])
    parts = [words["call_for"].format(tenant=tenant_name)]
    if context.vip:
        parts.append(words["vip"])
    if context.repeat:
        parts.append(words["repeat"])
    if skill:
        names = _SKILL_NAMES.get(language, _SKILL_NAMES["en"])
        parts.append(words["reason"].format(reason=names.get(skill, skill)))
    parts.append(words["accept"])
    return " ".join(parts)


def prompt(language: str, key: str) -> str:
    return _PROMPTS.get(language, _PROMPTS["en"])[key]
