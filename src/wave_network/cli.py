"""The ``wave-network`` command line: a thin layer that parses options, builds configs and calls the same library
functions a Python user would call (``wave_network.training.train``, ``evaluate``, ``predict``).

Data-parallel training: ``torchrun --nproc_per_node N -m wave_network.cli train ...``.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from .params import count_parameters
from .presets import get_preset, list_presets
from .registry import create_model

app = typer.Typer(
    help="Wave Network text classifiers (arXiv 2411.02674): train, evaluate, predict.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", help="Debug logging.")) -> None:
    """Train, evaluate and analyse Wave Network text classifiers."""
    from .training.progress import console as progress_console

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=progress_console(), show_path=False, markup=False)],
        force=True,
    )
    for noisy in ("httpx", "urllib3", "filelock", "fsspec", "datasets", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# The library's messages name config fields; at the command line the user typed flags, so errors name those.
_FLAGS = {
    "TrainConfig.model_overrides": "--set",
    "TrainConfig.model": "--model",
    "TrainConfig.learning_rate": "--lr",
    "TrainConfig.epochs": "--epochs",
    "TrainConfig.batch_size": "--batch-size",
    "TrainConfig.weight_decay": "--weight-decay",
    "TrainConfig.warmup_ratio": "--warmup-ratio",
    "TrainConfig.precision": "--precision",
    "TrainConfig.seed": "--seed",
    "TrainConfig.early_stopping_patience": "--early-stopping",
    "TrainConfig.label_smoothing": "--label-smoothing",
    "TrainConfig.output_dir": "--output-dir",
    "TrainConfig.resume": "--resume",
    "TrainConfig.device": "--device",
    "TrainConfig.tracker": "--tracker",
    "TrainConfig.num_threads": "--num-threads",
    "TrainConfig.max_steps": "--max-steps",
    "DataConfig.dataset": "--dataset",
    "DataConfig.data_dir": "--data-dir",
    "DataConfig.train_file": "--train-file",
    "DataConfig.test_file": "--test-file",
    "DataConfig.text_columns": "--text-column",
    "DataConfig.label_column": "--label-column",
    "DataConfig.problem_type": "--task",
    "DataConfig.tokenizer": "--tokenizer",
    "DataConfig.max_length": "--max-length",
    "DataConfig.val_split": "--val-split",
    "DataConfig.max_train_samples": "--max-train-samples",
    "DataConfig.seed": "--seed",
    "resume=True": "--resume",
}
_CONFIG_NAME = re.compile(r"\b(?:TrainConfig|DataConfig)\.\w+|\bresume=True\b")
_OVERRIDE = re.compile(r"(?:\bTrainConfig\.model_overrides\['(\w+)'\]|\bWaveConfig\.(\w+))")


def _as_flags(message: str) -> str:
    """``TrainConfig.epochs=0`` as ``--epochs=0``, ``WaveConfig.num_layers`` as ``--set num_layers``."""
    message = _OVERRIDE.sub(lambda m: f"--set {m.group(1) or m.group(2)}", message)
    message = re.sub(r"\blearning_rate\b", "--lr", message)
    message = re.sub(r"\bprecision='(\w+)'", r"--precision \1", message)
    return _CONFIG_NAME.sub(lambda m: _FLAGS.get(m.group(0), m.group(0)), message)


def _text(error: Exception) -> str:
    """An exception's message; a ``KeyError``'s without the quotes ``str`` adds."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _fail(message: str) -> None:
    # Text, not markup: a message may hold brackets ("labels ['a', 'b']") that rich would read as style tags.
    err_console.print(Text.assemble(("error:", "bold red"), " ", _as_flags(message)), highlight=False)
    raise typer.Exit(code=2)


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def _parse_value(text: str) -> Any:
    """A ``--set`` value as YAML (numbers, booleans, null, strings, lists); text that is not valid YAML (``:``)
    stays a string, for the field's type check to accept or refuse."""
    if _NUMBER.fullmatch(text.strip()):  # YAML 1.1 reads 1e-5 (no dot) as a string
        number = float(text)
        return int(text) if _INTEGER.fullmatch(text.strip()) else number
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _overrides(pairs: list[str]) -> dict[str, Any]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"--set expects FIELD=VALUE (for example --set hidden_size=256), got {pair!r}")
        values[key.strip()] = _parse_value(value)
    return values


