"""Inbound mail as the domain sees it: the parsed message, and the pure rules over it.

Which client a message is for, whether a human or a machine wrote it, and the keys that
thread replies. No I/O here: the IMAP edge parses bytes into `ParsedMail` and the ingest job
calls these rules with plain values.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

# The headers that can name the client a message was meant for, in the order they are
# trusted: the delivery headers a forwarding server adds before the ones the sender wrote.
RECIPIENT_HEADERS: tuple[str, ...] = ("delivered-to", "x-original-to", "x-forwarded-to", "to", "cc")


class MailKind(enum.StrEnum):
    """Who wrote a message: a person (ordinary) or a machine (everything else).

    Only ordinary mail becomes ordinary work; the others are recorded, marked, and never
    answered automatically.
    """

    ORDINARY = "ordinary"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    LIST = "list"

    # The issue spells the kinds in lower case; these aliases let both spellings work.
    ordinary = "ordinary"
    auto_reply = "auto_reply"
    bounce = "bounce"
    bulk = "bulk"
    list = "list"


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: display name (decoded, may be empty) and address (lowercased)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A part kept with the raw message and listed on the item, never inlined in its text."""

    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class OriginalMessage:
    """The message a client forwarded: who first sent it, its subject and date.

    `source` says how it was found: "rfc822" (an attached message), or "inline-gmail",
    "inline-outlook", "inline-apple", "inline-thunderbird" (a quoted header block).
    """

    sender: Address | None
    subject: str
    date: datetime | None
    source: str


@dataclass(frozen=True)
class ParsedMail:
    """One fetched message, decoded into what an item needs.

    A message the parser could not make sense of has `rejected` set to the reason; every
    other field is then best effort (often empty). `defects` lists what was wrong but
    survivable (broken MIME, a charset that lied, a truncated body).
    """

    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    sender: Address | None = None
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    # Header name (lower case, one of RECIPIENT_HEADERS) -> addresses, in header order.
    recipients_headers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    text: str = ""
    body_source: str = "none"  # "text/plain" | "text/html" | "none"
    attachments: tuple[Attachment, ...] = ()
    original: OriginalMessage | None = None
    kind: MailKind = MailKind.ORDINARY
    kind_reason: str = ""
    size: int = 0
    oversized: bool = False
    charsets: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    rejected: str | None = None
    content_type: str = "text/plain"
    # The top-level headers the rules read (lower-case name -> first value, decoded), so a
    # caller can re-run classify_automation with what only it knows (own_addresses).
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


# --- Not for humans (RFC 3834 and the de-facto headers) ----------------------------------

_AUTO_REPLY_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponse",
    "x-autoreply-from",
    "x-mail-autoreply",
)
_PRECEDENCE_KINDS = {
    "auto_reply": MailKind.AUTO_REPLY,
    "bulk": MailKind.BULK,
    "junk": MailKind.BULK,
    "list": MailKind.LIST,
}
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status )?notification|delivery (has )?fail|mail delivery|"
    r"returned mail|failure notice|non-?delivery|could not be delivered|not delivered|"
    r"delivery problem|returned to sender",
    re.IGNORECASE,
)
# What Exchange, Outlook and common responders put in front of an out-of-office subject.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?(reply|response|respons)|out of (the )?office|"
    r"abwesenheitsnotiz|r[ée]ponse automatique|پاسخ خودکار|رد تلقائي)",
    re.IGNORECASE,
)
_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w.-]+)", re.IGNORECASE)
_ANGLE = re.compile(r"<([^<>]*)>")
_MAILTO = re.compile(r"mailto:([^>,\s]+)", re.IGNORECASE)


def _token(value: str) -> str:
    """The first keyword of a header value: 'auto-generated (failure)' -> 'auto-generated'."""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()


def _is_own_list(headers: Mapping[str, str], own_addresses: Collection[str]) -> bool:
    """True when the list is one of the client's own addresses (a Google Group as info@)."""
    if not own_addresses:
        return False
    own = {address.lower() for address in own_addresses}
    list_id = headers.get("list-id", "")
    ids = _ANGLE.findall(list_id) or [list_id.strip()]
    dotted = {address.replace("@", ".") for address in own}
    if any(list_ident.strip().lower() in dotted for list_ident in ids if list_ident.strip()):
        return True
    posts = _MAILTO.findall(headers.get("list-post", ""))
    return any(post.lower() in own for post in posts)


