"""Putting a message into the mailbox as a mail server would: `monshi simulate email`'s edge."""

from __future__ import annotations

import re
from typing import Any, Final

from integrations.imap.connector import connect
from triage.settings import ImapSettings

_APPENDUID: Final = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_TO_HEADER: Final = re.compile(rb"^to[ \t]*:", re.IGNORECASE)


def address_message(raw: bytes, to: str, *, replace_to: bool = False) -> bytes:
    """`raw` delivered to `to`: a Delivered-To header on top, as the final MTA adds it.

    A message with no To header gets one; with `replace_to`, its To header is replaced.
    Everything else, the body above all, stays byte for byte as it was.
    """
    if not to or "\r" in to or "\n" in to or "@" not in to:
        raise ValueError(f"not an address: {to!r}")
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    address = to.encode("utf-8")
    head, separator, body = _split_header(raw, newline)
    lines = head.split(newline) if head else []
    has_to = any(_TO_HEADER.match(line) for line in lines)
    if replace_to and has_to:
        lines = _without_header(lines, _TO_HEADER)
    if replace_to or not has_to:
        lines.insert(0, b"To: " + address)
    lines.insert(0, b"Delivered-To: " + address)
    return newline.join(lines) + (separator or newline * 2) + body


def _split_header(raw: bytes, newline: bytes) -> tuple[bytes, bytes, bytes]:
    end = raw.find(newline * 2)
    if end < 0:
        return raw.rstrip(b"\r\n"), b"", b""
    return raw[:end], newline * 2, raw[end + 2 * len(newline) :]


def _without_header(lines: list[bytes], header: re.Pattern[bytes]) -> list[bytes]:
    """The header lines less every `header` field, continuation lines included."""
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(header.match(line))
        if not dropping:
            kept.append(line)
    return kept


def append_message(settings: ImapSettings, raw: bytes) -> tuple[int, int] | None:
    """APPEND `raw` to the configured mailbox; (UIDVALIDITY, UID) when the server says them."""
    client: Any = connect(settings)
    try:
        response = client.append(settings.mailbox, raw)
    finally:
        client.logout()
    found = _APPENDUID.search(response if isinstance(response, bytes) else b"")
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2))
