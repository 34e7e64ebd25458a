"""Priority from urgency words, sender standing and deadlines, in Persian and English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from triage.classify.entities import Entity, EntityKind, extract_entities
from triage.classify.priority import PriorityDecision, assess_priority
from triage.models import Priority

TEHRAN = "Asia/Tehran"
NEW_YORK = "America/New_York"
# Friday 27 November 2026, 14:00 in each zone.
NOW_TEHRAN = datetime(2026, 11, 27, 14, 0, tzinfo=ZoneInfo(TEHRAN))
NOW_NEW_YORK = datetime(2026, 11, 27, 14, 0, tzinfo=ZoneInfo(NEW_YORK))


def assess(
    text: str,
    *,
    subject: str = "",
    vip: bool = False,
    repeat: bool = False,
    zone: str = TEHRAN,
    now: datetime | None = None,
    base: Priority = Priority.NORMAL,
) -> PriorityDecision:
    """Priority with entities found the way the pipeline finds them."""
    now = now or datetime(2026, 11, 27, 14, 0, tzinfo=ZoneInfo(zone))
    region = "US" if zone == NEW_YORK else "IR"
    entities = extract_entities(text, now=now, timezone=zone, default_region=region)
    return assess_priority(
        text, subject=subject, vip=vip, repeat=repeat, entities=entities, now=now, base=base
    )


# --- Urgency words -------------------------------------------------------------------------

URGENT_WORDS = [
    # (text, expected priority, the reason that must be given)
    ("Hi, can you reschedule my 3pm with Dr. Lee ASAP? Thanks", "high", 'urgency word "ASAP"'),
    ("need the signed lease back asap pls", "high", 'urgency word "ASAP"'),
    ("This is urgent - the client's flight was cancelled.", "high", 'urgency word "urgent"'),
    ("URGENT!!! call me back", "high", 'urgency word "urgent"'),
    ("Please call me back as soon as possible about the contract.", "high",
     'urgency word "as soon as possible"'),
    ("uh hi it's Mark, I need the quote right away, thanks", "high", 'urgency word "right away"'),
    ("Please wire the deposit immediately or we lose the venue.", "high",
     'urgency word "immediately"'),
    ("The payroll file is critical, the bank closes at four.", "high", 'urgency word "critical"'),
    ("Time-sensitive: sign the NDA", "high", 'urgency word "time-sensitive"'),
    ("My father has chest pain, please cancel everything and call me", "urgent",
     'emergency word "severe pain"'),
    ("it's an emergency, my mother fell, call me", "urgent", 'emergency word "emergency"'),
    ("the cut is still bleeding, where is the nearest clinic", "urgent",
     'emergency word "bleeding"'),
    ("سلام، لطفاً فوری با من تماس بگیرید", "high", 'urgency word "فوری"'),
    ("سلام وقت بخیر فورا قرارداد رو بفرستید", "high", 'urgency word "فوری"'),
    ("كار اورژانسي دارم، زنگ بزنید", "high", 'urgency word "اورژانسی"'),  # Arabic ي and ك
    ("همین امروز باید فاکتور رو بفرستید", "high", 'urgency word "همین امروز"'),
    ("خیلی ضروریه لطفا جواب بدید", "high", 'urgency word "خیلی ضروری"'),
    ("هر چه سریع‌تر با آقای محمدی تماس بگیرید", "high", 'urgency word "هر چه سریع\u200cتر"'),
    ("لطفا هرچه زودتر بلیط رو عوض کنید", "high", 'urgency word "هر چه سریع\u200cتر"'),
    ("در اسرع وقت مدارک رو ارسال کنید", "high", 'urgency word "در اسرع وقت"'),
    ("salam, fori lotfan zang bezanid", "high", 'urgency word "فوری"'),
    ("سلام. پدرم اورژانس بستریه، جلسه فردا رو کنسل کنید", "urgent", 'emergency word "اورژانس"'),
    ("دستم بریده و خونریزی داره، نزدیک‌ترین درمانگاه کجاست", "urgent",
     'emergency word "خونریزی"'),
    ("درد شدید دارم، نوبت امروز رو می‌خوام", "urgent", 'emergency word "درد شدید"'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected", "reason"), URGENT_WORDS)
def test_urgency_words_raise_priority(text: str, expected: str, reason: str) -> None:
    decision = assess(text)
    assert decision.priority == Priority(expected)
    assert reason in decision.reasons


NOT_URGENT = [
    # Denied, or the word shares letters with a cue but is another word.
    "Not urgent, but could you send me the invoice when you get a chance?",
    "This is non-urgent: please update my address.",
    "nothing urgent, just checking in about next week",
    "It's not an emergency, I just want to book a cleaning.",
    "It's not very urgent, reply whenever.",
    "Please update my emergency contact to my wife, Sara.",
    "I can't wait to see the new office photos!",
    "فوری نیست، هر وقت تونستید جواب بدید",
    "اصلا اورژانسی نیست، فقط خواستم خبر بدم",
    "عجله نکنید، سر فرصت بررسی کنید",
    "یک کار غیر فوری: آدرس ایمیلم عوض شده",
    "جلسه برای ۱۵ فوریه تنظیم شده",  # فوریه is February
    "مدارک ضروری برای ویزا رو لیست کنید",  # ضروری here is "required"
    "Hi, please book a table for four on Saturday evening.",
    "سلام، یه نوبت برای هفته بعد می‌خواستم",
]


@pytest.mark.parametrize("text", NOT_URGENT)
def test_denied_or_lookalike_words_leave_priority_normal(text: str) -> None:
    assert assess(text) == PriorityDecision(Priority.NORMAL, ())


def test_denied_cue_does_not_hide_another() -> None:
    decision = assess("Not an emergency, but please call me back ASAP.")
    assert decision == PriorityDecision(Priority.HIGH, ('urgency word "ASAP"',))


def test_subject_cues_count_and_say_so() -> None:
    decision = assess("Please see the attached contract.", subject="URGENT: contract for Monday")
    assert decision == PriorityDecision(Priority.HIGH, ('urgency word "urgent" in subject',))
    fa = assess("قرارداد پیوست است.", subject="فوری: قرارداد")
    assert fa.reasons == ('urgency word "فوری" in subject',)


def test_every_cue_is_a_reason_and_the_strongest_wins() -> None:
    decision = assess("Urgent!! my son is bleeding, call me ASAP", repeat=True)
    assert decision.priority is Priority.URGENT
    assert set(decision.reasons) == {
        'emergency word "bleeding"',
        'urgency word "urgent"',
        'urgency word "ASAP"',
        "repeat contact within 30 min",
    }


# --- Sender standing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vip", "repeat", "expected", "reasons"),
    [
        (True, False, Priority.URGENT, ("VIP sender",)),
        (False, True, Priority.HIGH, ("repeat contact within 30 min",)),
        (True, True, Priority.URGENT, ("VIP sender", "repeat contact within 30 min")),
        (False, False, Priority.NORMAL, ()),
    ],
)
def test_vip_and_repeat(vip: bool, repeat: bool, expected: Priority, reasons: tuple[str]) -> None:
    assert assess("call me back please", vip=vip, repeat=repeat) == PriorityDecision(
        expected, reasons
    )


# --- Base ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "text", "expected"),
    [
        (Priority.URGENT, "no rush at all, thanks", Priority.URGENT),
        (Priority.HIGH, "just an update", Priority.HIGH),
        (Priority.HIGH, "this is urgent", Priority.HIGH),
        (Priority.LOW, "newsletter for November", Priority.LOW),
        (Priority.LOW, "this is urgent", Priority.HIGH),
        (Priority.HIGH, "call 911, she is unconscious", Priority.URGENT),
    ],
)
def test_never_below_base(base: Priority, text: str, expected: Priority) -> None:
    assert assess(text, base=base).priority is expected


# --- Deadlines -----------------------------------------------------------------------------

DEADLINES = [
    # (text, zone, expected, reason); now is 14:00 local on Friday 27 November.
    ("Please send the signed copy before 5 pm today.", NEW_YORK, "high", "deadline 17:00 today"),
    ("Need the slides by 3:30 pm today", NEW_YORK, "urgent", "deadline 15:30 today"),
    ("can you confirm the booking by 10am tomorrow?", NEW_YORK, "high",
     "deadline 10:00 tomorrow"),
    ("لطفا تا ساعت ۵ امروز فاکتور رو بفرستید", TEHRAN, "high", "deadline 17:00 today"),
    ("لطفا تا ساعت ۱۵:۳۰ امروز جواب بدید", TEHRAN, "urgent", "deadline 15:30 today"),
    ("قبل از ساعت ۹ صبح فردا قرارداد رو امضا کنید", TEHRAN, "high", "deadline 09:00 tomorrow"),
    ("Send it by today please", NEW_YORK, "high", "deadline end of today"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "zone", "expected", "reason"), DEADLINES)
def test_near_deadlines_raise_priority(text: str, zone: str, expected: str, reason: str) -> None:
    assert assess(text, zone=zone) == PriorityDecision(Priority(expected), (reason,))


FAR_OR_NOT_DEADLINES = [
    ("Please send the contract before Friday next week.", NEW_YORK),
    ("Can we meet at 5 pm today?", NEW_YORK),  # a meeting time, not a deadline
    ("by Monday 9am please", NEW_YORK),
    ("جلسه ساعت ۵ امروز برگزار می‌شه", TEHRAN),
    ("تا ۱۰ آذر فرصت دارید مدارک رو بفرستید", TEHRAN),
]


@pytest.mark.parametrize(("text", "zone"), FAR_OR_NOT_DEADLINES)
def test_far_dates_and_plain_times_are_not_urgent(text: str, zone: str) -> None:
    assert assess(text, zone=zone) == PriorityDecision(Priority.NORMAL, ())


def deadline_at(moment: datetime, kind: EntityKind = "datetime") -> Entity:
    value = moment.date().isoformat() if kind == "date" else moment.isoformat()
    return Entity(kind, "before then", 0, 11, value, MappingProxyType({"deadline": "true"}))


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (timedelta(minutes=-5), Priority.NORMAL),  # already past
        (timedelta(minutes=30), Priority.URGENT),
        (timedelta(hours=2), Priority.URGENT),
        (timedelta(hours=2, minutes=1), Priority.HIGH),
        (timedelta(hours=24), Priority.HIGH),
        (timedelta(hours=24, minutes=1), Priority.NORMAL),
    ],
)
def test_deadline_windows(left: timedelta, expected: Priority) -> None:
    entity = deadline_at(NOW_TEHRAN + left)
    decision = assess_priority(
        "see above", vip=False, repeat=False, entities=[entity], now=NOW_TEHRAN
    )
    assert decision.priority is expected


def test_time_entities_without_deadline_flag_are_ignored() -> None:
    entity = Entity(
        "datetime", "at 2:30", 0, 7, (NOW_TEHRAN + timedelta(minutes=30)).isoformat(),
        MappingProxyType({"deadline": "false"}),
    )  # fmt: skip
    decision = assess_priority("x", vip=False, repeat=False, entities=[entity], now=NOW_TEHRAN)
    assert decision == PriorityDecision(Priority.NORMAL, ())


def test_date_only_deadline_ends_at_midnight_in_the_tenant_zone() -> None:
    # 22:00 UTC on the 27th is 01:30 on the 28th in Tehran: a deadline of the 28th ends in
    # 22.5 hours at Tehran's midnight, but in 26 hours at UTC's.
    now = datetime(2026, 11, 27, 22, 0, tzinfo=ZoneInfo("UTC"))
    entity = deadline_at(datetime(2026, 11, 28, 12, 0), kind="date")
    in_tehran = assess_priority(
        "x", vip=False, repeat=False, entities=[entity], now=now, timezone=TEHRAN
    )
    assert in_tehran == PriorityDecision(Priority.HIGH, ("deadline end of today",))
    by_utc = assess_priority("x", vip=False, repeat=False, entities=[entity], now=now)
    assert by_utc == PriorityDecision(Priority.NORMAL, ())


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        assess_priority("x", vip=False, repeat=False, entities=[], now=datetime(2026, 11, 27))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("There is smoke coming out of the server room", Priority.URGENT),
        ("I can smell gas in the waiting room", Priority.URGENT),
        ("A pipe burst upstairs and the office is flooding", Priority.URGENT),
        ("Our shop was broken into last night", Priority.URGENT),
        ("بوی گاز توی آشپزخونه میاد", Priority.URGENT),
        ("لوله ترکیده و همه جا آب گرفته", Priority.URGENT),
        ("پدرم از حال رفته، چیکار کنیم", Priority.URGENT),
        ("The tax form is due today, can you file it?", Priority.HIGH),
        ("مهلت ثبت‌نام امروز تموم میشه", Priority.HIGH),
        ("Please file it by Friday, no rush", Priority.NORMAL),
        ("We loved the fireplace in the lobby", Priority.NORMAL),
    ],
)
def test_general_emergencies_and_same_day_deadlines(text: str, expected: Priority) -> None:
    decision = assess_priority(
        text, vip=False, repeat=False, entities=[], now=datetime(2026, 11, 25, 10, tzinfo=UTC)
    )
    assert decision.priority is expected, decision.reasons
