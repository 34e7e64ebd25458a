"""The category model: TF-IDF word and character n-grams into a logistic regression.

One model serves Persian and English (character n-grams carry Persian without a
tokenizer). It is trained from the JSONL files in `triage/classify/data/` (plus whatever
corrections a caller passes in), saved as a versioned joblib file with a JSON sidecar,
and explains each prediction by the n-grams that pushed it most.

No model file ships in the package: training takes a few seconds, a pickled scikit-learn
estimator is tied to the scikit-learn version that wrote it, and a binary blob in git
cannot be reviewed. `load_or_train` loads the newest compatible model from a directory
and otherwise trains one from the package data and saves it there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.pipeline import FeatureUnion, Pipeline

from triage.classify.normalize import normalize
from triage.models import Category

DATA_DIR = Path(__file__).resolve().parent / "data"
# Below this confidence a caller marks the item needs_review instead of trusting the guess.
REVIEW_THRESHOLD = 0.45
TOP_FEATURES = 5
# Regularisation strength: chosen on the held-out files (1 to 30 all score within a point);
# higher values make the model overconfident on text unlike anything it has seen.
C = 10.0
MAX_ITER = 3000
# Recorded with each model: a model is only used with the preprocessing it was trained with.
NORMALIZER = "triage.classify.normalize"
FORMAT = 1  # bump when the pipeline or preprocessing changes in a way old files cannot follow

_NUMBER = re.compile(r"\d+")
# Words that carry weight in the model but explain nothing to a secretary reading "why".
_FUNCTION_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "a an and are be been can could do for from i i'm in is it me my of on or please that the"
        " this to up was we with you your"
        " از این اون او با برای به تا در را رو که من و هم یه یک هست است"
    ).split()
)


def _explains(name: str) -> bool:
    """Whether an n-gram is worth showing: not a padded bigram (" t"), not only function words."""
    return len(name) > 1 and not all(word in _FUNCTION_WORDS for word in name.split())


@dataclass(frozen=True)
class Example:
    """One labelled text."""

    text: str
    category: Category
    language: str
    source: str = ""


@dataclass(frozen=True)
class Prediction:
    """A category, the model's probability for it, and the n-grams that decided it."""

    category: Category
    confidence: float
    top_features: list[tuple[str, float]]

    @property
    def needs_review(self) -> bool:
        return self.confidence < REVIEW_THRESHOLD


def prepare(text: str) -> str:
    """Text as the model sees it: the shared matching form, every number one token.

    `normalize` folds Arabic letter forms, digits, diacritics, ZWNJ (so «می‌خواستم» and
    «میخواستم» are one word) and case. Numbers say little about the category and vary
    endlessly, so every run of digits becomes "0".
    """
    return _NUMBER.sub("0", normalize(text))


def read_examples(paths: Iterable[Path]) -> list[Example]:
    """Examples from JSONL files of {"text", "category", "language", "source"}."""
    examples = []
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                try:
                    category = Category(row["category"])
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: unknown category") from error
                examples.append(
                    Example(row["text"], category, row.get("language", ""), row.get("source", ""))
                )
    return examples


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("train_*.jsonl"))


