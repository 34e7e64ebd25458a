"""Business hours of a client: weekly opening ranges and holidays in the client's time zone.

Pure and time-zone exact: "is the office open now" for after-hours call handling, and
"what moment is N minutes of open time after this one" for SLA clocks. Elapsed time is
measured in real (UTC) time, so a DST change shortens or lengthens the day as a wall
clock in that office would show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
END_OF_DAY = time(23, 59, 59, 999999)
# Searching for the next open moment gives up after this long without one (a tenant whose
# hours are all closed, or a year of holidays).
SEARCH_LIMIT_DAYS = 400
# Days whose open intervals a BusinessHours keeps (a year and more of SLA look-ahead).
DAYS_CACHED = 512

Range = tuple[time, time]


class HoursError(ValueError):
    """Malformed hours; `problems` are (key, message) pairs relative to the hours table."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Weekly ranges (weekday 0 = Monday) and holidays, in `timezone`."""

    timezone: str
    weekly: Mapping[int, tuple[Range, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False
    # Each local day's open intervals, worked out once: every incoming call asks whether
    # the office is open, and every SLA clock walks the days ahead.
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether the office is open at the aware moment `at`."""
        if self.always_open:
            return True
        local = at.astimezone(self.zone)
        return any(start <= at < end for start, end in self._intervals_on(local.date()))

    def next_open(self, at: datetime) -> datetime | None:
        """The first open moment at or after `at` (itself when open); None if never."""
        for start, end in self.open_intervals(at):
            if end > at:
                return max(start, at).astimezone(self.zone)
        return None

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when `duration` of open time has passed since `start`.

        An item arriving after hours starts its clock at the next opening. Raises
        ValueError when the office never opens again within the search limit.
        """
        start = start.astimezone(UTC)  # aware arithmetic in one zone is wall-clock arithmetic
        if self.always_open:
            return (start + duration).astimezone(self.zone)
        remaining = duration
        for interval_start, interval_end in self.open_intervals(start):
            begin = max(interval_start, start)
            if interval_end <= begin:
                continue
            available = interval_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(self.zone)
            remaining -= available
        raise ValueError(f"no open time within {SEARCH_LIMIT_DAYS} days of {start.isoformat()}")

    def open_intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals as UTC datetimes, from the local day of `since` on."""
        if self.always_open:
            yield since, since + timedelta(days=SEARCH_LIMIT_DAYS)
            return
        day = since.astimezone(self.zone).date()
        for offset in range(SEARCH_LIMIT_DAYS):
            yield from self._intervals_on(day + timedelta(days=offset))

    def _intervals_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        intervals = self._days.get(day)
        if intervals is None:
            if len(self._days) >= DAYS_CACHED:
                self._days.clear()
            intervals = self._days[day] = tuple(self._work_out(day))
        return intervals

    def _work_out(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        zone = self.zone
        intervals = []
        for start, end in self.weekly.get(day.weekday(), ()):
            begin = datetime.combine(day, start, zone)
            finish = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if end == END_OF_DAY
                else datetime.combine(day, end, zone)
            )
            intervals.append((begin.astimezone(UTC), finish.astimezone(UTC)))
        return intervals


def parse_hours(
    timezone: str,
    weekly: Mapping[str, object] | None = None,
    holidays: Iterable[object] = (),
    always_open: bool = False,
) -> BusinessHours:
    """Build BusinessHours from config values; raise HoursError listing every problem.

    `weekly` maps weekday keys (mon ... sun) to "09:00-17:00", several ranges separated by
    commas ("09:00-13:00, 14:00-18:00"), "24:00" as an end, or "closed"; a day left out
    is closed. `holidays` are ISO dates ("2026-03-20").
    """
    problems: list[tuple[str, str]] = []
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(("timezone", f"{timezone!r} is not a known time zone"))
    parsed: dict[int, tuple[Range, ...]] = {}
    for key, value in (weekly or {}).items():
        if key not in WEEKDAYS:
            problems.append((key, f"unknown day (use {', '.join(WEEKDAYS)})"))
            continue
        if not isinstance(value, str):
            problems.append((key, 'must be a string like "09:00-17:00" or "closed"'))
            continue
        try:
            parsed[WEEKDAYS.index(key)] = parse_ranges(value)
        except ValueError as error:
            problems.append((key, str(error)))
    days: set[date] = set()
    for index, value in enumerate(holidays):
        try:
            if not isinstance(value, str | date):
                raise ValueError
            days.add(value if isinstance(value, date) else date.fromisoformat(value))
        except ValueError:
            problems.append((f"holidays[{index}]", f"{value!r} is not an ISO date (YYYY-MM-DD)"))
    if not always_open and not any(parsed.values()) and not problems and weekly:
        problems.append(("hours", "every day is closed; set always_open or give opening ranges"))
    if problems:
        raise HoursError(problems)
    return BusinessHours(timezone, parsed, frozenset(days), always_open)


def parse_ranges(text: str) -> tuple[Range, ...]:
    """'09:00-13:00, 14:00-17:30' -> ((09:00, 13:00), (14:00, 17:30)); 'closed' -> ()."""
    if text.strip().lower() == "closed":
        return ()
    ranges: list[Range] = []
    for part in text.split(","):
        start_text, dash, end_text = part.strip().partition("-")
        if not dash:
            raise ValueError(f'{part.strip()!r} is not a range like "09:00-17:00"')
        start, end = _clock(start_text), _clock(end_text)
        if end <= start:
            raise ValueError(
                f"{part.strip()!r} ends before it starts (overnight ranges: split them)"
            )
        if ranges and start < ranges[-1][1]:
            raise ValueError(f"{part.strip()!r} overlaps or precedes the range before it")
        ranges.append((start, end))
    return tuple(ranges)


def format_ranges(ranges: tuple[Range, ...]) -> str:
    """The inverse of parse_ranges, for config export."""
    if not ranges:
        return "closed"
    return ", ".join(f"{_text(start)}-{_text(end)}" for start, end in ranges)


def _clock(text: str) -> time:
    text = text.strip()
    if text == "24:00":
        return END_OF_DAY
    try:
        hours, minutes = text.split(":")
        if len(minutes) != 2:
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text!r} is not a time like 09:30") from None


def _text(moment: time) -> str:
    return "24:00" if moment == END_OF_DAY else moment.strftime("%H:%M")
