"""Whether an item is spam: marketing mail, robocalls and hang-ups, and SMS spam, with the cues.

Each cue found adds its weight to a score and the item is spam at `SPAM_THRESHOLD`. The weights
are set so that no single ordinary word decides: a customer asking about a discount, a list
mail about a meeting or a mechanic's voicemail about a warranty stays work, while bulk headers
with promotional content, two robocall phrases or a prize with a link do not. Spam is kept for
review, never deleted; that is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from triage.classify.normalize import normalize
from triage.mail import MailKind
from triage.models import Channel
from triage.voice import HANG_UP_RECORDING_SECONDS

SPAM_THRESHOLD = 1.0
# Bulk headers say "a machine sent this to many", not "this is unwanted": alone they stay
# below the threshold, and one promotional cue with them reaches it.
BULK_WEIGHT = 0.6


@dataclass(frozen=True, slots=True)
class SpamDecision:
    """`spam` when `score` reaches SPAM_THRESHOLD; `reasons` names every cue found."""

    spam: bool
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Cue:
    kind: str  # the reason names the kind and the words matched: promotional "40% off"
    label: str  # what the alternatives have in common, for reading the table
    weight: float
    pattern: re.Pattern[str]  # over normalize()d text


def _cue(kind: str, label: str, weight: float, *alternatives: str) -> _Cue:
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
    return _Cue(kind, label, weight, pattern)


_PROMO, _PRIZE, _ROBOCALL = "promotional", "prize or scheme", "robocall"
_SHORTENERS = (
    r"bit\.ly|tinyurl\.com|goo\.gl|t\.co|ow\.ly|is\.gd|cutt\.ly|rebrand\.ly|shorturl\.at|rb\.gy"
    r"|tiny\.cc|buff\.ly|yun\.ir|b2n\.ir|l1nk\.ir|zaya\.io|shrtco\.de"
)

# Patterns are written in normalize()d form: lower case, ASCII digits, no ZWNJ, Persian letters.
_CONTENT_CUES: tuple[_Cue, ...] = (
    # Marketing, in mail and SMS.
    _cue(_PROMO, "unsubscribe", 0.4, r"unsubscribe", r"opt[- ]out",
         r"manage (?:your )?preferences"),
    _cue(_PROMO, "% off", 0.4, r"\d+ ?% (?:off|discount)", r"up to \d+ ?%", r"\d+ ?% ?تخفیف"),
    _cue(_PROMO, "discount", 0.4, r"discounts?", r"discounted"),
    _cue(_PROMO, "limited offer", 0.4, r"limited[- ]time(?: offer| only)?", r"limited offer",
         r"offer ends", r"sale ends", r"while supplies last", r"don't miss out"),
    _cue(_PROMO, "special offer", 0.4, r"(?:special|exclusive) (?:offer|deal)s?",
         r"deal of the day", r"black friday", r"cyber monday"),
    _cue(_PROMO, "promo code", 0.4, r"promo code", r"coupon(?: code)?", r"discount code"),
    _cue(_PROMO, "free shipping", 0.4, r"free shipping", r"free delivery"),
    _cue(_PROMO, "shop now", 0.4, r"shop now", r"buy now", r"order now", r"act now",
         r"join now", r"sign up now"),
    _cue(_PROMO, "view in browser", 0.4, r"view (?:this email |it )?in (?:your )?browser"),
    _cue(_PROMO, "تخفیف", 0.4, r"تخفیف(?:ات|ها|های)?"),
    _cue(_PROMO, "کد تخفیف", 0.4, r"کد تخفیف", r"کوپن"),
    _cue(_PROMO, "لغو عضویت", 0.4, r"لغو عضویت", r"لغو اشتراک"),
    _cue(_PROMO, "پیشنهاد ویژه", 0.4, r"پیشنهاد (?:ویژه|استثنایی|شگفت انگیز)",
         r"فروش (?:ویژه|فوق العاده)", r"حراج", r"جشنواره (?:فروش|تخفیف)"),
    _cue(_PROMO, "فرصت محدود", 0.4, r"فرصت (?:محدود|را از دست ندهید)", r"فقط تا پایان",
         r"تا اتمام موجودی"),
    _cue(_PROMO, "ارسال رایگان", 0.4, r"ارسال رایگان"),
    _cue(_PROMO, "خرید کنید", 0.4, r"(?:همین (?:حالا|الان) )?خرید کنید"),
    # SMS opt-out lines: "Reply STOP to opt out", Iranian ad panels' «لغو۱۱».
    _cue("opt-out", "reply STOP", 0.4, r"(?:reply|text|txt|send) stop", r"لغو ?11"),
    # Prizes, lotteries and money schemes.
    _cue(_PRIZE, "you've won", 0.6, r"you(?:'ve| have)? (?:just )?won", r"you are (?:a|our) winner",
         r"you're (?:a|our) winner"),
    _cue(_PRIZE, "claim your prize", 0.6, r"claim (?:your|the) (?:prize|reward|gift|cash)"),
    _cue(_PRIZE, "gift card", 0.4, r"gift cards?"),
    _cue(_PRIZE, "lottery", 0.4, r"lottery", r"sweepstakes", r"jackpot", r"قرعه ?کشی"),
    _cue(_PRIZE, "crypto", 0.4, r"crypto(?:currency)?", r"bitcoin", r"btc", r"forex",
         r"ارز دیجیتال", r"بیت ?کوین", r"رمز ?ارز", r"فارکس"),
    _cue(_PRIZE, "guaranteed returns", 0.6, r"guaranteed (?:returns?|profits?|income)",
         r"double your money", r"سود (?:تضمینی|قطعی)", r"درآمد (?:میلیونی|تضمینی)"),
    _cue(_PRIZE, "برنده شدید", 0.6, r"برنده (?:\S+ ){0,5}?(?:شدید|شدی|شدین)"),
    _cue(_PRIZE, "جایزه", 0.4, r"جایزه", r"جوایز"),
    _cue("short link", "bit.ly", 0.4, rf"(?:https?://)?(?:{_SHORTENERS})/\S+"),
    # Robocalls, in a voicemail transcript.
    _cue(_ROBOCALL, "press 1", 0.6,
         r"press (?:\d|one|two|three|four|five|six|seven|eight|nine|zero)",
         r"(?:عدد|کلید|دکمه|شماره) (?:\d|یک|دو|سه|صفر) (?:را |رو )?(?:فشار|بزنید)"),
    _cue(_ROBOCALL, "extended warranty", 0.6, r"(?:extended|vehicle|car's|auto) warranty"),
    _cue(_ROBOCALL, "automated message", 0.6, r"(?:this is )?an? (?:automated|pre-?recorded) "
         r"(?:message|call)", r"پیام (?:خودکار|ضبط شده)", r"تماس خودکار"),
    _cue(_ROBOCALL, "final notice", 0.4, r"final (?:notice|attempt to reach you)",
         r"lower your (?:interest )?rate", r"social security number (?:has been )?suspended",
         r"student loan forgiveness"),
)  # fmt: skip

_BRACKETED = re.compile(r"[\[(][^\])]*[\])]")  # "[silence]", "(inaudible)"
_SHORT_CODE = re.compile(r"\d{3,6}")
# Iranian bulk-SMS panel lines: 1000…, 2000…, 3000…, 5000…, 9000… with or without +98.
_PANEL_LINE = re.compile(r"(?:98)?(?:1000|2000|3000|5000|9000)\d{2,10}")
_BULK_PRECEDENCE = ("bulk", "junk", "list")


def _has_words(transcript: str) -> bool:
    return any(ch.isalnum() for ch in _BRACKETED.sub(" ", transcript))


# A quick pass that rules out most texts before the pass per cue: every cue's words without
# the word boundaries, so it matches wherever a cue does (and a little more). Without a
# look-behind first, the regex engine skips ahead to where one of the words can start.
_ANY_CONTENT_CUE = re.compile(
    "|".join(
        cue.pattern.pattern.removeprefix(r"(?<!\w)").removesuffix(r"(?!\w)")
        for cue in _CONTENT_CUES
    )
)


def _content_cues(sources: Iterable[str]) -> list[tuple[_Cue, str]]:
    """Cues in any of `sources`, each once with the words that matched first, in table order.

    A match that lies inside another cue's longer match is not counted ("کد تخفیف" is one
    cue, not also "تخفیف"), so one phrase never adds up to spam by itself.
    """
    found: dict[int, str] = {}
    for source in sources:
        text = normalize(source)
        if _ANY_CONTENT_CUE.search(text) is None:
            continue
        matches = [
            (index, m.start(), m.end())
            for index, cue in enumerate(_CONTENT_CUES)
            for m in cue.pattern.finditer(text)
        ]
        for index, start, end in matches:
            inside = any(
                other != index and s <= start and end <= e and (e - s) > (end - start)
                for other, s, e in matches
            )
            if not inside and index not in found:
                found[index] = text[start:end]
    return [(_CONTENT_CUES[index], found[index]) for index in sorted(found)]


def _bulk_reasons(headers: Mapping[str, str], mail_kind: MailKind | None) -> list[str]:
    """The bulk-mail signals. An explicit ordinary `mail_kind` overrules the headers: the
    mail rules already decided that a list of the tenant's own is ordinary mail."""
    if mail_kind is not None and mail_kind not in (MailKind.BULK, MailKind.LIST):
        return []
    reasons = [f"mail kind {mail_kind.value}"] if mail_kind is not None else []
    if headers.get("list-unsubscribe", "").strip():
        reasons.append("List-Unsubscribe header")
    if headers.get("list-id", "").strip():
        reasons.append("List-Id header")
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        reasons.append(f"Precedence: {precedence}")
    return reasons


