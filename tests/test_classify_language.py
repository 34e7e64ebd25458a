"""Language detection on realistic SMS, voicemail transcripts and email, and on MASSIVE."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tests.conftest import SHARED_CORPUS
from triage.classify.language import detect_language

MASSIVE = SHARED_CORPUS / "persian" / "massive_fa_IR"

CASES = [
    # Persian, formal (email) and colloquial (SMS, voicemail)
    ("fa", "با سلام و احترام، خواهشمند است فاکتور ماه گذشته را برای اینجانب ارسال فرمایید.", False),
    ("fa", "سلام وقت بخیر. میخواستم برای فردا ساعت ۴ نوبت بگیرم، امکانش هست؟", False),
    ("fa", "سلام خسته نباشید، من دیروز زنگ زدم کسی جواب نداد. لطفا باهام تماس بگیرید", False),
    (
        "fa",
        "اِم... سلام، من... من رضا هستم، از شرکت، اِ، میخواستم بدونم قرارداد آماده شده یا نه",
        False,
    ),
    ("fa", "مي‌خواستم بپرسم كه جلسه فردا كنسل شده؟", False),  # Arabic-keyboard ي and ك
    ("fa", "نوبت", False),  # one word, no cue: Persian assumed
    ("fa", "ممنون", False),
    ("fa", "قیمت چنده؟", False),
    ("fa", "احتراماً به استحضار می‌رساند که مدارک مورد نیاز پیوست شده است.", False),
    ("fa", "كجايي؟", False),  # Arabic keyboard, no Arabic word: still Persian
    ("fa", "ان شاء الله فردا میام خدمتتون", False),
    ("fa", "السلام عليكم، فردا ساعت ده وقت داريد؟", False),  # Arabic greeting, Persian words
    ("fa", "گزارش المپيك", False),  # old Windows Persian keyboard: ي and ك beside گ and پ
    ("fa", "الو؟ الهام؟", False),  # Persian words that begin with «ال»
    ("fa", "فاکتور INV-2041 پرداخت شد", False),  # a code is no English
    # Persian with English words
    ("fa", "برنامه google chrome رو نصب کن", True),
    ("fa", "سلام، invoice رو بفرستید لطفا", True),
    ("fa", "جلسه‌ی meeting فردا با client ساعت ۱۰ هست", True),
    ("fa", "لطفا پسورد اکانت Instagram رو برام بفرستید: https://instagram.com/acme", True),
    # Finglish
    ("fa", "salam, mikhastam baraye farda nobat begiram", False),
    ("fa", "Salam khoobi? lotfan be man zang bezanid", False),
    ("fa", "mersi, farda saat 5 miam", False),
    ("fa", "chetori? invoice ro befrestid lotfan", True),
    ("fa", "salam, mikham nobat begiram for tomorrow", True),
    ("fa", "to koja hasti?", False),
    ("fa", "khoobam merci, dastet dard nakone", False),  # "merci" is French too
    ("fa", "bebakhshid emrooz nemitunam biam, mishe nobatam ro avaz konid?", False),
    # English: SMS, voicemail, email
    ("en", "Hi, this is John from Acme, please call me back about the invoice.", False),
    (
        "en",
        "um hi yeah it's uh Mike calling about my appointment tomorrow at 3 can you call back",
        False,
    ),
    ("en", "Dear Sir or Madam, I am writing regarding the contract we discussed last week.", False),
    ("en", "running late, be there in 10", False),
    ("en", "Can I reschedule to Friday?", False),
    ("en", "STOP", False),
    ("en", "Please send the فاکتور by tomorrow", True),
    ("en", "Café meeting moved to 5, José will call you", False),
    ("en", "ok", False),
    ("en", "Hi Ali, salam! Please call me back when you can", True),
    # Arabic
    ("ar", "السلام عليكم، أريد حجز موعد مع الطبيب في الأسبوع القادم من فضلك", False),
    ("ar", "هل يمكن إرسال الفاتورة إلى البريد الإلكتروني؟ شكرا", False),
    ("ar", "مرحبا، هذه رسالة من الشركة بخصوص الطلب رقم ١٢٣", False),
    ("ar", "أنا في الطريق، سأصل بعد عشر دقائق", False),
    ("ar", "كيفك؟ شو أخبارك", False),
    ("ar", "شكرا، هل عندك وقت غدا؟", False),
    # Other Latin-script languages, other scripts
    ("other", "Guten Tag, ich möchte bitte einen Termin für morgen vereinbaren.", False),
    ("other", "Hola, quiero cancelar mi cita de mañana, gracias.", False),
    ("other", "Bonjour, je voudrais prendre rendez-vous pour demain, merci.", False),
    ("other", "Buongiorno, vorrei un appuntamento per domani.", False),
    ("other", "No puedo ir mañana, lo siento", False),
    ("other", "Ich komme morgen etwas später", False),
    ("other", "Merhaba, yarın için randevu almak istiyorum", False),
    ("other", "آپ کیسے ہیں؟ میں کل آؤں گا", False),  # Urdu
    ("other", "Здравствуйте, я хочу записаться на прием", False),
    ("other", "你好，我想预约明天的时间", False),
]


@pytest.mark.parametrize(("language", "text", "mixed"), CASES, ids=[c[1][:30] for c in CASES])
def test_realistic_messages(language: str, text: str, mixed: bool) -> None:
    guess = detect_language(text)
    assert (guess.language, guess.mixed) == (language, mixed), guess.reason
    assert guess.reason
    assert max(guess.scores, key=lambda name: guess.scores[name]) == language


def test_finglish_reason_and_scores() -> None:
    guess = detect_language("salam, lotfan farda zang bezanid")
    assert guess.language == "fa" and guess.reason.startswith("finglish")
    assert set(guess.scores) == {"fa", "en", "ar", "other"}
    assert guess.scores["fa"] > 0.5 and sum(guess.scores.values()) == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("text", ["", "   ", "۱۲۳۴", "0912 345 6789", "?!", "🙂👍"])
def test_no_letters_is_other(text: str) -> None:
    guess = detect_language(text)
    assert (guess.language, guess.mixed, guess.reason) == ("other", False, "no letters")


def test_an_address_alone_is_no_english() -> None:
    guess = detect_language("reza@example.com https://example.com/x")
    assert guess.language == "other" and guess.reason == "no letters"


def _massive(side: str) -> list[str]:
    path: Path = MASSIVE / f"massive_{side}_intents.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["text"] for row in rows if row["split"] == "test"]


@pytest.mark.parametrize(("side", "language"), [("fa-IR", "fa"), ("en-US", "en")])
def test_massive_test_split(side: str, language: str) -> None:
    texts = _massive(side)
    assert len(texts) > 2900
    right = sum(detect_language(text).language == language for text in texts)
    assert right / len(texts) >= 0.99


def test_fast_enough_for_an_sms() -> None:
    sms = (
        "سلام وقت بخیر، میخواستم برای فردا ساعت ۴ بعدازظهر نوبت بگیرم. invoice رو هم بفرستید. ممنون"
    )
    english = "Hi, this is John from Acme Dental, please call me back about tomorrow's appointment."
    for text in (sms, english):
        detect_language(text)
        best = min(_time_per_call(text) for _ in range(5))
        assert best < 50e-6, f"{best * 1e6:.1f} µs"


def _time_per_call(text: str, calls: int = 200) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        detect_language(text)
    return (time.perf_counter() - start) / calls
