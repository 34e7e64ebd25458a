"""Which item a mail belongs to: its dedupe key, the Message-IDs it answers, and the
subject-and-sender rule for replies that name no Message-ID we know. Pure functions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from triage.mail import is_reply_subject, normalize_subject

# work_items.external_id is 200 characters: tenant (64) + ":" + message id + ":" + 32.
EXTERNAL_ID_MAX = 200
DIGEST_CHARS = 32
# A long References chain names the whole conversation; its newest entries are enough to
# find the item, and the cap bounds the rows one message writes.
MAX_ANSWERED_IDS = 20
# item_message_ids.message_id is VARCHAR(998), the longest header line RFC 5322 allows.
MAX_MESSAGE_ID = 998

# Header fields the author's mail program writes. Relays and forwarders add others on the
# way (Received, Delivered-To, X-Original-To, ARC-*, ...), so the copies of one message that
# reach the inbox through two of a client's addresses differ only outside this list.
ORIGIN_FIELDS = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"date",
        b"subject",
        b"message-id",
        b"in-reply-to",
        b"references",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"resent-from",
        b"resent-to",
        b"resent-date",
        b"resent-message-id",
    }
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.DOTALL)
_WHITESPACE = re.compile(rb"\s+")
# PostgreSQL text holds no NUL; a lone surrogate cannot be encoded to UTF-8 at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def content_digest(raw: bytes) -> str:
    """SHA-256 (hex) of what the author sent: the origin header fields and the body.

    Two fetches of one message (a UIDVALIDITY resync, a second folder) and two deliveries of
    it through two of a tenant's addresses give one digest; two different messages that
    reuse a Message-ID give two.
    """
    parts = _HEADER_END.split(raw, maxsplit=1)
    head, body = (parts[0], parts[1]) if len(parts) == 2 else (raw, b"")
    fields: list[bytes] = []
    for name, value in _unfolded_fields(head):
        # A line that is no header field at all (a message without headers) counts whole.
        if name in ORIGIN_FIELDS or not name:
            fields.append(name + b":" + _WHITESPACE.sub(b" ", value).strip())
    digest = hashlib.sha256()
    for field in sorted(fields):
        digest.update(field + b"\n")
    digest.update(b"\n")
    digest.update(body.replace(b"\r\n", b"\n").rstrip())
    return digest.hexdigest()


def _unfolded_fields(head: bytes) -> Iterable[tuple[bytes, bytes]]:
    current: bytes | None = None
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t") and current is not None:
            current += b" " + line.strip()
            continue
        if current is not None:
            yield from _field(current)
        current = line
    if current is not None:
        yield from _field(current)


def _field(line: bytes) -> Iterable[tuple[bytes, bytes]]:
    match = _FIELD.match(line)
    if match:
        yield match.group(1).lower(), match.group(2)
    elif line.strip():
        yield b"", line


def dedupe_key(tenant_id: str | None, message_id: str | None, digest: str) -> str:
    """The email item's external_id: tenant, Message-ID and content digest.

    A Message-ID too long to fit is replaced by its own hash, so the key stays unique and
    within the column.
    """
    tenant = tenant_id or "-"
    room = EXTERNAL_ID_MAX - len(tenant) - DIGEST_CHARS - 2
    mid = message_id or "-"
    if len(mid) > room:
        mid = "sha256:" + hashlib.sha256(mid.encode("utf-8", "replace")).hexdigest()[: room - 7]
    return f"{tenant}:{mid}:{digest[:DIGEST_CHARS]}"


def answered_ids(in_reply_to: Iterable[str], references: Sequence[str]) -> tuple[str, ...]:
    """The Message-IDs a mail answers, the most direct parent first, each once.

    In-Reply-To names the parent; References lists the thread oldest first, so it is read
    backwards. Empty and over-long ids are dropped; at most MAX_ANSWERED_IDS are kept.
    """
    ordered: list[str] = []
    for value in (*in_reply_to, *reversed(references)):
        if value and len(value) <= MAX_MESSAGE_ID and value not in ordered:
            ordered.append(value)
    return tuple(ordered[:MAX_ANSWERED_IDS])


def thread_subject(subject: str, *, answers_something: bool) -> str:
    """The normalized subject the fallback rule compares, or "" when the mail is no reply.

    A reply shows itself by a reply prefix ("Re:", "AW:", «پاسخ:») or by In-Reply-To or
    References that named no item we know. Without either, two mails that merely share a
    subject ("Invoice") stay two items; a forward ("Fwd:") starts a conversation.
    """
    normalized = normalize_subject(subject)
    if not normalized or not (answers_something or is_reply_subject(subject)):
        return ""
    return normalized


def within_thread_window(last_mail_at: datetime, now: datetime, window_days: int) -> bool:
    """Whether an item whose last mail came at `last_mail_at` may still take a reply by subject."""
    return now - last_mail_at <= timedelta(days=window_days)


def last_mail_at(messages: Sequence[Mapping[str, Any]], fallback: datetime) -> datetime:
    """When an item's newest mail arrived, from its payload's message list."""
    times = [
        datetime.fromisoformat(message["received_at"])
        for message in messages
        if isinstance(message.get("received_at"), str)
    ]
    return max(times, default=fallback)


def storable(value: Any) -> Any:
    """`value` (str, list, dict, scalars) without characters a database refuses."""
    if isinstance(value, str):
        if _UNSTORABLE.search(value) is None:  # nearly always: no new string, no callback
            return value
        return _UNSTORABLE.sub(_stored_as, value)
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    if isinstance(value, dict | Mapping):  # a dict is found without the ABC's check
        return {str(key): storable(item) for key, item in value.items()}
    return value


def _stored_as(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying so when it was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters]"
