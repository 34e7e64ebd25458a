"""A read-only snapshot of the agency (tenants, secretaries, who works for whom) for hot paths.

The voice webhook must answer in milliseconds and keep answering when the database is
down, so the web process keeps this snapshot in memory and swaps in a new one when the
stored config's version changes. Built from an AgencyConfig (`build_directory`); pure
values only. triage/store/directory_store.py loads it from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from triage.classify.rules import TenantRule
from triage.hours import BusinessHours
from triage.models import Role
from triage.sla import DEFAULT_SLA, SlaPolicy, resolve_policy

if TYPE_CHECKING:
    # triage.config builds VoiceSettings and IvrSettings, so it imports this module.
    from triage.config import AgencyConfig, SecretaryConfig, TenantConfig

# Twilio's language codes for <Say> and speech recognition, per tenant language.
DEFAULT_SPEECH_LANGUAGE: Mapping[str, str] = {"fa": "fa-IR", "en": "en-US"}


class AfterHours(StrEnum):
    VOICEMAIL = "voicemail"  # take a message
    FORWARD = "forward"  # ring the tenant's own number (fallback_number)
    ON_CALL = "on_call"  # hunt over the tenant's on-call secretaries


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How a tenant's calls are answered. Every field has a working default."""

    greeting_audio: str | None = None  # an https URL played instead of saying the greeting
    say_voice: str | None = None  # a Twilio <Say> voice, e.g. "Polly.Joanna"
    say_language: str | None = None  # BCP-47 for <Say>; default from the tenant language
    speech_language: str | None = None  # BCP-47 for <Gather input="speech">
    ring_seconds: int = 20  # how long one secretary's phone rings
    max_attempts: int = 3  # secretaries tried before voicemail
    max_ring_seconds: int = 60  # total ringing before voicemail
    wrap_up_seconds: int = 30  # after a live call, before the secretary rings again
    voicemail_max_seconds: int = 120
    after_hours: AfterHours = AfterHours.VOICEMAIL
    on_call: tuple[str, ...] = ()  # secretary ids, for after_hours = "on_call"


@dataclass(frozen=True, slots=True)
class IvrOption:
    """What pressing a digit means: a skill (category) and/or a language."""

    skill: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class IvrSettings:
    prompt: str  # said in the tenant's language after the greeting
    prompt_audio: str | None = None
    timeout_seconds: int = 5
    options: Mapping[str, IvrOption] = field(default_factory=dict)  # "1" -> option
    # The prompt in the tenant's other languages ("fa" -> text), said after `prompt`, so a
    # caller hears in her own language which digit chooses it.
    prompts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TenantProfile:
    id: str
    name: str
    language: str
    languages: tuple[str, ...]
    timezone: str
    greeting: str | None
    greetings: Mapping[str, str]
    fallback_number: str | None
    vip_numbers: frozenset[str]
    primaries: tuple[str, ...]
    backups: tuple[str, ...]
    hours: BusinessHours  # always_open when the config gives no hours
    voice: VoiceSettings
    ivr: IvrSettings | None
    rules: tuple[TenantRule, ...] = ()  # the tenant's triage rules, tried before the model
    sla: SlaPolicy = DEFAULT_SLA  # its own [tenants.sla] over the agency's over the defaults

    def speech_language(self, language: str | None = None) -> str:
        lang = language or self.language
        if lang == self.language and self.voice.speech_language:
            return self.voice.speech_language
        return DEFAULT_SPEECH_LANGUAGE.get(lang, "en-US")

    def say_language(self, language: str | None = None) -> str:
        lang = language or self.language
        if lang == self.language and self.voice.say_language:
            return self.voice.say_language
        return DEFAULT_SPEECH_LANGUAGE.get(lang, "en-US")

    def greeting_in(self, language: str) -> str | None:
        if language == self.language:
            return self.greeting
        return self.greetings.get(language)

    def ivr_prompt_in(self, language: str) -> str | None:
        """The IVR prompt in `language`; None without an IVR or a prompt in it."""
        if self.ivr is None:
            return None
        if language == self.language:
            return self.ivr.prompt
        return self.ivr.prompts.get(language)


@dataclass(frozen=True, slots=True)
class SecretaryProfile:
    id: str
    name: str
    role: Role
    languages: tuple[str, ...]  # the first is her interface language (the whisper's)
    skills: frozenset[str]
    capacity: int
    phone: str


@dataclass(frozen=True, slots=True)
class Directory:
    """The agency at one config version."""

    version: str
    tenants: Mapping[str, TenantProfile]
    secretaries: Mapping[str, SecretaryProfile]
    agency_name: str = ""
    by_number: Mapping[str, str] = field(default_factory=dict)  # E.164 -> tenant id
    sla: SlaPolicy = DEFAULT_SLA  # [agency.sla] over the defaults: unmatched items' policy

    def tenant_for_number(self, number: str) -> TenantProfile | None:
        tenant_id = self.by_number.get(number)
        return None if tenant_id is None else self.tenants.get(tenant_id)


def build_directory(config: AgencyConfig, version: str) -> Directory:
    """The snapshot of a validated (or stored) config, labelled with its config version."""
    agency_sla = config.agency.sla if config.agency is not None else {}
    return Directory(
        version=version,
        tenants={tenant.id: _tenant_profile(tenant, agency_sla) for tenant in config.tenants},
        secretaries={
            secretary.id: _secretary_profile(secretary) for secretary in config.secretaries
        },
        agency_name=config.agency.name if config.agency is not None else "",
        by_number={
            number: tenant.id for tenant in config.tenants for number in tenant.phone_numbers
        },
        sla=resolve_policy(agency_sla),
    )


def _tenant_profile(tenant: TenantConfig, agency_sla: Mapping[str, object]) -> TenantProfile:
    return TenantProfile(
        id=tenant.id,
        name=tenant.name,
        language=tenant.language,
        languages=tenant.languages or (tenant.language,),
        timezone=tenant.timezone,
        greeting=tenant.greeting,
        greetings=dict(tenant.greetings),
        fallback_number=tenant.fallback_number,
        vip_numbers=frozenset(tenant.vip_numbers),
        primaries=tuple(sorted(tenant.secretaries)),
        backups=tuple(sorted(tenant.backups)),
        # No hours in the config: the office never closes, so after-hours never applies.
        hours=tenant.hours or BusinessHours(tenant.timezone, always_open=True),
        voice=tenant.voice,
        ivr=tenant.ivr,
        rules=tenant.rules,
        sla=resolve_policy(agency_sla, tenant.sla),
    )


def _secretary_profile(secretary: SecretaryConfig) -> SecretaryProfile:
    return SecretaryProfile(
        id=secretary.id,
        name=secretary.name,
        role=secretary.role,
        languages=secretary.languages,
        skills=frozenset(secretary.skills),
        capacity=secretary.capacity,
        phone=secretary.phone,
    )
