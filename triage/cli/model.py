"""`monshi model ...`: train the category model and evaluate it on labelled JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from triage.classify import model as category_model
from triage.cli import cli

DEFAULT_MODEL_DIR: Final = Path("var") / "models"


@cli.group()
def model() -> None:
    """The category model."""


@model.command("train")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=category_model.DATA_DIR,
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
def model_train(data_dir: Path, out_dir: Path) -> None:
    """Train a model from DATA's train_*.jsonl, save it to OUT, print its version and scores."""
    paths = category_model.training_files(data_dir)
    if not paths:
        raise click.ClickException(f"no train_*.jsonl in {data_dir}")
    trained = category_model.train(paths)
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