def classify_automation(
    headers: Mapping[str, str],
    content_type: str,
    *,
    own_addresses: Collection[str] = (),
) -> tuple[MailKind, str]:
    """Say whether a machine sent this message, which kind of machine, and by which header.

    `headers` maps lower-case header names to their (first) value; `content_type` is the
    top-level type, parameters allowed. `own_addresses` are the client's and the agency's
    addresses: a mailing list that *is* one of them (a Google Group used as info@) delivers
    human mail, so its list headers do not count. Returns (kind, reason), the reason naming
    the header that decided, e.g. "Auto-Submitted: auto-replied"; ordinary mail has "".

    X-Auto-Response-Suppress alone is not evidence: Outlook and many senders put it on
    ordinary mail to *ask* for no auto-reply (Discourse, osTicket and sisimai stopped trusting
    it), so it counts only with an out-of-office subject.
    """
    h = {name.lower(): value for name, value in headers.items()}
    ctype = content_type.strip().lower()
    main_type = ctype.split(";", 1)[0].strip()
    subject = h.get("subject", "")
    sender = h.get("from", "").lower()
    return_path = h.get("return-path")
    null_sender = return_path is not None and return_path.strip() in ("<>", "")

    if main_type == "multipart/report":
        report = _REPORT_TYPE.search(ctype) or _REPORT_TYPE.search(h.get("content-type", ""))
        report_type = report.group(1).lower() if report else ""
        if report_type == "delivery-status":
            return MailKind.BOUNCE, "multipart/report; report-type=delivery-status"
        return MailKind.AUTO_REPLY, f"multipart/report; report-type={report_type or '?'}"
    if "x-failed-recipients" in h:
        return MailKind.BOUNCE, "X-Failed-Recipients"
    if "mailer-daemon" in sender:
        return MailKind.BOUNCE, "From: MAILER-DAEMON"
    if null_sender and ("postmaster" in sender or _BOUNCE_SUBJECT.search(subject)):
        return MailKind.BOUNCE, "Return-Path: <> with a delivery-failure notice"

    auto_submitted = h.get("auto-submitted")
    if auto_submitted is not None and _token(auto_submitted) not in ("no", ""):
        return MailKind.AUTO_REPLY, f"Auto-Submitted: {auto_submitted.strip()}"
    for name in _AUTO_REPLY_HEADERS:
        value = h.get(name)
        if value is not None and _token(value) not in ("no", "false", "0"):
            return MailKind.AUTO_REPLY, f"{_title(name)}: {value.strip()}"
    precedence = _token(h.get("precedence", ""))
    if precedence == "auto_reply":
        return MailKind.AUTO_REPLY, "Precedence: auto_reply"
    suppress = h.get("x-auto-response-suppress", "")
    if re.search(r"\b(all|oof)\b", suppress, re.IGNORECASE) and _AUTO_REPLY_SUBJECT.search(subject):
        return (
            MailKind.AUTO_REPLY,
            f"X-Auto-Response-Suppress: {suppress.strip()} with an out-of-office subject",
        )

    if _is_own_list(h, own_addresses):
        return MailKind.ORDINARY, ""
    if h.get("list-id", "").strip():
        return MailKind.LIST, f"List-Id: {h['list-id'].strip()}"
    if precedence in _PRECEDENCE_KINDS:
        return _PRECEDENCE_KINDS[precedence], f"Precedence: {precedence}"
    if h.get("list-unsubscribe", "").strip():
        # A List-Unsubscribe without a List-Id is a sender's newsletter, not a discussion list.
        return MailKind.BULK, "List-Unsubscribe"
    return MailKind.ORDINARY, ""


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


# --- Which client -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantMatch:
    """The client a message is for, and the evidence.

    `matched` is the address that decided and `header` where it was found ("plus-tag" is
    not a header: the plus-tag wins wherever it appears, and `header` then names where).
    `ambiguous` lists other clients matched at the same level, best first.
    """

    tenant_id: str | None
    matched: str | None
    header: str | None
    ambiguous: tuple[str, ...] = ()


def _split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain


