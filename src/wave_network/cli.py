"""The ``wave-network`` command line: a thin layer that turns options into the library's configs and calls the
functions a Python user would call (``training.train``, ``compare.compare``, ``glue.run_glue`` ...).

How options become a config, once for every command: ``train`` reads a configuration file (``--config``,
``wave_network.config_files``), then the flags, then dotted ``--set SECTION.FIELD=VALUE`` overrides, each validated
by the dataclass it lands in; the run-set commands (``compare``, ``glue``, ``reproduce``, ``analyze``) share one
set of options that fill ``runsets.RunSetConfig``. Every command reports a user's mistake the same way: one line,
``error: ...``, exit code 2 (``_handled``).

Data-parallel training: ``torchrun --nproc_per_node N -m wave_network.cli train ...``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from . import config_files
from .problem_types import TASK_NAMES
from .reporting import console as console_tables

app = typer.Typer(
    help="Wave Network text classifiers (arXiv 2411.02674): train, evaluate, predict, compare, tune, serve.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)
console = Console()
err_console = Console(stderr=True)

# Command groups in `wave-network --help`, and option groups in each command's help.
USE, SUITES, DEPLOY, INSPECT = "Train and use", "Suites (run-sets)", "Deploy", "Inspect"
DATA, MODEL, TRAINING, RUN, OUTPUT = "Data", "Model", "Training", "Run", "Output"


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


# --- one error path -----------------------------------------------------------------------------------------

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
    "TrainConfig.init_from": "--init-from",
    "PretrainConfig.model": "--model",
    "PretrainConfig.datasets": "--datasets",
    "PretrainConfig.mask_prob": "--mask-prob",
    "PretrainConfig.resume": "--resume",
    "PretrainConfig.output_dir": "--output-dir",
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
    "TuneConfig.n_trials": "--trials",
    "TuneConfig.timeout": "--timeout",
    "TuneConfig.direction": "--direction",
    "TuneConfig.metric": "--metric",
    "TuneConfig.pruner": "--pruner",
    "TuneConfig.study_name": "--study-name",
}
# The run-set configs' fields, whichever suite's config names them.
_RUN_SET_FLAGS = {
    "models": "--models",
    "epochs": "--epochs",
    "model_epochs": "--epochs-for",
    "model_overrides": "--set",
    "precision": "--precision",
    "device": "--device",
    "num_threads": "--num-threads",
    "tasks": "--tasks",
    "seeds": "--seeds",
    "small_task_seeds": "--small-task-seeds",
    "latency_docs": "--latency-docs",
    "steps": "--steps",
    "every": "--every",
    "batch_size": "--batch-size",
    "curve_samples": "--curve-samples",
}
_RUN_SET_CONFIG = re.compile(r"\b(?:Compare|Glue|Reproduce|TrainingAnalysis)Config\.(\w+)")
_CONFIG_NAME = re.compile(r"\b(?:TrainConfig|DataConfig|TuneConfig|PretrainConfig)\.\w+|\bresume=True\b")
_OVERRIDE = re.compile(r"(?:\bTrainConfig\.model_overrides\['(\w+)'\]|\bWaveConfig\.(\w+))")
_CONFIG_FIELD = re.compile(r"\b(?:TrainConfig|DataConfig)\.(\w+)")


def _as_flags(message: str, dotted: bool = False) -> str:
    """``TrainConfig.epochs=0`` as ``--epochs=0``, ``WaveConfig.num_layers`` as ``--set num_layers``; with
    ``dotted`` (the run came from a configuration file) fields without a flag read ``train.<field>``."""
    message = _OVERRIDE.sub(lambda m: f"--set {m.group(1) or m.group(2)}", message)

    def name(match: re.Match) -> str:
        text = match.group(0)
        if dotted and text.startswith(("TrainConfig.", "DataConfig.")):
            section = "train" if text.startswith("TrainConfig.") else "data"
            return f"{section}.{text.partition('.')[2]}"
        return _FLAGS.get(text, text)

    message = _CONFIG_NAME.sub(name, message)
    message = _RUN_SET_CONFIG.sub(lambda m: _RUN_SET_FLAGS.get(m.group(1), m.group(0)), message)
    if not dotted:
        message = re.sub(r"(?<![.\w-])learning_rate\b", "--lr", message)
        message = re.sub(r"\bprecision='(\w+)'", r"--precision \1", message)
    return message


def _text(error: BaseException) -> str:
    """An exception's message; a ``KeyError``'s without the quotes ``str`` adds."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _fail(message: str, dotted: bool = False) -> None:
    # Text, not markup: a message may hold brackets ("labels ['a', 'b']") that rich would read as style tags.
    err_console.print(Text.assemble(("error:", "bold red"), " ", _as_flags(message, dotted)), highlight=False)
    raise typer.Exit(code=2)


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input can cause: bad values, files, data, a missing extra, a diverging run, a failed export.
    Anything else is a bug and keeps its traceback."""
    from .export import ExportError
    from .training.loop import NonFiniteLossError

    return (ValueError, KeyError, OSError, ImportError, NonFiniteLossError, ExportError)


def _handled(command: Callable) -> Callable:
    """Run a command; a user error becomes one ``error:`` line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except _user_errors() as exc:
            _fail(_text(exc))

    return wrapper


# --- options, declared once -----------------------------------------------------------------------------------


def _opt(default: Any, *names: str, panel: str, help: str, **kwargs: Any) -> Any:  # noqa: A002
    return typer.Option(default, *names, help=help, rich_help_panel=panel, **kwargs)


