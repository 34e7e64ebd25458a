"""First-response targets in the agency file: `[agency.sla]` (agency defaults) and
`[tenants.sla]` (one tenant's, key by key over the agency's).

Only the keys a file gives are kept (and stored, and exported), so a later change of the
agency's defaults reaches every tenant that did not set its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.config_checks import e164_problem, type_name
from triage.config_fields import Problems, join, report
from triage.sla import PRIORITY_KEYS, SLA_KEYS

# Inclusive bounds, in minutes of business time: a target up to 30 days.
TARGET_BOUNDS = (1, 43_200)
BACKUP_DELAY_BOUNDS = (0, 43_200)
SECOND_BREACH_BOUNDS = (1, 43_200)


def sla_table(table: Mapping[str, Any], path: str, problems: Problems) -> dict[str, Any]:
    """The validated keys of `table["sla"]` ({} when absent or bad); problems with paths."""
    if "sla" not in table:
        return {}
    sla_path = join(path, "sla")
    sla = problems.table(table["sla"], sla_path)
    if sla is None:
        return {}
    before = len(problems.messages)
    problems.check_keys(sla, sla_path, required=(), optional=SLA_KEYS)
    found: dict[str, Any] = {}
    for key in PRIORITY_KEYS:
        if key in sla:
            found[key] = _minutes(sla[key], join(sla_path, key), TARGET_BOUNDS, problems)
    if "backup_delay" in sla:
        found["backup_delay"] = _minutes(
            sla["backup_delay"], join(sla_path, "backup_delay"), BACKUP_DELAY_BOUNDS, problems
        )
    if "second_breach" in sla:
        found["second_breach"] = _minutes(
            sla["second_breach"], join(sla_path, "second_breach"), SECOND_BREACH_BOUNDS, problems
        )
    if "warn_at" in sla:
        found["warn_at"] = _share(sla["warn_at"], join(sla_path, "warn_at"), problems)
    if "alert_number" in sla:
        number = problems.string(sla["alert_number"], join(sla_path, "alert_number"))
        if number is not None and not report(
            problems, join(sla_path, "alert_number"), e164_problem(number)
        ):
            found["alert_number"] = number
    if len(problems.messages) > before:
        return {}
    return found


def _minutes(value: Any, path: str, bounds: tuple[int, int], problems: Problems) -> int | None:
    minutes = problems.integer(value, path)
    if minutes is not None and not bounds[0] <= minutes <= bounds[1]:
        problems.add(path, f"must be {bounds[0]} to {bounds[1]} minutes, got {minutes}")
        return None
    return minutes


def _share(value: Any, path: str, problems: Problems) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(path, f"expected a number between 0 and 1 (e.g. 0.75), got {type_name(value)}")
        return None
    if not 0 < value < 1:
        problems.add(path, f"must be more than 0 and less than 1 (a share), got {value}")
        return None
    return float(value)


def sla_settings(sla: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON kept in tenants.settings / the agency row: the given keys, in key order."""
    return {key: sla[key] for key in SLA_KEYS if key in sla}


def sla_from_settings(stored: Any) -> dict[str, Any]:
    """Stored keys back; settings written by hand may lack the table or hold junk keys."""
    if not isinstance(stored, Mapping):
        return {}
    return {key: stored[key] for key in SLA_KEYS if key in stored}
