"""What an agency config becomes for people: TOML text (`config export`) and change lists.

Both are pure functions of `AgencyConfig` values. The TOML is laid out by hand, one
`[[tenants]]` / `[[secretaries]]` block each, so an export reads like the documented
example; tomli_w only formats the strings (escapes, UTF-8 kept as is).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import tomli_w

from triage.config import AgencyConfig, SecretaryConfig, TenantConfig
from triage.config_rules import rule_fields
from triage.config_sla import sla_settings
from triage.config_voice import voice_settings
from triage.directory import IvrSettings
from triage.hours import WEEKDAYS, BusinessHours, format_ranges

Field = str | int | float | Iterable[str] | None  # a value of a rendered key; None: left out

HEADER = (
    "# The agency's configuration, written by `monshi config export`.\n"
    "# Edit it and load it back with `monshi config apply FILE`.\n"
)

# Fields compared for "tenant changed" / "secretary changed"; numbers, addresses and
# assignments are reported on their own lines.
_TENANT_FIELDS = (
    "name",
    "language",
    "languages",
    "timezone",
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
_SECRETARY_FIELDS = ("name", "role", "languages", "skills", "capacity", "phone")


def render_config(config: AgencyConfig) -> str:
    """The config as TOML that `parse_config` reads back into an equal config."""
    blocks = [HEADER]
    # Top-level keys must come before the first table header.
    empty = [f"{key} = []" for key in ("tenants", "secretaries") if not getattr(config, key)]
    if empty:
        blocks.append("\n".join(empty) + "\n")
    if config.agency is not None:
        blocks.append(
            _table("[agency]", {"name": config.agency.name, "inbox": config.agency.inbox})
        )
        if config.agency.sla:
            blocks.append(_table("[agency.sla]", sla_settings(config.agency.sla)))
    blocks.extend(_tenant_block(tenant) for tenant in sorted(config.tenants, key=_by_id))
    blocks.extend(
        _table("[[secretaries]]", _secretary_fields(secretary))
        for secretary in sorted(config.secretaries, key=_by_id)
    )
    return "\n".join(blocks)


def _by_id(thing: TenantConfig | SecretaryConfig) -> str:
    return thing.id


def _tenant_block(tenant: TenantConfig) -> str:
    fields: dict[str, Field] = {
        "id": tenant.id,
        "name": tenant.name,
        "language": tenant.language,
        "languages": tenant.languages if tenant.languages != (tenant.language,) else None,
        "timezone": tenant.timezone,
        "greeting": tenant.greeting,
        "phone_numbers": sorted(tenant.phone_numbers),
        "email_addresses": sorted(tenant.email_addresses),
        "secretaries": sorted(tenant.secretaries),
        "backups": sorted(tenant.backups),
        "fallback_number": tenant.fallback_number,
        "vip_numbers": tenant.vip_numbers or None,
    }
    block = _table("[[tenants]]", fields)
    if tenant.greetings:
        block += "\n" + _table("[tenants.greetings]", dict(sorted(tenant.greetings.items())))
    if tenant.hours is not None:
        block += "\n" + _table("[tenants.hours]", _hours_fields(tenant.hours))
    if voice := voice_settings(tenant.voice):
        block += "\n" + _table("[tenants.voice]", voice)
    if tenant.ivr is not None:
        block += "\n" + _ivr_tables(tenant.ivr)
    for rule in tenant.rules:  # in file order: the first match wins
        block += "\n" + _table("[[tenants.rules]]", rule_fields(rule))
    if tenant.sla:
        block += "\n" + _table("[tenants.sla]", sla_settings(tenant.sla))
    return block


def _hours_fields(hours: BusinessHours) -> dict[str, Field]:
    if hours.always_open:
        return {"always_open": True}
    # Every day, closed ones too, so the export reads as a whole week.
    fields: dict[str, Field] = {
        name: format_ranges(hours.weekly.get(day, ())) for day, name in enumerate(WEEKDAYS)
    }
    fields["holidays"] = sorted(day.isoformat() for day in hours.holidays) or None
    return fields


def _ivr_tables(ivr: IvrSettings) -> str:
    tables = _table(
        "[tenants.ivr]",
        {
            "prompt": ivr.prompt,
            "prompt_audio": ivr.prompt_audio,
            "timeout_seconds": ivr.timeout_seconds,
        },
    )
    if ivr.prompts:
        tables += "\n" + _table("[tenants.ivr.prompts]", dict(sorted(ivr.prompts.items())))
    lines = ["[tenants.ivr.options]"]
    for digit, option in sorted(ivr.options.items()):
        chosen = [
            f"{key} = {_string(value)}"
            for key, value in (("skill", option.skill), ("language", option.language))
            if value is not None
        ]
        lines.append(f"{digit} = {{ {', '.join(chosen)} }}")
    return tables + "\n" + "\n".join(lines) + "\n"


def _secretary_fields(secretary: SecretaryConfig) -> dict[str, Field]:
    return {
        "id": secretary.id,
        "name": secretary.name,
        "role": secretary.role.value,
        "languages": secretary.languages,
        "skills": secretary.skills,
        "capacity": secretary.capacity,
        "phone": secretary.phone,
    }


def _table(header: str, fields: Mapping[str, Field]) -> str:
    lines = [header]
    lines.extend(f"{key} = {_value(value)}" for key, value in fields.items() if value is not None)
    return "\n".join(lines) + "\n"


def _value(value: str | int | float | Iterable[str]) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "[" + ", ".join(_string(item) for item in value) + "]"


def _string(text: str) -> str:
    # tomli_w has no public call for one value: render a one-key document and take its value.
    return tomli_w.dumps({"v": text}).removeprefix("v = ").removesuffix("\n")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: `thing` ("tenant", "phone number" ...) was `action` ("added" ...)."""

    thing: str
    action: str
    detail: str

    def __str__(self) -> str:
        return f"{self.thing} {self.action}: {self.detail}"


