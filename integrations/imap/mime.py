"""The MIME walk behind parse_message: headers read from raw values, the body's text pieces,
attachments and the forwarded message, with the limits that keep one message cheap.

Parts are read through the stdlib's compat32 API; every string that leaves this module has
gone through integrations.imap.decode and `printable`, so no surrogate escape or control
character reaches a database.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.message import Message

from integrations.imap.decode import (
    decode_bytes,
    decode_header_value,
    html_charset,
    html_to_text,
)
from integrations.imap.forwarded import parse_lenient_date
from triage.mail import Address, Attachment, OriginalMessage

MAX_TEXT_CHARS = 1_000_000  # a work item is read by a person; the raw message keeps the rest
MAX_HTML_CHARS = 2_000_000  # inscriptis takes about a second per megabyte of dense markup
MAX_DEPTH = 12  # MIME nesting walked; deeper parts are counted as a defect
MAX_PARTS = 1000
# What a malformed header or part can make the stdlib raise; caught where it is read.
MALFORMED: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    LookupError,
    AssertionError,
    email_errors.MessageError,
)
_TOO_DEEP: tuple[type[Exception], ...] = (*MALFORMED, RecursionError)
_UNSIZABLE: tuple[type[Exception], ...] = (*MALFORMED, UnicodeError, RecursionError)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENCODED_WORD_CHARSET = re.compile(r"=\?([^?\s*]+)[^?\s]*\?[bBqQ]\?", re.IGNORECASE)
_EXTRA_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


# --- Headers ---------------------------------------------------------------------------------


class HeaderReader:
    """Top-level headers read from their raw values, so 8-bit bytes and odd charsets are
    decoded by us, not replaced by the stdlib."""

    def __init__(self, message: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self._values.setdefault(name.strip().lower(), []).append(str(value))
        self.defects: list[str] = []
        self._addresses: dict[str, tuple[Address, ...]] = {}

    def all(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def first(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def text(self, name: str) -> str:
        value = self.first(name)
        return "" if value is None else decode_header_value(value, self.defects)

    def decoded_firsts(self) -> dict[str, str]:
        return {
            name: printable(decode_header_value(values[0], self.defects))
            for name, values in self._values.items()
            if name not in ("received", "dkim-signature", "arc-seal", "arc-message-signature")
        }

    def addresses(self, name: str) -> tuple[Address, ...]:
        """The addresses of every `name` header, read once (To and Cc are asked twice)."""
        found = self._addresses.get(name)
        if found is None:
            found = self._addresses[name] = self._read_addresses(name)
        return found

    def _read_addresses(self, name: str) -> tuple[Address, ...]:
        values = [re.sub(r"\r?\n[ \t]*", " ", value) for value in self.all(name)]
        try:
            pairs = email.utils.getaddresses(values)
        except _TOO_DEEP as exc:
            self.defects.append(f"{name}: unreadable addresses ({type(exc).__name__})")
            return ()
        found: list[Address] = []
        for display, address in pairs:
            address = printable(decode_header_value(address)).strip().lower()
            display = printable(decode_header_value(display, self.defects)).strip()
            if address or display:
                found.append(Address(name=display, address=address))
        return tuple(found)

    def charsets(self) -> list[str]:
        return [
            charset.lower()
            for values in self._values.values()
            for value in values
            for charset in _ENCODED_WORD_CHARSET.findall(value)
        ]


def header_date(value: str | None) -> datetime | None:
    """A Date header as an aware datetime (no zone means UTC), or None."""
    if not value:
        return None
    value = " ".join(value.split())
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return parse_lenient_date(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- Body ------------------------------------------------------------------------------------


@dataclass
class BodyWalker:
    """What walking the MIME tree found: text pieces, attachments, the forwarded message."""

    defects: list[str]
    pieces: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)
    forwarded: Message | None = None
    parts_seen: int = 0
    inline_forward: bool = True

    def walk(self, part: Message, depth: int, in_report: bool) -> None:
        self.parts_seen += 1
        if depth > MAX_DEPTH or self.parts_seen > MAX_PARTS:
            self.defects.append(
                f"MIME deeper than {MAX_DEPTH} or over {MAX_PARTS} parts: rest not read"
            )
            return
        self.defects.extend(type(defect).__name__ for defect in part.defects)
        ctype = content_type_of(part, self.defects)
        maintype, _, subtype = ctype.partition("/")
        if ctype in ("message/rfc822", "message/global"):
            self._message_part(part, depth, in_report)
        elif maintype == "multipart" and part.is_multipart():
            children = [child for child in _children(part) if isinstance(child, Message)]
            if subtype == "alternative":
                self._alternative(children, depth, in_report)
            elif subtype in ("related", "signed", "report"):
                # One part is the content; the rest are its resources, signature, or
                # machine-readable report.
                root = _root_part(part, children) if subtype == "related" else 0
                for index, child in enumerate(children):
                    if index == root:
                        self.walk(child, depth + 1, in_report or subtype == "report")
                    else:
                        self._attachment_tree(child, depth + 1)
            elif subtype == "encrypted":
                for child in children:
                    self._attachment_tree(child, depth + 1)
            else:
                for child in children:
                    self.walk(child, depth + 1, in_report)
        elif maintype == "multipart" or (
            maintype == "text"
            and subtype in ("plain", "html")
            and not _is_attachment(part, body_found=bool(self.pieces))
        ):
            if maintype == "multipart":
                self.defects.append(f"{ctype} without readable parts, read as text")
            self._text_part(part, "text/html" if subtype == "html" else "text/plain")
        else:
            self._record(part, ctype)

    def _alternative(self, children: list[Message], depth: int, in_report: bool) -> None:
        """Keep one rendering, plain text first; attachments of every rendering are listed."""
        renderings: list[BodyWalker] = []
        for child in children:
            branch = BodyWalker(defects=self.defects, inline_forward=self.inline_forward)
            branch.parts_seen = self.parts_seen
            branch.walk(child, depth + 1, in_report)
            self.parts_seen = branch.parts_seen
            renderings.append(branch)
        chosen = next(
            (branch for branch in renderings if any(s == "text/plain" for s, _ in branch.pieces)),
            None,
        ) or next((branch for branch in renderings if branch.pieces), None)
        for branch in renderings:
            self.attachments.extend(branch.attachments)
            if branch is chosen:
                self.pieces.extend(branch.pieces)
                self.charsets.extend(branch.charsets)
            if branch.forwarded is not None and self.forwarded is None:
                self.forwarded = branch.forwarded

    def _message_part(self, part: Message, depth: int, in_report: bool) -> None:
        inner = _children(part)
        message = inner[0] if inner and isinstance(inner[0], Message) else None
        name = _filename(part, self.defects)
        if message is None:
            self._record(part, "message/rfc822")
            return
        if name is None:
            subject = HeaderReader(message).text("subject")
            name = f"{subject or 'message'}.eml"
        self.attachments.append(Attachment(name, "message/rfc822", _message_size(message)))
        if in_report or not self.inline_forward or self.forwarded is not None:
            return
        # The first attached message is the forwarded original: its text is what the client
        # wanted the agency to read, so it joins the item's text under a header block.
        self.forwarded = message
        inner_body = BodyWalker(defects=self.defects, inline_forward=False)
        inner_body.parts_seen = self.parts_seen
        inner_body.walk(message, depth + 1, in_report=False)
        self.parts_seen = inner_body.parts_seen
        self.attachments.extend(inner_body.attachments)
        self.charsets.extend(inner_body.charsets)
        reader = HeaderReader(message)
        block = [
            "---------- Forwarded message ----------",
            f"From: {reader.text('from')}",
            f"Date: {reader.text('date')}",
            f"Subject: {reader.text('subject')}",
        ]
        inner_text, source = inner_body.text()
        self.pieces.append(("", "\n".join(block)))  # ours: no source of its own
        if inner_text:
            self.pieces.append((source, inner_text))

    def _attachment_tree(self, part: Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        ctype = content_type_of(part, self.defects)
        if part.is_multipart() and ctype.startswith("multipart/"):
            for child in _children(part):
                if isinstance(child, Message):
                    self._attachment_tree(child, depth + 1)
        else:
            self._record(part, ctype)

    def _record(self, part: Message, ctype: str) -> None:
        payload = _payload_bytes(part, self.defects)
        size = len(payload) if payload is not None else _message_size(part)
        self.attachments.append(Attachment(_filename(part, self.defects), ctype, size))

    def _text_part(self, part: Message, source: str) -> None:
        payload = _payload_bytes(part, self.defects)
        if payload is None:
            return
        label = _charset(part, self.defects)
        if source == "text/html" and label is None:
            label = html_charset(payload)
        decoded = decode_bytes(payload, label)
        if decoded.note:
            self.defects.append(f"{source} part: {decoded.note}")
        if label or decoded.note:
            self.charsets.append(label.lower() if label and not decoded.note else decoded.charset)
        text = decoded.text
        if source == "text/html":
            if len(text) > MAX_HTML_CHARS:
                # Conversion time grows with the markup; the raw message keeps the rest.
                self.defects.append(f"HTML cut at {MAX_HTML_CHARS:,} characters of {len(text):,}")
                text = text[:MAX_HTML_CHARS]
            text, note = html_to_text(text)
            if note:
                self.defects.append(note)
        text = printable(text.replace("\r\n", "\n").replace("\r", "\n")).strip("\n")
        if text.strip():
            self.pieces.append((source, text))

    def list_attachments_only(self, message: Message) -> None:
        """An oversized message: name its parts without decoding them (size estimated)."""
        for part in message.walk():
            ctype = content_type_of(part, self.defects)
            if part.is_multipart() or not _is_attachment(part, body_found=True):
                continue
            encoded = part.get_payload()
            size = len(encoded) if isinstance(encoded, str) else 0
            if str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
                size = size * 3 // 4
            self.attachments.append(Attachment(_filename(part, self.defects), ctype, size))

    def text(self) -> tuple[str, str]:
        sources = {source for source, _ in self.pieces if source}
        body_source = (
            "text/plain" if "text/plain" in sources else "text/html" if sources else "none"
        )
        text = _EXTRA_BLANK_LINES.sub("\n\n", "\n\n".join(text for _, text in self.pieces))
        if len(text) > MAX_TEXT_CHARS:
            self.defects.append(f"text cut at {MAX_TEXT_CHARS:,} characters of {len(text):,}")
            text = text[:MAX_TEXT_CHARS] + "\n[… the rest is in the raw message]"
        return text, body_source

    def original_message(self) -> OriginalMessage | None:
        if self.forwarded is None:
            return None
        reader = HeaderReader(self.forwarded)
        senders = reader.addresses("from") or reader.addresses("sender")
        return OriginalMessage(
            sender=senders[0] if senders else None,
            subject=printable(reader.text("subject")),
            date=header_date(reader.first("date")),
            source="rfc822",
        )


# --- Part helpers ------------------------------------------------------------------------------


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return (
        [child for child in payload if isinstance(child, Message)]
        if isinstance(payload, list)
        else []
    )


def _root_part(part: Message, children: Sequence[Message]) -> int:
    """The index of a multipart/related's root: its `start`, else its `type`, else the first."""
    try:
        start = part.get_param("start")
        wanted = part.get_param("type")
    except MALFORMED:
        return 0
    for index, child in enumerate(children):
        if isinstance(start, str) and str(child.get("content-id", "")).strip() == start.strip():
            return index
    if isinstance(wanted, str):
        for index, child in enumerate(children):
            if child.get_content_type() == wanted.strip().lower():
                return index
    return 0


