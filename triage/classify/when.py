"""Dates and times in English and Persian text, resolved in the tenant's time zone.

English date phrases are resolved by dateparser (its bundled data only, never the network);
Persian phrases and Jalali dates by the rules here over jdatetime. Clock times, durations and
the joining of a date with a time are done here for both languages, so that "in two hours"
counts real hours across a DST change and a span is exactly what was written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import dateparser
import jdatetime

_GAP = r"[\s\u200c]*"  # Persian writes compounds with a space, a ZWNJ or nothing
_LEFT = r"(?<![\w\u200c])"
_RIGHT = r"(?![\w])"

_EN_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_EN_WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL = r"(?:st|nd|rd|th)?"
_EN_DATE = re.compile(
    r"\b(?:"
    r"(?:the\s+)?day\s+after\s+tomorrow|today|tonight|tomorrow|yesterday"
    r"|next\s+(?:week|month)"
    rf"|(?:(?:next|this|coming)\s+)?{_EN_WEEKDAYS}"
    rf"|{_EN_MONTHS}\.?\s+\d{{1,2}}{_ORDINAL}(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}{_ORDINAL}\s+(?:of\s+)?{_EN_MONTHS}(?:,?\s+\d{{4}})?"
    r")\b",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.\-])(?:"
    r"(?P<y>\d{4})[/\-.](?P<m>\d{1,2})[/\-.](?P<d>\d{1,2})"
    r"|(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y2>\d{4}|\d{2}))?"
    r")(?![\d/]|\.\d)"
)
_EN_TIME = re.compile(
    r"\b(?:(?:at|@)\s*)?(?:"
    r"(?P<h>\d{1,2})(?::(?P<min>\d{2}))?\s*(?P<ap>[ap])\.?m\b\.?"
    r"|(?P<h24>\d{1,2}):(?P<min24>\d{2})(?!\d)"
    r"|(?P<word>noon|midday|midnight)\b"
    r")",
    re.IGNORECASE,
)
# One to ten in Persian words; entities.py extends it for amounts.
PERSIAN_NUMBER_WORDS = {
    "یک": 1,
    "یه": 1,
    "دو": 2,
    "سه": 3,
    "چهار": 4,
    "پنج": 5,
    "شش": 6,
    "هفت": 7,
    "هشت": 8,
    "نه": 9,
    "ده": 10,
}

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    **PERSIAN_NUMBER_WORDS,
    "بیست": 20,
    "سی": 30,
}
_EN_DURATION = re.compile(
    r"\bin\s+(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen"
    r"|twenty|thirty|forty-five|half\s+an)\s+(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?)\b",
    re.IGNORECASE,
)
_FA_DURATION = re.compile(
    rf"{_LEFT}(?P<n>\d+|نیم|یک|یه|دو|سه|چهار|پنج|شش|هفت|هشت|نه|ده|بیست|سی){_GAP}"
    rf"(?P<unit>دقیقه|ساعت|روز|هفته){_GAP}(?:ی{_GAP})?(?:دیگه|دیگر|بعد){_RIGHT}"
)
_FA_DAY = re.compile(rf"{_LEFT}(?P<w>پس{_GAP}فردا|فردا|امروز|امشب|دیروز){_RIGHT}")
_FA_WEEKDAYS = {
    "شنبه": 0,
    "یکشنبه": 1,
    "دوشنبه": 2,
    "سهشنبه": 3,
    "چهارشنبه": 4,
    "پنجشنبه": 5,
    "جمعه": 6,
}  # days after Saturday, the first day of the Iranian week
_FA_WEEKDAY = re.compile(
    rf"{_LEFT}(?P<w>(?:(?:یک|دو|سه|چهار|پنج){_GAP})?شنبه|جمعه)"
    rf"(?P<next>{_GAP}(?:ی{_GAP})?هفته{_GAP}(?:ی{_GAP})?(?:بعد|آینده|دیگه|دیگر))?{_RIGHT}"
)
_FA_NEXT_WEEK = re.compile(rf"{_LEFT}هفته{_GAP}(?:ی{_GAP})?(?:بعد|آینده|دیگه|دیگر){_RIGHT}")
_JALALI_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
_FA_JALALI = re.compile(
    rf"{_LEFT}(?P<d>\d{{1,2}})(?:{_GAP}(?:ام|م))?{_GAP}(?:ماه{_GAP})?"
    rf"(?P<m>{'|'.join(_JALALI_MONTHS)}|امرداد){_RIGHT}"
    rf"(?:{_GAP}(?:ماه{_GAP})?(?:سال{_GAP})?(?P<y>1[34]\d\d)(?!\d))?"
)
_FA_PERIODS = rf"صبح|بامداد|ظهر|بعد{_GAP}از{_GAP}ظهر|عصر|شب"
_FA_TIME = re.compile(
    rf"{_LEFT}(?:(?P<sa>ساعت){_GAP})?(?P<h>\d{{1,2}})(?::(?P<min>\d{{2}}))?"
    rf"(?:{_GAP}و{_GAP}(?:(?P<half>نیم)|(?P<quarter>ربع)|(?P<dm>\d{{1,2}}){_GAP}دقیقه))?"
    rf"(?:{_GAP}(?P<p>{_FA_PERIODS}))?{_RIGHT}"
)
# «ظهر» alone is noon; in «بعد از ظهر» without an hour it is only a part of the day.
_FA_NOON = re.compile(rf"{_LEFT}(?<!از )(?<!از\u200c)(?<!بعداز)ظهر{_RIGHT}")
_DEADLINE_BEFORE = re.compile(
    r"(?:\b(?:before|by|until|till|due(?:\s+by)?|no\s+later\s+than)"
    rf"|{_LEFT}(?:تا|قبل{_GAP}از|پیش{_GAP}از|حداکثر{_GAP}تا|نهایتا[ًا]?{_GAP}تا))[\s\u200c]+$",
    re.IGNORECASE,
)
_JOINER = re.compile(r"^[\s\u200c,،]*(?:(?:at|on|و)[\s\u200c]+)?$", re.IGNORECASE)


WhenKind = Literal["datetime", "date", "time"]


@dataclass(frozen=True, slots=True)
class WhenMatch:
    """A date or time found in text: ``kind`` is "datetime", "date" or "time"."""

    start: int
    end: int
    kind: WhenKind
    value: str
    extra: dict[str, str]


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    day: date | None = None
    clock: time | None = None
    instant: datetime | None = None  # a duration from now, already absolute
    extra: dict[str, str] = field(default_factory=dict)


def find_dates(text: str, local_now: datetime, *, month_first: bool) -> list[WhenMatch]:
    """Dates and times in ``text`` (ASCII digits, Persian letters), relative to ``local_now``.

    ``local_now`` is aware and in the tenant's zone; a clock time without a date is its next
    occurrence; a day and month without a year (Gregorian or Jalali) the next one from today.
    """
    finders: tuple[Callable[[str, datetime], Iterator[_Token]], ...] = (
        _durations,
        _persian_days,
        _jalali_dates,
        _numeric_dates_for(month_first),
        _english_dates,
        _clock_times,
        _persian_times,
    )
    tokens: list[_Token] = []
    for finder in finders:
        tokens.extend(finder(text, local_now))
    tokens = _without_overlaps(tokens)
    return [_resolve(group, text, local_now) for group in _groups(tokens, text)]


def _without_overlaps(tokens: list[_Token]) -> list[_Token]:
    kept: list[_Token] = []
    for token in sorted(tokens, key=lambda t: (-(t.end - t.start), t.start)):
        if all(token.end <= other.start or token.start >= other.end for other in kept):
            kept.append(token)
    return sorted(kept, key=lambda t: t.start)


def _groups(tokens: list[_Token], text: str) -> Iterator[list[_Token]]:
    """A date and a clock time written next to each other are one moment."""
    group: list[_Token] = []
    for token in tokens:
        if group and _joins(group, token, text):
            group.append(token)
            continue
        if group:
            yield group
        group = [token]
    if group:
        yield group


def _joins(group: list[_Token], token: _Token, text: str) -> bool:
    if token.instant is not None or any(t.instant is not None for t in group):
        return False
    has_day = any(t.day is not None for t in group)
    has_clock = any(t.clock is not None for t in group)
    if (token.day is not None and has_day) or (token.clock is not None and has_clock):
        return False
    return bool(_JOINER.match(text[group[-1].end : token.start]))


def _resolve(group: list[_Token], text: str, local_now: datetime) -> WhenMatch:
    start, end = group[0].start, group[-1].end
    extra: dict[str, str] = {}
    for token in group:
        extra.update(token.extra)
    before = _DEADLINE_BEFORE.search(text, max(0, start - 24), start)
    if before is not None and before.end() == start:
        start = before.start()
        extra["deadline"] = "true"
    else:
        extra["deadline"] = "false"
    zone = local_now.tzinfo
    instant = next((t.instant for t in group if t.instant is not None), None)
    day = next((t.day for t in group if t.day is not None), None)
    clock = next((t.clock for t in group if t.clock is not None), None)
    if instant is not None:
        return WhenMatch(start, end, "datetime", _iso(instant.astimezone(zone)), extra)
    if day is not None and clock is None:
        return WhenMatch(start, end, "date", day.isoformat(), extra)
    assert clock is not None
    kind: WhenKind = "datetime"
    if day is None:
        kind, day = "time", local_now.date()
        if datetime.combine(day, clock, zone) < local_now:
            day += timedelta(days=1)
        extra["time"] = clock.isoformat("minutes")
    # Through UTC and back, so a wall time skipped by DST lands on a real instant.
    moment = datetime.combine(day, clock, zone).astimezone(UTC).astimezone(zone)
    return WhenMatch(start, end, kind, _iso(moment), extra)


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _durations(text: str, local_now: datetime) -> Iterator[_Token]:
    for match in (*_EN_DURATION.finditer(text), *_FA_DURATION.finditer(text)):
        amount_text, unit = match["n"].lower(), match["unit"].lower()
        if amount_text.startswith("half") or amount_text == "نیم":
            amount = 0.5
        elif amount_text.isdigit():
            amount = float(amount_text)
        else:
            amount = float(_NUMBER_WORDS[amount_text])
        extra = {"relative": "true"}
        if unit.startswith(("min", "دقیقه")):
            yield _Token(
                match.start(),
                match.end(),
                instant=_later(local_now, timedelta(minutes=amount)),
                extra=extra,
            )
        elif unit.startswith(("h", "ساعت")):
            yield _Token(
                match.start(),
                match.end(),
                instant=_later(local_now, timedelta(hours=amount)),
                extra=extra,
            )
        else:
            days = int(amount * (7 if unit.startswith(("w", "هفته")) else 1))
            yield _Token(
                match.start(), match.end(), day=local_now.date() + timedelta(days=days), extra=extra
            )


def _later(local_now: datetime, delta: timedelta) -> datetime:
    """Elapsed time, not wall time: two hours before a DST change are still two hours."""
    return (local_now.astimezone(UTC) + delta).astimezone(local_now.tzinfo)


def _persian_days(text: str, local_now: datetime) -> Iterator[_Token]:
    today = local_now.date()
    offsets = {"امروز": 0, "امشب": 0, "فردا": 1, "دیروز": -1}
    for match in _FA_DAY.finditer(text):
        word = match["w"]
        offset = 2 if word.startswith("پس") else offsets[word]
        yield _Token(
            match.start(),
            match.end(),
            day=today + timedelta(days=offset),
            extra={"relative": "true"},
        )
    for match in _FA_WEEKDAY.finditer(text):
        target = _FA_WEEKDAYS[re.sub(r"[\s\u200c]", "", match["w"])]
        into_week = (today.weekday() - 5) % 7  # days since Saturday
        # «شنبه» is the next Saturday; «شنبه هفته بعد» the Saturday of next week.
        offset = 7 - into_week + target if match["next"] else (target - into_week) % 7 or 7
        yield _Token(
            match.start(),
            match.end(),
            day=today + timedelta(days=offset),
            extra={"relative": "true"},
        )
    for match in _FA_NEXT_WEEK.finditer(text):
        yield _Token(
            match.start(),
            match.end(),
            day=today + timedelta(days=7),
            extra={"relative": "true", "granularity": "week"},
        )


def _jalali_dates(text: str, local_now: datetime) -> Iterator[_Token]:
    today = jdatetime.date.fromgregorian(date=local_now.date())
    for match in _FA_JALALI.finditer(text):
        month = 5 if match["m"] == "امرداد" else _JALALI_MONTHS.index(match["m"]) + 1
        day_of_month = int(match["d"])
        try:
            if match["y"]:
                jalali = jdatetime.date(int(match["y"]), month, day_of_month)
            else:
                jalali = jdatetime.date(today.year, month, day_of_month)
                if jalali < today:
                    jalali = jdatetime.date(today.year + 1, month, day_of_month)
        except ValueError:  # 31 Esfand, 32 Azar: not a date, so not an entity
            continue
        yield _jalali_token(match.start(), match.end(), jalali)


def _jalali_token(start: int, end: int, jalali: jdatetime.date) -> _Token:
    gregorian: date = jalali.togregorian()
    return _Token(
        start,
        end,
        day=gregorian,
        extra={"calendar": "jalali", "jalali": jalali.strftime("%Y-%m-%d")},
    )


def _numeric_dates_for(month_first: bool) -> Callable[[str, datetime], Iterator[_Token]]:
    def numeric_dates(text: str, local_now: datetime) -> Iterator[_Token]:
        for match in _NUMERIC_DATE.finditer(text):
            try:
                if match["y"]:
                    year, month, day_of_month = int(match["y"]), int(match["m"]), int(match["d"])
                    if 1300 <= year < 1500:
                        jalali = jdatetime.date(year, month, day_of_month)
                        yield _jalali_token(match.start(), match.end(), jalali)
                    elif 1900 <= year < 2200:
                        yield _Token(
                            match.start(), match.end(), day=date(year, month, day_of_month)
                        )
                    continue
                first, second = int(match["a"]), int(match["b"])
                month, day_of_month = (first, second) if month_first else (second, first)
                year_text = match["y2"]
                if year_text:
                    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
                    yield _Token(match.start(), match.end(), day=date(year, month, day_of_month))
                else:
                    yield _Token(
                        match.start(),
                        match.end(),
                        day=_next_day_month(local_now.date(), month, day_of_month),
                    )
            except ValueError:  # 2/30 or 13/5: a fraction or a score, not a date
                continue

    return numeric_dates


def _next_day_month(today: date, month: int, day_of_month: int) -> date:
    candidate = date(today.year, month, day_of_month)
    return candidate if candidate >= today else date(today.year + 1, month, day_of_month)


_EN_DAY_OFFSETS = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "yesterday": -1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
}


def _english_dates(text: str, local_now: datetime) -> Iterator[_Token]:
    base = local_now.replace(tzinfo=None)
    for match in _EN_DATE.finditer(text):
        phrase = re.sub(r"^(?:this|coming)\s+", "", match.group(), flags=re.IGNORECASE)
        offset = _EN_DAY_OFFSETS.get(re.sub(r"\s+", " ", phrase.lower()))
        if offset is not None:  # the commonest words, without dateparser's milliseconds
            yield _Token(
                match.start(),
                match.end(),
                day=base.date() + timedelta(days=offset),
                extra={"relative": "true"},
            )
            continue
        day = _dateparser_day(phrase, base.date())
        if day is None:
            continue
        if day.year == local_now.year + 1 and day.replace(year=local_now.year) == base.date():
            day = base.date()  # "November 25" said on November 25 is today, not next year
        relative = not re.search(r"\d", phrase)
        yield _Token(
            match.start(), match.end(), day=day, extra={"relative": "true"} if relative else {}
        )


@functools.lru_cache(maxsize=4096)
def _dateparser_day(phrase: str, today: date) -> date | None:
    """The day dateparser reads in `phrase` said on `today`, remembered: it costs
    milliseconds a phrase, and the same words come back all day.

    The phrases `_EN_DATE` finds (weekdays, next week or month, a day and month) name a day,
    and the day dateparser gives depends on the date said, not the time of day (checked:
    460 phrases and days, at 00:00:00, 00:00:01, 09:30 and 23:59:59), so noon stands for
    the whole day.
    """
    settings = {
        "RELATIVE_BASE": datetime.combine(today, time(12)),
        "TIMEZONE": "UTC",  # wall time in, wall time out: the zone is applied by the caller
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DATES_FROM": "future",
    }
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    return None if parsed is None else parsed.date()


def _clock_times(text: str, local_now: datetime) -> Iterator[_Token]:
    for match in _EN_TIME.finditer(text):
        word = (match["word"] or "").lower()
        if word:
            clock = time(0) if word == "midnight" else time(12)
        elif match["ap"]:
            hour, minute = int(match["h"]), int(match["min"] or 0)
            if not 1 <= hour <= 12 or minute > 59:
                continue
            clock = time(hour % 12 + (12 if match["ap"].lower() == "p" else 0), minute)
        else:
            hour, minute = int(match["h24"]), int(match["min24"])
            if hour > 23 or minute > 59:
                continue
            clock = time(hour, minute)
        yield _Token(match.start(), match.end(), clock=clock)


def _persian_times(text: str, local_now: datetime) -> Iterator[_Token]:
    for match in _FA_TIME.finditer(text):
        period = re.sub(r"[\s\u200c]", "", match["p"] or "")
        if not match["sa"] and not period:
            continue  # a bare number is not a time
        hour = int(match["h"])
        minute = int(match["min"] or 0)
        if match["half"]:
            minute = 30
        elif match["quarter"]:
            minute = 15
        elif match["dm"]:
            minute = int(match["dm"])
        if hour > 24 or minute > 59:
            continue
        extra: dict[str, str] = {}
        if period in ("بعدازظهر", "عصر") and hour < 12:
            hour += 12
        elif period == "شب":
            hour = 0 if hour == 12 else hour + 12 if 6 <= hour < 12 else hour
        elif period == "ظهر":
            hour = hour + 12 if hour < 6 else hour
        elif period in ("صبح", "بامداد"):
            hour = 0 if hour == 12 else hour
        elif 1 <= hour <= 6:
            # «ساعت ۵» with no part of the day: office hours make it the afternoon.
            hour += 12
            extra["meridiem"] = "assumed"
        yield _Token(match.start(), match.end(), clock=time(hour % 24, minute), extra=extra)
    for match in _FA_NOON.finditer(text):
        yield _Token(match.start(), match.end(), clock=time(12))
