"""Checks of single values in an agency config file, and the collector of their problems.

Each check takes a string and returns a message (what is wrong, for a human) or None.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from functools import cache
from urllib.parse import urlsplit

import phonenumbers

from triage.models import LANGUAGES

SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_ID_LENGTH = 64  # tenants.id and secretaries.id are String(64)
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 320

# RFC 5322 dot-atom for the local part; LDH labels for the domain. Quoted local parts and
# address literals are legal but no client business forwards mail from one.
_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# A BCP-47 tag as Twilio takes them for <Say> and speech: language, optional script, region
# ("fa-IR", "en-US", "cmn-Hans-CN").
_LANGUAGE_TAG_RE = re.compile(r"([a-z]{2,3})(?:-[A-Z][a-z]{3})?-(?:[A-Z]{2}|[0-9]{3})")
# Twilio voice names: "alice", "man", "Polly.Joanna", "Polly.Joanna-Neural", "Google.en-US-...".
_SAY_VOICE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)*")
MAX_URL_LENGTH = 2000
# Letters a text in each language must contain somewhere (by Unicode character name).
_SCRIPTS = {"fa": ("ARABIC",), "en": ("LATIN",)}


Check = Callable[[str], str | None]  # a message for a bad value, None for a good one


def quote(value: object) -> str:
    """A value as it would be written in the file: strings in double quotes, UTF-8 kept."""
    return json.dumps(value, ensure_ascii=False, default=str)


def type_name(value: object) -> str:
    """The TOML name of a value's type, for "expected X, got Y" messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


def slug_problem(value: str) -> str | None:
    """Why `value` cannot be an id (it appears in plus-tags and URLs), or None."""
    if len(value) > MAX_ID_LENGTH:
        return f"{quote(value)} is longer than {MAX_ID_LENGTH} characters"
    if not SLUG_RE.fullmatch(value):
        return (
            f"{quote(value)} is not a slug (lowercase letters a-z, digits, "
            "and single hyphens between them)"
        )
    return None


def e164_problem(value: str) -> str | None:
    """Why `value` is not a valid phone number written in E.164 form, or None."""
    not_e164 = f"{quote(value)} is not an E.164 number"
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return f"{not_e164} (write it as + country code and number, e.g. +12125550123)"
    if not phonenumbers.is_valid_number(number):
        return f"{not_e164} (not a valid number)"
    canonical = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if canonical != value:
        return f"{not_e164} (write it as {quote(canonical)})"
    return None


def email_problem(value: str) -> str | None:
    """Why `value` is not a plain email address (local@domain.tld), or None."""
    bad = f"{quote(value)} is not an email address"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"{bad} (longer than {MAX_EMAIL_LENGTH} characters)"
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return f"{bad} (expected local-part@domain)"
    if len(local) > 64 or not _LOCAL_RE.fullmatch(local):
        return f"{bad} (bad local part {quote(local)})"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return f"{bad} (bad domain {quote(domain)})"
    if labels[-1].isdigit():
        return f"{bad} (bad domain {quote(domain)})"
    return None


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(value: str) -> str | None:
    """Why `value` is not an IANA time zone name zoneinfo knows, or None."""
    if value in _known_timezones():
        return None
    hint = did_you_mean(value, _known_timezones())
    return f"{quote(value)} is not a known time zone (IANA name like Asia/Tehran){hint}"


def language_problem(value: str) -> str | None:
    """Why `value` is not a language Monshi works in ("fa", "en"), or None."""
    if value in LANGUAGES:
        return None
    return f"{quote(value)} is not a supported language (one of: {', '.join(LANGUAGES)})"


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A `; did you mean "x"?` suffix when `value` is close to one of `choices`."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean {quote(close[0])}?" if close else ""


def choice_problem(what: str, choices: tuple[str, ...]) -> Check:
    """A check that accepts only `choices` (a role, a skill ...)."""

    def problem(value: str) -> str | None:
        if value in choices:
            return None
        listed = ", ".join(choices)
        return f"{quote(value)} is not a {what} (one of: {listed})" + did_you_mean(value, choices)

    return problem


def https_url_problem(value: str) -> str | None:
    """Why `value` is not an absolute https URL that Twilio could fetch, or None."""
    bad = f"{quote(value)} is not an https URL"
    if len(value) > MAX_URL_LENGTH:
        return f"{bad} (longer than {MAX_URL_LENGTH} characters)"
    if any(character.isspace() for character in value):
        return f"{bad} (it contains spaces)"
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return bad
    if parts.scheme != "https":
        return f"{bad} (Twilio fetches audio over https://)"
    if not host:
        return f"{bad} (no host)"
    return None


def language_tag_problem(language: str | None) -> Check:
    """A check for a BCP-47 tag ("fa-IR") in `language` (any language when None)."""

    def problem(value: str) -> str | None:
        match = _LANGUAGE_TAG_RE.fullmatch(value)
        if match is None:
            return (
                f"{quote(value)} is not a language tag with a region, like "
                f"{quote('fa-IR')} or {quote('en-US')}"
            )
        if language is not None and match.group(1) != language:
            return f"{quote(value)} is not in the tenant's language {quote(language)}"
        return None

    return problem


def say_voice_problem(value: str) -> str | None:
    """Why `value` cannot be a Twilio <Say> voice name ("alice", "Polly.Joanna"), or None."""
    if len(value) <= 64 and _SAY_VOICE_RE.fullmatch(value):
        return None
    return f"{quote(value)} is not a voice name like {quote('Polly.Joanna')} or {quote('alice')}"


def script_problem(language: str | None) -> Check:
    """A check that a text has letters of `language`'s script (Persian: Arabic letters)."""

    def problem(value: str) -> str | None:
        scripts = _SCRIPTS.get(language or "")
        if scripts is None:
            return None
        for character in value:
            if character.isalpha() and unicodedata.name(character, "").startswith(scripts):
                return None
        return f"has no {scripts[0].title()} letters; write it in the tenant's language"

    return problem
