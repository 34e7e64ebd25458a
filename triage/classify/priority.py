"""How soon an item needs a person, from what it says and who sent it, with the cues that decided.

Pure: the caller passes the sender's standing (VIP, repeat contact), the entities already found in
the text and the moment the item arrived. Spam is not judged here; the caller lowers spam itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from triage.classify.entities import Entity
from triage.classify.normalize import normalize
from triage.models import Priority

# A deadline this close makes an item high priority; this close, urgent.
DEADLINE_HIGH = timedelta(hours=24)
DEADLINE_URGENT = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    """The priority and, in the order found, why (empty when nothing raised it)."""

    priority: Priority
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Cue:
    label: str  # as shown to the secretary
    pattern: re.Pattern[str]  # over normalize()d text
    priority: Priority
    kind: str  # "urgency word" | "emergency word"


# Each entry: the label shown, then the regex alternatives written in normalize()d form (lower
# case, no ZWNJ, Persian letters). Matches are whole words: «فوریه» (February) is not «فوری».
_URGENCY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("urgent", (r"urgent(?:ly)?", r"urgency")),
    ("ASAP", (r"asap", r"a\.s\.a\.p\.?")),
    ("immediately", (r"immediately", r"immediate attention")),
    ("right away", (r"right away",)),
    ("as soon as possible", (r"as soon as (?:possible|you can)",)),
    ("critical", (r"critical",)),
    ("time-sensitive", (r"time[- ]sensitive",)),
    ("high priority", (r"(?:high|top) priority",)),
    ("فوری", (r"فوری", r"فورا", r"فوریت", r"fou?ri")),
    ("اورژانسی", (r"اورژانسی(?:ه)?", r"urjansi")),
    ("همین امروز", (r"همین امروز",)),
    ("همین الان", (r"همین الان",)),
    ("خیلی ضروری", (r"خیلی (?:ضروری|ضروریه|لازم)", r"کار ضروری")),
    ("هر چه سریع‌تر", (r"هر ?چه (?:سریعتر|زودتر)", r"هر ?چی (?:سریعتر|زودتر)")),
    ("در اسرع وقت", (r"در اسرع وقت",)),
    ("سریعاً", (r"سریعا",)),
    ("عجله دارم", (r"عجله (?:دارم|داریم|داره|دارند|دارن)", r"aj[ae]le?h? dar(?:am|im)")),
)
_EMERGENCY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emergency", (r"emergency(?! contacts?\b)", r"emergencies")),
    ("bleeding", (r"bleeding", r"bleeds?")),
    ("severe pain", (r"severe (?:pain|bleeding|allergic reaction)", r"chest pains?")),
    ("can't breathe", (r"(?:can't|cannot|can not) breathe",)),
    ("ambulance", (r"ambulance", r"call(?:ed|ing)? 911")),
    ("unconscious", (r"unconscious", r"passed out")),
    ("life-threatening", (r"life[- ]threatening", r"life or death")),
    ("اورژانس", (r"اورژانس",)),
    ("خونریزی", (r"خونریزی(?:ه)?", r"خون ریزی")),
    ("درد شدید", (r"درد (?:خیلی )?شدید", r"درد قفسه سینه")),
    ("نفسم بالا نمیاد", (r"نفسم بالا نمی ?(?:اد|اید)", r"نمی ?تونم نفس بکشم")),
    ("آمبولانس", (r"امبولانس",)),
    ("بیهوش", (r"بیهوش(?: شده| شد)?",)),
    ("تصادف", (r"تصادف (?:کرده|کردم|کرد|شده)",)),
    # Dangers to a home or an office, and bodies in trouble, as callers describe them.
    ("fire", (r"fire(?! (?:sale|them|him|her|me|you))", r"on fire", r"smoke alarm", r"smoke")),
    ("gas", (r"gas leak", r"(?:smell|smells|smelling) (?:of )?gas", r"carbon monoxide")),
    (
        "flooding",
        (r"flood(?:ed|ing)?", r"burst pipe", r"pipe (?:burst|broke)", r"water everywhere"),
    ),
    ("break-in", (r"break[- ]in", r"broken into", r"burglar(?:y|s)?", r"robbed", r"robbery")),
    ("evacuate", (r"evacuat(?:e|ed|ing|ion)",)),
    (
        "collapse",
        (
            r"collapsed",
            r"fainted",
            r"seizure",
            r"stroke",
            r"heart attack",
            r"overdose",
            r"allergic reaction",
            r"broken (?:arm|leg|bone|wrist|ankle|jaw|tooth)",
            r"knocked out",
        ),
    ),
    ("police", (r"police", r"call(?:ed|ing)? the cops")),
    ("آتش", (r"اتش ?سوزی", r"اتیش", r"اتش گرفت(?:ه)?", r"دود")),
    ("گاز", (r"بوی گاز", r"نشت گاز", r"نشتی گاز", r"گازگرفتگی", r"گاز گرفتگی")),
    ("آب گرفتگی", (r"اب ?گرفتگی", r"لوله (?:ترکیده|ترکید|شکسته)", r"سیل")),
    ("سرقت", (r"سرقت", r"دزد(?:ی)? (?:اومده|امده|زده)", r"دزد زده")),
    ("پلیس", (r"پلیس", r"۱۱۰", r"110")),
    (
        "حال بد",
        (
            r"غش (?:کرده|کرد)",
            r"از حال رفت(?:ه)?",
            r"تشنج",
            r"سکته",
            r"حمله قلبی",
            r"مسمومیت",
            r"شکستگی",
            r"خون(?:ش|م)? بند نمی ?(?:اد|اید)",
            r"قند(?:م|ش)? (?:خیلی )?(?:افتاده|پایین اومده|پایینه)",
        ),
    ),
)

# A deadline that ends today, however it is put ("the form closes at 5 today", «مهلتش
# امروز تموم میشه»): the entity extractor needs a clock time, these do not.
_DEADLINE_TODAY: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "deadline today",
        (
            r"(?:before|by|until|till|no later than|due|deadline|closes?|closing|ends?|expires?)"
            r"\b[^.!?\n]{0,40}\btoday",
            r"today\b[^.!?\n]{0,20}\b(?:deadline|last day|cut-?off)",
            r"end of (?:the )?(?:business )?day",
            r"eod",
            r"(?:by|before) tonight",
        ),
    ),
    (
        "مهلت امروز",
        (
            r"(?:تا|قبل از|مهلت|حداکثر|اخرین مهلت)[^.!?\n]{0,40}امروز",
            r"امروز[^.!?\n]{0,30}(?:تموم|تمام|مهلت|اخرین روز)",
            r"تا اخر وقت",
            r"تا (?:عصر|ظهر|شب)(?!\w)",
        ),
    ),
)

# A cue right after these (within a couple of softening words) is denied: "not urgent",
# "non-urgent", "nothing urgent", "no emergency", "isn't very urgent", «غیر فوری».
_NEGATED_BEFORE = re.compile(
    r"(?:(?<!\w)(?:not|no|non|nothing|never|isn't|isnt|aren't|wasn't|without|غیر)"
    r"|n't)[\s-]*(?:(?:really|very|so|too|that|an?|at all|super|particularly|terribly|"
    r"خیلی|چندان|اصلا|زیاد)\s+){0,2}$"
)
# ... or right before these: «فوری نیست», «اورژانسی نیست», «عجله نکنید».
_NEGATED_AFTER = re.compile(
    r"^\s*(?:(?:هم|خیلی|اصلا)\s+)?(?:نیست|نیس|نمیباشد|نمی باشد|نبود|نداره|ندارد|نکنید|نکن)(?!\w)"
)


def _compile(
    table: tuple[tuple[str, tuple[str, ...]], ...], priority: Priority, kind: str
) -> tuple[_Cue, ...]:
    return tuple(
        _Cue(label, re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)"), priority, kind)
        for label, alts in table
    )


_CUES = (
    _compile(_EMERGENCY, Priority.URGENT, "emergency word")
    + _compile(_DEADLINE_TODAY, Priority.HIGH, "deadline")
    + _compile(_URGENCY, Priority.HIGH, "urgency word")
)


def _negated(text: str, start: int, end: int) -> bool:
    return bool(
        _NEGATED_BEFORE.search(text[max(0, start - 40) : start])
        or _NEGATED_AFTER.match(text[end : end + 30])
    )


# A quick pass that rules out most texts before the pass per cue: every cue's words without
# the word boundaries, so it matches wherever a cue does (and a little more). Without a
# look-behind first, the regex engine skips ahead to where one of the words can start.
_ANY_CUE = re.compile(
    "|".join(cue.pattern.pattern.removeprefix(r"(?<!\w)").removesuffix(r"(?!\w)") for cue in _CUES)
)


def _word_cues(text: str) -> list[_Cue]:
    """The cues that occur in `text` (normalized) at least once without being denied."""
    if _ANY_CUE.search(text) is None:
        return []
    found: list[_Cue] = []
    for cue in _CUES:
        if any(not _negated(text, m.start(), m.end()) for m in cue.pattern.finditer(text)):
            found.append(cue)
    return found


def _deadline(entity: Entity, zone: tzinfo) -> datetime | None:
    """The moment a deadline entity ends (end of day for a bare date), or None if unreadable."""
    try:
        if entity.kind == "date":
            day = datetime.fromisoformat(entity.value).date()
            return datetime.combine(day + timedelta(days=1), time(), zone)
        moment = datetime.fromisoformat(entity.value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _describe_deadline(entity: Entity, deadline: datetime, now: datetime) -> str:
    if entity.kind == "date":
        day = deadline.date() - timedelta(days=1)
        today = now.astimezone(deadline.tzinfo).date()
        when = {today: "today", today + timedelta(days=1): "tomorrow"}.get(day, day.isoformat())
        return f"deadline end of {when}"
    today = now.astimezone(deadline.tzinfo).date()
    day_name = {today: "today", today + timedelta(days=1): "tomorrow"}.get(
        deadline.date(), deadline.date().isoformat()
    )
    return f"deadline {deadline:%H:%M} {day_name}"


def _higher(a: Priority, b: Priority) -> Priority:
    return a if a.rank <= b.rank else b


def assess_priority(
    text: str,
    *,
    subject: str = "",
    vip: bool,
    repeat: bool,
    entities: Sequence[Entity],
    now: datetime,
    base: Priority = Priority.NORMAL,
    timezone: str | None = None,
) -> PriorityDecision:
    """The priority of an item: `base` raised by every cue found, never lowered.

    Cues: urgency words and phrases in Persian and English in the text or subject (HIGH), words
    of a medical or safety emergency (URGENT), unless denied ("not urgent", «فوری نیست»); a VIP
    sender (URGENT); a repeat contact within 30 minutes (HIGH); a deadline entity (one with
    ``extra["deadline"] == "true"``) due within 24 hours of `now` (HIGH) or 2 hours (URGENT).
    A deadline already past is not a cue. A date-only deadline ends at midnight in `timezone`
    (the tenant's), or in `now`'s zone when none is given. `now` must be aware.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    priority = base
    reasons: list[str] = []

    def raise_to(level: Priority, reason: str) -> None:
        nonlocal priority
        priority = _higher(priority, level)
        if reason not in reasons:
            reasons.append(reason)

    if vip:
        raise_to(Priority.URGENT, "VIP sender")
    if repeat:
        raise_to(Priority.HIGH, "repeat contact within 30 min")
    zone = ZoneInfo(timezone) if timezone else now.tzinfo
    assert zone is not None
    # A deadline the entity extractor dated says more than the words "today" and "by".
    dated_deadline = any(entity.extra.get("deadline") == "true" for entity in entities)
    for where, source in (("", text), (" in subject", subject)):
        if source:
            for cue in _word_cues(normalize(source)):
                if cue.kind == "deadline" and dated_deadline:
                    continue
                raise_to(cue.priority, f'{cue.kind} "{cue.label}"{where}')

    for entity in entities:
        if entity.extra.get("deadline") != "true":
            continue
        deadline = _deadline(entity, zone)
        if deadline is None or deadline < now:
            continue
        left = deadline - now
        if left <= DEADLINE_HIGH:
            level = Priority.URGENT if left <= DEADLINE_URGENT else Priority.HIGH
            raise_to(level, _describe_deadline(entity, deadline, now))
    return PriorityDecision(priority, tuple(reasons))