def content_type_of(part: Message, defects: list[str]) -> str:
    try:
        return part.get_content_type()
    except MALFORMED as exc:
        defects.append(f"unreadable Content-Type ({type(exc).__name__})")
        return "text/plain"


def _charset(part: Message, defects: list[str]) -> str | None:
    try:
        charset = part.get_content_charset()
    except MALFORMED as exc:
        defects.append(f"unreadable charset parameter ({type(exc).__name__})")
        return None
    return str(charset) if charset else None


def _is_attachment(part: Message, body_found: bool) -> bool:
    """A file rather than the letter: disposition attachment, or a named part, except that
    a named inline text part is the letter when it comes first (msg.txt from some clients).
    """
    try:
        disposition = part.get_content_disposition()
        has_name = part.get_filename() is not None
    except MALFORMED:
        return False
    return disposition == "attachment" or (has_name and (body_found or disposition != "inline"))


def _filename(part: Message, defects: list[str]) -> str | None:
    """An attachment's name: RFC 2231 in any charset, RFC 2047 words, or raw 8-bit bytes.

    The parameters are read from the raw header with its 8-bit bytes as Latin-1, so that
    the stdlib does not replace them before we can decode them.
    """
    raw = {name.lower(): str(value) for name, value in reversed(list(part.raw_items()))}
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = raw.get(header)
        if value is None:
            continue
        holder = Message()
        holder[header] = value.encode("ascii", "surrogateescape").decode("latin-1")
        try:
            found = holder.get_param(param, header=header)
        except MALFORMED as exc:
            defects.append(f"unreadable attachment name ({type(exc).__name__})")
            continue
        if not found:
            continue
        if isinstance(found, tuple):  # RFC 2231: (charset, language, %-decoded as Latin-1)
            charset, _, text = found
            name = decode_bytes(text.encode("latin-1", "replace"), charset or None).text
        else:
            name = email.utils.unquote(found)
            if not name.isascii():
                name = decode_bytes(name.encode("latin-1", "replace"), None).text
        if "=?" in name:
            name = decode_header_value(name, defects)
        name = printable(name).strip()
        if name:
            return name
    return None


def _payload_bytes(part: Message, defects: list[str]) -> bytes | None:
    try:
        payload = part.get_payload(decode=True)
    except MALFORMED as exc:
        defects.append(f"undecodable part ({type(exc).__name__})")
        return None
    return payload if isinstance(payload, bytes) else None


def _message_size(part: Message) -> int:
    try:
        return len(part.as_bytes(policy=policy.compat32.clone(max_line_length=0)))
    except _UNSIZABLE:
        return 0


# --- Strings -----------------------------------------------------------------------------------


def printable(text: str) -> str:
    """No surrogate escapes (undecoded bytes) and no control characters a database refuses."""
    if _SURROGATE.search(text):
        try:
            text = decode_bytes(text.encode("utf-8", "surrogateescape"), None).text
        except UnicodeEncodeError:  # a lone surrogate that no byte stands for
            text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))