def _per_model_overrides(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--set MODEL.FIELD=VALUE`` pairs of the multi-model commands as ``{model: {field: value}}``."""
    per_model: dict[str, dict[str, Any]] = {}
    for key, value in _overrides(pairs or []).items():
        model_name, dot, field_name = key.partition(".")
        if not dot or not field_name:
            _fail(f"--set expects MODEL.FIELD=VALUE (e.g. bert.checkpoint=minilm), got {key!r}")
        per_model.setdefault(model_name, {})[field_name] = value
    return per_model


def _data_config(
    dataset: str,
    data_dir: str | None,
    train_file: str | None,
    test_file: str | None,
    text_column: list[str] | None,
    label_column: str | None,
    tokenizer: str,
    max_length: int,
    seed: int,
    max_train_samples: int | None,
    max_eval_samples: int | None = None,
    val_split: str = "rows",
    task: str | None = None,
):
    from .data import DataConfig

    tasks = {"classification": "single_label_classification", "regression": "regression"}
    if task is not None and task not in tasks:
        _fail(f"--task {task!r}; expected classification or regression")
    return DataConfig(
        dataset=dataset,
        data_dir=data_dir,
        train_file=train_file,
        test_file=test_file,
        text_columns=tuple(text_column) if text_column else None,
        label_column=label_column,
        tokenizer=tokenizer,
        max_length=max_length,
        seed=seed,
        max_train_samples=max_train_samples,
        max_eval_samples=max_eval_samples,
        val_split=val_split,
        problem_type=tasks.get(task) if task else None,
    )


# Options shared by train and evaluate.
DATASET = typer.Option(
    "ag_news_sample",
    "--dataset",
    "-d",
    help="Data set name (see `wave-network datasets`), hf:owner/name, or a local directory.",
)
DATA_DIR = typer.Option(None, "--data-dir", help="Directory holding the data set (env WAVE_NETWORK_DATA_DIR).")
TRAIN_FILE = typer.Option(None, "--train-file", help="Local CSV/TSV/JSONL/Parquet training file.")
TEST_FILE = typer.Option(None, "--test-file", help="Local test file (same format as the training file).")
TEXT_COLUMN = typer.Option(None, "--text-column", help="Text column of a local file; give twice for pairs.")
LABEL_COLUMN = typer.Option(None, "--label-column", help="Label column of a local file.")
TOKENIZER = typer.Option("bert-base-uncased", "--tokenizer", help="Tokenizer name or path (bundled default).")
MAX_LENGTH = typer.Option(512, "--max-length", help="Truncate texts to this many tokens.")
TASK = typer.Option(
    None,
    "--task",
    help="classification or regression; default: inferred from the labels (fractional numbers mean regression), "
    "with a notice saying so.",
)
VAL_SPLIT = typer.Option(
    "rows",
    "--val-split",
    help="Validation split: rows (stratified rows) or sentences (whole sentences, for phrase data sets such as sst2).",
)


@app.command()
def train(
    model: str = typer.Option("paper-modulation", "--model", "-m", help="Preset or registered model name."),
    dataset: str = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = TEST_FILE,
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    tokenizer: str = TOKENIZER,
    max_length: int = MAX_LENGTH,
    max_train_samples: int | None = typer.Option(None, help="Stratified subsample of the training data."),
    val_split: str = VAL_SPLIT,
    task: str | None = TASK,
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate (default: the preset's)."),
    epochs: int | None = typer.Option(None, help="Epochs (default: the preset's)."),
    batch_size: int | None = typer.Option(None, help="Global batch size (default: the preset's)."),
    weight_decay: float = typer.Option(0.01, help="AdamW weight decay (matrices only)."),
    warmup_ratio: float = typer.Option(0.06, help="Fraction of steps of linear warm-up."),
    precision: str = typer.Option("auto", help="auto (bf16 autocast where supported), bf16 or fp32."),
    seed: int = typer.Option(42, help="Seed for initialisation, dropout, splits and batch order."),
    deterministic: bool = typer.Option(False, help="Bitwise repeatable kernels (slower)."),
    compile_kernels: bool = typer.Option(
        True, "--compile/--no-compile", help="Compile the fused wave kernels with torch.compile (faster)."
    ),
    early_stopping: int | None = typer.Option(None, help="Stop after N validations without improvement."),
    label_smoothing: float | None = typer.Option(
        None, help="Cross-entropy label smoothing in [0, 1) (default: the preset's, else 0)."
    ),
    output_dir: str | None = typer.Option(None, "--output-dir", "-o", help="Run directory (default runs/...)."),
    resume: bool = typer.Option(False, help="Continue the interrupted run in --output-dir."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    tracker: str = typer.Option("none", help="none, tensorboard, wandb (offline) or mlflow."),
    max_steps: int | None = typer.Option(None, help="Stop after this many optimiser steps (smoke tests)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Model config override FIELD=VALUE, repeatable."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train a model, select the best epoch on a validation split carved from the training data, evaluate it on
    the test set once, and write a run directory (config, metrics, results, checkpoint, plots)."""
    from .data import DataError
    from .reporting import report_run
    from .training import NonFiniteLossError, TrainConfig
    from .training import train as run_training

    try:
        cfg = TrainConfig(
            model=model,
            model_overrides=_overrides(set_ or []),
            data=_data_config(
                dataset,
                data_dir,
                train_file,
                test_file,
                text_column,
                label_column,
                tokenizer,
                max_length,
                seed,
                max_train_samples,
                val_split=val_split,
                task=task,
            ),
            learning_rate=lr,
            epochs=epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            warmup_ratio=warmup_ratio,
            precision=precision,
            seed=seed,
            deterministic=deterministic,
            compile=compile_kernels,
            early_stopping_patience=early_stopping,
            label_smoothing=label_smoothing,
            output_dir=output_dir,
            resume=resume,
            device=device,
            num_threads=num_threads,
            tracker=tracker,
            max_steps=max_steps,
            quiet=quiet,
        )
        result = run_training(cfg)
    except (DataError, NonFiniteLossError, ValueError, KeyError, FileExistsError, FileNotFoundError, OSError) as exc:
        _fail(_text(exc))
    if result.results is not None:
        report_run(result.run_dir)  # the run's figures, drawn from the records it wrote
        print_results(result.results)


def print_results(results: dict[str, Any]) -> None:
    """A results table: test metrics and resources of one run."""
    m, r = results["metrics"], results["resources"]
    table = Table(title=f"{results['model']} on {results['dataset']} (seed {results['seed']})", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = [
        ("test accuracy", m.get("test_accuracy"), "{:.4f}"),
        ("test F1 (macro)", m.get("test_f1_macro"), "{:.4f}"),
        ("test F1 (weighted)", m.get("test_f1_weighted"), "{:.4f}"),
        ("test Pearson", m.get("test_pearson"), "{:.4f}"),
        ("test Spearman", m.get("test_spearman"), "{:.4f}"),
        ("test loss", m.get("test_loss"), "{:.4f}"),
        ("best validation " + str(results["selection"]["monitor"]), results["selection"]["best_value"], "{:.4f}"),
        ("best epoch", results["selection"]["best_epoch"], "{}"),
        ("parameters (total)", r["parameters"].get("total"), "{:,}"),
        ("parameters (non-embedding)", r["parameters"].get("non_embedding"), "{:,}"),
        ("time per epoch (s)", _mean(r.get("epoch_times_s")), "{:.1f}"),
        ("train tokens/s", r.get("train_tokens_per_s"), "{:,.0f}"),
        ("eval tokens/s", r.get("eval_tokens_per_s"), "{:,.0f}"),
        ("peak memory (MB)", r.get("peak_memory_mb"), "{:,.0f}"),
        ("device", results.get("device"), "{}"),
    ]
    for name, value, fmt in rows:
        if value is not None:
            table.add_row(name, fmt.format(value))
    console.print(table)
    subset = (results.get("dataset_provenance") or {}).get("subset_note")
    if subset:
        console.print(f"[yellow]data:[/yellow] {subset}")
    console.print(f"run directory: {results['run_dir']}")


def _mean(values: list | None) -> float | None:
    values = [v for v in values or [] if v is not None]
    return sum(values) / len(values) if values else None


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A run directory (its best/ checkpoint) or a saved model directory."),
    dataset: str = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = typer.Option(
        None,
        "--test-file",
        help="A labelled CSV/TSV/JSONL/Parquet file to evaluate on; on its own, no training data is needed.",
    ),
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    max_length: int = MAX_LENGTH,
    split: str = typer.Option("test", help="test or validation."),
    top_k: int = typer.Option(
        1, "--top-k", "-k", min=1, help="With --test-file: also precision and recall at k (fastText's test)."
    ),
    batch_size: int = typer.Option(64, help="Evaluation batch size."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    backend: str = typer.Option(
        "torch", help="torch; onnx or onnx-int8 for a directory written by `wave-network export`."
    ),
    precision: str = typer.Option("auto", help="auto (bf16 autocast where supported, as in training) or fp32."),
    output: Path | None = typer.Option(None, "--output", help="Also write the metrics as JSON here."),
    seed: int = typer.Option(42, help="Seed of the train/validation split (for --split validation)."),
    val_split: str = VAL_SPLIT,
    task: str | None = TASK,
) -> None:
    """Evaluate a saved model on a data set split, or on a labelled file (--test-file alone), and print its
    metrics. Labels are matched to the model's by name."""
    from .data import DataError
    from .prediction_io import InputError

    try:
        if test_file is not None and train_file is None:
            metrics = _evaluate_file(
                model_dir, Path(test_file), text_column, label_column, top_k, batch_size, device, backend
            )
            title = f"{model_dir} on {test_file}"
        else:
            from .training import evaluate as run_evaluate

            data_cfg = _data_config(
                dataset,
                data_dir,
                train_file,
                test_file,
                text_column,
                label_column,
                "bert-base-uncased",
                max_length,
                seed,
                None,
                val_split=val_split,
                task=task,
            )
            metrics = run_evaluate(
                model_dir, data_cfg, split=split, batch_size=batch_size, device=device, precision=precision
            )
            title = f"{model_dir} on {dataset} ({split})"
    except (DataError, InputError, ValueError, KeyError, FileNotFoundError, OSError) as exc:
        _fail(_text(exc))
    table = Table(title=title, show_header=False)
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
        elif isinstance(value, int):
            table.add_row(key, f"{value:,}")
    console.print(table)
    if output:
        output.write_text(json.dumps(metrics, indent=2) + "\n")


def _evaluate_file(
    model_dir: Path,
    path: Path,
    text_column: list[str] | None,
    label_column: str | None,
    k: int,
    batch_size: int,
    device: str,
    backend: str,
) -> dict[str, Any]:
    """Metrics of a model on a labelled file, streamed in windows (memory holds the logits, not the texts)."""
    from .classifier import TextClassifier
    from .prediction_io import InputError, input_format, read_records

    columns = list(text_column or [])
    if len(columns) > 2:
        raise InputError("--text-column: give it once, or twice for sentence pairs")
    clf = TextClassifier.load(model_dir, device=device, backend=backend, batch_size=batch_size)
    fmt = input_format(path, None)
    if fmt == "lines":
        raise InputError(f"{path}: evaluate reads a labelled CSV, TSV, JSON Lines or Parquet file")
    records, _ = read_records(
        path,
        fmt,
        text_column=columns[0] if columns else None,
        text_pair_column=columns[1] if len(columns) == 2 else None,
    )
    label = label_column or "label"
    logits, labels, window = [], [], []

    def run() -> None:
        texts = [(r["text"], r["text_pair"]) if "text_pair" in r else r["text"] for r in window]
        logits.append(clf.logits(texts))
        window.clear()

    for row, record in enumerate(records, start=1):
        if label not in record:
            raise InputError(
                f"{path}: no label column {label!r} (fields: {', '.join(record)}); name it with --label-column"
            )
        if record[label] is None or str(record[label]).strip() == "":
            raise InputError(f"{path}, record {row}: the label is empty")
        labels.append(record[label])
        window.append(record)
        if len(window) >= 16 * batch_size:
            run()
    if window:
        run()
    if not labels:
        raise InputError(f"{path}: no records to evaluate")
    import numpy as np

    return clf.metrics(np.concatenate(logits), clf.label_ids(labels, where=str(path)), k=k)


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="A run directory (its best/ checkpoint) or a saved model directory."),
    texts: list[str] | None = typer.Argument(None, help="Texts to classify; none reads --input or stdin."),
    input_file: Path | None = typer.Option(
        None, "--input", "-i", help="Plain text (one per line), CSV, TSV, JSON Lines or Parquet; default: stdin."
    ),
    input_format: str | None = typer.Option(
        None, "--format", help="lines, csv, tsv, jsonl or parquet (default: from the file's suffix; stdin: lines)."
    ),
    text_column: str | None = typer.Option(None, "--text-column", help="The text field (default: text, sentence ...)."),
    text_pair_column: str | None = typer.Option(None, "--text-pair-column", help="Second text of sentence pairs."),
    top_k: int = typer.Option(1, "--top-k", "-k", help="How many labels in top_k, most probable first (-1: all)."),
    threshold: float = typer.Option(0.0, "--threshold", "-t", help="Only labels with at least this probability."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout: .jsonl, or .csv/.tsv (one p_<label> column each)."
    ),
    batch_size: int = typer.Option(64, min=1, help="Texts per model batch."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    backend: str = typer.Option(
        "torch", help="torch; onnx or onnx-int8 for a directory written by `wave-network export`."
    ),
) -> None:
    """Classify texts: one JSON line per text (its input fields, label, probabilities, top_k), streamed as the input
    arrives. fastText's predict / predict-prob with -k and -t."""
    from .classifier import TextClassifier
    from .prediction_io import InputError, Writer, predict_stream, read_records
    from .prediction_io import input_format as format_of

    try:
        clf = TextClassifier.load(model_dir, device=device, backend=backend, batch_size=batch_size)
        if texts:
            records, lines = iter([{"text": text} for text in texts]), None
        else:
            fmt = format_of(input_file, input_format)
            records, lines = read_records(input_file, fmt, text_column=text_column, text_pair_column=text_pair_column)
        writer = Writer(output, clf.classes_)
        try:
            count = predict_stream(
                records, lines, lambda batch: clf.records(batch, top_k, threshold), writer, window=16 * batch_size
            )
        finally:
            writer.close()
    except (InputError, ValueError, FileNotFoundError, OSError) as exc:
        _fail(str(exc))
    if count == 0:
        _fail("no texts given: pass them as arguments, with --input FILE, or on standard input")


@app.command()
def compare(
    models: str = typer.Option(
        "paper-modulation,paper-interference,bert,transformer-1layer,fnet,fasttext,tfidf,majority",
        "--models",
        help="Comma-separated model names (presets and baselines; see `wave-network models`).",
    ),
    dataset: str = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = TEST_FILE,
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    tokenizer: str = TOKENIZER,
    max_length: int = typer.Option(128, "--max-length", help="Truncate texts to this many tokens (every model)."),
    max_train_samples: int | None = typer.Option(None, help="Stratified subsample of the training data."),
    seed: int = typer.Option(42, help="Seed of every run (initialisation, batch order, validation split)."),
    val_split: str = VAL_SPLIT,
    epochs: int | None = typer.Option(None, help="Epochs for every gradient-trained model (default: each recipe's)."),
    epochs_for: list[str] | None = typer.Option(
        None, "--epochs-for", help="Per-model epochs MODEL=N (a budget cut for a slow baseline), repeatable."
    ),
    output_dir: str = typer.Option("runs/compare", "--output-dir", "-o", help="Where the run directories go."),
    report_dir: str | None = typer.Option(None, "--report-dir", help="Where the table, JSON and plots go."),
    precision: str = typer.Option("auto", help="auto (bf16 autocast where supported), bf16 or fp32."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    latency_docs: int = typer.Option(256, help="Test texts used to time inference."),
    rerun: bool = typer.Option(False, help="Retrain models even when a finished run with the same set-up exists."),
    set_: list[str] | None = typer.Option(
        None, "--set", help="Per-model override MODEL.FIELD=VALUE (e.g. bert.checkpoint=minilm), repeatable."
    ),
) -> None:
    """Train several models on the same data, splits and budget and print one table: accuracy, macro F1,
    parameters, peak memory, training time and tokens/s, inference latency. One model failing (a missing extra,
    no weights offline) is reported in the table; the others still run."""
    from .compare import CompareConfig
    from .compare import compare as run_compare
    from .data import DataError
    from .reporting import pct as _pct

    per_model = _per_model_overrides(set_)
    model_epochs = _overrides(epochs_for or [])
    try:
        cfg = CompareConfig(
            models=models,
            data=_data_config(
                dataset,
                data_dir,
                train_file,
                test_file,
                text_column,
                label_column,
                tokenizer,
                max_length,
                seed,
                max_train_samples,
                val_split=val_split,
            ),
            output_dir=output_dir,
            report_dir=report_dir,
            seed=seed,
            epochs=epochs,
            model_overrides=per_model,
            model_epochs=model_epochs,
            precision=precision,
            device=device,
            num_threads=num_threads,
            latency_docs=latency_docs,
            rerun=rerun,
        )
        result = run_compare(cfg)
    except (DataError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(_text(exc))
    regression = all(r.get("test_accuracy") is None for r in result.rows if r["status"] == "ok")
    first, second = ("Pearson", "Spearman") if regression else ("test acc.", "macro F1")
    table = Table(title=f"compare on {dataset} (max length {max_length}, seed {seed})", header_style="bold")
    for column in ("model", first, second, "params", "non-emb.", "peak MB", "train s", "tok/s", "ms/text"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.rows:
        if row["status"] != "ok":
            table.add_row(row["model"], "[red]failed[/red]", *[""] * 7)
            continue
        table.add_row(
            row["model"],
            _pct(row.get("test_pearson" if regression else "test_accuracy")),
            _pct(row.get("test_spearman" if regression else "test_f1_macro")),
            f"{row['params_total']:,}",
            f"{row['params_non_embedding']:,}",
            _maybe(row.get("peak_memory_mb"), "{:,.0f}"),
            _maybe(row.get("train_time_s"), "{:,.1f}"),
            _maybe(row.get("train_tokens_per_s"), "{:,.0f}"),
            _maybe(row.get("latency_ms_batch1"), "{:.2f}"),
        )
    console.print(table)
    for row in result.rows:
        if row["status"] != "ok":
            err_console.print(f"[red]{row['model']} failed:[/red] {row['error']}")
    console.print(f"table: {result.markdown_path}  json: {result.json_path}")


def _maybe(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


@app.command("models")
def models_command() -> None:
    """List every model name `train` and `compare` accept: the Wave presets and the baselines."""
    from .registry import describe_model, list_models

    table = Table(show_header=True, header_style="bold")
    table.add_column("model")
    table.add_column("description")
    for name in list_models():
        table.add_row(name, describe_model(name))
    console.print(table)


@app.command()
def presets(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show where each preset departs from the paper."),
    params: bool = typer.Option(False, "--params", help="Also count parameters (builds each model, 4 labels)."),
) -> None:
    """List the model presets with a one-line description each."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("preset")
    table.add_column("description")
    if params:
        table.add_column("non-embedding params", justify="right")
    for name in list_presets():
        preset = get_preset(name)
        row = [name, preset.description]
        if params:
            row.append(f"{count_parameters(create_model(name, num_labels=4)).non_embedding:,}")
        table.add_row(*row)
        if verbose:
            table.add_row("", f"[dim]{preset.departures}[/dim]", *([""] if params else []))
    console.print(table)


@app.command("datasets")
def datasets_command(
    data_dir: str | None = DATA_DIR,
) -> None:
    """List the named data sets and where each was found locally (or that it would come from the hub)."""
    from .data import list_datasets, locate_dataset

    table = Table(show_header=True, header_style="bold")
    table.add_column("name")
    table.add_column("description")
    table.add_column("found at")
    for name, description in list_datasets():
        try:
            where = locate_dataset(name, data_dir)
        except Exception as exc:  # a malformed directory should not hide the other rows
            where = f"error: {exc}"
        table.add_row(name, description, str(where) if where else "[dim]not local: hub when online[/dim]")
    console.print(table)


@app.command()
def glue(
    models: str = typer.Option(
        "paper-modulation,paper-interference,fnet,bert,majority", "--models", help="Comma-separated models."
    ),
    tasks: str = typer.Option("all", "--tasks", help="all, or comma-separated GLUE tasks (cola, sst2, mrpc, ...)."),
    seeds: str = typer.Option("42", "--seeds", help="Seeds of the large tasks (comma-separated)."),
    small_task_seeds: int = typer.Option(3, help="Seeds of CoLA, MRPC, RTE, STS-B and WNLI (at least 3)."),
    max_length: int = typer.Option(128, "--max-length", help="Tokens per example (both sentences of a pair)."),
    data_dir: str | None = DATA_DIR,
    max_train_samples: int | None = typer.Option(None, help="Subsample every task's training data (budget runs)."),
    epochs: int | None = typer.Option(None, help="Epochs for every gradient-trained model (default: recipes)."),
    epochs_for: list[str] | None = typer.Option(
        None, "--epochs-for", help="Per-model epochs MODEL=N or TASK/MODEL=N (a marked budget cut), repeatable."
    ),
    output_dir: str = typer.Option("runs/glue", "--output-dir", "-o", help="Where the run directories go."),
    report_dir: str | None = typer.Option(None, "--report-dir", help="Where glue.{json,md,png} go."),
    precision: str = typer.Option("auto", help="auto, bf16 or fp32."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    rerun: bool = typer.Option(False, help="Retrain even when a finished run with the same set-up exists."),
    set_: list[str] | None = typer.Option(None, "--set", help="Per-model override MODEL.FIELD=VALUE, repeatable."),
) -> None:
    """GLUE: every task with its official metric (MCC, accuracy/F1, Pearson/Spearman), the dev sets as test sets,
    several seeds on the small tasks and a majority row. Tasks whose data is missing are reported and skipped."""
    from .glue import GlueConfig, run_glue

    try:
        cfg = GlueConfig(
            models=models,
            tasks=tasks,
            seeds=[int(s) for s in seeds.split(",") if s.strip()],
            small_task_seeds=small_task_seeds,
            max_length=max_length,
            data_dir=data_dir,
            output_dir=output_dir,
            report_dir=report_dir,
            epochs=epochs,
            model_epochs=_overrides(epochs_for or []),
            model_overrides=_per_model_overrides(set_),
            max_train_samples=max_train_samples,
            precision=precision,
            device=device,
            num_threads=num_threads,
            rerun=rerun,
        )
        result = run_glue(cfg)
    except ValueError as exc:
        _fail(str(exc))
    console.print(result.markdown_path.read_text())
    console.print(f"json: {result.json_path}  plot: {result.plot_path}")


@app.command()
def reproduce(
    table: str = typer.Argument(..., help="paper-table1, paper-table2, seed-readme or seed-glue."),
    datasets: str | None = typer.Option(None, help="Run only these data sets of the table (comma-separated)."),
    seed: int = typer.Option(42),
    data_dir: str | None = DATA_DIR,
    epochs: int | None = typer.Option(None, help="Epochs for every gradient-trained model (a marked budget cut)."),
    epochs_for: list[str] | None = typer.Option(
        None, "--epochs-for", help="Per-model epochs MODEL=N or DATASET/MODEL=N (a marked budget cut), repeatable."
    ),
    max_train_samples: int | None = typer.Option(None, help="Subsample the training data (a marked budget cut)."),
    output_dir: str = typer.Option("runs/reproduce", "--output-dir", "-o", help="Where the run directories go."),
    report_dir: str | None = typer.Option(None, "--report-dir", help="Where reproduce_<table>.{json,md} go."),
    precision: str = typer.Option("auto", help="auto, bf16 or fp32."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    set_: list[str] | None = typer.Option(None, "--set", help="Per-model override MODEL.FIELD=VALUE, repeatable."),
) -> None:
    """Re-run the configurations of a published table on the data available here and print ours beside the
    published numbers, marking subsets, different splits, other checkpoints and cells not run."""
    from .reproduce import ReproduceConfig, render_markdown
    from .reproduce import reproduce as run_reproduce

    try:
        cfg = ReproduceConfig(
            table=table,
            output_dir=output_dir,
            report_dir=report_dir,
            seed=seed,
            data_dir=data_dir,
            epochs=epochs,
            model_epochs=_overrides(epochs_for or []),
            max_train_samples=max_train_samples,
            precision=precision,
            device=device,
            num_threads=num_threads,
            model_overrides=_per_model_overrides(set_),
            datasets=datasets,
        )
        record = run_reproduce(cfg)
    except ValueError as exc:
        _fail(str(exc))
    console.print(render_markdown(record))


analyze_app = typer.Typer(
    help="The follow-up paper's analyses (arXiv 2411.06989): gradients, convergence, independence, complexity.",
    no_args_is_help=True,
)
app.add_typer(analyze_app, name="analyze")


def _training_analysis(
    kind: str,
    models: str | None,
    dataset: str,
    data_dir: str | None,
    max_length: int,
    max_train_samples: int | None,
    steps: int,
    batch_size: int,
    every: int | None,
    curve_samples: int | None,
    seed: int,
    output_dir: str,
    report_dir: str | None,
    precision: str,
    device: str,
    num_threads: int | None,
    rerun: bool,
    set_: list[str] | None,
) -> None:
    from .analysis import TrainingAnalysisConfig, analyze_convergence, analyze_gradients
    from .data import DataError

    data = _data_config(
        dataset, data_dir, None, None, None, None, "bert-base-uncased", max_length, seed, max_train_samples
    )
    try:
        cfg = TrainingAnalysisConfig(
            models=models,
            data=data,
            output_dir=output_dir,
            report_dir=report_dir,
            steps=steps,
            batch_size=batch_size,
            every=every,
            curve_samples=curve_samples,
            seed=seed,
            model_overrides=_per_model_overrides(set_),
            precision=precision,
            device=device,
            num_threads=num_threads,
            rerun=rerun,
        )
        result = (analyze_gradients if kind == "gradients" else analyze_convergence)(cfg)
    except (DataError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(_text(exc))
    console.print(result.markdown_path.read_text())
    console.print(f"json: {result.json_path}  plot: {result.plot_path}")


ANALYSIS_DATASET = typer.Option("ag_news", "--dataset", "-d", help="Data set (see `wave-network datasets`).")
ANALYSIS_OUTPUT = typer.Option("runs/analysis", "--output-dir", "-o", help="Where the run directories go.")
ANALYSIS_REPORT = typer.Option(None, "--report-dir", help="Where JSON, Markdown and PNG go (default: under -o).")
ANALYSIS_SET = typer.Option(None, "--set", help="Per-model override MODEL.FIELD=VALUE, repeatable.")


@analyze_app.command("gradients")
def analyze_gradients_command(
    models: str = typer.Option(
        "paper-modulation,paper-interference,transformer-1layer,bert", "--models", help="Comma-separated models."
    ),
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = typer.Option(128, "--max-length", help="Truncate texts to this many tokens."),
    max_train_samples: int | None = typer.Option(None, help="Stratified subsample of the training data."),
    steps: int = typer.Option(500, help="Optimiser steps per model."),
    batch_size: int = typer.Option(32, help="Training batch size (the paper's 32)."),
    every: int = typer.Option(1, help="Record every this many steps."),
    seed: int = typer.Option(42),
    output_dir: str = ANALYSIS_OUTPUT,
    report_dir: str | None = ANALYSIS_REPORT,
    precision: str = typer.Option("auto", help="auto, bf16 or fp32."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    rerun: bool = typer.Option(False, help="Retrain even when a finished run with the same set-up exists."),
    set_: list[str] | None = ANALYSIS_SET,
) -> None:
    """Gradient norms per step w.r.t. the [CLS] embedding, all input embeddings and the classifier; for Wave
    models, the share of the [CLS] gradient through the magnitude G and through the phase."""
    _training_analysis(
        "gradients",
        models,
        dataset,
        data_dir,
        max_length,
        max_train_samples,
        steps,
        batch_size,
        every,
        None,
        seed,
        output_dir,
        report_dir,
        precision,
        device,
        num_threads,
        rerun,
        set_,
    )


@analyze_app.command("convergence")
def analyze_convergence_command(
    models: str = typer.Option(
        "paper-modulation,paper-interference,transformer-1layer,bert,fnet", "--models", help="Comma-separated models."
    ),
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = typer.Option(128, "--max-length", help="Truncate texts to this many tokens."),
    max_train_samples: int | None = typer.Option(None, help="Stratified subsample of the training data."),
    steps: int = typer.Option(500, help="Training batches per model (the paper's 500)."),
    batch_size: int = typer.Option(32, help="Training batch size (the paper's 32)."),
    every: int = typer.Option(10, help="Measure test accuracy every this many batches (the paper's 10)."),
    curve_samples: int | None = typer.Option(2000, help="Test texts per measurement (a fixed sample; 0: all)."),
    seed: int = typer.Option(42),
    output_dir: str = ANALYSIS_OUTPUT,
    report_dir: str | None = ANALYSIS_REPORT,
    precision: str = typer.Option("auto", help="auto, bf16 or fp32."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    rerun: bool = typer.Option(False, help="Retrain even when a finished run with the same set-up exists."),
    set_: list[str] | None = ANALYSIS_SET,
) -> None:
    """Test accuracy every few batches during the first batches of training, every model on one plot."""
    _training_analysis(
        "convergence",
        models,
        dataset,
        data_dir,
        max_length,
        max_train_samples,
        steps,
        batch_size,
        every,
        curve_samples or None,
        seed,
        output_dir,
        report_dir,
        precision,
        device,
        num_threads,
        rerun,
        set_,
    )


@analyze_app.command("independence")
def analyze_independence_command(
    runs: list[str] = typer.Argument(..., help="Trained run directories (from train or compare), one per model."),
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = typer.Option(128, "--max-length", help="Truncate texts to this many tokens."),
    max_texts: int | None = typer.Option(2048, help="Test texts to embed (a fixed sample; 0: all)."),
    representation: str = typer.Option("cls", help="cls (last layer at [CLS]) or pooled (the classifier's input)."),
    batch_size: int = typer.Option(32, help="Texts per batch for the per-batch ratios (the paper's 32)."),
    ratio: str = typer.Option(
        "largest_over_sum",
        help="Ratio in the KDE plot: largest_over_sum, smallest_over_largest, effective_rank_fraction.",
    ),
    seed: int = typer.Option(42),
    report_dir: str = typer.Option("runs/analysis/independence", "--report-dir", help="Where the outputs go."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
) -> None:
    """Covariance eigenvalues of trained models' [CLS] (or pooled) embeddings, the eigenvalue ratios and their
    per-batch KDE."""
    from .analysis import IndependenceConfig, analyze_independence
    from .data import DataError

    missing = [r for r in runs if not Path(r).is_dir()]
    if missing:
        _fail(f"not a run directory: {', '.join(missing)} (give the directories `train` or `compare` wrote)")
    data = _data_config(dataset, data_dir, None, None, None, None, "bert-base-uncased", max_length, seed, None)
    try:
        cfg = IndependenceConfig(
            runs=runs,
            data=data,
            report_dir=report_dir,
            max_texts=max_texts or None,
            representation=representation,
            batch_size=batch_size,
            ratio=ratio,
            seed=seed,
            device=device,
        )
        result = analyze_independence(cfg)
    except (DataError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(_text(exc))
    console.print(result.markdown_path.read_text())
    console.print(f"json: {result.json_path}  plot: {result.plot_path}")


@analyze_app.command("complexity")
def analyze_complexity_command(
    kinds: str = typer.Option("wave,attention,fnet", help="Layer kinds: wave, attention, fnet."),
    lengths: str = typer.Option("64,128,256,512,1024,2048,4096", help="Sequence lengths of the length sweep."),
    widths: str = typer.Option("128,256,512,1024,2048", help="Widths of the width sweep."),
    width: int = typer.Option(768, help="Width of the length sweep."),
    width_sweep_length: int = typer.Option(512, help="Sequence length of the width sweep."),
    batch_size: int = typer.Option(1, help="Texts per pass."),
    attention: str = typer.Option("eager", help="eager (stores the n x n map, as BERT) or sdpa (fused kernel)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
    min_seconds: float = typer.Option(1.0, help="Time each point for at least this long."),
    report_dir: str = typer.Option("runs/analysis/complexity", "--report-dir", help="Where the outputs go."),
) -> None:
    """Time and peak memory of one layer's forward + backward as length and width grow (wave, attention, FNet),
    with log-log slopes beside the predicted orders."""
    from .analysis import ComplexityConfig, analyze_complexity

    def ints(text: str, flag: str) -> list[int]:
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            _fail(f"{flag} expects comma-separated integers, got {text!r}")

    try:
        cfg = ComplexityConfig(
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
            lengths=ints(lengths, "--lengths"),
            widths=ints(widths, "--widths"),
            width=width,
            width_sweep_length=width_sweep_length,
            batch_size=batch_size,
            attention=attention,
            device=device,
            num_threads=num_threads,
            min_seconds=min_seconds,
        )
    except ValueError as exc:
        _fail(str(exc))

    def progress(done: int, total: int, point: dict[str, Any]) -> None:
        what = point.get("error") or f"{point['time_ms']:.1f} ms, {point['peak_mb']:.1f} MB"
        err_console.print(f"[{done}/{total}] {point['kind']} n={point['length']} D={point['width']}: {what}")

    result = analyze_complexity(cfg, report_dir, progress)
    console.print(result.markdown_path.read_text())
    console.print(f"json: {result.json_path}  plot: {result.plot_path}")


@app.command()
def serve(
    model_dir: Path = typer.Argument(..., help="A run directory (its best/ checkpoint) or a saved model directory."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port."),
    max_batch_size: int = typer.Option(64, min=1, help="Most texts in one model batch, gathered across requests."),
    max_text_chars: int = typer.Option(20000, min=1, help="Longest text accepted, in characters (longer: HTTP 413)."),
    max_request_texts: int = typer.Option(256, min=1, help="Most texts in one request (more: HTTP 413)."),
    batch_wait_ms: float = typer.Option(
        2.0, min=0.0, help="How long a model batch, once it has a request, waits for more requests."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    backend: str = typer.Option(
        "torch", help="torch; onnx or onnx-int8 for a directory written by `wave-network export`."
    ),
    num_threads: int | None = typer.Option(None, help="CPU threads for torch."),
) -> None:
    """Serve a model over HTTP: POST /predict {"texts": [...], "k": 1, "threshold": 0.0} answers the predictions
    (label, probabilities, top_k) in JSON; GET /health and /labels. Concurrent requests share model batches."""
    try:
        from .serving import serve as run_serve
    except ImportError as exc:
        _fail(str(exc))
    try:
        run_serve(
            model_dir,
            host=host,
            port=port,
            device=device,
            backend=backend,
            num_threads=num_threads,
            max_batch_size=max_batch_size,
            max_text_chars=max_text_chars,
            max_request_texts=max_request_texts,
            batch_wait_ms=batch_wait_ms,
        )
    except (ValueError, FileNotFoundError, OSError) as exc:
        _fail(str(exc))


@app.command("export")
def export_command(
    model_dir: Path = typer.Argument(..., help="A run directory (its best/ checkpoint) or a saved model directory."),
    output_dir: Path = typer.Option(
        ..., "--output-dir", "-o", help="Where model.onnx, the tokenizer, config.json and export_report.json go."
    ),
    export_format: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    quantize: str | None = typer.Option(
        None, "--quantize", help="Also write a quantised copy: int8 (onnxruntime dynamic quantisation)."
    ),
    opset: int | None = typer.Option(None, "--opset", help="ONNX opset (default: the exporter's)."),
) -> None:
    """Export a trained model to ONNX, check its logits against PyTorch's on real texts, and print the report."""
    if export_format != "onnx":
        _fail(f"--format {export_format!r}; expected onnx")
    from .export import FP32_TOLERANCE, ExportError, export_onnx

    try:
        report = export_onnx(model_dir, output_dir, quantize=quantize, opset=opset)
    except (ExportError, ImportError, ValueError, FileNotFoundError, OSError) as exc:
        _fail(_text(exc).replace("quantize=", "--quantize "))
    table = Table(title=f"{model_dir} -> {output_dir} (ONNX opset {report['opset']})", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for p in report["parity"]:
        name = f"fp32 max |logit diff|, batch {p['batch_size']}, lengths {p['shortest']}-{p['longest']}"
        table.add_row(name, f"{p['max_abs_logit_diff']:.2e}")
    rows = [
        (f"fp32 max |logit diff| (tolerance {FP32_TOLERANCE:g})", report["max_abs_logit_diff"], "{:.2e}"),
        ("texts checked", report["texts_checked"], "{:,}"),
        ("fp32 accuracy (PyTorch)", report["fp32_accuracy"], "{:.4f}"),
        ("int8 argmax agreement", report["int8_argmax_agreement"], "{:.4f}"),
        ("int8 max |logit diff|", report["int8_max_abs_logit_diff"], "{:.3g}"),
        ("int8 accuracy", report["int8_accuracy"], "{:.4f}"),
        ("model.onnx (bytes)", report["fp32_bytes"], "{:,}"),
        ("model.int8.onnx (bytes)", report["int8_bytes"], "{:,}"),
    ]
    for name, value, fmt in rows:
        if value is not None:
            table.add_row(name, fmt.format(value))
    console.print(table)
    console.print(f"report: {output_dir / 'export_report.json'}")


if __name__ == "__main__":
    app()
