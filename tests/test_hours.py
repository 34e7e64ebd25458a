"""Business hours and the business-time clock, with plain values."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triage.hours import BusinessHours, HoursError, format_ranges, parse_hours, parse_ranges

TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")

# A Tehran office: Saturday to Wednesday 9-17; Thursday and Friday are the weekend.
TEHRAN_OFFICE = parse_hours(
    "Asia/Tehran",
    {day: "09:00-17:00" for day in ("sat", "sun", "mon", "tue", "wed")},
    holidays=["2026-03-21"],
)
NY_OFFICE = parse_hours(
    "America/New_York", {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")}
)


def test_email_late_on_wednesday_in_tehran_is_due_on_saturday_morning() -> None:
    wednesday = datetime(2026, 11, 25, 16, 55, tzinfo=TEHRAN)
    assert wednesday.strftime("%a") == "Wed"
    due = TEHRAN_OFFICE.add_business_time(wednesday, timedelta(minutes=30))
    assert due == datetime(2026, 11, 28, 9, 25, tzinfo=TEHRAN)
    assert due.strftime("%a") == "Sat"


def test_iranian_weekend_is_closed() -> None:
    thursday_noon = datetime(2026, 11, 26, 12, 0, tzinfo=TEHRAN)
    friday_noon = datetime(2026, 11, 27, 12, 0, tzinfo=TEHRAN)
    saturday_noon = datetime(2026, 11, 28, 12, 0, tzinfo=TEHRAN)
    assert not TEHRAN_OFFICE.is_open(thursday_noon)
    assert not TEHRAN_OFFICE.is_open(friday_noon)
    assert TEHRAN_OFFICE.is_open(saturday_noon)
    assert TEHRAN_OFFICE.next_open(thursday_noon) == datetime(2026, 11, 28, 9, 0, tzinfo=TEHRAN)


def test_holiday_is_closed_and_skipped() -> None:
    nowruz = datetime(2026, 3, 21, 10, 0, tzinfo=TEHRAN)  # a Saturday, but a holiday
    assert not TEHRAN_OFFICE.is_open(nowruz)
    assert TEHRAN_OFFICE.next_open(nowruz) == datetime(2026, 3, 22, 9, 0, tzinfo=TEHRAN)


def test_open_and_closed_edges() -> None:
    monday = datetime(2026, 11, 23, tzinfo=NEW_YORK)
    assert not NY_OFFICE.is_open(monday.replace(hour=8, minute=59))
    assert NY_OFFICE.is_open(monday.replace(hour=9))
    assert NY_OFFICE.is_open(monday.replace(hour=16, minute=59))
    assert not NY_OFFICE.is_open(monday.replace(hour=17))


def test_clock_spans_the_spring_forward_night_in_new_york() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. Friday 16:30 EST + 1 h of business time:
    # 30 min on Friday, 30 min on Monday morning (EDT).
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=NEW_YORK)
    due = NY_OFFICE.add_business_time(friday, timedelta(hours=1))
    assert due == datetime(2026, 3, 9, 9, 30, tzinfo=NEW_YORK)
    assert due.utcoffset() == timedelta(hours=-4)


def test_a_day_with_a_dst_change_inside_opening_hours() -> None:
    # Open 00:00-24:00 on Sunday 2026-11-01, when 02:00 EDT falls back to 01:00 EST:
    # that day is 25 hours long in real time.
    office = parse_hours("America/New_York", {"sun": "00:00-24:00"})
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    end = office.add_business_time(start, timedelta(hours=25))
    assert end == datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK)  # the whole 25 h day
    # Wall-clock arithmetic would have said 24 h: one hour less is left on the Sunday.
    assert office.add_business_time(start, timedelta(hours=24)) == datetime(
        2026, 11, 1, 23, 0, tzinfo=NEW_YORK
    )


def test_an_office_that_never_opens_has_no_due_time() -> None:
    start = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert BusinessHours("UTC").next_open(start) is None
    with pytest.raises(ValueError, match="no open time"):
        BusinessHours("UTC").add_business_time(start, timedelta(minutes=1))


def test_always_open() -> None:
    office = parse_hours("Europe/London", always_open=True)
    moment = datetime(2026, 12, 25, 3, 0, tzinfo=ZoneInfo("Europe/London"))
    assert office.is_open(moment)
    assert office.add_business_time(moment, timedelta(minutes=10)) == moment + timedelta(minutes=10)


def test_ranges_parse_and_format_round_trip() -> None:
    text = "09:00-13:00, 14:00-24:00"
    assert format_ranges(parse_ranges(text)) == text
    assert parse_ranges("closed") == ()


@pytest.mark.parametrize(
    ("weekly", "holidays", "fragment"),
    [
        ({"mon": "9-17"}, [], "not a time"),
        ({"mon": "17:00-09:00"}, [], "ends before it starts"),
        ({"mon": "09:00-12:00, 11:00-13:00"}, [], "overlaps"),
        ({"monday": "09:00-17:00"}, [], "unknown day"),
        ({"mon": 9}, [], "must be a string"),
        ({"mon": "09:00-17:00"}, ["2026-13-01"], "not an ISO date"),
        ({"mon": "closed", "tue": "closed"}, [], "every day is closed"),
    ],
)
def test_malformed_hours_are_reported(
    weekly: dict[str, object], holidays: list[str], fragment: str
) -> None:
    with pytest.raises(HoursError, match=fragment):
        parse_hours("Asia/Tehran", weekly, holidays)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours("Mars/Olympus", {"mon": "x", "xyz": "09:00-10:00"}, ["nope"])
    keys = [key for key, _ in caught.value.problems]
    assert keys == ["timezone", "mon", "xyz", "holidays[0]"]