def resolve_tenant(
    recipients: Mapping[str, Sequence[str]],
    inbox: str,
    tenant_of_address: Mapping[str, str],
    tenant_ids: Collection[str],
) -> TenantMatch:
    """Find the client a message was meant for.

    First the agency inbox's plus-tag (`inbox+<tenant id>@domain`, the tag a known tenant
    id), anywhere among the recipients; then the tenants' own addresses, looking through
    Delivered-To, X-Original-To, X-Forwarded-To, To and Cc in that order. When several
    clients match at the best level, the first in header order wins and the others are
    listed in `ambiguous`. No match gives a TenantMatch of Nones (an unmatched item).
    """
    by_header = {name.lower(): list(values) for name, values in recipients.items()}
    ordered = [
        (header, address.strip().lower())
        for header in RECIPIENT_HEADERS
        for address in by_header.get(header, ())
        if address and address.strip()
    ]
    known_ids = {tenant_id.lower(): tenant_id for tenant_id in tenant_ids}
    inbox_local, inbox_domain = _split_address(inbox)

    tagged: list[tuple[str, str, str]] = []
    for header, address in ordered:
        local, domain = _split_address(address)
        base, plus, tag = local.partition("+")
        if plus and base == inbox_local and domain == inbox_domain and tag in known_ids:
            tagged.append((known_ids[tag], address, header))
    if tagged:
        return _first_with_rivals(tagged)

    owned = {address.lower(): tenant for address, tenant in tenant_of_address.items()}
    addressed: list[tuple[str, str, str]] = []
    for header, address in ordered:
        tenant = owned.get(address)
        if tenant is None:
            # info+orders@client.example is still the client's info@ (sub-addressing).
            local, domain = _split_address(address)
            base = local.partition("+")[0]
            tenant = owned.get(f"{base}@{domain}")
        if tenant is not None:
            addressed.append((tenant, address, header))
    if addressed:
        return _first_with_rivals(addressed)
    return TenantMatch(tenant_id=None, matched=None, header=None)


def _first_with_rivals(matches: Sequence[tuple[str, str, str]]) -> TenantMatch:
    tenant, address, header = matches[0]
    rivals: list[str] = []
    for other, _, _ in matches[1:]:
        if other != tenant and other not in rivals:
            rivals.append(other)
    return TenantMatch(tenant_id=tenant, matched=address, header=header, ambiguous=tuple(rivals))


# --- Threading keys -----------------------------------------------------------------------

# Reply and forward prefixes in the languages the agency's mail arrives in, optionally
# counted ("Re[2]:", "RE(3):") and ending in an ASCII or full-width colon.
_REPLY_WORDS = (
    "re", "aw", "sv", "vs", "antw", "r", "رد", "ر", "پاسخ", "پاسخ به", "جواب",
)  # fmt: skip
_FORWARD_WORDS = (
    "fw", "fwd", "wg", "tr", "rv", "enc", "ارسال مجدد", "باز ارسال", "بازارسال",
    "بازارسال شده", "هدایت", "هدایت شده", "اعادة توجيه", "إعادة توجيه", "تحويل",
)  # fmt: skip


def _prefix_pattern(words: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(
        re.escape(word).replace(r"\ ", r"[\s\u200c]*")
        for word in sorted(words, key=len, reverse=True)
    )
    return re.compile(
        rf"^\s*(?:{alternatives})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]", re.IGNORECASE
    )


_PREFIX = _prefix_pattern(_REPLY_WORDS + _FORWARD_WORDS)
_REPLY_PREFIX = _prefix_pattern(_REPLY_WORDS)
_LEADING_TAG = re.compile(r"^\s*(\[[^\[\]]{1,60}\])")
_TRAILING_FWD = re.compile(r"\s*\((?:fwd|fw)\)\s*$", re.IGNORECASE)
_ARABIC_TO_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک"})
_INVISIBLE = re.compile("[\u200b\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def normalize_subject(subject: str) -> str:
    """The subject a whole thread shares: no reply/forward prefixes, folded, casefolded.

    Strips any number of "Re:", "Fwd:", "AW:", «پاسخ:», «باز ارسال:» ... A leading
    "[tag]" (a list or ticket tag) is kept, since "[#12] Help" and "[#13] Help" are
    different threads, but prefixes after it go: "[acme] Re: Help" -> "[acme] help".
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", subject))
    text = text.translate(_ARABIC_TO_PERSIAN).replace("\u200c", " ")
    tag = ""
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped != text:
            text = stripped
            continue
        if not tag and (found := _LEADING_TAG.match(text)):
            rest = text[found.end() :]
            if _PREFIX.match(rest):
                tag, text = found.group(1), rest
                continue
        break
    text = _TRAILING_FWD.sub("", text)
    return " ".join(f"{tag} {text}".split()).casefold()


def is_reply_subject(subject: str) -> bool:
    """True when the subject's first prefix is a reply's ("Re:", «پاسخ:»), not a forward's.

    A reply quotes earlier mail, forwarded blocks included: those are not its original.
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", subject))
    text = text.translate(_ARABIC_TO_PERSIAN)
    if found := _LEADING_TAG.match(text):
        text = text[found.end() :]
    return _REPLY_PREFIX.match(text) is not None


def canonical_message_id(value: str) -> str:
    """A Message-ID as stored and compared: no angle brackets, no surrounding whitespace.

    '<abc@example.com>' -> 'abc@example.com'. The rest is kept as written (ids are
    compared exactly; some servers treat the local part as case-sensitive).
    """
    found = _ANGLE.search(value)
    if found and found.group(1).strip():
        return "".join(found.group(1).split())
    return "".join(value.strip().strip("<>").split())
