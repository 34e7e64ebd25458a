"""A tenant's call handling in the agency file: `[tenants.hours]`, `.voice` and `.ivr`.

Validation reports every problem with its path, like the rest of the file; the `*_settings`
and `*_from_settings` pairs are the JSON form kept in tenants.settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import date
from typing import Any

from triage.config_checks import (
    choice_problem,
    https_url_problem,
    language_tag_problem,
    quote,
    say_voice_problem,
    script_problem,
    type_name,
)
from triage.config_fields import (
    Problems,
    Seen,
    checked_at,
    join,
    report,
    secretary_references,
    tenant_greetings,
)
from triage.directory import AfterHours, IvrOption, IvrSettings, VoiceSettings
from triage.hours import WEEKDAYS, BusinessHours, HoursError, format_ranges, parse_hours
from triage.models import Category

HOURS_KEYS = (*WEEKDAYS, "holidays", "always_open")
VOICE_KEYS = tuple(f.name for f in fields(VoiceSettings))
IVR_REQUIRED = ("prompt", "options")
IVR_OPTIONAL = ("prompts", "prompt_audio", "timeout_seconds")
IVR_OPTION_KEYS = ("skill", "language")
IVR_DIGITS = tuple("0123456789")
# What a caller can ask for by pressing a digit: any category but spam.
IVR_SKILLS = tuple(category.value for category in Category if category is not Category.SPAM)
AFTER_HOURS = tuple(policy.value for policy in AfterHours)
DEFAULT_VOICE = VoiceSettings()
# Inclusive bounds of the integer keys of [tenants.voice].
VOICE_BOUNDS: Mapping[str, tuple[int, int]] = {
    "ring_seconds": (5, 120),
    "max_attempts": (1, 10),
    "max_ring_seconds": (10, 600),
    "wrap_up_seconds": (0, 900),
    "voicemail_max_seconds": (10, 600),
}
IVR_TIMEOUT_BOUNDS = (1, 30)
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def tenant_hours(
    table: Mapping[str, Any], path: str, timezone: str | None, problems: Problems
) -> BusinessHours | None:
    """`[tenants.hours]` in the tenant's time zone; None when absent (always open) or bad."""
    if "hours" not in table:
        return None
    hours_path = join(path, "hours")
    hours = problems.table(table["hours"], hours_path)
    if hours is None:
        return None
    before = len(problems.messages)
    problems.check_keys(hours, hours_path, required=(), optional=HOURS_KEYS)
    always_open = hours.get("always_open", False)
    weekly = {key: value for key, value in hours.items() if key in WEEKDAYS}
    holidays = _holidays(hours, hours_path, problems)
    if not isinstance(always_open, bool):
        problems.add(
            join(hours_path, "always_open"),
            f"expected a boolean (true or false), got {type_name(always_open)}",
        )
        always_open = False
    elif always_open and (weekly or "holidays" in hours):
        problems.add(
            hours_path,
            "always_open = true takes no days or holidays "
            '(open around the clock except holidays: give each day as "00:00-24:00")',
        )
    elif not always_open and not weekly:
        problems.add(
            hours_path, "give the opening hours of at least one day (mon ... sun), or always_open"
        )
    try:
        # An invalid time zone is reported at the tenant's own key; check the rest in UTC.
        parsed = parse_hours(timezone or "UTC", weekly, holidays, always_open)
    except HoursError as error:
        for key, message in error.problems:
            problems.add(hours_path if key == "hours" else join(hours_path, key), message)
        return None
    if len(problems.messages) > before or timezone is None:
        return None
    return _open_days_only(parsed)


def _holidays(hours: Mapping[str, Any], path: str, problems: Problems) -> list[date]:
    """The holidays, as quoted ISO dates ("2026-03-20") or TOML dates (2026-03-20)."""
    holidays_path = join(path, "holidays")
    value = hours.get("holidays", [])
    if not isinstance(value, list):
        problems.add(holidays_path, f"expected an array of dates, got {type_name(value)}")
        return []
    found: dict[date, str] = {}
    for index, element in enumerate(value):
        element_path = f"{holidays_path}[{index}]"
        day = _date(element)
        if day is None:
            problems.add(element_path, f'{quote(element)} is not a date like "2026-03-20"')
        elif day in found:
            problems.add(element_path, f"{day} is listed twice (first at {found[day]})")
        else:
            found[day] = element_path
    return list(found)


