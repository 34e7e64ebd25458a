"""The agency config file (`agency.toml`): its types, loading with full validation, and rendering.

The file is the whole truth about the agency's tenants and secretaries. Loading it either
gives a complete, valid `AgencyConfig` or raises `ConfigError` listing every problem with
its path; nothing here touches a database (triage/store/config_store.py does).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.classify.rules import TenantRule
from triage.config_checks import (
    MAX_NAME_LENGTH,
    choice_problem,
    e164_problem,
    email_problem,
    language_problem,
    quote,
    timezone_problem,
    type_name,
)
from triage.config_fields import (
    Problems,
    Seen,
    checked_at,
    checked_list_at,
    claimed_values,
    id_at,
    join,
    report,
    secretary_references,
    string_at,
    tenant_greetings,
    tenant_languages,
)
from triage.config_rules import rules_from_settings, rules_settings, tenant_rules
from triage.config_sla import sla_from_settings, sla_settings, sla_table
from triage.config_voice import (
    hours_from_settings,
    hours_settings,
    ivr_from_settings,
    ivr_settings,
    tenant_hours,
    tenant_ivr,
    tenant_voice,
    voice_from_settings,
    voice_settings,
)
from triage.directory import IvrSettings, VoiceSettings
from triage.errors import ConfigError
from triage.hours import BusinessHours
from triage.models import Category, Role

TOP_LEVEL_KEYS = ("agency", "tenants", "secretaries")
AGENCY_KEYS = ("name", "inbox")
AGENCY_OPTIONAL = ("sla",)
TENANT_REQUIRED = ("id", "name", "language", "timezone")
TENANT_OPTIONAL = (
    "phone_numbers",
    "email_addresses",
    "secretaries",
    "backups",
    "languages",
    "greeting",
    "greetings",
    "fallback_number",
    "vip_numbers",
    "hours",
    "voice",
    "ivr",
    "rules",
    "sla",
)
SECRETARY_REQUIRED = ("id", "name", "role", "languages", "skills", "capacity", "phone")
SKILLS = tuple(category.value for category in Category)
ROLES = tuple(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    name: str
    inbox: str  # lowercased; tenants are plus-tags of it: inbox+<tenant id>@domain
    # [agency.sla]: the SLA keys every tenant starts from (triage/config_sla.py)
    sla: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """A client business. `languages` always starts with `language`."""

    id: str
    name: str
    language: str
    timezone: str
    phone_numbers: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()  # lowercased
    secretaries: tuple[str, ...] = ()  # primary
    backups: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    greeting: str | None = None  # in `language`
    greetings: Mapping[str, str] = field(default_factory=dict)  # the other languages
    fallback_number: str | None = None
    vip_numbers: tuple[str, ...] = ()
    hours: BusinessHours | None = None  # in `timezone`; None: no [tenants.hours], always open
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    ivr: IvrSettings | None = None
    rules: tuple[TenantRule, ...] = ()  # [[tenants.rules]], in file order
    sla: Mapping[str, Any] = field(default_factory=dict)  # [tenants.sla]: the keys given

    def settings(self) -> dict[str, Any]:
        """The extra keys as stored in the JSON column tenants.settings (all keys present)."""
        return {
            "languages": list(self.languages or (self.language,)),
            "greeting": self.greeting,
            "greetings": dict(self.greetings),
            "fallback_number": self.fallback_number,
            "vip_numbers": list(self.vip_numbers),
            "hours": hours_settings(self.hours),
            "voice": voice_settings(self.voice),  # only what differs from the defaults
            "ivr": ivr_settings(self.ivr),
            "rules": rules_settings(self.rules),
            "sla": sla_settings(self.sla),
        }


def tenant_from_stored(
    *,
    id: str,
    name: str,
    language: str,
    timezone: str,
    settings: Mapping[str, Any],
    phone_numbers: list[str],
    email_addresses: list[str],
    secretaries: list[str],
    backups: list[str],
) -> TenantConfig:
    """A tenant rebuilt from stored rows; settings written by hand may lack any key."""
    return TenantConfig(
        id=id,
        name=name,
        language=language,
        timezone=timezone,
        phone_numbers=tuple(sorted(phone_numbers)),
        email_addresses=tuple(sorted(email_addresses)),
        secretaries=tuple(sorted(secretaries)),
        backups=tuple(sorted(backups)),
        languages=tuple(settings.get("languages") or (language,)),
        greeting=settings.get("greeting"),
        greetings=dict(settings.get("greetings") or {}),
        fallback_number=settings.get("fallback_number"),
        vip_numbers=tuple(settings.get("vip_numbers") or ()),
        hours=hours_from_settings(timezone, settings.get("hours")),
        voice=voice_from_settings(settings.get("voice")),
        ivr=ivr_from_settings(settings.get("ivr")),
        rules=rules_from_settings(settings.get("rules")),
        sla=sla_from_settings(settings.get("sla")),
    )


@dataclass(frozen=True, slots=True)
class SecretaryConfig:
    id: str
    name: str
    role: Role
    languages: tuple[str, ...]  # the first is her interface language
    skills: tuple[str, ...]
    capacity: int
    phone: str


@dataclass(frozen=True, slots=True)
class AgencyConfig:
    """A whole config file. `agency` is None only for a database nobody configured yet."""

    agency: AgencyInfo | None
    tenants: tuple[TenantConfig, ...]
    secretaries: tuple[SecretaryConfig, ...]


def load_config(path: Path) -> AgencyConfig:
    """Read, parse and validate a config file; ConfigError lists every problem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})"
        raise ConfigError([message]) from error
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from error
    return parse_config(text, source=path.name)


