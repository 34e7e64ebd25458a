"""Find the original of a manually forwarded message in its text, and read its date.

Mail clients quote the forwarded message's headers in a block of their own making: Gmail
("---------- Forwarded message ---------", in Persian «پیام بازارسال‌شده»), Outlook
("-----Original Message-----", or a bare From/Sent/To/Subject block), Apple Mail ("Begin
forwarded message:") and Thunderbird. Only a real block header counts: a line that merely
starts with "From:" inside a letter is not a forward.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from triage.mail import Address, OriginalMessage, is_reply_subject

_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

# Separator lines that open a forwarded block, and the client they identify.
_SEPARATORS: Sequence[tuple[re.Pattern[str], str]] = (
    (re.compile(r"^-{5,}\s*Forwarded message\s*-{5,}$"), "inline-gmail"),
    (re.compile(r"^-{5,}\s*پیام\s*باز[\s\u200c]*ارسال[\s\u200c]*شده\s*-{5,}$"), "inline-gmail"),
    (re.compile(r"^-{5,}\s*Original Message\s*-{5,}$", re.IGNORECASE), "inline-outlook"),
    (re.compile(r"^-{5,}\s*پیام\s*(اصلی|اصل)\s*-{5,}$"), "inline-outlook"),
    (re.compile(r"^_{10,}$"), "inline-outlook"),  # Outlook's rule above the header block
    (re.compile(r"^Begin forwarded message:?$", re.IGNORECASE), "inline-apple"),
    (re.compile(r"^-{5,}\s*Forwarded Message\s*-{5,}$", re.IGNORECASE), "inline-thunderbird"),
)

# Header labels in the block, by meaning, in the languages the clients write them in.
_LABELS: dict[str, tuple[str, ...]] = {
    "from": ("from", "از", "فرستنده", "من"),
    "date": ("date", "sent", "تاریخ", "ارسال شده", "ارسال‌شده", "التاريخ", "تاريخ", "أرسلت"),
    "subject": ("subject", "موضوع", "الموضوع"),
    "to": ("to", "به", "گیرنده", "إلى"),
    "cc": ("cc", "رونوشت", "نسخه"),
}
_LABEL_OF = {word: meaning for meaning, words in _LABELS.items() for word in words}
_HEADER_LINE = re.compile(r"^\*?([^\W\d_][^:：]{0,20}?)\*?\s*[:：]\s*(.*)$")
_BLOCK_WINDOW = 12  # lines after a separator that may hold the header block


def _clean(line: str) -> str:
    return _BIDI.sub("", line).replace("\u00a0", " ").strip()


def _header(line: str) -> tuple[str, str] | None:
    found = _HEADER_LINE.match(_clean(line))
    if not found:
        return None
    label = " ".join(found.group(1).replace("\u200c", " ").split()).lower()
    meaning = _LABEL_OF.get(label) or _LABEL_OF.get(label.replace(" ", "\u200c"))
    return (meaning, found.group(2).strip()) if meaning else None


def _block(lines: Sequence[str], start: int) -> dict[str, str]:
    """The header lines from `start` on (blank lines before them skipped), by meaning."""
    fields: dict[str, str] = {}
    index = start
    while index < len(lines) and index < start + 3 and not _clean(lines[index]):
        index += 1
    while index < len(lines):
        parsed = _header(lines[index])
        if parsed is None:
            break
        fields.setdefault(parsed[0], parsed[1])
        index += 1
    return fields


def find_inline_original(
    text: str, subject: str = "", default_tz: tzinfo | None = None
) -> OriginalMessage | None:
    """The first forwarded block's sender, subject and date, or None when there is none.

    A block counts after a client's separator line with at least a From line, or, without
    a separator, as an Outlook block of consecutive From, Sent (or Date) and Subject lines.
    Quoted lines ("> ...") are someone else's forward and are skipped, and so is all of a
    reply (`subject` "Re: ..."): what a reply quotes is not its original. `default_tz` is
    the zone for a date written without one (the forwarder's: the outer Date header's).
    """
    if is_reply_subject(subject):
        return None
    lines = text.splitlines()
    for number, line in enumerate(lines):
        cleaned = _clean(line)
        if not cleaned or cleaned.startswith(">"):
            continue
        for pattern, source in _SEPARATORS:
            if pattern.match(cleaned):
                fields = _block(lines, number + 1)
                if "from" in fields and (source != "inline-outlook" or "subject" in fields):
                    return _original(fields, source, default_tz)
                break
        else:
            parsed = _header(line)
            if parsed is not None and parsed[0] == "from":
                fields = _block(lines, number)
                if "subject" in fields and "date" in fields and _is_outlook(lines, number):
                    return _original(fields, "inline-outlook", default_tz)
    return None


def _is_outlook(lines: Sequence[str], number: int) -> bool:
    """A bare block is Outlook's when its date line says Sent (or «ارسال شده»): a From,
    Date and Subject pasted into a letter is not a forward."""
    for line in lines[number : number + _BLOCK_WINDOW]:
        found = _HEADER_LINE.match(_clean(line))
        if found and found.group(1).strip().lower() in ("sent", "ارسال شده", "ارسال‌شده"):
            return True
    return False


_MAILTO = re.compile(r"\[mailto:([^\]]+)\]", re.IGNORECASE)


def parse_sender(value: str) -> Address | None:
    """'Name <a@b>', '*Name* <a@b>', 'Name [mailto:a@b]' or a bare address."""
    value = _MAILTO.sub(r"<\1>", value.replace("*", "")).strip()
    name, address = email.utils.parseaddr(value)
    if "@" not in address:
        found = re.search(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", value)
        if not found:
            return Address(name=value, address="") if value else None
        address = found.group(0)
        name = value.replace(address, "").strip(" <>\"'")
    return Address(name=name.strip().strip("\"'"), address=address.strip().lower())


def _original(fields: dict[str, str], source: str, default_tz: tzinfo | None) -> OriginalMessage:
    return OriginalMessage(
        sender=parse_sender(fields["from"]),
        subject=fields.get("subject", "").strip(),
        date=parse_lenient_date(fields.get("date", ""), default_tz),
        source=source,
    )


# --- Dates as clients print them -----------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "ژانویه", "ژانویهٔ", "يناير", "كانون الثاني"),
            ("february", "feb", "فوریه", "فبراير"),
            ("march", "mar", "مارس"),
            ("april", "apr", "آوریل", "أبريل", "ابريل"),
            ("may", "مه", "مى", "مايو", "می"),
            ("june", "jun", "ژوئن", "يونيو"),
            ("july", "jul", "ژوئیه", "ژوئیهٔ", "يوليو", "جولای"),
            ("august", "aug", "اوت", "آگوست", "أغسطس"),
            ("september", "sep", "sept", "سپتامبر", "سبتمبر"),
            ("october", "oct", "اکتبر", "أكتوبر"),
            ("november", "nov", "نوامبر", "نوفمبر"),
            ("december", "dec", "دسامبر", "ديسمبر"),
        ),
        start=1,
    )
    for name in names
}
_JALALI_MONTHS = {
    name: number
    for number, name in enumerate(
        ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
         "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"),
        start=1,
    )
}  # fmt: skip
_ZONES = {
    "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300,
    "mst": -420, "mdt": -360, "pst": -480, "pdt": -420, "cet": 60, "cest": 120,
    "bst": 60, "irst": 210, "irdt": 270, "ist": 330,
}  # fmt: skip
_TIME = re.compile(
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|ق\.?\s?ظ\.?|ب\.?\s?ظ\.?|صبح|عصر|بعدازظهر)?",
    re.IGNORECASE,
)
_OFFSET = re.compile(r"(?:gmt|utc)?\s*([+-])(\d{1,2}):?(\d{2})?\b", re.IGNORECASE)
# email.utils reads "March 4, 2024 10:15 PM" without its PM: keep it to the RFC's form.
_RFC5322_DATE = re.compile(
    r"^([a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(:\d{2})?"
    r"(\s*([+-]\d{4}|[a-z]{1,5}))?(\s*\(.*\))?$",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"\b(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})\b")


def parse_lenient_date(value: str, default_tz: tzinfo | None = None) -> datetime | None:
    """An aware datetime from a date as a mail client printed it, or None.

    RFC 5322 dates first; then the forms Gmail, Outlook and Apple Mail print ("Mon, Mar 4,
    2024 at 10:15 AM", "Monday, March 4, 2024 10:15 AM"), in English or Persian, with
    Persian digits and Jalali months («۱۴ اسفند ۱۴۰۲ ساعت ۱۰:۱۵»). A date without a zone
    gets `default_tz` (UTC when None).
    """
    text = _clean(value).translate(_DIGITS)
    if not text:
        return None
    try:
        iso = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return iso if iso.tzinfo else iso.replace(tzinfo=default_tz or UTC)
    if _RFC5322_DATE.match(text):
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_tz or UTC)
    try:
        return _parse_printed_date(text.lower(), default_tz or UTC)
    except (ValueError, OverflowError):
        return None


def _parse_printed_date(text: str, default_tz: tzinfo) -> datetime | None:
    hour = minute = second = 0
    time_found = _TIME.search(text)
    if time_found:
        hour, minute = int(time_found.group(1)), int(time_found.group(2))
        second = int(time_found.group(3) or 0)
        marker = (time_found.group(4) or "").replace(" ", "")
        if marker and marker[0] in "pبع" and hour < 12:
            hour += 12
        elif marker and marker[0] in "aقص" and hour == 12:
            hour = 0
        text = text[: time_found.start()] + " " + text[time_found.end() :]
    zone = _zone(text, default_tz)
    jalali = False
    numeric = _NUMERIC_DATE.search(text)
    if numeric:
        year, month, day = (int(part) for part in numeric.groups())
        jalali = year < 1700
    else:
        words = re.findall(r"[^\W\d_]+|\d+", text)
        month = 0
        for word in words:
            if word in _JALALI_MONTHS:
                month, jalali = _JALALI_MONTHS[word], True
                break
            if word in _MONTHS:
                month = _MONTHS[word]
                break
        numbers = [int(word) for word in words if word.isdigit()]
        years = [number for number in numbers if number >= 1000]
        days = [number for number in numbers if 1 <= number <= 31]
        if not month or not years or not days:
            return None
        year, day = years[0], days[0]
    if jalali:
        year, month, day = jalali_to_gregorian(year, month, day)
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def _zone(text: str, default_tz: tzinfo) -> tzinfo:
    offset = _OFFSET.search(text)
    if offset and (offset.group(3) or "gmt" in text or "utc" in text):
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        return timezone(timedelta(minutes=-minutes if offset.group(1) == "-" else minutes))
    for word in re.findall(r"[a-z]+", text):
        if word in _ZONES:
            return timezone(timedelta(minutes=_ZONES[word]))
    return default_tz


def jalali_to_gregorian(year: int, month: int, day: int) -> tuple[int, int, int]:
    """Convert a Jalali (Solar Hijri) date to the Gregorian calendar.

    The arithmetic of the jalaali-js algorithm (Borkowski's 33-year cycle approximation),
    exact for the years 1178-1633 that mail can carry.
    """
    jy = year + 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + day
    days += (month - 1) * 31 if month < 7 else (month - 7) * 30 + 186
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    gd = days + 1
    leap = (gy % 4 == 0 and gy % 100 != 0) or gy % 400 == 0
    month_days = (0, 31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    gm = 1
    while gm <= 12 and gd > month_days[gm]:
        gd -= month_days[gm]
        gm += 1
    return gy, gm, gd
