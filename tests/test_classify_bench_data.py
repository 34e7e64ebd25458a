"""The urgency evaluation set bench/classify.py scores triage on: its shape and its independence."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from triage.classify.model import DATA_DIR, heldout_files, read_examples, training_files
from triage.classify.normalize import normalize

URGENCY_EVAL = DATA_DIR / "urgency_eval.jsonl"


def _rows() -> list[dict[str, Any]]:
    lines = URGENCY_EVAL.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _fold(text: str) -> str:
    return " ".join(normalize(text).split())


def test_every_line_has_exactly_text_language_and_a_boolean_label() -> None:
    for row in _rows():
        assert set(row) == {"text", "language", "urgent"}, row
        assert isinstance(row["text"], str) and row["text"].strip(), row
        assert row["language"] in ("en", "fa"), row
        assert isinstance(row["urgent"], bool), row


def test_at_least_60_urgent_and_60_not_urgent_per_language() -> None:
    counts = Counter((row["language"], row["urgent"]) for row in _rows())
    for language in ("en", "fa"):
        for urgent in (True, False):
            assert counts[(language, urgent)] >= 60, (language, urgent, counts)


def test_persian_lines_are_written_in_persian_mostly() -> None:
    persian = [row["text"] for row in _rows() if row["language"] == "fa"]
    in_arabic_script = [t for t in persian if any("\u0600" <= ch <= "\u06ff" for ch in t)]
    assert len(in_arabic_script) >= 0.9 * len(persian)
    english = [row["text"] for row in _rows() if row["language"] == "en"]
    assert not [t for t in english if any("\u0600" <= ch <= "\u06ff" for ch in t)]


def test_no_line_repeats() -> None:
    folded = [_fold(row["text"]) for row in _rows()]
    assert len(folded) == len(set(folded))


def test_no_line_appears_in_the_category_model_data() -> None:
    model_data = {_fold(e.text) for e in read_examples(training_files() + heldout_files())}
    assert model_data
    shared = [row["text"] for row in _rows() if _fold(row["text"]) in model_data]
    assert shared == []