CONFIG = _opt(None, "--config", "-c", panel=RUN, help="A run configuration (YAML or JSON; a run's run.yaml works).")
SET = _opt(
    None,
    "--set",
    panel=RUN,
    help="Override any field: SECTION.FIELD=VALUE with section model, data or train (train.lr=3e-4, "
    "data.max_length=256, model.hidden_size=128); a bare FIELD=VALUE is a model field. Repeatable.",
)
DATASET = _opt(
    None,
    "--dataset",
    "-d",
    panel=DATA,
    help="Data set name (see `wave-network datasets`), hf:owner/name, or a local directory. [default: ag_news_sample]",
)
DATA_DIR = _opt(None, "--data-dir", panel=DATA, help="Directory holding the data set (env WAVE_NETWORK_DATA_DIR).")
TRAIN_FILE = _opt(None, "--train-file", panel=DATA, help="Local CSV/TSV/JSONL/Parquet training file.")
TEST_FILE = _opt(None, "--test-file", panel=DATA, help="Local test file (same format as the training file).")
TEXT_COLUMN = _opt(None, "--text-column", panel=DATA, help="Text column of a local file; give twice for pairs.")
LABEL_COLUMN = _opt(None, "--label-column", panel=DATA, help="Label column of a local file.")
TOKENIZER = _opt(None, "--tokenizer", panel=DATA, help="Tokenizer name or path. [default: bundled bert-base-uncased]")
MAX_TRAIN_SAMPLES = _opt(None, "--max-train-samples", panel=DATA, help="Stratified subsample of the training data.")
VAL_SPLIT = _opt(
    None,
    "--val-split",
    panel=DATA,
    help="Validation split: rows (stratified rows) or sentences (whole sentences, for phrase data sets such as "
    "sst2). [default: rows]",
)
TASK = _opt(
    None,
    "--task",
    panel=DATA,
    help="classification or regression; default: inferred from the labels (fractional numbers mean regression).",
)
PRECISION = _opt(None, "--precision", panel=RUN, help="auto (bf16 autocast where supported), bf16 or fp32.")
DEVICE = _opt(None, "--device", panel=RUN, help="auto, cpu or cuda. [default: auto]")
NUM_THREADS = _opt(None, "--num-threads", panel=RUN, help="CPU threads for torch.")
QUIET = _opt(None, "--quiet", "-q", panel=OUTPUT, help="No progress bars.")
# Options of the run-set commands.
MODELS = _opt(None, "--models", panel=MODEL, help="Comma-separated models (see `wave-network models`).")
OUTPUT_DIR = _opt(None, "--output-dir", "-o", panel=OUTPUT, help="Where the run directories go.")
REPORT_DIR = _opt(None, "--report-dir", panel=OUTPUT, help="Where the report (JSON, Markdown, plots) goes.")
EPOCHS = _opt(None, "--epochs", panel=TRAINING, help="Epochs of every gradient-trained model (default: recipes).")
EPOCHS_FOR = _opt(
    None,
    "--epochs-for",
    panel=TRAINING,
    help="Per-model epochs MODEL=N, or DATASET/MODEL=N for one data set (a marked budget cut). Repeatable.",
)
RERUN = _opt(None, "--rerun", panel=RUN, help="Retrain even when a finished run with the same set-up exists.")
COMPILE = _opt(
    None, "--compile/--no-compile", panel=RUN, help="Compile the fused wave kernels (faster). [default: compile]"
)
MODEL_SET = _opt(
    None, "--set", panel=MODEL, help="Per-model override MODEL.FIELD=VALUE (bert.checkpoint=minilm). Repeatable."
)
RUN_DIR_ARG = typer.Argument(..., help="A run directory (its best/ checkpoint) or a saved model directory.")
BACKEND = _opt(
    "torch", "--backend", panel=RUN, help="torch; onnx or onnx-int8 for a directory from `wave-network export`."
)


def _task(task: str | None) -> str | None:
    if task is None:
        return None
    if task not in TASK_NAMES:
        raise ValueError(f"--task {task!r}; expected {' or '.join(TASK_NAMES)}")
    return TASK_NAMES[task].value


def _data_flags(**flags: Any) -> dict[str, Any]:
    """Data options as dotted ``data.`` keys (``None``: not given)."""
    values = {f"data.{k}": v for k, v in flags.items()}
    if values.get("data.text_columns") is not None:
        values["data.text_columns"] = list(values["data.text_columns"]) or None
    return values


def _data_config(flags: dict[str, Any]) -> Any:
    """A ``DataConfig`` from dotted ``data.`` keys; keys whose value is ``None`` keep the field's default."""
    from .data import DataConfig

    return DataConfig(**{k.partition(".")[2]: v for k, v in flags.items() if v is not None})


