"""Bytes and header words to Unicode, whatever charset a message declares or fails to.

Persian mail still arrives in windows-1256, in ISO-8859-6, in UTF-8 with a BOM, labelled
iso-8859-1 by old clients, or not labelled at all. Each decoder returns the text and a note
when it had to second-guess the label, so the parser can record what it did.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass

import charset_normalizer
import inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

# Labels that name a narrower charset than the one senders really use (the WHATWG
# encoding standard makes the same substitutions), or that Python does not know.
_CODEC_FOR_LABEL = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-6-e": "iso8859-6",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-arabic": "mac-arabic",
    "utf8": "utf-8",
}
_SINGLE_BYTE_FAMILIES = ("cp125", "iso8859", "latin", "koi8", "mac", "cp874")
# Labels old Persian setups put on windows-1256 text (Python's codec names).
_WESTERN = frozenset({"cp1252", "iso8859-1", "iso8859-15", "cp1250", "iso8859-2"})
_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_DETECT = 256 * 1024
_MULTI_BYTE = ("utf-8", "cp932", "euc-jp", "gb18030", "big5", "cp949")
# The charsets mail is really written in. Left to itself the detector also weighs
# hp-roman8, mac-iceland or cp775, and picks them for short text ("Frösche" as hp-roman8).
_PLAUSIBLE = (
    "utf_8", "cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r",
    "iso8859_5", "cp1256", "iso8859_6", "cp1253", "iso8859_7", "cp1255", "iso8859_8",
    "cp1254", "iso8859_9", "cp1257", "cp874", "cp932", "shift_jis", "euc_jp", "iso2022_jp",
    "gb18030", "gb2312", "big5", "cp949", "euc_kr", "utf_16",
)  # fmt: skip
# Variants to try, in order, when a label's strict codec refuses the bytes.
_VARIANTS = {
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3"),
    "euc_jp": ("euc_jis_2004",),
    "big5": ("big5hkscs",),
}  # the detector samples; a bigger input only costs time

_ARABIC_LETTER = re.compile(
    "[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06fc\ufb50-\ufdff\ufe70-\ufefc]"
)
# What Persian or Arabic text in windows-1256 legitimately contains besides ASCII.
_ARABIC_TEXT_CHAR = re.compile(
    "[\u0600-\u06ff\u200c-\u200f\u2010-\u206f\ufb50-\ufdff\ufe70-\ufeff\u00a0\u00ab\u00bb"
    "\u00d7\u00f7\u20ac]"
)
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f]")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text, the charset used (MIME name), and why it differs from the label (or "")."""

    text: str
    charset: str
    note: str = ""


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a MIME charset label, or None when there is none."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _CODEC_FOR_LABEL.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def mime_label(codec: str) -> str:
    """The MIME name of a Python codec name: 'cp1256' -> 'windows-1256'."""
    if codec.startswith("cp125"):
        return "windows-" + codec[2:]
    if codec.startswith("iso8859-"):
        return "iso-" + codec[3:]
    return {"ascii": "us-ascii", "mac-arabic": "x-mac-arabic"}.get(codec, codec)


def _is_single_byte(codec: str) -> bool:
    return codec.startswith(_SINGLE_BYTE_FAMILIES)


def _has_multibyte_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not data.isascii()


def looks_arabic_script(text: str) -> bool:
    """True when the non-ASCII part of `text` is Persian/Arabic and no word mixes scripts.

    A wrong single-byte guess turns Latin accents into Arabic letters inside Latin words
    ("Straße" read as windows-1256 is "Straكe"); real Persian keeps the scripts in separate
    words.
    """
    non_ascii = [char for char in text if ord(char) > 127]
    if not non_ascii:
        return False
    allowed = sum(1 for char in non_ascii if _ARABIC_TEXT_CHAR.match(char))
    if allowed < 0.97 * len(non_ascii) or len(_ARABIC_LETTER.findall(text)) < 2:
        return False
    words = [word for word in text.split() if _ARABIC_LETTER.search(word)]
    mixed = sum(1 for word in words if _LATIN_LETTER.search(word))
    return mixed <= 0.05 * len(words)