def parse_config(text: str, *, source: str = "config") -> AgencyConfig:
    """Parse TOML text and validate it; syntax errors carry their line and column."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{source}: TOML syntax error: {error}"]) from error
    return validate_config(document)


def validate_config(document: Mapping[str, Any]) -> AgencyConfig:
    """Validate a parsed TOML document; ConfigError lists every problem with its path."""
    problems = Problems()
    problems.check_keys(document, "", required=TOP_LEVEL_KEYS)
    seen = _prescan(document)
    agency = None
    table = problems.table(document["agency"], "agency") if "agency" in document else None
    if table is not None:
        agency = _agency(table, problems)
        seen.inbox = agency.inbox if agency else None
    tenants = [
        _tenant(table, path, problems, seen)
        for path, table in _tables(document, "tenants", problems)
    ]
    secretaries = [
        _secretary(table, path, problems, seen)
        for path, table in _tables(document, "secretaries", problems)
    ]
    if problems:
        raise ConfigError(problems.messages)
    return AgencyConfig(
        agency=agency,
        tenants=tuple(tenant for tenant in tenants if tenant),
        secretaries=tuple(secretary for secretary in secretaries if secretary),
    )


def _prescan(document: Mapping[str, Any]) -> Seen:
    """Secretary ids and tenant numbers defined anywhere in the file, for reference checks."""
    seen = Seen()
    for table in _raw_tables(document, "secretaries"):
        if isinstance(table.get("id"), str):
            seen.secretary_ids.add(table["id"])
    for index, table in enumerate(_raw_tables(document, "tenants")):
        tenant_id = table.get("id")
        owner = f"tenant {quote(tenant_id)}" if isinstance(tenant_id, str) else f"tenants[{index}]"
        numbers = table.get("phone_numbers")
        for number in numbers if isinstance(numbers, list) else []:
            if isinstance(number, str):
                seen.agency_numbers.setdefault(number, owner)
    return seen


def _raw_tables(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = document.get(key)
    if not isinstance(value, list):
        return []
    return [element if isinstance(element, Mapping) else {} for element in value]


def _tables(document: Mapping[str, Any], key: str, problems: Problems) -> list[tuple[str, Any]]:
    """The tables of the array `key` as (path, table); other elements are reported."""
    value = document.get(key, [])
    if not isinstance(value, list):
        problems.add(key, f"expected an array of tables ([[{key}]]), got {type_name(value)}")
        return []
    found = []
    for index, element in enumerate(value):
        path = f"{key}[{index}]"
        if (table := problems.table(element, path)) is not None:
            found.append((path, table))
    return found


def _agency(table: Mapping[str, Any], problems: Problems) -> AgencyInfo | None:
    problems.check_keys(table, "agency", required=AGENCY_KEYS, optional=AGENCY_OPTIONAL)
    name = string_at(table, "agency", "name", problems, max_length=MAX_NAME_LENGTH)
    inbox = string_at(table, "agency", "inbox", problems)
    if inbox is not None and report(problems, "agency.inbox", email_problem(inbox)):
        inbox = None
    inbox = inbox and inbox.lower()
    if inbox and "+" in inbox.partition("@")[0]:
        problems.add("agency.inbox", f"{quote(inbox)} must not carry a +tag; tenants get those")
        inbox = None
    sla = sla_table(table, "agency", problems)
    return AgencyInfo(name=name, inbox=inbox, sla=sla) if name and inbox else None


def _tenant(
    table: Mapping[str, Any], path: str, problems: Problems, seen: Seen
) -> TenantConfig | None:
    before = len(problems.messages)
    problems.check_keys(table, path, required=TENANT_REQUIRED, optional=TENANT_OPTIONAL)
    tenant_id = id_at(table, path, problems, seen.tenant_ids)
    label = f"tenant {quote(tenant_id)}" if tenant_id else path
    name = string_at(table, path, "name", problems, max_length=MAX_NAME_LENGTH)
    language = checked_at(table, path, "language", problems, language_problem)
    timezone = checked_at(table, path, "timezone", problems, timezone_problem)
    languages = tenant_languages(table, path, language, problems)
    numbers = claimed_values(table, path, "phone_numbers", label, problems, seen)
    addresses = claimed_values(table, path, "email_addresses", label, problems, seen)
    primaries = secretary_references(table, path, "secretaries", problems, seen, {})
    backups = secretary_references(table, path, "backups", problems, seen, primaries)
    greeting = string_at(table, path, "greeting", problems)
    greetings = tenant_greetings(table, path, language, languages, problems)
    fallback = checked_at(table, path, "fallback_number", problems, e164_problem)
    _not_an_agency_number(seen, problems, join(path, "fallback_number"), fallback)
    vips = checked_list_at(table, path, "vip_numbers", problems, e164_problem)
    hours = tenant_hours(table, path, timezone, problems)
    voice = tenant_voice(
        table,
        path,
        language=language,
        has_fallback="fallback_number" in table,
        problems=problems,
        seen=seen,
    )
    ivr = tenant_ivr(table, path, language=language, languages=languages, problems=problems)
    rules = tenant_rules(table, path, assigned=[*primaries, *backups], problems=problems)
    sla = sla_table(table, path, problems)
    if len(problems.messages) > before or not (tenant_id and name and language and timezone):
        return None
    return TenantConfig(
        id=tenant_id,
        name=name,
        language=language,
        timezone=timezone,
        phone_numbers=tuple(numbers),
        email_addresses=tuple(addresses),
        secretaries=tuple(primaries),
        backups=tuple(backups),
        languages=tuple(languages),
        greeting=greeting,
        greetings=greetings,
        fallback_number=fallback,
        vip_numbers=tuple(vips),
        hours=hours,
        voice=voice,
        ivr=ivr,
        rules=rules,
        sla=sla,
    )


def _secretary(
    table: Mapping[str, Any], path: str, problems: Problems, seen: Seen
) -> SecretaryConfig | None:
    before = len(problems.messages)
    problems.check_keys(table, path, required=SECRETARY_REQUIRED)
    secretary_id = id_at(table, path, problems, seen.secretary_paths)
    name = string_at(table, path, "name", problems, max_length=MAX_NAME_LENGTH)
    role = checked_at(table, path, "role", problems, choice_problem("role", ROLES))
    languages = checked_list_at(table, path, "languages", problems, language_problem)
    if table.get("languages") == []:
        problems.add(join(path, "languages"), "must list at least one language")
    skills = checked_list_at(table, path, "skills", problems, choice_problem("skill", SKILLS))
    capacity = (
        problems.integer(table["capacity"], join(path, "capacity")) if "capacity" in table else None
    )
    if capacity is not None and capacity < 1:
        problems.add(join(path, "capacity"), f"must be at least 1, got {capacity}")
    phone = checked_at(table, path, "phone", problems, e164_problem)
    _not_an_agency_number(seen, problems, join(path, "phone"), phone)
    if len(problems.messages) > before or not (
        secretary_id and name and role and languages and capacity and phone
    ):
        return None
    return SecretaryConfig(
        id=secretary_id,
        name=name,
        role=Role(role),
        languages=tuple(languages),
        skills=tuple(skills),
        capacity=capacity,
        phone=phone,
    )


def _not_an_agency_number(seen: Seen, problems: Problems, path: str, number: str | None) -> None:
    """A call forwarded to one of the agency's own numbers would ring back into the hunt."""
    if number and (owner := seen.agency_numbers.get(number)):
        problems.add(
            path,
            f"{quote(number)} is a number of {owner}; "
            "a call sent there would ring back into the agency",
        )
