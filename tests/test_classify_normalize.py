"""Normalization for matching: each rule, idempotence, and the display and digit helpers."""

from __future__ import annotations

import random
import unicodedata

import pytest

from triage.classify.keywords import match_category
from triage.classify.normalize import ZWNJ, fold_for_display, normalize, to_ascii_digits

RULES = [
    # Arabic letters Persian text arrives with
    ("علي", "علی"),
    ("مصطفى", "مصطفی"),
    ("كتاب", "کتاب"),
    ("ڪار", "کار"),
    ("مسئول", "مسیول"),
    ("مؤسسه", "موسسه"),
    ("ھفته", "هفته"),
    # teh marbuta and the ezafe hamza, composed and decomposed
    ("مدرسة", "مدرسه"),
    ("خانۀ من", "خانه من"),
    ("خانهٔ من", "خانه من"),
    # alef forms and the lone hamza
    ("أحمد", "احمد"),
    ("إيران", "ایران"),
    ("آقای", "اقای"),
    ("ا\u0653قا", "اقا"),  # alef + combining madda
    ("ٱلله", "الله"),
    ("اجزاء", "اجزا"),
    # digits and number separators
    ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
    ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
    ("۱۲٬۵۰۰٫۷۵", "12,500.75"),
    # Persian punctuation
    ("سلام، خوبی؟ ساعت ۵؛ ۲۰٪", "سلام, خوبی? ساعت 5; 20%"),
    # diacritics and tatweel
    ("كِتَابٌ", "کتاب"),
    ("مُحَمَّد", "محمد"),
    ("سـلـــام", "سلام"),
    ("رحمٰن", "رحمن"),
    # invisibles: ZWNJ removed, ZWJ/BOM/bidi marks gone, zero-width space is a space
    (f"می{ZWNJ}خواهم", "میخواهم"),
    ("\ufeffسلام\u200f", "سلام"),
    ("\u202bسلام\u202c\u2067دنیا\u2069", "سلامدنیا"),
    ("سلام\u200bدنیا", "سلام دنیا"),
    # presentation forms (old systems, PDFs)
    ("\ufef3\ufedb\ufe8e", "یکا"),
    ("\ufefb", "لا"),
    # whitespace and case
    ("  Hello\t\n  WORLD \u00a0 ", "hello world"),
    ("Straße", "strasse"),
    ("INVOICE فاکتور", "invoice فاکتور"),
]


@pytest.mark.parametrize(("raw", "expected"), RULES)
def test_each_rule(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_zwnj_as_space_for_tokens() -> None:
    assert normalize(f"می{ZWNJ}خواهم  نوبت{ZWNJ}ها", zwnj="space") == "می خواهم نوبت ها"
    # the three ways people write it meet in one of the two modes each
    assert normalize(f"می{ZWNJ}خوام") == normalize("میخوام")
    assert normalize(f"می{ZWNJ}خوام", zwnj="space") == normalize("می خوام", zwnj="space")


def test_input_is_not_mutated_and_ascii_is_only_folded() -> None:
    original = f"  كتاب {ZWNJ}۱۲ "
    copy = str(original)
    normalize(original)
    assert original == copy
    assert normalize("Call me at 5 PM") == "call me at 5 pm"


@pytest.mark.parametrize("raw", [raw for raw, _ in RULES])
def test_idempotent_on_rules(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once
    spaced = normalize(raw, zwnj="space")
    assert normalize(spaced, zwnj="space") == spaced


def test_idempotent_on_random_mixtures() -> None:
    alphabet = (
        "abcABCßéE\u0301 \t\n"
        + "".join(raw for raw, _ in RULES)
        + "\u064b\u0650\u0651\u0652\u0653\u0654\u0655\u0670\u0640\u200c\u200d\u200b\ufeff"
    )
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        once = normalize(text)
        assert normalize(once) == once, repr(text)
        assert not any(unicodedata.category(ch) == "Mn" for ch in once if ch > "\u0600"), text


def test_to_ascii_digits_changes_digits_only() -> None:
    assert to_ascii_digits("۰۹۱۲ ۳۴۵ ٦٧٨٩ كد") == "0912 345 6789 كد"
    assert to_ascii_digits("۱٬۲۰۰٫۵ تومان") == "1,200.5 تومان"
    assert to_ascii_digits("no digits") == "no digits"
    # entity spans found in the converted copy index the original: one character for one
    text = "۰۱۲۳۴۵۶۷۸۹ ٠١٢٣٤٥٦٧٨٩ ٫٬ كد ۴"
    assert len(to_ascii_digits(text)) == len(text)


def test_fold_for_display_keeps_letters_and_zwnj() -> None:
    text = f"  سلام \t  می{ZWNJ}خواهم\r\n\r\n\r\n\r\nكتاب   ۱۲ \n"
    assert fold_for_display(text) == f"سلام می{ZWNJ}خواهم\n\nكتاب ۱۲"


def test_keyword_matcher_uses_this_normalization() -> None:
    # Arabic yeh and kaf, alef maksura, tatweel and Persian digits still match.
    match = match_category("مىخواستم نـوبت بگیرم براى ساعت ۵")
    assert match is not None and match.category == "scheduling"
    match = match_category("فاكتور رو بفرستيد")
    assert match is not None and match.keyword == "فاکتور"