def _latin_mojibake(text: str) -> bool:
    """Most letters non-ASCII: Persian or Arabic bytes read as a Western charset."""
    letters = [char for char in text if char.isalpha()]
    if len(letters) < 4:
        return False
    return sum(1 for char in letters if ord(char) > 127) > 0.5 * len(letters)


def _detect(data: bytes) -> Decoded | None:
    """Unlabelled 8-bit text: Persian first (the agency's mail), then the general detector."""
    nearly_utf8 = data.decode("utf-8", errors="replace")
    broken = nearly_utf8.count("\ufffd")
    if broken <= max(2, len(nearly_utf8) // 200) and len(nearly_utf8) < len(data) - broken:
        # Valid UTF-8 but for a cut-off character or two (a truncated name).
        return Decoded(nearly_utf8, "utf-8", f"detected utf-8 ({broken} bytes replaced)")
    try:
        as_arabic = data.decode("cp1256")
    except UnicodeDecodeError:
        as_arabic = None
    if as_arabic is not None and looks_arabic_script(as_arabic):
        return Decoded(as_arabic, "windows-1256", "detected windows-1256")
    best = charset_normalizer.from_bytes(data[:_MAX_DETECT], cp_isolation=list(_PLAUSIBLE)).best()
    if best is not None:
        codec = codec_for(best.encoding)
        if codec is not None:
            text = data.decode(codec, errors="replace")
            if text.count("\ufffd") <= max(2, len(text) // 1000):
                return Decoded(text, mime_label(codec), f"detected {mime_label(codec)}")
    # The detector gives up on text with a few broken bytes. A multi-byte charset that
    # decodes nearly all of it is then the answer (single-byte ones decode anything).
    scored = []
    for codec in _MULTI_BYTE:
        text = data.decode(codec, errors="replace")
        scored.append((text.count("\ufffd"), codec, text))
    errors, codec, text = min(scored)
    if errors <= max(2, len(text) // 100):
        return Decoded(text, mime_label(codec), f"detected {codec} ({errors} bytes replaced)")
    return None


def decode_bytes(data: bytes, label: str | None) -> Decoded:
    """Decode body or header bytes labelled `label` (None: unlabelled), never to "?"s.

    Trusts the label when it decodes cleanly, except where it is known to lie: valid UTF-8
    under a single-byte label is UTF-8, and Persian read as a Western charset (mostly
    non-ASCII letters) is retried as windows-1256. A label that fails, or none on 8-bit
    data, goes to detection. Only when everything fails are undecodable bytes replaced.
    """
    if data.startswith(_UTF8_BOM):
        try:
            return Decoded(data[3:].decode("utf-8"), "utf-8", "")
        except UnicodeDecodeError:
            pass
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(data.decode("utf-16").lstrip("\ufeff"), "utf-16", "")
        except UnicodeDecodeError:
            pass
    codec = codec_for(label)
    note = f"unknown charset {label!r}" if label and codec is None else ""
    # UTF-7, UTF-16 and the ISO-2022 charsets can be pure ASCII bytes that need their codec.
    if data.isascii() and (
        codec is None or not codec.startswith(("utf-7", "utf-16", "utf-32", "iso2022"))
    ):
        return Decoded(data.decode("ascii"), "us-ascii", note)
    if codec is not None:
        text = None
        for candidate in (codec, *_VARIANTS.get(codec, ())):
            try:
                text = data.decode(candidate)
                break
            except UnicodeDecodeError:
                continue
        if text is None:
            note = f"declared {label} but not valid"
        else:
            if codec != "utf-8" and _is_single_byte(codec) and _has_multibyte_utf8(data):
                return Decoded(data.decode("utf-8"), "utf-8", f"declared {label}, was utf-8")
            if codec in _WESTERN and _latin_mojibake(text):
                try:
                    as_arabic = data.decode("cp1256")
                except UnicodeDecodeError:
                    as_arabic = ""
                if looks_arabic_script(as_arabic):
                    return Decoded(as_arabic, "windows-1256", f"declared {label}, was windows-1256")
            return Decoded(text.lstrip("\ufeff"), mime_label(codec), note)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", _joined(note, "detected utf-8"))
    except UnicodeDecodeError:
        pass
    detected = _detect(data)
    if detected is not None:
        return Decoded(detected.text, detected.charset, _joined(note, detected.note))
    fallback = codec or "utf-8"
    return Decoded(
        data.decode(fallback, errors="replace"),
        mime_label(fallback),
        _joined(note, f"undecodable bytes replaced ({mime_label(fallback)})"),
    )


def _joined(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


# --- Header words (RFC 2047), and raw 8-bit header bytes ----------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an undecoded byte (surrogate escape)


def _word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "surrogateescape")
    raw = payload.replace("_", " ").encode("ascii", "surrogateescape")
    return quopri.decodestring(raw)


def _plain_segment(segment: str, notes: list[str]) -> str:
    """Header text outside encoded words; 8-bit bytes arrive as surrogate escapes."""
    if not _ESCAPED_BYTE.search(segment):
        return segment
    decoded = decode_bytes(segment.encode("ascii", "surrogateescape"), None)
    if decoded.note:
        notes.append(f"8-bit header text: {decoded.note}")
    return decoded.text


def decode_header_value(value: str, notes: list[str] | None = None) -> str:
    """Decode a raw header value: RFC 2047 words in any charset, and raw 8-bit bytes.

    Lenient like mail clients: words glued to text, and a multibyte character split across
    two adjacent words of the same charset, both decode. Folding whitespace is collapsed.
    """
    if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
        return " ".join(value.split())  # nothing to decode: most headers, most addresses
    sink: list[str] = [] if notes is None else notes
    value = re.sub(r"\r?\n[ \t]", " ", value).replace("\r", "").replace("\n", "")
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset is not None:
            label = pending_charset.split("*", 1)[0]  # RFC 2231 language suffix
            decoded = decode_bytes(bytes(pending), label)
            if decoded.note:
                sink.append(f"header word: {decoded.note}")
            pieces.append(decoded.text)
        pending, pending_charset = bytearray(), None

    after_word = False
    for found in _ENCODED_WORD.finditer(value):
        between = value[position : found.start()]
        charset = found.group(1).lower()
        if not (after_word and not between.strip()):
            flush()
            if between:
                pieces.append(_plain_segment(between, sink))
        elif pending_charset != charset:
            flush()  # whitespace between two encoded words is not text (RFC 2047 6.2)
        pending += _word_bytes(found.group(2), found.group(3))
        pending_charset = charset
        position = found.end()
        after_word = True
    flush()
    pieces.append(_plain_segment(value[position:], sink))
    return " ".join("".join(pieces).split())


# --- HTML ---------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_TAG = re.compile(r"<[^>]*>")
# The strict profile: inscriptis' default ("relaxed") indents every <div>, and mail
# clients nest a div per line, which pushed Persian lines off to the side.
_HTML_CONFIG = ParserConfig(css=CSS_PROFILES["strict"])


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag, if any."""
    found = _META_CHARSET.search(data[:4096])
    return found.group(1).decode("ascii") if found else None


def html_to_text(html: str) -> tuple[str, str]:
    """Readable text from HTML, paragraph breaks kept, scripts and styles dropped.

    Returns (text, note); the note is set when the converter failed and tags were merely
    stripped.
    """
    try:
        text: str = inscriptis.get_text(html, _HTML_CONFIG)
    except (ValueError, RecursionError, AssertionError) as exc:
        stripped = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html)
        return _TAG.sub(" ", stripped), f"HTML converter failed ({type(exc).__name__})"
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines), ""
