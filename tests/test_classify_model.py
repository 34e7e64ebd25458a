"""The category model: its data, its quality on held-out text, explanations, files and CLI."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED_CORPUS
from triage.classify import model as category_model
from triage.classify.model import REVIEW_THRESHOLD, Example, TrainedModel
from triage.cli import cli
from triage.models import Category

ROOT = Path(__file__).resolve().parent.parent
CORPUS = SHARED_CORPUS
LANGUAGES = ("en", "fa")


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    return category_model.train(category_model.training_files())


@pytest.fixture(scope="module")
def heldout() -> list[Example]:
    return category_model.read_examples(category_model.heldout_files())


def _rows(name: str) -> list[dict[str, str]]:
    path = category_model.DATA_DIR / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(("prefix", "minimum"), [("train", 150), ("heldout", 30)])
@pytest.mark.parametrize("language", LANGUAGES)
def test_data_files_hold_enough_of_every_category(prefix: str, minimum: int, language: str) -> None:
    rows = _rows(f"{prefix}_{language}.jsonl")
    assert all(set(row) == {"text", "category", "language", "source"} for row in rows)
    assert {row["language"] for row in rows} == {language}
    counts = Counter(row["category"] for row in rows)
    assert set(counts) == {c.value for c in Category}
    assert min(counts.values()) >= minimum, counts


def test_no_heldout_text_is_in_the_training_data() -> None:
    def key(text: str) -> str:  # the text as the model sees it, punctuation aside
        return " ".join(re.findall(r"\w+", category_model.prepare(text)))

    training = {key(row["text"]) for lang in LANGUAGES for row in _rows(f"train_{lang}.jsonl")}
    heldout = [row["text"] for lang in LANGUAGES for row in _rows(f"heldout_{lang}.jsonl")]
    assert len(heldout) >= 9 * 30 * 2
    assert [text for text in heldout if key(text) in training] == []


def test_massive_test_split_is_only_held_out() -> None:
    sources = {row["source"] for row in _rows("train_fa.jsonl")}
    heldout_sources = {row["source"] for row in _rows("heldout_fa.jsonl")}
    assert any(s.startswith("massive-fa-IR:") for s in heldout_sources)
    massive_test = CORPUS / "persian" / "massive_fa_IR" / "massive_fa-IR_intents.tsv"
    if not massive_test.exists():
        pytest.fail(f"the shared corpus is missing: {CORPUS}")
    test_texts = {
        line.split("\t")[2].strip()
        for line in massive_test.read_text(encoding="utf-8").splitlines()
        if line.startswith("test\t")
    }
    assert any(s.startswith("massive-fa-IR:") for s in sources)
    assert not test_texts & {row["text"] for row in _rows("train_fa.jsonl")}


def test_the_script_rebuilds_the_committed_files(tmp_path: Path) -> None:
    if not CORPUS.exists():
        pytest.fail(f"the shared corpus is missing: {CORPUS}")
    spec = importlib.util.spec_from_file_location(
        "build_training_data", ROOT / "scripts" / "build_training_data.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name, rows in script.build(CORPUS).items():
        committed = _rows(name)
        assert rows == committed, name


@pytest.mark.parametrize("language", LANGUAGES)
def test_heldout_macro_f1_is_at_least_080(
    trained: TrainedModel, heldout: list[Example], language: str
) -> None:
    reports = {r.language: r for r in category_model.evaluate(trained, heldout)}
    report = reports[language]
    print(f"held-out macro-F1 {language}: {report.macro_f1:.3f}")
    assert report.macro_f1 >= 0.80, category_model.format_report(report)
    assert sum(report.support) >= 9 * 30


def test_training_is_deterministic(trained: TrainedModel, heldout: list[Example]) -> None:
    again = category_model.train(category_model.training_files())
    texts = [e.text for e in heldout[::7]]
    assert trained.predict(texts) == again.predict(texts)
    assert trained.version.split("-")[1] == again.version.split("-")[1]  # same data hash


@pytest.mark.parametrize(
    "text",
    ["asdkjh qwpoe zxmn", "lorem ipsum dolor sit amet", "ضصثق غفعه خحجچ", "blorf snerk quib"],
)
def test_gibberish_gets_low_confidence(trained: TrainedModel, text: str) -> None:
    (prediction,) = trained.predict([text])
    assert prediction.confidence < REVIEW_THRESHOLD
    assert prediction.needs_review


@pytest.mark.parametrize(
    ("text", "category", "feature"),
    [
        ("سلام، ببخشید، می‌خواستم برای پنجشنبه یه نوبت بگیرم", Category.SCHEDULING, "نوبت"),
        ("لطفاً بلیط هواپیما برای مشهد بگیرید", Category.TRAVEL, "بلیط"),
        ("hi, we still haven't been paid for invoice 4471", Category.ACCOUNTING, "invoice"),
        ("please scan the contract and email it to me", Category.DOCUMENTS, "scan"),
        ("uh hi, this is Sam, can you ask Dr. Reed to call me back", Category.MESSAGE, "call"),
    ],
)
def test_predictions_explain_themselves(
    trained: TrainedModel, text: str, category: Category, feature: str
) -> None:
    (prediction,) = trained.predict([text])
    assert prediction.category is category
    assert not prediction.needs_review
    names = [name for name, _ in prediction.top_features]
    assert 0 < len(names) <= category_model.TOP_FEATURES
    assert any(feature in name for name in names), prediction.top_features
    weights = [weight for _, weight in prediction.top_features]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0


def test_explanations_leave_out_function_words(trained: TrainedModel) -> None:
    (prediction,) = trained.predict(["The coffee machine is leaking all over the floor"])
    names = [name for name, _ in prediction.top_features]
    assert names and not {"the", "is", "of the", "is the"} & set(names), names
    assert any("coffee" in name or "leak" in name for name in names), names


def test_arabic_letters_and_missing_zwnj_read_as_persian(trained: TrainedModel) -> None:
    persian, arabic = trained.predict(
        ["می‌خواستم یک کپی از قرارداد برام بفرستید", "ميخواستم يک کپي از قرارداد برام بفرستيد"]
    )
    assert persian == arabic
    assert persian.category is Category.DOCUMENTS


def test_empty_input_gives_no_predictions(trained: TrainedModel) -> None:
    assert trained.predict([]) == []


def test_save_and_load_round_trip(trained: TrainedModel, tmp_path: Path) -> None:
    assert category_model.load_latest(tmp_path) is None
    path = category_model.save(trained, tmp_path)
    assert path.name == f"model-{trained.version}.joblib"
    metadata = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert metadata["version"] == trained.version
    assert {f["path"] for f in metadata["data_files"]} == {"train_en.jsonl", "train_fa.jsonl"}
    assert all(len(f["sha256"]) == 64 for f in metadata["data_files"])
    assert metadata["class_counts"]["fa"]["scheduling"] >= 150
    loaded = category_model.load_latest(tmp_path)
    assert loaded is not None and loaded.version == trained.version
    texts = ["please book a flight to Denver", "فاکتور این ماه رو بفرستید"]
    assert loaded.predict(texts) == trained.predict(texts)
    assert category_model.load_or_train(tmp_path).version == trained.version


def test_load_latest_skips_a_model_written_by_another_scikit_learn(
    trained: TrainedModel, tmp_path: Path
) -> None:
    path = category_model.save(trained, tmp_path)
    sidecar = path.with_suffix(".json")
    metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**metadata, "scikit_learn": "0.1"}), encoding="utf-8")
    assert category_model.load_latest(tmp_path) is None


def test_cli_train_then_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["model", "train"])
    assert result.exit_code == 0, result.output
    assert "held-out macro-F1 fa" in result.output
    (saved,) = (tmp_path / "var" / "models").glob("model-*.joblib")
    assert saved.stem.removeprefix("model-") in result.output

    heldout = category_model.DATA_DIR / "heldout_fa.jsonl"
    result = runner.invoke(cli, ["model", "evaluate", str(heldout)])
    assert result.exit_code == 0, result.output
    assert "language fa: macro-F1" in result.output
    assert "confusion" in result.output
    assert "social_media" in result.output and "precision" in result.output

    result = runner.invoke(cli, ["model", "evaluate", str(heldout), "--model", str(saved)])
    assert result.exit_code == 0, result.output


def test_cli_evaluate_without_a_model_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    heldout = category_model.DATA_DIR / "heldout_en.jsonl"
    result = CliRunner().invoke(cli, ["model", "evaluate", str(heldout)])
    assert result.exit_code != 0
    assert "monshi model train" in result.output