_PLURALS = {"secretary": "secretaries", "email address": "email addresses"}


def summarize_changes(changes: Iterable[Change]) -> str:
    """Counts by thing and action, e.g. "2 tenants added, 1 phone number moved"."""
    counts = Counter((change.thing, change.action) for change in changes)
    parts = []
    for (thing, action), count in counts.items():
        noun = thing if count == 1 or thing == "agency" else _PLURALS.get(thing, thing + "s")
        parts.append(f"{noun} {action}" if thing == "agency" else f"{count} {noun} {action}")
    return ", ".join(parts) if parts else "no changes"


def diff_configs(old: AgencyConfig, new: AgencyConfig) -> list[Change]:
    """Every difference between two configs, in a stable order; [] when they are equal."""
    changes: list[Change] = []
    if new.agency is not None and old.agency != new.agency:
        if old.agency is None:
            changes.append(Change("agency", "set", f"{new.agency.name} <{new.agency.inbox}>"))
        else:
            fields = [
                f
                for f in ("name", "inbox", "sla")
                if getattr(old.agency, f) != getattr(new.agency, f)
            ]
            changes.append(Change("agency", "changed", ", ".join(fields)))
    changes += _things("tenant", _by_key(old.tenants), _by_key(new.tenants), _TENANT_FIELDS)
    changes += _things(
        "secretary", _by_key(old.secretaries), _by_key(new.secretaries), _SECRETARY_FIELDS
    )
    changes += _owned("phone number", _owners(old, "phone_numbers"), _owners(new, "phone_numbers"))
    changes += _owned(
        "email address", _owners(old, "email_addresses"), _owners(new, "email_addresses")
    )
    changes += _assignment_changes(assignment_kinds(old), assignment_kinds(new))
    return changes


def assignment_kinds(config: AgencyConfig) -> dict[tuple[str, str], str]:
    """(tenant id, secretary id) -> "primary" or "backup", as the assignments table holds it."""
    kinds: dict[tuple[str, str], str] = {}
    for tenant in config.tenants:
        kinds.update({(tenant.id, secretary): "primary" for secretary in tenant.secretaries})
        kinds.update({(tenant.id, secretary): "backup" for secretary in tenant.backups})
    return kinds


def _by_key(things: Iterable[TenantConfig | SecretaryConfig]) -> dict[str, object]:
    return {thing.id: thing for thing in things}


def _things(
    kind: str, old: Mapping[str, object], new: Mapping[str, object], fields: tuple[str, ...]
) -> list[Change]:
    changes = [Change(kind, "added", key) for key in sorted(new.keys() - old.keys())]
    for key in sorted(old.keys() & new.keys()):
        changed = [f for f in fields if getattr(old[key], f) != getattr(new[key], f)]
        if changed:
            changes.append(Change(kind, "changed", f"{key} ({', '.join(changed)})"))
    changes += [Change(kind, "removed", key) for key in sorted(old.keys() - new.keys())]
    return changes


def _owners(config: AgencyConfig, key: str) -> dict[str, str]:
    """Phone number or email address -> the tenant that owns it."""
    return {value: tenant.id for tenant in config.tenants for value in getattr(tenant, key)}


def _owned(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    changes = [
        Change(kind, "added", f"{value} -> {new[value]}")
        for value in sorted(new.keys() - old.keys())
    ]
    changes += [
        Change(kind, "moved", f"{value} from {old[value]} to {new[value]}")
        for value in sorted(old.keys() & new.keys())
        if old[value] != new[value]
    ]
    changes += [
        Change(kind, "removed", f"{value} (was {old[value]})")
        for value in sorted(old.keys() - new.keys())
    ]
    return changes


def _assignment_changes(
    old: Mapping[tuple[str, str], str], new: Mapping[tuple[str, str], str]
) -> list[Change]:
    changes = [
        Change("assignment", "added", f"{secretary} -> {tenant} ({new[tenant, secretary]})")
        for tenant, secretary in sorted(new.keys() - old.keys())
    ]
    changes += [
        Change(
            "assignment",
            "changed",
            f"{secretary} on {tenant}, {old[tenant, secretary]} -> {new[tenant, secretary]}",
        )
        for tenant, secretary in sorted(old.keys() & new.keys())
        if old[tenant, secretary] != new[tenant, secretary]
    ]
    changes += [
        Change("assignment", "removed", f"{secretary} from {tenant} ({old[tenant, secretary]})")
        for tenant, secretary in sorted(old.keys() - new.keys())
    ]
    return changes
