"""Keyword rules that map a short utterance (IVR speech) to a category, in Persian and English.

A stopgap until the trained classifier lands: good enough for "I'd like to book an
appointment" or «می‌خواستم نوبت بگیرم», and it says which word decided.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from triage.classify.normalize import normalize

KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "scheduling": (
        "appointment", "book", "booking", "reschedule", "cancel", "meeting", "calendar",
        "schedule", "visit", "نوبت", "وقت", "قرار", "جلسه", "رزرو", "کنسل", "لغو", "ملاقات",
    ),
    "travel": (
        "flight", "ticket", "hotel", "visa", "trip", "travel", "airport", "tour",
        "پرواز", "بلیط", "بلیت", "هتل", "ویزا", "سفر", "فرودگاه", "تور",
    ),
    "accounting": (
        "invoice", "bill", "billing", "payment", "pay", "refund", "receipt", "balance",
        "فاکتور", "صورتحساب", "پرداخت", "قسط", "بدهی", "رسید", "حساب", "پول", "واریز",
    ),
    "documents": (
        "document", "documents", "file", "contract", "records", "paperwork", "form",
        "مدرک", "مدارک", "پرونده", "قرارداد", "سند", "فرم", "نامه",
    ),
    "social_media": (
        "instagram", "facebook", "twitter", "linkedin", "post", "social", "telegram",
        "اینستاگرام", "پست", "تلگرام", "صفحه", "شبکه",
    ),
    "sales": (
        "price", "quote", "buy", "purchase", "partnership", "new customer", "offer", "cost",
        "قیمت", "خرید", "همکاری", "پیشنهاد", "سفارش جدید", "هزینه",
    ),
    "support": (
        "problem", "complaint", "broken", "issue", "order", "help", "not working", "pain",
        "مشکل", "شکایت", "خراب", "سفارش", "کمک", "درد", "اعتراض",
    ),
    "message": (
        "message", "call back", "callback", "speak to", "talk to", "leave",
        "پیغام", "پیام", "تماس بگیرد", "زنگ بزند", "صحبت",
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    category: str
    keyword: str


def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words only, so "pay" does not fire inside "paypal"; Persian suffixes such as
    # «نوبتم» still match because \w continues through Persian letters: allow them.
    word = re.escape(normalize(keyword))
    if keyword.isascii():
        return re.compile(rf"\b{word}\b")
    return re.compile(rf"(?<!\w){word}")


_PATTERNS = [
    (category, keyword, _pattern(keyword))
    for category, keywords in KEYWORDS.items()
    for keyword in keywords
]


def match_category(text: str) -> KeywordMatch | None:
    """The category whose keywords occur most often in `text` (first listed wins ties)."""
    normalized = normalize(text)
    best: tuple[int, KeywordMatch] | None = None
    counts: dict[str, tuple[int, str]] = {}
    for category, keyword, pattern in _PATTERNS:
        hits = len(pattern.findall(normalized))
        if hits:
            previous = counts.get(category, (0, keyword))
            counts[category] = (previous[0] + hits, previous[1] if previous[0] else keyword)
    for category, (hits, keyword) in counts.items():
        if best is None or hits > best[0]:
            best = (hits, KeywordMatch(category, keyword))
    return None if best is None else best[1]