def _date(value: object) -> date | None:
    if type(value) is date:  # a TOML local date; a datetime is a date subclass, not a day
        return value
    if isinstance(value, str) and _ISO_DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _open_days_only(hours: BusinessHours) -> BusinessHours:
    """Drop closed days: "sun = closed" and leaving sun out mean the same hours."""
    return replace(hours, weekly={day: ranges for day, ranges in hours.weekly.items() if ranges})


def tenant_voice(
    table: Mapping[str, Any],
    path: str,
    *,
    language: str | None,
    has_fallback: bool,
    problems: Problems,
    seen: Seen,
) -> VoiceSettings:
    """`[tenants.voice]`; the defaults when absent (bad values are reported and defaulted)."""
    if "voice" not in table:
        return DEFAULT_VOICE
    voice_path = join(path, "voice")
    voice = problems.table(table["voice"], voice_path)
    if voice is None:
        return DEFAULT_VOICE
    problems.check_keys(voice, voice_path, required=(), optional=VOICE_KEYS)
    numbers = {
        key: _bounded(voice, voice_path, key, problems, bounds, getattr(DEFAULT_VOICE, key))
        for key, bounds in VOICE_BOUNDS.items()
    }
    if numbers["max_ring_seconds"] < numbers["ring_seconds"]:
        problems.add(
            join(voice_path, "max_ring_seconds"),
            f"{numbers['max_ring_seconds']} is less than ring_seconds "
            f"({numbers['ring_seconds']}); no phone could ring its full time",
        )
    policy = checked_at(
        voice, voice_path, "after_hours", problems, choice_problem("policy", AFTER_HOURS)
    )
    on_call = secretary_references(voice, voice_path, "on_call", problems, seen, {})
    if policy == AfterHours.FORWARD and not has_fallback:
        problems.add(
            join(voice_path, "after_hours"),
            '"forward" rings the tenant\'s fallback_number, which is not set',
        )
    if policy == AfterHours.ON_CALL and not voice.get("on_call"):
        problems.add(
            join(voice_path, "on_call"),
            'must list at least one secretary when after_hours is "on_call"',
        )
    return VoiceSettings(
        greeting_audio=checked_at(voice, voice_path, "greeting_audio", problems, https_url_problem),
        say_voice=checked_at(voice, voice_path, "say_voice", problems, say_voice_problem),
        say_language=checked_at(
            voice, voice_path, "say_language", problems, language_tag_problem(language)
        ),
        speech_language=checked_at(
            voice, voice_path, "speech_language", problems, language_tag_problem(language)
        ),
        ring_seconds=numbers["ring_seconds"],
        max_attempts=numbers["max_attempts"],
        max_ring_seconds=numbers["max_ring_seconds"],
        wrap_up_seconds=numbers["wrap_up_seconds"],
        voicemail_max_seconds=numbers["voicemail_max_seconds"],
        after_hours=AfterHours(policy) if policy else DEFAULT_VOICE.after_hours,
        on_call=tuple(on_call),
    )


def tenant_ivr(
    table: Mapping[str, Any],
    path: str,
    *,
    language: str | None,
    languages: list[str],
    problems: Problems,
) -> IvrSettings | None:
    """`[tenants.ivr]`; None when absent or bad."""
    if "ivr" not in table:
        return None
    ivr_path = join(path, "ivr")
    ivr = problems.table(table["ivr"], ivr_path)
    if ivr is None:
        return None
    before = len(problems.messages)
    problems.check_keys(ivr, ivr_path, required=IVR_REQUIRED, optional=IVR_OPTIONAL)
    prompt = checked_at(ivr, ivr_path, "prompt", problems, script_problem(language))
    prompts = tenant_greetings(
        ivr, ivr_path, language, languages, problems, key="prompts", main_key="prompt"
    )
    for other, text in prompts.items():
        report(problems, join(join(ivr_path, "prompts"), other), script_problem(other)(text))
    prompt_audio = checked_at(ivr, ivr_path, "prompt_audio", problems, https_url_problem)
    timeout = _bounded(ivr, ivr_path, "timeout_seconds", problems, IVR_TIMEOUT_BOUNDS, 5)
    options = _ivr_options(ivr, ivr_path, languages, problems)
    if len(problems.messages) > before or prompt is None:
        return None
    return IvrSettings(
        prompt=prompt,
        prompt_audio=prompt_audio,
        timeout_seconds=timeout,
        options=options,
        prompts=prompts,
    )


