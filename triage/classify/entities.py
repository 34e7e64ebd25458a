"""Entities a secretary acts on, found in Persian and English text: phone numbers, dates and
times, money, email addresses and invoice, order or tracking references.

Every span indexes the text as given. Matching runs over a copy of the same length with
Persian and Arabic-Indic digits made ASCII and Arabic letters made Persian, so a span found
in the copy is the span in the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

import phonenumbers

from triage.classify.normalize import to_ascii_digits
from triage.classify.when import PERSIAN_NUMBER_WORDS, find_dates

EntityKind = Literal["phone", "datetime", "date", "time", "money", "email", "reference"]

# Arabic letter forms as Persian, one code point for one: spans in the copy hold in the
# original (normalize() cannot be used for matching here, it deletes and folds).
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه", "أ": "ا", "إ": "ا"})

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
_GAP = r"[\s\u200c]*"
_REFERENCE_ID = r"(?P<id>#?[A-Za-z0-9][A-Za-z0-9/\-]*\d[A-Za-z0-9\-]*)"
_REFERENCE = re.compile(
    r"\b(?P<label>invoice|inv|order|ref|reference|ticket|case|receipt|tracking|confirmation|po)"
    r"\.?\s*(?:(?:no\.?|number|num|id|code)\s*)?[:#]?\s*" + _REFERENCE_ID + r"(?![\w\-])"
    rf"|(?<![\w\u200c])(?P<fa>فاکتور|صورت{_GAP}حساب|سفارش|قبض|کد{_GAP}پیگیری|شماره{_GAP}پیگیری"
    rf"|کد{_GAP}رهگیری|شناسه{_GAP}پرداخت|شماره{_GAP}سفارش|شماره{_GAP}فاکتور)"
    rf"{_GAP}(?:(?:ی{_GAP})?شماره{_GAP})?[:#]?{_GAP}(?P<faid>[A-Za-z0-9][A-Za-z0-9\-]*\d[A-Za-z0-9\-]*)"
    r"(?![\w\-])",
    re.IGNORECASE,
)
_FA_REFERENCE_KINDS = {
    "فاکتور": "invoice",
    "صورتحساب": "invoice",
    "سفارش": "order",
    "قبض": "bill",
    "شناسهپرداخت": "payment",
    "شمارهسفارش": "order",
    "شمارهفاکتور": "invoice",
}
_EN_REFERENCE_KINDS = {"inv": "invoice", "ref": "reference", "po": "order"}

_NUMBER = r"\d{1,3}(?:[,٬،]\d{3})+(?:[.٫]\d+)?|\d+(?:[.٫]\d+)?"
_FA_SCALE = {
    "هزار": 1000,
    "میلیون": 10**6,
    "ملیون": 10**6,
    "میلیارد": 10**9,
    "thousand": 1000,
    "k": 1000,
    "million": 10**6,
    "m": 10**6,
    "billion": 10**9,
}
_SCALE = r"(?:هزار|میلیون|ملیون|میلیارد|thousand|million|billion|k|m)"
_WORD_NUMBERS = {
    **PERSIAN_NUMBER_WORDS,
    "صد": 100,
    "دویست": 200,
    "سیصد": 300,
    "پانصد": 500,
    "پونصد": 500,
}
_AMOUNT = (
    rf"(?:(?P<num>{_NUMBER})|(?P<word>{'|'.join(sorted(_WORD_NUMBERS, key=len, reverse=True))}))"
    rf"(?:{_GAP}(?P<scale>{_SCALE}))?"
)
_MONEY = re.compile(
    rf"(?<![\w\u200c.,٬])(?:"
    rf"{_AMOUNT}{_GAP}(?P<cur>تومان|تومن|ریال|tomans?|rials?|IRR|IRT|dollars?|bucks|USD|US\$)"
    rf"|(?P<pre>\$|USD|US\$){_GAP}(?P<pnum>{_NUMBER})(?:{_GAP}(?P<pscale>thousand|million|k|m))?"
    rf")(?![\w\u200c])",
    re.IGNORECASE,
)
_CURRENCIES = {
    "تومان": "IRT",
    "تومن": "IRT",
    "toman": "IRT",
    "tomans": "IRT",
    "irt": "IRT",
    "ریال": "IRR",
    "rial": "IRR",
    "rials": "IRR",
    "irr": "IRR",
}

# When two findings overlap, the earlier kind keeps the text.
_PRECEDENCE = ("email", "reference", "phone", "money", "when")
_PHONE_REGIONS = ("IR", "US")


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing found in a text.

    ``text`` is the span as written (``text == source[start:end]``); ``value`` is normalized:
    E.164 for phones, ISO 8601 in the tenant's zone for dates and times, "2000000 IRT" or
    "50 USD" for money, the lowercased address for email, the id for a reference.
    """

    kind: EntityKind
    text: str
    start: int
    end: int
    value: str
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, object]:
        """The entity as plain JSON values (for `monshi classify` and the stored item)."""
        return {
            "kind": self.kind,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extra": dict(self.extra),
        }


