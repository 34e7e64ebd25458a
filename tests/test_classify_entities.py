"""Entities in Persian and English text, against a fixed `now` in the tenant's zone."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from triage.classify.entities import Entity, extract_entities

TEHRAN = "Asia/Tehran"
NEW_YORK = "America/New_York"
# Wednesday 25 November 2026 = 4 Azar 1405.
NOW_TEHRAN = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(TEHRAN))
NOW_NEW_YORK = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(NEW_YORK))


def fa(text: str, now: datetime = NOW_TEHRAN) -> list[Entity]:
    return extract_entities(text, now=now, timezone=TEHRAN, default_region="IR")


def en(text: str, now: datetime = NOW_NEW_YORK) -> list[Entity]:
    return extract_entities(text, now=now, timezone=NEW_YORK, default_region="US")


def found(entities: list[Entity]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.text, e.value) for e in entities]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing here may reach out (dateparser must use its bundled data)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("entity extraction tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("شماره‌ام ۰۹۱۲۱۲۳۴۵۶۷ است", "IR", [("۰۹۱۲۱۲۳۴۵۶۷", "+989121234567")]),
        ("call 0912 123 4567", "IR", [("0912 123 4567", "+989121234567")]),
        ("با +98 912 123 4567 تماس بگیرید", "IR", [("+98 912 123 4567", "+989121234567")]),
        ("دفتر: 021-8877 6655", "IR", [("021-8877 6655", "+982188776655")]),
        ("دفتر: ۰۲۱-۸۸۷۷ ۶۶۵۵", "IR", [("۰۲۱-۸۸۷۷ ۶۶۵۵", "+982188776655")]),
        ("Arabic-Indic ٠٩١٢١٢٣٤٥٦٧ too", "IR", [("٠٩١٢١٢٣٤٥٦٧", "+989121234567")]),
        ("Call (212) 555-0143 now", "US", [("(212) 555-0143", "+12125550143")]),
        ("Toronto office +1 416 555 0123", "US", [("+1 416 555 0123", "+14165550123")]),
        # The other side of the agency's two regions is still found.
        ("reach me on 0912 123 4567", "US", [("0912 123 4567", "+989121234567")]),
        ("call (212) 555-0143", "IR", [("(212) 555-0143", "+12125550143")]),
        ("no phone in 12345 or 2026", "US", []),
    ],
)
def test_phone_numbers_come_out_in_e164(
    text: str, region: str, expected: list[tuple[str, str]]
) -> None:
    entities = extract_entities(text, now=NOW_TEHRAN, timezone=TEHRAN, default_region=region)
    assert [(e.text, e.value) for e in entities if e.kind == "phone"] == expected
    assert all(e.kind == "phone" for e in entities)


@pytest.mark.parametrize(
    ("text", "expected", "deadline"),
    [
        ("فردا بیا", ("date", "فردا", "2026-11-26"), "false"),
        ("امروز", ("date", "امروز", "2026-11-25"), "false"),
        (
            "پس‌فردا ساعت ۴ بعدازظهر",
            ("datetime", "پس‌فردا ساعت ۴ بعدازظهر", "2026-11-27T16:00:00+03:30"),
            "false",
        ),
        (
            "پس فردا ساعت ۴ بعد از ظهر",
            ("datetime", "پس فردا ساعت ۴ بعد از ظهر", "2026-11-27T16:00:00+03:30"),
            "false",
        ),
        ("ساعت ۵ عصر زنگ بزنید", ("time", "ساعت ۵ عصر", "2026-11-25T17:00:00+03:30"), "false"),
        ("ساعت ۹ صبح", ("time", "ساعت ۹ صبح", "2026-11-26T09:00:00+03:30"), "false"),
        ("ساعت ۱۰ و نیم شب", ("time", "ساعت ۱۰ و نیم شب", "2026-11-25T22:30:00+03:30"), "false"),
        ("ساعت ۱۴:۳۰", ("time", "ساعت ۱۴:۳۰", "2026-11-25T14:30:00+03:30"), "false"),
        ("تا ساعت ۵ امروز", ("datetime", "تا ساعت ۵ امروز", "2026-11-25T17:00:00+03:30"), "true"),
        ("قبل از فردا ظهر", ("datetime", "قبل از فردا ظهر", "2026-11-26T12:00:00+03:30"), "true"),
        ("شنبه میام", ("date", "شنبه", "2026-11-28"), "false"),
        (
            "سه‌شنبه ساعت ۱۰ صبح",
            ("datetime", "سه‌شنبه ساعت ۱۰ صبح", "2026-12-01T10:00:00+03:30"),
            "false",
        ),
        ("پنجشنبه", ("date", "پنجشنبه", "2026-11-26"), "false"),
        # Today is Wednesday: a bare «چهارشنبه» is next week's.
        ("چهارشنبه", ("date", "چهارشنبه", "2026-12-02"), "false"),
        ("هفته بعد", ("date", "هفته بعد", "2026-12-02"), "false"),
        ("دو ساعت دیگه", ("datetime", "دو ساعت دیگه", "2026-11-25T12:00:00+03:30"), "false"),
        ("۱۵ اسفند", ("date", "۱۵ اسفند", "2027-03-06"), "false"),
        ("۱۵ اسفند ۱۴۰۵", ("date", "۱۵ اسفند ۱۴۰۵", "2027-03-06"), "false"),
        ("۱۵ اسفند ۱۴۰۶", ("date", "۱۵ اسفند ۱۴۰۶", "2028-03-05"), "false"),
        ("۱۴۰۵/۱۲/۱۵", ("date", "۱۴۰۵/۱۲/۱۵", "2027-03-06"), "false"),
        ("۴ آذر", ("date", "۴ آذر", "2026-11-25"), "false"),
        # 3 Azar was yesterday: the next one is a year away.
        ("۳ آذر", ("date", "۳ آذر", "2027-11-24"), "false"),
        (
            "۲۰ دی ساعت ۱۱ صبح",
            ("datetime", "۲۰ دی ساعت ۱۱ صبح", "2027-01-10T11:00:00+03:30"),
            "false",
        ),
        ("2026-12-01", ("date", "2026-12-01", "2026-12-01"), "false"),
    ],
)
def test_persian_dates_and_times(text: str, expected: tuple[str, str, str], deadline: str) -> None:
    entities = fa(text)
    assert found(entities) == [expected]
    assert entities[0].extra["deadline"] == deadline


@pytest.mark.parametrize(
    ("text", "expected", "deadline"),
    [
        (
            "Call me tomorrow at 3pm",
            ("datetime", "tomorrow at 3pm", "2026-11-26T15:00:00-05:00"),
            "false",
        ),
        ("next Tuesday", ("date", "next Tuesday", "2026-12-01"), "false"),
        (
            "the day after tomorrow at 9am",
            ("datetime", "the day after tomorrow at 9am", "2026-11-27T09:00:00-05:00"),
            "false",
        ),
        ("Tonight?", ("date", "Tonight", "2026-11-25"), "false"),
        ("see you on March 5", ("date", "March 5", "2027-03-05"), "false"),
        ("5 March 2027", ("date", "5 March 2027", "2027-03-05"), "false"),
        ("it's on 5/3", ("date", "5/3", "2027-05-03"), "false"),
        (
            "before 5 pm today",
            ("datetime", "before 5 pm today", "2026-11-25T17:00:00-05:00"),
            "true",
        ),
        ("by noon tomorrow", ("datetime", "by noon tomorrow", "2026-11-26T12:00:00-05:00"), "true"),
        ("in two hours", ("datetime", "in two hours", "2026-11-25T12:00:00-05:00"), "false"),
        ("in 30 minutes", ("datetime", "in 30 minutes", "2026-11-25T10:30:00-05:00"), "false"),
        ("in 3 days", ("date", "in 3 days", "2026-11-28"), "false"),
        (
            "meet at 10:30 on Friday",
            ("datetime", "at 10:30 on Friday", "2026-11-27T10:30:00-05:00"),
            "false",
        ),
        # 9 am has passed: a bare time is its next occurrence.
        ("at 9am", ("time", "at 9am", "2026-11-26T09:00:00-05:00"), "false"),
        ("until 12/24", ("date", "until 12/24", "2026-12-24"), "true"),
    ],
)
def test_english_dates_and_times(text: str, expected: tuple[str, str, str], deadline: str) -> None:
    entities = en(text)
    assert found(entities) == [expected]
    assert entities[0].extra["deadline"] == deadline


def test_day_month_order_follows_the_region() -> None:
    assert en("on 5/3")[0].value == "2027-05-03"
    assert extract_entities("on 5/3", now=NOW_TEHRAN, timezone=TEHRAN)[0].value == "2027-03-05"


def test_persian_week_starts_on_saturday() -> None:
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=ZoneInfo(TEHRAN))
    assert fa("دوشنبه", saturday)[0].value == "2026-11-30"
    assert found(fa("دوشنبه هفته بعد", saturday)) == [("date", "دوشنبه هفته بعد", "2026-12-07")]


def test_a_clock_time_without_part_of_day_is_read_as_office_hours() -> None:
    (entity,) = fa("ساعت ۵")
    assert entity.value == "2026-11-25T17:00:00+03:30"
    assert entity.extra["meridiem"] == "assumed"


def test_jalali_day_month_asked_in_esfand_rolls_into_the_next_year() -> None:
    in_esfand = datetime(2027, 3, 1, 10, 0, tzinfo=ZoneInfo(TEHRAN))  # 10 Esfand 1405
    (farvardin,) = fa("۱۰ فروردین", in_esfand)
    assert (farvardin.value, farvardin.extra["jalali"]) == ("2027-03-30", "1406-01-10")
    (esfand,) = fa("۵ اسفند", in_esfand)
    assert (esfand.value, esfand.extra["jalali"]) == ("2028-02-24", "1406-12-05")
    assert fa("۳۱ اسفند", in_esfand) == []  # no 31st in Esfand: not a date


def test_relative_hours_count_real_time_across_the_dst_change_in_new_york() -> None:
    before_fall_back = datetime(2026, 11, 1, 0, 30, tzinfo=ZoneInfo(NEW_YORK))  # EDT
    assert en("in two hours", before_fall_back)[0].value == "2026-11-01T01:30:00-05:00"
    before_spring_forward = datetime(2026, 3, 8, 1, 30, tzinfo=ZoneInfo(NEW_YORK))  # EST
    assert en("in an hour", before_spring_forward)[0].value == "2026-03-08T03:30:00-04:00"
    # A wall-clock time on the far side of the change gets that day's offset.
    day_before = datetime(2026, 10, 31, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert en("tomorrow at 3pm", day_before)[0].value == "2026-11-01T15:00:00-05:00"
    # 2:30 am does not exist on 8 March 2026 in New York: the clock jumps to 3:30 EDT.
    day_before_gap = datetime(2026, 3, 7, 12, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert en("tomorrow at 2:30am", day_before_gap)[0].value == "2026-03-08T03:30:00-04:00"


def test_now_in_another_zone_is_read_in_the_tenants_zone() -> None:
    # 02:00 UTC on the 26th is still the evening of the 25th in New York.
    utc_now = datetime(2026, 11, 26, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert en("tomorrow", utc_now)[0].value == "2026-11-26"
    assert fa("فردا", utc_now)[0].value == "2026-11-27"  # 05:30 on the 26th in Tehran


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        extract_entities("tomorrow", now=datetime(2026, 11, 25, 10), timezone=NEW_YORK)


@pytest.mark.parametrize(
    ("text", "expected", "currency_extra"),
    [
        ("۲ میلیون تومان", ("۲ میلیون تومان", "2000000 IRT"), {"irr": "20000000"}),
        ("دو میلیون تومن", ("دو میلیون تومن", "2000000 IRT"), {"irr": "20000000"}),
        ("مبلغ ۱۲۳٬۰۰۰ ریال", ("۱۲۳٬۰۰۰ ریال", "123000 IRR"), {}),
        ("مبلغ ۱۲۳,۰۰۰ ریال", ("۱۲۳,۰۰۰ ریال", "123000 IRR"), {}),
        ("۵۰۰ هزار تومان", ("۵۰۰ هزار تومان", "500000 IRT"), {"irr": "5000000"}),
        ("۱٫۵ میلیون تومان", ("۱٫۵ میلیون تومان", "1500000 IRT"), {"irr": "15000000"}),
        ("pay 750,000 rials", ("750,000 rials", "750000 IRR"), {}),
        ("costs $50", ("$50", "50 USD"), {}),
        ("50 dollars", ("50 dollars", "50 USD"), {}),
        ("USD 1,200.50 due", ("USD 1,200.50", "1200.50 USD"), {}),
        ("$2.5k budget", ("$2.5k", "2500 USD"), {}),
    ],
)
def test_money(text: str, expected: tuple[str, str], currency_extra: dict[str, str]) -> None:
    (entity,) = fa(text)
    assert (entity.kind, entity.text, entity.value) == ("money", *expected)
    assert {k: v for k, v in entity.extra.items() if k == "irr"} == currency_extra


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to John.Doe@Example.COM please", ("John.Doe@Example.COM", "john.doe@example.com")),
        (
            "ایمیل: sara.ahmadi+work@mail.example.ir ممنون",
            ("sara.ahmadi+work@mail.example.ir",) * 2,
        ),
    ],
)
def test_email_addresses(text: str, expected: tuple[str, str]) -> None:
    assert found(fa(text)) == [("email", *expected)]


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("about invoice #INV-2024-0012", ("invoice #INV-2024-0012", "INV-2024-0012"), "invoice"),
        ("order 48213 has not arrived", ("order 48213", "48213"), "order"),
        ("ticket no. 7781", ("ticket no. 7781", "7781"), "ticket"),
        ("فاکتور شماره ۱۲۳۴ پرداخت نشده", ("فاکتور شماره ۱۲۳۴", "1234"), "invoice"),
        ("کد پیگیری ۹۸۷۶۵۴", ("کد پیگیری ۹۸۷۶۵۴", "987654"), "tracking"),
        ("سفارش ۵۵۰۱۲", ("سفارش ۵۵۰۱۲", "55012"), "order"),
    ],
)
def test_references(text: str, expected: tuple[str, str], kind: str) -> None:
    entities = fa(text)
    assert found(entities) == [("reference", *expected)]
    assert entities[0].extra["type"] == kind


def test_an_order_word_without_a_number_is_no_reference() -> None:
    assert fa("I want to order flowers") == []


def test_a_phone_number_is_not_also_money_a_reference_or_a_date() -> None:
    assert [e.kind for e in fa("شماره ۰۹۱۲۱۲۳۴۵۶۷ ساعت ۵ عصر")] == ["phone", "time"]
    assert [e.kind for e in fa("تلفن ۰۲۱-۸۸۷۷ ۶۶۵۵ تومان")] == ["phone"]
    text = "call 0912 123 4567 about the $50 refund, or (212) 555-0143 at 3pm"
    kinds = [(e.kind, e.text) for e in en(text)]
    assert kinds == [
        ("phone", "0912 123 4567"),
        ("money", "$50"),
        ("phone", "(212) 555-0143"),
        ("time", "at 3pm"),
    ]


def test_no_two_entities_overlap() -> None:
    text = "invoice 2026-12-01 due 5/3 by $50, tel +1 416 555 0123, order 12/24"
    entities = en(text)
    spans = sorted((e.start, e.end) for e in entities)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
    assert ("reference", "invoice 2026-12-01") in [(e.kind, e.text) for e in entities]


def test_mixed_language_text_with_persian_digits() -> None:
    text = (
        "سلام، لطفا invoice #INV-2024-0012 رو تا ساعت ۵ امروز بفرستید. "
        "مبلغ ۲ میلیون تومان. شماره من ۰۹۱۲۱۲۳۴۵۶۷ و ایمیل ali@example.com"
    )
    assert found(fa(text)) == [
        ("reference", "invoice #INV-2024-0012", "INV-2024-0012"),
        ("datetime", "تا ساعت ۵ امروز", "2026-11-25T17:00:00+03:30"),
        ("money", "۲ میلیون تومان", "2000000 IRT"),
        ("phone", "۰۹۱۲۱۲۳۴۵۶۷", "+989121234567"),
        ("email", "ali@example.com", "ali@example.com"),
    ]


def test_spans_index_the_original_text() -> None:
    text = "فردا ساعت ۱۰ صبح با ۰۹۱۲۱۲۳۴۵۶۷، tomorrow at 3pm call (212) 555-0143 about $50"
    entities = fa(text)
    assert len(entities) == 5
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text


def test_arabic_letter_forms_are_read_as_persian() -> None:
    # «يكشنبه» with Arabic yeh and kaf is Sunday.
    assert found(fa("يكشنبه")) == [("date", "يكشنبه", "2026-11-29")]


def test_the_result_depends_on_now_only() -> None:
    text = "فردا ساعت ۴ بعدازظهر, tomorrow at 3pm, ۱۰ فروردین"
    later = datetime(2027, 1, 5, 10, 0, tzinfo=ZoneInfo(TEHRAN))
    assert fa(text) == fa(text)
    assert fa(text) != fa(text, later)
    assert [e.value for e in fa(text, later)] == [
        "2027-01-06T16:00:00+03:30",
        "2027-01-06T15:00:00+03:30",
        "2027-03-30",
    ]


def test_on_before_a_weekday_is_not_part_of_the_span() -> None:
    assert found(en("see you on Friday")) == [("date", "Friday", "2026-11-27")]
    assert found(en("this Friday")) == [("date", "this Friday", "2026-11-27")]


def test_afternoon_without_an_hour_is_no_time() -> None:
    assert fa("بعد از ظهر میام") == []
    assert fa("بعدازظهر میام") == []
    assert found(fa("فردا ظهر")) == [("datetime", "فردا ظهر", "2026-11-26T12:00:00+03:30")]


def test_entities_serialize_to_plain_json() -> None:
    (entity,) = fa("تا ساعت ۵ امروز")
    assert json.loads(json.dumps(entity.to_json())) == {
        "kind": "datetime",
        "text": "تا ساعت ۵ امروز",
        "start": 0,
        "end": 15,
        "value": "2026-11-25T17:00:00+03:30",
        "extra": {"deadline": "true", "meridiem": "assumed", "relative": "true"},
    }