def _per_model(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--set MODEL.FIELD=VALUE`` pairs of the run-set commands as ``{model: {field: value}}``."""
    per_model: dict[str, dict[str, Any]] = {}
    for key, value in config_files.parse_overrides(pairs).items():
        model_name, dot, field_name = key.partition(".")
        if not dot or not field_name:
            raise ValueError(f"--set expects MODEL.FIELD=VALUE (e.g. bert.checkpoint=minilm), got {key!r}")
        per_model.setdefault(model_name, {})[field_name] = value
    return per_model


def _run_set(options: dict[str, Any]) -> dict[str, Any]:
    """The shared ``RunSetConfig`` fields a suite command was given (its ``locals()``: the shared options carry the
    same parameter names in every suite command); options not given keep the suite's defaults."""
    values = {
        "compile": options.get("compile_kernels"),
        "models": options.get("models"),
        "output_dir": options.get("output_dir"),
        "report_dir": options.get("report_dir"),
        "precision": options.get("precision"),
        "device": options.get("device"),
        "num_threads": options.get("num_threads"),
        "rerun": options.get("rerun"),
        "epochs": options.get("epochs"),
        "model_epochs": config_files.parse_overrides(options["epochs_for"]) if options.get("epochs_for") else None,
        "model_overrides": _per_model(options["set_"]) if options.get("set_") else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _print_report(result: Any) -> None:
    console.print(result.markdown_path.read_text())
    plot = getattr(result, "plot_path", None)
    console.print(f"json: {result.json_path}" + (f"  plot: {plot}" if plot else ""))


# --- train and use ------------------------------------------------------------------------------------------


@app.command(rich_help_panel=USE)
@_handled
def train(
    config: Path | None = CONFIG,
    set_: list[str] | None = SET,
    model: str | None = _opt(
        None,
        "--model",
        "-m",
        panel=MODEL,
        help="Preset or registered model name. [default: paper-modulation; wave-nb-fit with --train-file]",
    ),
    dataset: str | None = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = TEST_FILE,
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    tokenizer: str | None = TOKENIZER,
    max_length: int | None = _opt(None, "--max-length", panel=DATA, help="Truncate texts to N tokens. [default: 512]"),
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    val_split: str | None = VAL_SPLIT,
    task: str | None = TASK,
    lr: float | None = _opt(None, "--lr", panel=TRAINING, help="Peak learning rate (default: the preset's)."),
    epochs: int | None = _opt(None, "--epochs", panel=TRAINING, help="Epochs (default: the preset's)."),
    batch_size: int | None = _opt(None, "--batch-size", panel=TRAINING, help="Global batch size (default: preset's)."),
    weight_decay: float | None = _opt(
        None, "--weight-decay", panel=TRAINING, help="AdamW weight decay. [default: 0.01]"
    ),
    warmup_ratio: float | None = _opt(None, "--warmup-ratio", panel=TRAINING, help="Warm-up fraction. [default: 0.06]"),
    label_smoothing: float | None = _opt(
        None, "--label-smoothing", panel=TRAINING, help="Label smoothing in [0, 1) (default: the preset's, else 0)."
    ),
    early_stopping: int | None = _opt(
        None, "--early-stopping", panel=TRAINING, help="Stop after N validations without improvement."
    ),
    max_steps: int | None = _opt(
        None, "--max-steps", panel=TRAINING, help="Stop after N optimiser steps (smoke tests)."
    ),
    seed: int | None = _opt(
        None, "--seed", panel=TRAINING, help="Seed of initialisation, dropout, splits, batch order."
    ),
    precision: str | None = PRECISION,
    deterministic: bool | None = _opt(None, "--deterministic", panel=RUN, help="Bitwise repeatable kernels (slower)."),
    compile_kernels: bool | None = _opt(
        None, "--compile/--no-compile", panel=RUN, help="Compile the fused wave kernels (faster). [default: compile]"
    ),
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    output_dir: str | None = _opt(None, "--output-dir", "-o", panel=OUTPUT, help="Run directory (default runs/...)."),
    resume: bool | None = _opt(None, "--resume", panel=OUTPUT, help="Continue the interrupted run in --output-dir."),
    tracker: str | None = _opt(None, "--tracker", panel=OUTPUT, help="none, tensorboard, wandb (offline) or mlflow."),
    quiet: bool | None = QUIET,
    init_from: str | None = _opt(
        None,
        "--init-from",
        panel=MODEL,
        help="Start the wave path from a `wave-network pretrain` run directory (same preset and --set overrides).",
    ),
) -> None:
    """Train a model, select the best epoch on a validation split carved from the training data, evaluate it on
    the test set once, and write a run directory (config, run.yaml, metrics, results, checkpoint, plots).

    Settings come from --config (a file with model/data/train sections), then the flags, then --set.
    """
    from .reporting import report_run
    from .training import train as run_training

    flags = {
        "model.name": model,
        **_data_flags(
            dataset=dataset,
            data_dir=data_dir,
            train_file=train_file,
            test_file=test_file,
            text_columns=text_column,
            label_column=label_column,
            tokenizer=tokenizer,
            max_length=max_length,
            max_train_samples=max_train_samples,
            val_split=val_split,
            problem_type=_task(task),
            seed=seed,
        ),
        "train.learning_rate": lr,
        "train.epochs": epochs,
        "train.batch_size": batch_size,
        "train.weight_decay": weight_decay,
        "train.warmup_ratio": warmup_ratio,
        "train.label_smoothing": label_smoothing,
        "train.early_stopping_patience": early_stopping,
        "train.max_steps": max_steps,
        "train.seed": seed,
        "train.precision": precision,
        "train.deterministic": deterministic,
        "train.compile": compile_kernels,
        "train.device": device,
        "train.num_threads": num_threads,
        "train.output_dir": output_dir,
        "train.resume": resume,
        "train.tracker": tracker,
        "train.quiet": quiet,
        "train.init_from": init_from,
    }
    try:
        cfg = config_files.resolve(config, flags, set_)
    except ValueError as exc:
        _fail(_text(exc), dotted=config is not None)
    result = run_training(cfg)
    if result.results:
        report_run(result.run_dir)  # the run's figures, drawn from the records it wrote
        console.print(console_tables.run_table(result.results))
        subset = (result.results.get("dataset_provenance") or {}).get("subset_note")
        if subset:
            console.print(f"[yellow]data:[/yellow] {subset}")
        console.print(f"run directory: {result.results['run_dir']}")


@app.command(rich_help_panel=USE)
@_handled
def evaluate(
    model_dir: Path = RUN_DIR_ARG,
    dataset: str | None = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = _opt(
        None,
        "--test-file",
        panel=DATA,
        help="A labelled CSV/TSV/JSONL/Parquet file to evaluate on; on its own, no training data is needed.",
    ),
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    max_length: int | None = _opt(None, "--max-length", panel=DATA, help="Truncate texts to N tokens. [default: 512]"),
    split: str = _opt("test", "--split", panel=DATA, help="test or validation."),
    val_split: str | None = VAL_SPLIT,
    task: str | None = TASK,
    seed: int | None = _opt(
        None, "--seed", panel=DATA, help="Seed of the train/validation split (--split validation)."
    ),
    top_k: int = _opt(1, "--top-k", "-k", min=1, panel=OUTPUT, help="With --test-file: also precision/recall at k."),
    batch_size: int = _opt(64, "--batch-size", panel=RUN, help="Evaluation batch size."),
    device: str = _opt("auto", "--device", panel=RUN, help="auto, cpu or cuda."),
    backend: str = BACKEND,
    precision: str = _opt("auto", "--precision", panel=RUN, help="auto (bf16 autocast where supported) or fp32."),
    output: Path | None = _opt(None, "--output", panel=OUTPUT, help="Also write the metrics as JSON here."),
) -> None:
    """Evaluate a saved model on a data set split, or on a labelled file (--test-file alone), and print its
    metrics. Labels are matched to the model's by name."""
    if test_file is not None and train_file is None:
        from .classifier import evaluate_file

        metrics = evaluate_file(
            model_dir,
            Path(test_file),
            text_columns=text_column,
            label_column=label_column,
            k=top_k,
            batch_size=batch_size,
            device=device,
            backend=backend,
        )
        title = f"{model_dir} on {test_file}"
    else:
        from .training import evaluate as run_evaluate

        data_cfg = _data_config(
            _data_flags(
                dataset=dataset,
                data_dir=data_dir,
                train_file=train_file,
                test_file=test_file,
                text_columns=text_column,
                label_column=label_column,
                max_length=max_length,
                val_split=val_split,
                problem_type=_task(task),
                seed=seed,
            )
        )
        metrics = run_evaluate(
            model_dir, data_cfg, split=split, batch_size=batch_size, device=device, precision=precision
        )
        title = f"{model_dir} on {data_cfg.dataset} ({split})"
    console.print(console_tables.metrics_table(metrics, title))
    if output:
        output.write_text(json.dumps(metrics, indent=2) + "\n")


@app.command(rich_help_panel=USE)
@_handled
def predict(
    model_dir: Path = RUN_DIR_ARG,
    texts: list[str] | None = typer.Argument(None, help="Texts to classify; none reads --input or stdin."),
    input_file: Path | None = _opt(
        None, "--input", "-i", panel=DATA, help="Plain text (one per line), CSV, TSV, JSON Lines or Parquet; or stdin."
    ),
    input_format: str | None = _opt(
        None, "--format", panel=DATA, help="lines, csv, tsv, jsonl or parquet (default: the suffix; stdin: lines)."
    ),
    text_column: str | None = _opt(None, "--text-column", panel=DATA, help="The text field (default: text, ...)."),
    text_pair_column: str | None = _opt(None, "--text-pair-column", panel=DATA, help="Second text of pairs."),
    top_k: int = _opt(
        1, "--top-k", "-k", panel=OUTPUT, help="How many labels in top_k, most probable first (-1: all)."
    ),
    threshold: float = _opt(0.0, "--threshold", "-t", panel=OUTPUT, help="Only labels with this probability or more."),
    output: Path | None = _opt(
        None, "--output", "-o", panel=OUTPUT, help="Write here: .jsonl, or .csv/.tsv (one p_<label> column each)."
    ),
    batch_size: int = _opt(64, "--batch-size", min=1, panel=RUN, help="Texts per model batch."),
    device: str = _opt("auto", "--device", panel=RUN, help="auto, cpu or cuda."),
    backend: str = BACKEND,
) -> None:
    """Classify texts: one JSON line per text (its input fields, label, probabilities, top_k), streamed as the input
    arrives. fastText's predict / predict-prob with -k and -t."""
    from .classifier import TextClassifier
    from .prediction_io import Writer, predict_stream, read_records
    from .prediction_io import input_format as format_of

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
    if count == 0:
        _fail("no texts given: pass them as arguments, with --input FILE, or on standard input")


# --- suites -------------------------------------------------------------------------------------------------


@app.command(rich_help_panel=SUITES)
@_handled
def compare(
    models: str | None = _opt(
        None,
        "--models",
        panel=MODEL,
        help="Comma-separated models. [default: paper-modulation,paper-interference,bert,transformer-1layer,fnet,"
        "fasttext,tfidf,majority]",
    ),
    set_: list[str] | None = MODEL_SET,
    dataset: str | None = DATASET,
    data_dir: str | None = DATA_DIR,
    train_file: str | None = TRAIN_FILE,
    test_file: str | None = TEST_FILE,
    text_column: list[str] | None = TEXT_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    tokenizer: str | None = TOKENIZER,
    max_length: int = _opt(128, "--max-length", panel=DATA, help="Truncate texts to N tokens (every model)."),
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    val_split: str | None = VAL_SPLIT,
    seed: int = _opt(42, "--seed", panel=TRAINING, help="Seed of every run (initialisation, batches, split)."),
    epochs: int | None = EPOCHS,
    epochs_for: list[str] | None = EPOCHS_FOR,
    precision: str | None = PRECISION,
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    rerun: bool | None = RERUN,
    compile_kernels: bool | None = COMPILE,
    latency_docs: int = _opt(256, "--latency-docs", panel=RUN, help="Test texts used to time inference."),
    output_dir: str | None = OUTPUT_DIR,
    report_dir: str | None = REPORT_DIR,
) -> None:
    """Train several models on the same data, splits and budget and print one table: accuracy, macro F1,
    parameters, peak memory, training time and tokens/s, inference latency. One model failing (a missing extra,
    no weights offline) is reported in the table; the others still run."""
    from .compare import CompareConfig
    from .compare import compare as run_compare

    data = _data_config(
        _data_flags(
            dataset=dataset,
            data_dir=data_dir,
            train_file=train_file,
            test_file=test_file,
            text_columns=text_column,
            label_column=label_column,
            tokenizer=tokenizer,
            max_length=max_length,
            max_train_samples=max_train_samples,
            val_split=val_split,
            seed=seed,
        )
    )
    shared = _run_set(locals())
    cfg = CompareConfig(**shared, data=data, seed=seed, latency_docs=latency_docs)
    result = run_compare(cfg)
    title = f"compare on {data.dataset} (max length {data.max_length}, seed {seed})"
    console.print(console_tables.compare_table(result.rows, title))
    for row in result.rows:
        if row["status"] != "ok":
            err_console.print(f"[red]{row['model']} failed:[/red] {row['error']}")
    console.print(f"table: {result.markdown_path}  json: {result.json_path}")


@app.command(rich_help_panel=SUITES)
@_handled
def glue(
    models: str | None = _opt(
        None, "--models", panel=MODEL, help="Comma-separated models. [default: paper-modulation,fnet,bert,majority]"
    ),
    set_: list[str] | None = MODEL_SET,
    tasks: str = _opt("all", "--tasks", panel=DATA, help="all, or comma-separated GLUE tasks (cola, sst2, ...)."),
    seeds: str = _opt("42", "--seeds", panel=TRAINING, help="Seeds of the large tasks (comma-separated)."),
    small_task_seeds: int = _opt(
        3, "--small-task-seeds", panel=TRAINING, help="Seeds of CoLA, MRPC, RTE, STS-B and WNLI (at least 3)."
    ),
    max_length: int = _opt(128, "--max-length", panel=DATA, help="Tokens per example (both sentences of a pair)."),
    data_dir: str | None = DATA_DIR,
    max_train_samples: int | None = _opt(
        None, "--max-train-samples", panel=DATA, help="Subsample every task's training data (budget runs)."
    ),
    epochs: int | None = EPOCHS,
    epochs_for: list[str] | None = EPOCHS_FOR,
    precision: str | None = PRECISION,
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    rerun: bool | None = RERUN,
    compile_kernels: bool | None = COMPILE,
    output_dir: str | None = OUTPUT_DIR,
    report_dir: str | None = REPORT_DIR,
) -> None:
    """GLUE: every task with its official metric (MCC, accuracy/F1, Pearson/Spearman), the dev sets as test sets,
    several seeds on the small tasks and a majority row. Tasks whose data is missing are reported and skipped."""
    from .glue import GlueConfig, run_glue

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds expects comma-separated integers, got {seeds!r}") from None
    shared = _run_set(locals())
    cfg = GlueConfig(
        **shared,
        tasks=tasks,
        seeds=seed_list,
        small_task_seeds=small_task_seeds,
        max_length=max_length,
        data_dir=data_dir,
        max_train_samples=max_train_samples,
    )
    _print_report(run_glue(cfg))


@app.command(rich_help_panel=SUITES)
@_handled
def reproduce(
    table: str = typer.Argument(..., help="paper-table1, paper-table2, seed-readme or seed-glue."),
    datasets: str | None = _opt(None, "--datasets", panel=DATA, help="Run only these data sets (comma-separated)."),
    set_: list[str] | None = MODEL_SET,
    seed: int = _opt(42, "--seed", panel=TRAINING, help="Seed of every run."),
    data_dir: str | None = DATA_DIR,
    max_train_samples: int | None = _opt(
        None, "--max-train-samples", panel=DATA, help="Subsample the training data (a marked budget cut)."
    ),
    epochs: int | None = EPOCHS,
    epochs_for: list[str] | None = EPOCHS_FOR,
    precision: str | None = PRECISION,
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    rerun: bool | None = RERUN,
    compile_kernels: bool | None = COMPILE,
    output_dir: str | None = OUTPUT_DIR,
    report_dir: str | None = REPORT_DIR,
) -> None:
    """Re-run the configurations of a published table on the data available here and print ours beside the
    published numbers, marking subsets, different splits, other checkpoints and cells not run."""
    from .reproduce import ReproduceConfig, render_markdown
    from .reproduce import reproduce as run_reproduce

    shared = _run_set(locals())
    cfg = ReproduceConfig(
        **shared, table=table, seed=seed, data_dir=data_dir, max_train_samples=max_train_samples, datasets=datasets
    )
    console.print(render_markdown(run_reproduce(cfg)))


@app.command(rich_help_panel=USE)
@_handled
def pretrain(
    model: str = _opt(
        "wave-wide", "--model", "-m", panel=MODEL, help="The Wave preset whose wave path is pre-trained."
    ),
    set_: list[str] | None = _opt(
        None, "--set", panel=MODEL, help="Model field FIELD=VALUE (num_layers=2); fine-tune with the same. Repeatable."
    ),
    datasets: str | None = _opt(
        None,
        "--datasets",
        panel=DATA,
        help="Comma-separated data sets whose training texts form the corpus. [default: every one with a training "
        "split: ag_news, dbpedia_14, imdb, sst2, cola, mrpc, rte, stsb, wnli]",
    ),
    data_dir: str | None = DATA_DIR,
    tokenizer: str | None = TOKENIZER,
    holdout_seeds: str = _opt(
        "42,43,44",
        "--holdout-seeds",
        panel=DATA,
        help="Seeds of the fine-tuning runs: their validation texts stay out.",
    ),
    max_length: int = _opt(128, "--max-length", panel=DATA, help="Tokens per window; longer texts give several."),
    max_texts: int | None = _opt(
        None, "--max-texts", panel=DATA, help="Use this many texts of the corpus (quick runs)."
    ),
    mask_prob: float = _opt(0.15, "--mask-prob", panel=TRAINING, help="Share of tokens masked."),
    lr: float = _opt(1e-3, "--lr", panel=TRAINING, help="Peak learning rate."),
    epochs: int = _opt(1, "--epochs", panel=TRAINING, help="Passes over the corpus."),
    batch_size: int = _opt(128, "--batch-size", panel=TRAINING, help="Windows per batch."),
    max_steps: int | None = _opt(None, "--max-steps", panel=TRAINING, help="Stop after N optimiser steps."),
    eval_every_steps: int | None = _opt(
        None, "--eval-every-steps", panel=TRAINING, help="Also validate every N steps (default: every epoch)."
    ),
    seed: int = _opt(42, "--seed", panel=TRAINING, help="Seed of initialisation, masks and batch order."),
    precision: str = _opt("auto", "--precision", panel=RUN, help="auto (bf16 autocast where supported), bf16 or fp32."),
    device: str = _opt("auto", "--device", panel=RUN, help="auto, cpu or cuda."),
    num_threads: int | None = NUM_THREADS,
    compile_kernels: bool = _opt(True, "--compile/--no-compile", panel=RUN, help="Compile the fused wave kernels."),
    output_dir: str | None = _opt(None, "--output-dir", "-o", panel=OUTPUT, help="Run directory (default runs/...)."),
    resume: bool = _opt(False, "--resume", panel=OUTPUT, help="Continue the interrupted run in --output-dir."),
    quiet: bool = _opt(False, "--quiet", "-q", panel=OUTPUT, help="No progress bars."),
) -> None:
    """Pre-train a Wave preset's wave path with masked tokens on the training texts of the data sets (never a
    validation, dev or test text), then fine-tune with `train --init-from RUN_DIR` and the same --model and --set."""
    from .pretrain import PretrainConfig
    from .pretrain import pretrain as run_pretraining
    from .reporting import report_run

    cfg = PretrainConfig(
        model=model,
        model_overrides=config_files.parse_overrides(set_) if set_ else {},
        **({"datasets": tuple(d.strip() for d in datasets.split(",") if d.strip())} if datasets else {}),
        data_dir=data_dir,
        **({"tokenizer": tokenizer} if tokenizer else {}),
        holdout_seeds=tuple(int(s) for s in holdout_seeds.split(",") if s.strip()),
        max_length=max_length,
        mask_prob=mask_prob,
        max_texts=max_texts,
        learning_rate=lr,
        epochs=epochs,
        batch_size=batch_size,
        max_steps=max_steps,
        eval_every_steps=eval_every_steps,
        seed=seed,
        precision=precision,
        device=device,
        num_threads=num_threads,
        compile=compile_kernels,
        output_dir=output_dir,
        resume=resume,
        quiet=quiet,
    )
    result = run_pretraining(cfg)
    report_run(result.run_dir)  # its loss curves
    corpus = result.results.get("dataset_provenance") or {}
    metrics = result.metrics
    console.print(
        f"pre-trained on {corpus.get('windows', {}).get('train', 0):,} windows "
        f"({corpus.get('tokens', {}).get('train', 0):,} tokens) of {len(cfg.datasets)} data sets' training texts; "
        f"best validation masked-token loss {metrics.get('val_loss', float('nan')):.4f} "
        f"(accuracy {metrics.get('val_accuracy', float('nan')):.2%})",
        highlight=False,
    )
    console.print(f"run directory: {result.run_dir}  (fine-tune: wave-network train --init-from {result.run_dir} ...)")


@app.command(rich_help_panel=SUITES)
@_handled
def tune(
    config: Path | None = _opt(
        None, "--config", "-c", panel=RUN, help="Base run configuration (model, data, train) every trial starts from."
    ),
    space: Path = _opt(
        ..., "--space", panel=RUN, help="Search space YAML: SECTION.FIELD: {low, high[, log, step, type]} or {choices}."
    ),
    set_: list[str] | None = SET,
    trials: int = _opt(20, "--trials", "-n", min=1, panel=RUN, help="Finished trials of the study, over all workers."),
    timeout: float | None = _opt(None, "--timeout", panel=RUN, help="Start no new trial after this many seconds."),
    study_name: str | None = _opt(
        None, "--study-name", panel=RUN, help="Study name (default <model>-<dataset>); the same name resumes it."
    ),
    storage: str | None = _opt(
        None,
        "--storage",
        panel=RUN,
        help="Optuna storage URL (default sqlite:///OUTPUT_DIR/study.db); postgresql+psycopg2://... or "
        "mysql+pymysql://... lets workers on many machines share one study.",
    ),
    metric: str | None = _opt(
        None,
        "--metric",
        panel=RUN,
        help="Validation metric to optimise (default: val_accuracy; val_loss for regression).",
    ),
    direction: str | None = _opt(
        None, "--direction", panel=RUN, help="maximize or minimize (default: from the metric)."
    ),
    pruner: str = _opt("median", "--pruner", panel=RUN, help="median (stop a trial below the median) or none."),
    seed: int = _opt(42, "--seed", panel=RUN, help="Seed of the TPE sampler (the runs use train.seed)."),
    output_dir: str | None = _opt(
        None, "--output-dir", "-o", panel=OUTPUT, help="Trial run directories and the report (runs/tune/<study>)."
    ),
    quiet: bool | None = QUIET,
) -> None:
    """Search hyperparameters with Optuna: one training run per trial (TPE sampler, median pruning on each
    validation), selected on the validation split; an interrupted study resumes when the command runs again. Writes
    best.yaml (`train --config best.yaml` trains the best trial), trials.json, trials.md, history.png and
    importance.png. Several workers, on one machine or many, share a study through one --storage URL."""
    from .tune import TuneConfig, format_summary
    from .tune import tune as run_tune

    cfg = TuneConfig(
        space=space,
        base=config,
        overrides=set_ or [],
        n_trials=trials,
        timeout=timeout,
        study_name=study_name,
        storage=storage,
        output_dir=output_dir,
        metric=metric,
        direction=direction,
        seed=seed,
        pruner=pruner,
        quiet=bool(quiet),
    )
    console.print(format_summary(run_tune(cfg)), highlight=False, markup=False)


# --- analyses -----------------------------------------------------------------------------------------------

analyze_app = typer.Typer(
    help="The follow-up paper's analyses (arXiv 2411.06989): gradients, convergence, independence, complexity.",
    no_args_is_help=True,
)
app.add_typer(analyze_app, name="analyze", rich_help_panel=SUITES)

ANALYSIS_DATASET = _opt("ag_news", "--dataset", "-d", panel=DATA, help="Data set (see `wave-network datasets`).")
ANALYSIS_MAX_LENGTH = _opt(128, "--max-length", panel=DATA, help="Truncate texts to this many tokens.")


def _training_analysis(kind: str, shared: dict[str, Any], data_flags: dict[str, Any], **fields: Any) -> None:
    from .analysis import TrainingAnalysisConfig, analyze_convergence, analyze_gradients

    cfg = TrainingAnalysisConfig(**shared, data=_data_config(data_flags), **fields)
    _print_report((analyze_gradients if kind == "gradients" else analyze_convergence)(cfg))


@analyze_app.command("gradients")
@_handled
def analyze_gradients_command(
    models: str | None = _opt(
        None,
        "--models",
        panel=MODEL,
        help="Comma-separated models. [default: paper-modulation,paper-interference,transformer-1layer,bert]",
    ),
    set_: list[str] | None = MODEL_SET,
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = ANALYSIS_MAX_LENGTH,
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    steps: int = _opt(500, "--steps", panel=TRAINING, help="Optimiser steps per model."),
    batch_size: int = _opt(32, "--batch-size", panel=TRAINING, help="Training batch size (the paper's 32)."),
    every: int = _opt(1, "--every", panel=TRAINING, help="Record every this many steps."),
    seed: int = _opt(42, "--seed", panel=TRAINING, help="Seed of every run."),
    precision: str | None = PRECISION,
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    rerun: bool | None = RERUN,
    compile_kernels: bool | None = COMPILE,
    output_dir: str | None = OUTPUT_DIR,
    report_dir: str | None = REPORT_DIR,
) -> None:
    """Gradient norms per step w.r.t. the [CLS] embedding, all input embeddings and the classifier; for Wave
    models, the share of the [CLS] gradient through the magnitude G and through the phase."""
    shared = _run_set(locals())
    data = _data_flags(
        dataset=dataset, data_dir=data_dir, max_length=max_length, max_train_samples=max_train_samples, seed=seed
    )
    _training_analysis("gradients", shared, data, steps=steps, batch_size=batch_size, every=every, seed=seed)


@analyze_app.command("convergence")
@_handled
def analyze_convergence_command(
    models: str | None = _opt(
        None,
        "--models",
        panel=MODEL,
        help="Comma-separated models. [default: paper-modulation,paper-interference,transformer-1layer,bert,fnet]",
    ),
    set_: list[str] | None = MODEL_SET,
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = ANALYSIS_MAX_LENGTH,
    max_train_samples: int | None = MAX_TRAIN_SAMPLES,
    steps: int = _opt(500, "--steps", panel=TRAINING, help="Training batches per model (the paper's 500)."),
    batch_size: int = _opt(32, "--batch-size", panel=TRAINING, help="Training batch size (the paper's 32)."),
    every: int = _opt(10, "--every", panel=TRAINING, help="Measure test accuracy every N batches (the paper's 10)."),
    curve_samples: int | None = _opt(
        2000, "--curve-samples", panel=TRAINING, help="Test texts per measurement (a fixed sample; 0: all)."
    ),
    seed: int = _opt(42, "--seed", panel=TRAINING, help="Seed of every run."),
    precision: str | None = PRECISION,
    device: str | None = DEVICE,
    num_threads: int | None = NUM_THREADS,
    rerun: bool | None = RERUN,
    compile_kernels: bool | None = COMPILE,
    output_dir: str | None = OUTPUT_DIR,
    report_dir: str | None = REPORT_DIR,
) -> None:
    """Test accuracy every few batches during the first batches of training, every model on one plot."""
    shared = _run_set(locals())
    data = _data_flags(
        dataset=dataset, data_dir=data_dir, max_length=max_length, max_train_samples=max_train_samples, seed=seed
    )
    fields = {"steps": steps, "batch_size": batch_size, "every": every, "curve_samples": curve_samples or None}
    _training_analysis("convergence", shared, data, seed=seed, **fields)


@analyze_app.command("independence")
@_handled
def analyze_independence_command(
    runs: list[str] = typer.Argument(..., help="Trained run directories (from train or compare), one per model."),
    dataset: str = ANALYSIS_DATASET,
    data_dir: str | None = DATA_DIR,
    max_length: int = ANALYSIS_MAX_LENGTH,
    max_texts: int | None = _opt(2048, "--max-texts", panel=DATA, help="Test texts to embed (a sample; 0: all)."),
    representation: str = _opt(
        "cls", "--representation", panel=RUN, help="cls (last layer at [CLS]) or pooled (the classifier's input)."
    ),
    batch_size: int = _opt(32, "--batch-size", panel=RUN, help="Texts per batch for the per-batch ratios."),
    ratio: str = _opt(
        "largest_over_sum",
        "--ratio",
        panel=OUTPUT,
        help="Ratio in the KDE plot: largest_over_sum, smallest_over_largest, effective_rank_fraction.",
    ),
    seed: int = _opt(42, "--seed", panel=RUN, help="Seed of the text sample."),
    report_dir: str = _opt("runs/analysis/independence", "--report-dir", panel=OUTPUT, help="Where the outputs go."),
    device: str = _opt("cpu", "--device", panel=RUN, help="cpu or cuda."),
) -> None:
    """Covariance eigenvalues of trained models' [CLS] (or pooled) embeddings, the eigenvalue ratios and their
    per-batch KDE."""
    from .analysis import IndependenceConfig, analyze_independence

    missing = [r for r in runs if not Path(r).is_dir()]
    if missing:
        _fail(f"not a run directory: {', '.join(missing)} (give the directories `train` or `compare` wrote)")
    data = _data_config(_data_flags(dataset=dataset, data_dir=data_dir, max_length=max_length, seed=seed))
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
    _print_report(analyze_independence(cfg))


@analyze_app.command("complexity")
@_handled
def analyze_complexity_command(
    kinds: str = _opt("wave,attention,fnet", "--kinds", panel=MODEL, help="Layer kinds: wave, attention, fnet."),
    lengths: str = _opt(
        "64,128,256,512,1024,2048,4096", "--lengths", panel=RUN, help="Sequence lengths of the length sweep."
    ),
    widths: str = _opt("128,256,512,1024,2048", "--widths", panel=RUN, help="Widths of the width sweep."),
    width: int = _opt(768, "--width", panel=RUN, help="Width of the length sweep."),
    width_sweep_length: int = _opt(512, "--width-sweep-length", panel=RUN, help="Length of the width sweep."),
    batch_size: int = _opt(1, "--batch-size", panel=RUN, help="Texts per pass."),
    attention: str = _opt(
        "eager", "--attention", panel=MODEL, help="eager (stores the n x n map, as BERT) or sdpa (fused kernel)."
    ),
    device: str = _opt("auto", "--device", panel=RUN, help="auto, cpu or cuda."),
    num_threads: int | None = NUM_THREADS,
    min_seconds: float = _opt(1.0, "--min-seconds", panel=RUN, help="Time each point for at least this long."),
    report_dir: str = _opt("runs/analysis/complexity", "--report-dir", panel=OUTPUT, help="Where the outputs go."),
) -> None:
    """Time and peak memory of one layer's forward + backward as length and width grow (wave, attention, FNet),
    with log-log slopes beside the predicted orders."""
    from .analysis import ComplexityConfig, analyze_complexity

    def ints(text: str, flag: str) -> list[int]:
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{flag} expects comma-separated integers, got {text!r}") from None

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

    def progress(done: int, total: int, point: dict[str, Any]) -> None:
        what = point.get("error") or f"{point['time_ms']:.1f} ms, {point['peak_mb']:.1f} MB"
        err_console.print(f"[{done}/{total}] {point['kind']} n={point['length']} D={point['width']}: {what}")

    _print_report(analyze_complexity(cfg, report_dir, progress))


# --- deploy -------------------------------------------------------------------------------------------------


@app.command(rich_help_panel=DEPLOY)
@_handled
def serve(
    model_dir: Path = RUN_DIR_ARG,
    host: str = _opt("127.0.0.1", "--host", panel=RUN, help="Interface to listen on (0.0.0.0: every interface)."),
    port: int = _opt(8000, "--port", min=0, max=65535, panel=RUN, help="TCP port."),
    max_batch_size: int = _opt(64, "--max-batch-size", min=1, panel=RUN, help="Most texts in one model batch."),
    max_text_chars: int = _opt(20000, "--max-text-chars", min=1, panel=RUN, help="Longest text (longer: HTTP 413)."),
    max_request_texts: int = _opt(256, "--max-request-texts", min=1, panel=RUN, help="Most texts per request."),
    batch_wait_ms: float = _opt(
        2.0, "--batch-wait-ms", min=0.0, panel=RUN, help="How long a model batch waits for more requests."
    ),
    device: str = _opt("auto", "--device", panel=RUN, help="auto, cpu or cuda."),
    backend: str = BACKEND,
    num_threads: int | None = NUM_THREADS,
) -> None:
    """Serve a model over HTTP: POST /predict {"texts": [...], "k": 1, "threshold": 0.0} answers the predictions
    (label, probabilities, top_k) in JSON; GET /health and /labels. Concurrent requests share model batches."""
    from .serving import serve as run_serve

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


@app.command("export", rich_help_panel=DEPLOY)
@_handled
def export_command(
    model_dir: Path = RUN_DIR_ARG,
    output_dir: Path = _opt(
        ..., "--output-dir", "-o", panel=OUTPUT, help="Where model.onnx, the tokenizer and the report go."
    ),
    export_format: str = _opt("onnx", "--format", panel=OUTPUT, help="Export format: onnx."),
    quantize: str | None = _opt(None, "--quantize", panel=OUTPUT, help="Also write an int8 copy: int8."),
    opset: int | None = _opt(None, "--opset", panel=OUTPUT, help="ONNX opset (default: the exporter's)."),
) -> None:
    """Export a trained model to ONNX, check its logits against PyTorch's on real texts, and print the report."""
    if export_format != "onnx":
        _fail(f"--format {export_format!r}; expected onnx")
    from .export import FP32_TOLERANCE, export_onnx

    try:
        report = export_onnx(model_dir, output_dir, quantize=quantize, opset=opset)
    except ValueError as exc:
        _fail(_text(exc).replace("quantize=", "--quantize "))
    title = f"{model_dir} -> {output_dir} (ONNX opset {report['opset']})"
    console.print(console_tables.export_table(report, title, FP32_TOLERANCE))
    console.print(f"report: {output_dir / 'export_report.json'}")


# --- inspect ------------------------------------------------------------------------------------------------


@app.command("models", rich_help_panel=INSPECT)
def models_command() -> None:
    """List every model name `train` and `compare` accept: the Wave presets and the baselines."""
    from .registry import describe_model, list_models

    console.print(console_tables.listing(["model", "description"], [[n, describe_model(n)] for n in list_models()]))


@app.command(rich_help_panel=INSPECT)
def presets(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show where each preset departs from the paper."),
    params: bool = typer.Option(False, "--params", help="Also count parameters (builds each model, 4 labels)."),
) -> None:
    """List the model presets with a one-line description each."""
    from .params import count_parameters
    from .presets import get_preset, list_presets
    from .registry import create_model

    rows = []
    for name in list_presets():
        preset = get_preset(name)
        row = [name, preset.description]
        if params:
            row.append(f"{count_parameters(create_model(name, num_labels=4)).non_embedding:,}")
        rows.append(row)
        if verbose:
            rows.append(["", f"[dim]{preset.departures}[/dim]", *([""] if params else [])])
    columns = ["preset", "description"] + (["non-embedding params"] if params else [])
    console.print(console_tables.listing(columns, rows))


@app.command("datasets", rich_help_panel=INSPECT)
def datasets_command(data_dir: str | None = DATA_DIR) -> None:
    """List the named data sets and where each was found locally (or that it would come from the hub)."""
    from .data import list_datasets, locate_dataset

    rows = []
    for name, description in list_datasets():
        try:
            where = locate_dataset(name, data_dir)
        except Exception as exc:  # a malformed directory should not hide the other rows
            where = f"error: {exc}"
        rows.append([name, description, str(where) if where else "[dim]not local: hub when online[/dim]"])
    console.print(console_tables.listing(["name", "description", "found at"], rows))


if __name__ == "__main__":
    app()