def extract_entities(
    text: str, *, now: datetime, timezone: str, default_region: str = "IR"
) -> list[Entity]:
    """Entities in ``text``, in order of position, none overlapping another.

    ``now`` (aware) is the moment relative dates are resolved from, in the tenant's
    ``timezone``; the clock is never read. ``default_region`` ("IR", "US", ...) decides how
    a national phone number is read and whether "5/3" is May 3 (US) or 5 March; numbers
    valid only in the other of Iran and North America are found too.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(ZoneInfo(timezone))
    plain = to_ascii_digits(text).translate(_LETTERS)
    assert len(plain) == len(text)
    found: dict[str, list[Entity]] = {
        "email": list(_emails(text, plain)),
        "reference": list(_references(text, plain)),
        "phone": list(_phones(text, plain, default_region)),
        "money": list(_money(text, plain)),
        "when": [
            Entity(
                m.kind, text[m.start : m.end], m.start, m.end, m.value, MappingProxyType(m.extra)
            )
            for m in find_dates(plain, local_now, month_first=default_region.upper() in _MDY)
        ],
    }
    kept: list[Entity] = []
    for kind in _PRECEDENCE:
        for entity in found[kind]:
            if all(entity.end <= other.start or entity.start >= other.end for other in kept):
                kept.append(entity)
    return sorted(kept, key=lambda e: e.start)


# Regions that write the month first in numeric dates.
_MDY = frozenset({"US", "PH", "FM", "MH", "PW"})


def _emails(text: str, plain: str) -> Iterator[Entity]:
    for match in _EMAIL.finditer(plain):
        yield Entity(
            "email",
            text[match.start() : match.end()],
            match.start(),
            match.end(),
            match.group().lower(),
        )


def _phones(text: str, plain: str, default_region: str) -> Iterator[Entity]:
    regions = (default_region.upper(), *(r for r in _PHONE_REGIONS if r != default_region.upper()))
    taken: list[tuple[int, int]] = []
    for region in regions:
        matcher = phonenumbers.PhoneNumberMatcher(
            plain, region, leniency=phonenumbers.Leniency.VALID
        )
        for match in matcher:
            if any(match.start < end and match.end > start for start, end in taken):
                continue
            taken.append((match.start, match.end))
            number = match.number
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            country = phonenumbers.region_code_for_number(number) or ""
            yield Entity(
                "phone",
                text[match.start : match.end],
                match.start,
                match.end,
                e164,
                MappingProxyType({"region": country}),
            )


def _references(text: str, plain: str) -> Iterator[Entity]:
    for match in _REFERENCE.finditer(plain):
        if match["label"]:
            label = match["label"].lower()
            kind = _EN_REFERENCE_KINDS.get(label, label)
            reference = match["id"].lstrip("#")
            start = match.start()
        else:
            label = re.sub(r"[\s\u200c]", "", match["fa"])
            kind = _FA_REFERENCE_KINDS.get(label, "tracking")
            reference = match["faid"]
            start = match.start("fa")
        if not re.search(r"\d", reference):
            continue
        yield Entity(
            "reference",
            text[start : match.end()],
            start,
            match.end(),
            reference,
            MappingProxyType({"type": kind}),
        )


def _money(text: str, plain: str) -> Iterator[Entity]:
    for match in _MONEY.finditer(plain):
        if match["pre"]:
            number, scale, currency = match["pnum"], match["pscale"], "USD"
        else:
            number, scale = match["num"], match["scale"]
            currency = _CURRENCIES.get(match["cur"].lower(), "USD")
            if number is None:
                number = str(_WORD_NUMBERS[match["word"]])
                if scale is None:
                    continue  # «سه تومان» is more likely a phrase than a price
        amount = _amount(number, scale)
        if amount is None:
            continue
        extra = {"currency": currency}
        if currency == "IRT":
            extra["irr"] = _plain_number(amount * 10)  # 1 toman is 10 rials
        yield Entity(
            "money",
            text[match.start() : match.end()],
            match.start(),
            match.end(),
            f"{_plain_number(amount, cents=currency == 'USD')} {currency}",
            MappingProxyType(extra),
        )


def _amount(number: str, scale: str | None) -> Decimal | None:
    digits = re.sub(r"[,٬،]", "", number).replace("٫", ".")
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        return None
    if scale:
        amount *= _FA_SCALE[scale.lower()]
    return amount


def _plain_number(amount: Decimal, *, cents: bool = False) -> str:
    if amount == amount.to_integral_value():
        return str(int(amount))
    return f"{amount:.2f}" if cents else format(amount.normalize(), "f")
