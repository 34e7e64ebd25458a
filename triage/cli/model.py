"""`monshi model ...`: train the category model and evaluate it on labelled JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from triage.cli import cli, load_settings

if TYPE_CHECKING:
    from triage.classify import model as category_model

# scikit-learn is imported only by the commands that use it, so that every other `monshi`
# process (web, worker start-up, imap) does not pay its memory.
DATA_DIR: Final = Path(__file__).resolve().parent.parent / "classify" / "data"

DEFAULT_MODEL_DIR: Final = Path("var") / "models"


@cli.group()
def model() -> None:
    """The category model."""


@model.command("train")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=DATA_DIR,
    show_default="the package's data",
    help="directory with train_*.jsonl (and heldout_*.jsonl, scored after training)",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_MODEL_DIR,
    show_default=True,
    help="where the versioned model file is written",
)
@click.option(
    "--corrections/--no-corrections",
    default=True,
    show_default=True,
    help="also learn from secretaries' corrections stored at DATABASE_URL (when it is set)",
)
def model_train(data_dir: Path, out_dir: Path, corrections: bool) -> None:
    """Train a model from DATA's train_*.jsonl (and stored corrections), save it to OUT.

    Prints its version and scores. Running workers pick the new file up by themselves.
    """
    from triage.classify import model as category_model

    paths = category_model.training_files(data_dir)
    if not paths:
        raise click.ClickException(f"no train_*.jsonl in {data_dir}")
    extra = _stored_corrections() if corrections else []
    if extra:
        click.echo(f"learning from {len(extra)} stored correction(s)")
    trained = category_model.train(paths, extra)
    saved = category_model.save(trained, out_dir)
    metadata = trained.metadata
    click.echo(f"model {trained.version}")
    click.echo(f"saved {saved}")
    click.echo(f"trained in {metadata['train_seconds']} s on {', '.join(p.name for p in paths)}")
    for language, counts in metadata["class_counts"].items():
        click.echo(f"  {language}: {sum(counts.values())} examples, {len(counts)} categories")
    training = category_model.read_examples(paths)
    for report in category_model.evaluate(trained, training):
        click.echo(f"training macro-F1 {report.language}: {report.macro_f1:.3f}")
    heldout_paths = category_model.heldout_files(data_dir)
    if heldout_paths:
        heldout = category_model.read_examples(heldout_paths)
        for report in category_model.evaluate(trained, heldout):
            click.echo(
                f"held-out macro-F1 {report.language}: {report.macro_f1:.3f} "
                f"({sum(report.support)} examples)"
            )


def _stored_corrections() -> list[category_model.Example]:
    """Secretaries' corrections from the database at DATABASE_URL, if there is one."""
    import os

    from triage.classify import model as category_model
    from triage.models import Category
    from triage.store.db import make_engine
    from triage.store.repository import Repository
    from triage.store.triage_records import corrections

    if not os.environ.get("DATABASE_URL", "").strip():
        return []
    settings = load_settings(required=("DATABASE_URL",))
    engine = make_engine(settings.database_url)
    try:
        rows = corrections(Repository(engine))
    finally:
        engine.dispose()
    return [
        category_model.Example(text, Category(category), language or "", "correction")
        for text, category, language in rows
        if text.strip()
    ]


@model.command("evaluate")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help=f"a model-*.joblib file or a directory of them (default: newest in {DEFAULT_MODEL_DIR})",
)
def model_evaluate(file: Path, model_path: Path | None) -> None:
    """Per-class precision, recall, F1, macro-F1 and confusion matrix of FILE, per language."""
    from triage.classify import model as category_model

    location = model_path or DEFAULT_MODEL_DIR
    if location.is_file():
        trained = category_model.load(location)
    else:
        found = category_model.load_latest(location)
        if found is None:
            raise click.ClickException(
                f"no usable model in {location}: run `monshi model train` first"
            )
        trained = found
    try:
        examples = category_model.read_examples([file])
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"{file}: {error}") from error
    if not examples:
        raise click.ClickException(f"{file} holds no examples")
    click.echo(f"model {trained.version}, {len(examples)} examples from {file}")
    for report in category_model.evaluate(trained, examples):
        click.echo("")
        click.echo(category_model.format_report(report))
