"""Text normalization for matching Persian and English: one spelling for what people type many ways.

`normalize` is for matching (keywords, rules, model features) and is lossy on purpose; the
item keeps its original text for display, and `fold_for_display` only tidies whitespace.

Library decision: the tables are written here (about 60 code points). hazm 0.12 needs Python
>= 3.12 and pulls nltk, python-crfsuite and huggingface-hub (0.10, the last for 3.11, pins
numpy==1.24.3 and needs gensim and fasttext); parsivar is an 18 MB wheel on nltk, last released
in 2024; dadmatools brings torch. persiantools (MIT, small, maintained) covers only ي ى ك and the
digits, a tenth of what is below, so it would be a dependency for five lines. NFKC also folds
the Arabic presentation forms (U+FB50-U+FEFF) that old systems and PDFs emit.

Decisions for matching:
- ي ى ئ → ی, ك ڪ → ک, ة → ه, ۀ → ه and هٔ → ه (the ezafe hamza is dropped, so «خانۀ», «خانهٔ» and
  «خانه» match), ھ → ه, ؤ → و, أ إ ٱ آ → ا (informal typing drops the madda: «اقای» for «آقای»),
  a lone ء is dropped.
- Persian (۰-۹) and Arabic-Indic (٠-٩) digits → ASCII; ٫ → "." and ٬ → "," (number separators);
  ، ؛ ؟ ٪ → , ; ? %.
- Harakat, tanwin, shadda, sukun, superscript alef, Quranic marks and tatweel (U+0640) removed.
- Zero-width non-joiner: removed by default, because phones without a ZWNJ key give «میخوام» and
  keyword patterns and character n-grams then see one form for «می‌خوام» and «میخوام». Word-level
  uses (tokens, language cues such as the prefix «می») ask for `zwnj="space"` instead, so that
  «می‌خوام» and «می خوام» give the same tokens. ZWJ, zero-width space, BOM and bidi controls go.
- Latin casefolded; whitespace runs folded to one space, ends trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

ZWNJ = "\u200c"

_DIGITS = {
    **{chr(0x06F0 + n): str(n) for n in range(10)},  # Persian ۰-۹
    **{chr(0x0660 + n): str(n) for n in range(10)},  # Arabic-Indic ٠-٩
    "\u066b": ".",  # Arabic decimal separator ٫
    "\u066c": ",",  # Arabic thousands separator ٬
}
_DIGIT_TABLE = str.maketrans(_DIGITS)

_LETTERS = {
    "ي": "ی", "ى": "ی", "ئ": "ی",
    "ك": "ک", "ڪ": "ک",
    "ة": "ه", "ۀ": "ه", "ھ": "ه",
    "ؤ": "و",
    "أ": "ا", "إ": "ا", "ٱ": "ا", "آ": "ا",
    "،": ",", "؛": ";", "؟": "?", "٪": "%",
}  # fmt: skip

# Combining marks and invisibles that never change which word it is.
_DELETED = (
    [chr(c) for c in range(0x064B, 0x0660)]  # harakat, tanwin, shadda, sukun, madda, hamza marks
    + ["\u0670", "\u0640", "\u0621"]  # superscript alef, tatweel, lone hamza
    + [chr(c) for c in range(0x06D6, 0x06EE) if unicodedata.category(chr(c)) == "Mn"]
    + ["\u200d", "\ufeff", "\u200e", "\u200f", "\u061c"]  # ZWJ, BOM, LRM, RLM, ALM
    + [chr(c) for c in range(0x202A, 0x202F)]  # bidi embeddings and overrides
    + [chr(c) for c in range(0x2066, 0x206A)]  # bidi isolates
)

# A regex over just these characters, not `str.translate`: most text has few of them, and
# translate looks every character up in a dict (4x slower on a Persian SMS).
_REPLACEMENTS = {**_DIGITS, **_LETTERS, **dict.fromkeys(_DELETED, ""), "\u200b": " ", ZWNJ: ""}
_REPLACEMENTS_ZWNJ_SPACE = {**_REPLACEMENTS, ZWNJ: " "}
_TO_REPLACE = re.compile("[" + "".join(map(re.escape, _REPLACEMENTS)) + "]")


def _replace(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def _replace_zwnj_space(match: re.Match[str]) -> str:
    return _REPLACEMENTS_ZWNJ_SPACE[match.group()]


_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize(text: str, *, zwnj: Literal["remove", "space"] = "remove") -> str:
    """`text` in its matching form (see the module docstring); the input is not changed.

    `zwnj="remove"` joins «می‌خوام» into «میخوام» (keywords, n-grams); `zwnj="space"` splits it
    into «می خوام» (tokens). Idempotent: normalize(normalize(x)) == normalize(x).
    """
    text = text.casefold()
    if not text.isascii():
        # NFKC before the table: it composes «ا» + madda into «آ» and expands presentation forms,
        # so the table sees base letters (and no-break spaces become spaces). NFC after it:
        # a deleted mark can leave a Latin letter next to its accent, which must compose now
        # for normalize to be idempotent.
        text = unicodedata.normalize("NFKC", text)
        text = _TO_REPLACE.sub(_replace_zwnj_space if zwnj == "space" else _replace, text)
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits (and ٫ ٬ separators) as ASCII; nothing else changes."""
    return text.translate(_DIGIT_TABLE)


def fold_for_display(text: str) -> str:
    """Whitespace tidied for display, every letter, digit and ZWNJ kept as written.

    Runs of spaces and tabs become one space, lines are trimmed, CRLF becomes LF, and more
    than one blank line in a row becomes one.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