def _ivr_options(
    ivr: Mapping[str, Any], path: str, languages: list[str], problems: Problems
) -> dict[str, IvrOption]:
    """`[tenants.ivr.options]`: a digit -> { skill = ..., language = ... }."""
    if "options" not in ivr:
        return {}
    options_path = join(path, "options")
    table = problems.table(ivr["options"], options_path)
    if table is None:
        return {}
    if not table:
        problems.add(options_path, 'must map at least one digit, e.g. 1 = { skill = "scheduling" }')
    served = ", ".join(languages)

    def language_problem(value: str) -> str | None:
        if value in languages:
            return None
        return f"{quote(value)} is not a language the tenant serves ({served})"

    found: dict[str, IvrOption] = {}
    for digit, value in table.items():
        option_path = join(options_path, digit)
        if digit not in IVR_DIGITS:
            problems.add(option_path, f"{quote(digit)} is not a single digit 0-9")
            continue
        option = problems.table(value, option_path)
        if option is None:
            continue
        problems.check_keys(option, option_path, required=(), optional=IVR_OPTION_KEYS)
        if not any(key in option for key in IVR_OPTION_KEYS):
            problems.add(option_path, "must choose a skill, a language, or both")
        found[digit] = IvrOption(
            skill=checked_at(
                option, option_path, "skill", problems, choice_problem("skill", IVR_SKILLS)
            ),
            language=checked_at(option, option_path, "language", problems, language_problem),
        )
    return dict(sorted(found.items()))


def _bounded(
    table: Mapping[str, Any],
    path: str,
    key: str,
    problems: Problems,
    bounds: tuple[int, int],
    default: int,
) -> int:
    """The integer at `key` within `bounds` (inclusive); `default` when absent or bad."""
    if key not in table:
        return default
    value = problems.integer(table[key], join(path, key))
    if value is None:
        return default
    low, high = bounds
    if not low <= value <= high:
        problems.add(join(path, key), f"must be from {low} to {high}, got {value}")
        return default
    return value


# -- the JSON form in tenants.settings --------------------------------------------------


def hours_settings(hours: BusinessHours | None) -> dict[str, Any] | None:
    """Hours as the file writes them: open days ("mon": "09:00-17:00"), holidays, always_open."""
    if hours is None:
        return None
    stored: dict[str, Any] = {
        WEEKDAYS[day]: format_ranges(ranges) for day, ranges in sorted(hours.weekly.items())
    }
    stored["holidays"] = sorted(day.isoformat() for day in hours.holidays)
    stored["always_open"] = hours.always_open
    return stored


def hours_from_settings(timezone: str, stored: Mapping[str, Any] | None) -> BusinessHours | None:
    """The inverse of hours_settings, in the tenant's time zone. Raises HoursError."""
    if not stored:
        return None
    weekly = {day: stored[day] for day in WEEKDAYS if day in stored}
    holidays = stored.get("holidays") or ()
    return _open_days_only(parse_hours(timezone, weekly, holidays, bool(stored.get("always_open"))))


def voice_settings(voice: VoiceSettings) -> dict[str, Any]:
    """The keys that differ from the defaults, so a later default reaches every tenant."""
    stored: dict[str, Any] = {}
    for key in VOICE_KEYS:
        value = getattr(voice, key)
        if value != getattr(DEFAULT_VOICE, key):
            stored[key] = list(value) if isinstance(value, tuple) else value
    return stored


def voice_from_settings(stored: Mapping[str, Any] | None) -> VoiceSettings:
    stored = stored or {}
    values = {key: stored[key] for key in VOICE_KEYS if key in stored}
    if "after_hours" in values:
        values["after_hours"] = AfterHours(values["after_hours"])
    if "on_call" in values:
        values["on_call"] = tuple(values["on_call"])
    return VoiceSettings(**values)


def ivr_settings(ivr: IvrSettings | None) -> dict[str, Any] | None:
    if ivr is None:
        return None
    return {
        "prompt": ivr.prompt,
        "prompts": dict(ivr.prompts),
        "prompt_audio": ivr.prompt_audio,
        "timeout_seconds": ivr.timeout_seconds,
        "options": {
            digit: {key: value for key in IVR_OPTION_KEYS if (value := getattr(option, key))}
            for digit, option in ivr.options.items()
        },
    }


def ivr_from_settings(stored: Mapping[str, Any] | None) -> IvrSettings | None:
    if not stored:
        return None
    return IvrSettings(
        prompt=stored["prompt"],
        prompt_audio=stored.get("prompt_audio"),
        timeout_seconds=stored.get("timeout_seconds", 5),
        options={
            digit: IvrOption(skill=option.get("skill"), language=option.get("language"))
            for digit, option in sorted((stored.get("options") or {}).items())
        },
        prompts=dict(stored.get("prompts") or {}),
    )