def _sender_reason(channel: Channel, sender: str) -> str | None:
    if channel is not Channel.SMS:
        return None
    digits = sender.strip().removeprefix("+")
    if _SHORT_CODE.fullmatch(digits):
        return "short-code sender"
    if _PANEL_LINE.fullmatch(digits):
        return "bulk SMS line sender"
    return None


def assess_spam(
    *,
    channel: Channel,
    text: str,
    subject: str = "",
    headers: Mapping[str, str] | None = None,
    mail_kind: MailKind | None = None,
    recording_seconds: int | None = None,
    transcript: str | None = None,
    sender: str = "",
) -> SpamDecision:
    """Whether an item is spam, with a score and every cue found.

    `headers` are the mail's top-level headers by lower-case name; `mail_kind` is what
    `triage.mail.classify_automation` decided. For a call, `recording_seconds` and `transcript`
    describe the voicemail (the transcript is read as the text when `text` is empty). `sender`
    is an SMS sender's number, checked for short codes and bulk-SMS panel lines.
    """
    reasons: list[str] = []
    score = 0.0

    bulk = _bulk_reasons(headers or {}, mail_kind)
    if bulk:
        reasons.extend(bulk)
        score += BULK_WEIGHT

    if channel is Channel.CALL and recording_seconds is not None:
        words = transcript if transcript is not None else text
        if recording_seconds < HANG_UP_RECORDING_SECONDS and not _has_words(words):
            reasons.append(f"empty voicemail ({recording_seconds} s, no words)")
            score += SPAM_THRESHOLD

    sender_reason = _sender_reason(channel, sender)
    if sender_reason is not None:
        reasons.append(sender_reason)
        score += 0.4

    sources = [subject, text] + ([transcript] if transcript and transcript != text else [])
    for cue, words in _content_cues(sources):
        reasons.append(f'{cue.kind} "{words}"')
        score += cue.weight

    score = round(score, 2)
    return SpamDecision(score >= SPAM_THRESHOLD, score, tuple(reasons))