def heldout_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("heldout_*.jsonl"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    token_pattern=r"(?u)\b\w+\b",
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    return Pipeline(
        [("features", features), ("classifier", LogisticRegression(C=C, max_iter=MAX_ITER))]
    )


@dataclass
class TrainedModel:
    """A fitted pipeline with its version and the metadata written beside it."""

    pipeline: Pipeline
    version: str
    metadata: dict[str, Any]
    _feature_names: list[str] = field(default_factory=list, repr=False)

    @property
    def categories(self) -> list[Category]:
        return [Category(c) for c in self.pipeline.named_steps["classifier"].classes_]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Category, confidence and the top n-grams (coefficient x tf-idf) for each text."""
        if not texts:
            return []
        features = self.pipeline.named_steps["features"]
        classifier = self.pipeline.named_steps["classifier"]
        if not self._feature_names:
            self._feature_names = [
                name.split("__", 1)[1].strip() for name in features.get_feature_names_out()
            ]
        matrix = features.transform([prepare(t) for t in texts]).tocsr()
        probabilities = classifier.predict_proba(matrix)
        classes = self.categories
        predictions = []
        for row, probs in enumerate(probabilities):
            best = int(np.argmax(probs))
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            indices = matrix.indices[start:end]
            contributions = matrix.data[start:end] * classifier.coef_[best, indices]
            top: list[tuple[str, float]] = []
            for position in np.argsort(-contributions):
                weight = float(contributions[position])
                name = self._feature_names[indices[position]]
                if weight <= 0 or len(top) == TOP_FEATURES:
                    break
                if _explains(name) and all(name != seen for seen, _ in top):
                    top.append((name, round(weight, 4)))
            predictions.append(Prediction(classes[best], float(probs[best]), top))
        return predictions


def train(paths: Sequence[Path], extra: Sequence[Example] = ()) -> TrainedModel:
    """Fit a model on the examples in `paths` plus `extra` (e.g. secretaries' corrections).

    Deterministic: the same data gives the same model and the same predictions.
    """
    examples = read_examples(paths) + list(extra)
    if not examples:
        raise ValueError("no training examples")
    started = time.perf_counter()
    pipeline = _pipeline()
    pipeline.fit([prepare(e.text) for e in examples], [e.category.value for e in examples])
    seconds = time.perf_counter() - started
    files = [{"path": p.name, "sha256": _sha256(p)} for p in paths]
    digest = hashlib.sha256()
    for entry in files:
        digest.update(entry["sha256"].encode())
    for example in extra:
        digest.update(f"{example.category}\t{example.text}\n".encode())
    trained_at = datetime.now(UTC)
    version = f"{trained_at:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:12]}"
    counts: dict[str, dict[str, int]] = {}
    for (language, category), n in sorted(
        Counter((e.language, e.category.value) for e in examples).items()
    ):
        counts.setdefault(language or "unknown", {})[category] = n
    metadata = {
        "format": FORMAT,
        "version": version,
        "trained_at": trained_at.isoformat(),
        "data_files": files,
        "extra_examples": len(extra),
        "class_counts": counts,
        "scikit_learn": sklearn.__version__,
        "normalizer": NORMALIZER,
        "review_threshold": REVIEW_THRESHOLD,
        "train_seconds": round(seconds, 2),
    }
    return TrainedModel(pipeline, version, metadata)


def save(model: TrainedModel, directory: Path) -> Path:
    """Write model-<version>.json and model-<version>.joblib; return the .joblib path.

    Each file appears whole (written aside, then renamed) and the metadata first, so a
    process looking for the newest model never finds a model without its metadata, even
    while several processes train at once.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model-{model.version}.joblib"
    sidecar = path.with_suffix(".json")
    partial = directory / f".{sidecar.name}.{os.getpid()}.tmp"
    partial.write_text(
        json.dumps(model.metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    partial.replace(sidecar)
    partial = directory / f".{path.name}.{os.getpid()}.tmp"
    joblib.dump(model.pipeline, partial, compress=3)
    partial.replace(path)
    return path


def load(path: Path) -> TrainedModel:
    """A model saved by `save` (only ever load files this program wrote: joblib is pickle)."""
    metadata = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    pipeline = joblib.load(path)
    if not isinstance(pipeline, Pipeline):
        raise ValueError(f"{path} does not hold a scikit-learn pipeline")
    return TrainedModel(pipeline, str(metadata["version"]), metadata)


def is_compatible(metadata: dict[str, Any]) -> bool:
    """Whether this process can use a saved model as it was meant to be used."""
    return (
        metadata.get("format") == FORMAT
        and metadata.get("scikit_learn") == sklearn.__version__
        and metadata.get("normalizer") == NORMALIZER
    )


def newest_compatible(directory: Path) -> Path | None:
    """The file of the newest model in `directory` this process can use, or None."""
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("model-*.joblib"), reverse=True):
        sidecar = path.with_suffix(".json")
        if sidecar.exists() and is_compatible(json.loads(sidecar.read_text(encoding="utf-8"))):
            return path
    return None


def load_latest(directory: Path) -> TrainedModel | None:
    """The newest compatible model in `directory`, or None."""
    path = newest_compatible(directory)
    return None if path is None else load(path)


def load_or_train(directory: Path) -> TrainedModel:
    """The newest compatible model in `directory`, training and saving one if there is none."""
    model = load_latest(directory)
    if model is None:
        model = train(training_files())
        save(model, directory)
    return model


@dataclass(frozen=True)
class LanguageReport:
    """Scores of one language's examples."""

    language: str
    labels: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_f1: float
    confusion: list[list[int]]


def evaluate(model: TrainedModel, examples: Sequence[Example]) -> list[LanguageReport]:
    """Per-class precision, recall and F1, macro-F1 and the confusion matrix, per language."""
    labels = [c.value for c in Category]
    predictions = model.predict([e.text for e in examples])
    reports = []
    for language in sorted({e.language for e in examples}):
        pairs = [
            (e.category.value, p.category.value)
            for e, p in zip(examples, predictions, strict=True)
            if e.language == language
        ]
        truth, guess = [t for t, _ in pairs], [g for _, g in pairs]
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, guess, labels=labels, zero_division=0
        )
        present = sorted(set(truth))
        macro = f1_score(truth, guess, labels=present, average="macro", zero_division=0)
        matrix = confusion_matrix(truth, guess, labels=labels)
        reports.append(
            LanguageReport(
                language,
                labels,
                [float(x) for x in precision],
                [float(x) for x in recall],
                [float(x) for x in f1],
                [int(x) for x in support],
                float(macro),
                matrix.tolist(),
            )
        )
    return reports


def format_report(report: LanguageReport) -> str:
    """A plain-text table of one language's scores and confusion matrix."""
    width = max(len(label) for label in report.labels)
    lines = [
        f"language {report.language}: macro-F1 {report.macro_f1:.3f} "
        f"({sum(report.support)} examples)",
        f"{'':{width}}  precision  recall     f1  support",
    ]
    for i, label in enumerate(report.labels):
        lines.append(
            f"{label:{width}}  {report.precision[i]:9.3f}  {report.recall[i]:6.3f}  "
            f"{report.f1[i]:5.3f}  {report.support[i]:7d}"
        )
    short = [label[:5] for label in report.labels]
    lines += ["", "confusion (rows: true, columns: predicted)"]
    lines.append(f"{'':{width}}  " + " ".join(f"{s:>5}" for s in short))
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"{label:{width}}  " + " ".join(f"{n:5d}" for n in row))
    return "\n".join(lines)
