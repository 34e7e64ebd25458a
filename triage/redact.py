"""Redaction of personal data before it reaches a log line."""

from __future__ import annotations


def redact_phone(number: str) -> str:
    """Keep the country code area and the last two digits: '+98912*****67'."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]


def redact_email(address: str) -> str:
    """Keep the first letter of the local part and the domain: 's***@example.com'."""
    local, at, domain = address.partition("@")
    if not at:
        return "*" * len(address)
    return (local[:1] + "***") + "@" + domain
