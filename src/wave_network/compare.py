"""``compare``: train several models (Wave presets and baselines) on the same data, splits, machine and budget, one
after another, and write one table, one JSON file and two plots.

Each model trains in a fresh process (``multiprocessing`` spawn) through the one ``train`` function, so its peak
memory is its own and a failure (a missing optional extra, no weights offline) is recorded in the table instead of
stopping the others. Runs are kept as ordinary run directories named ``<dataset>__<model>__seed<seed>`` under
``output_dir``; a finished run with the same set-up is reused rather than retrained (``rerun=True`` refuses reuse),
and an interrupted one resumes from its ``last/`` checkpoint.

After training, the best checkpoint is reloaded as a user would load it (``load_model``) and its inference latency is
measured on the first ``latency_docs`` test texts: one text at a time (batch 1) and in length-bucketed batches.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .baselines.checkpoints import checkpoint_label
from .data import DataConfig
from .registry import describe_model, list_models
from .reporting.compare import fmt, pct, plot_comparison, render_markdown
from .training.config import TrainConfig
from .training.rundir import to_jsonable

logger = logging.getLogger("wave_network.compare")

# The table and plots are drawn by wave_network.reporting.compare; their names stay importable from here.
__all__ = [
    "CompareConfig",
    "CompareResult",
    "compare",
    "epochs_for_dataset",
    "fmt",
    "measure_latency",
    "pct",
    "plot_comparison",
    "render_markdown",
    "write_report",
]

LATENCY = "latency.json"
ERROR = "error.json"
# TrainConfig fields that must agree for a finished run to be reused (paths, verbosity and threads do not matter).
_SETUP_FIELDS = (
    "model",
    "model_overrides",
    "learning_rate",
    "epochs",
    "batch_size",
    "weight_decay",
    "warmup_ratio",
    "max_grad_norm",
    "precision",
    "seed",
    "early_stopping_patience",
    "label_smoothing",
    "max_steps",
)
_DATA_IGNORED = ("cache_dir", "data_dir")
# Fields added after runs were written: a stored run without one ran with this value.
_ADDED_LATER = {"label_smoothing": 0.0}
_DATA_ADDED_LATER = {"val_split": "rows"}


@dataclass
class CompareConfig:
    """One comparison.

    Args:
        models: registered model names (``wave_network.list_models()``), in table order.
        data: the data set, split and tokenisation every model gets.
        output_dir: where the run directories go (``<dataset>__<model>__seed<seed>`` each).
        report_dir: where ``compare_<dataset>.{json,md}`` and the plots go; ``None`` uses ``output_dir``.
        seed: the seed of every run (initialisation, batch order, the train/validation split).
        epochs: epochs of every gradient-trained model; ``None`` keeps each model's recipe (Wave and BERT 4).
        model_epochs: per model name, epochs that replace ``epochs`` for that model (a budget cut for a slow
            baseline, reported in the table).
        model_overrides: per model name, config fields to change (``{"bert": {"checkpoint": "minilm"}}``).
        precision, device, num_threads: as in ``TrainConfig``, for every model.
        latency_docs: test texts used to time inference (batch 1 uses at most 100 of them).
        latency_batch_size: batch size of the batched latency measurement.
        rerun: train every model again even when a finished run with the same set-up exists.
        quiet: no progress bars.
    """

    models: list[str]
    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/compare"
    report_dir: str | None = None
    seed: int = 42
    epochs: int | None = None
    model_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_epochs: dict[str, int] = field(default_factory=dict)
    precision: str = "auto"
    device: str = "auto"
    num_threads: int | None = None
    latency_docs: int = 256
    latency_batch_size: int = 64
    rerun: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if isinstance(self.models, str):
            self.models = [m.strip() for m in self.models.split(",") if m.strip()]
        if not self.models:
            raise ValueError("CompareConfig.models is empty; name at least one model (wave_network.list_models())")
        unknown = [m for m in self.models if m not in list_models()]
        if unknown:
            raise ValueError(f"CompareConfig.models: unknown {unknown}; known: {', '.join(list_models())}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"CompareConfig.models names a model twice: {self.models}")
        for name in ("model_overrides", "model_epochs"):
            stray = sorted(set(getattr(self, name)) - set(self.models))
            if stray:
                raise ValueError(f"CompareConfig.{name} names models not compared: {stray}")
        if self.latency_docs < 1 or self.latency_batch_size < 1:
            raise ValueError("CompareConfig.latency_docs and latency_batch_size must be >= 1")
        # one TrainConfig per model validates the rest (precision, device, epochs ...) with its own messages
        for model in self.models:
            self.train_config(model)

    def train_config(self, model: str) -> TrainConfig:
        """The ``TrainConfig`` of ``model`` in this comparison."""
        data = replace(self.data, seed=self.seed)
        return TrainConfig(
            model=model,
            model_overrides=dict(self.model_overrides.get(model, {})),
            data=data,
            epochs=self.model_epochs.get(model, self.epochs),  # models fitted without gradients make one pass
            precision=self.precision,
            seed=self.seed,
            device=self.device,
            num_threads=self.num_threads,
            output_dir=str(self.run_dir(model)),
            quiet=True,
        )

    def run_dir(self, model: str) -> Path:
        dataset = self.data.dataset.replace("/", "_").replace(":", "_")
        return Path(self.output_dir) / f"{dataset}__{model}__seed{self.seed}"


@dataclass
class CompareResult:
    """The rows of the comparison (one dict per model) and the files written."""

    rows: list[dict[str, Any]]
    json_path: Path
    markdown_path: Path
    plot_paths: list[Path]


def epochs_for_dataset(model_epochs: dict[str, int], dataset: str, models: list[str]) -> dict[str, int]:
    """The per-model epochs that apply to ``dataset``, for the suites that run ``compare`` on several data sets.

    A key ``MODEL`` applies on every data set; ``DATASET/MODEL`` only on that one, and wins over ``MODEL``
    (``{"imdb/bert": 1}`` cuts BERT to one epoch on IMDB alone). Keys naming models outside ``models`` are dropped.
    """
    scoped = {k: v for k, v in model_epochs.items() if "/" not in k and k in models}
    for key, value in model_epochs.items():
        where, _, model = key.partition("/")
        if model and where == dataset and model in models:
            scoped[model] = value
    return scoped


def compare(cfg: CompareConfig) -> CompareResult:
    """Train (or reuse) every model of ``cfg``, measure its inference latency, and write the report."""
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    rows = []
    for index, model in enumerate(cfg.models, start=1):
        logger.info("[%d/%d] %s on %s", index, len(cfg.models), model, cfg.data.dataset)
        started = time.time()
        row = _run_model(cfg, model)
        row["compare_seconds"] = time.time() - started
        status = row["status"] if row["status"] != "ok" else _headline(row)
        logger.info("[%d/%d] %s: %s", index, len(cfg.models), model, status)
        rows.append(row)
    return write_report(cfg, rows)


# --- one model --------------------------------------------------------------------------------------------


def _run_model(cfg: CompareConfig, model: str) -> dict[str, Any]:
    run_dir = cfg.run_dir(model)
    train_cfg = cfg.train_config(model)
    row: dict[str, Any] = {"model": model, "description": describe_model(model), "run_dir": str(run_dir)}
    results_file = run_dir / "results.json"
    if results_file.exists() and not cfg.rerun:
        differences = _setup_differences(run_dir, train_cfg)
        if differences:
            return row | {
                "status": "failed",
                "error": f"{run_dir} holds a finished run with a different set-up ({', '.join(differences)}); "
                "remove it or compare with rerun=True (--rerun)",
            }
        row["reused"] = True
    else:
        if run_dir.exists():
            if (run_dir / "last" / "trainer_state.pt").exists() and not cfg.rerun:
                train_cfg = replace(train_cfg, resume=True)
            else:
                shutil.rmtree(run_dir)  # an unfinished run with nothing to resume from, or --rerun
        error = _in_subprocess(_train_child, (train_cfg.to_dict(),), run_dir / ERROR)
        if error is not None:
            return row | {"status": "failed", "error": error}
        row["reused"] = False
    if not (run_dir / LATENCY).exists():
        latency_args = (str(run_dir), asdict(train_cfg.data), cfg.latency_docs, cfg.latency_batch_size, cfg.device)
        error = _in_subprocess(_latency_child, latency_args, run_dir / ERROR)
        if error is not None:
            logger.warning("%s: latency not measured: %s", model, error)
    return row | _summarise(run_dir)


def _setup_differences(run_dir: Path, wanted: TrainConfig) -> list[str]:
    try:
        stored = json.loads((run_dir / "config.json").read_text())["train"]
    except (OSError, KeyError, json.JSONDecodeError):
        return ["config.json unreadable"]
    want = json.loads(json.dumps(to_jsonable(wanted.resolved().to_dict())))
    differences = [name for name in _SETUP_FIELDS if stored.get(name, _ADDED_LATER.get(name)) != want.get(name)]
    stored_data, want_data = stored.get("data", {}), want["data"]
    differences += [
        f"data.{k}"
        for k in want_data
        if k not in _DATA_IGNORED and stored_data.get(k, _DATA_ADDED_LATER.get(k)) != want_data.get(k)
    ]
    return differences


def _in_subprocess(target: Any, args: tuple, error_file: Path) -> str | None:
    """Run ``target(*args, error_file)`` in a fresh spawned process; ``None`` on success, else its error."""
    context = multiprocessing.get_context("spawn")
    error_file.parent.mkdir(parents=True, exist_ok=True)
    error_file.unlink(missing_ok=True)
    process = context.Process(target=target, args=(*args, str(error_file)))
    process.start()
    process.join()
    if process.exitcode == 0:
        return None
    if error_file.exists():
        return json.loads(error_file.read_text())["error"]
    return f"the process exited with code {process.exitcode} (killed, out of memory?)"


def _child_guard(error_file: str, work: Any) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        work()
    except BaseException as exc:  # noqa: BLE001  (recorded for the parent, then the child exits non-zero)
        message = f"{type(exc).__name__}: {exc}".strip()
        record = {"error": message, "traceback": traceback.format_exc()}
        Path(error_file).write_text(json.dumps(record, indent=2) + "\n")
        sys.exit(1)


def _train_child(cfg_dict: dict[str, Any], error_file: str) -> None:
    from .reporting import report_run
    from .training import train

    def work() -> None:
        report_run(train(TrainConfig.from_dict(cfg_dict)).run_dir)  # the run's figures, as `wave-network train`

    _child_guard(error_file, work)


def _latency_child(run_dir: str, data_fields: dict, docs: int, batch_size: int, device: str, error_file: str) -> None:
    _child_guard(error_file, lambda: measure_latency(run_dir, DataConfig(**data_fields), docs, batch_size, device))


def measure_latency(
    run_dir: str | Path, data_cfg: DataConfig, docs: int = 256, batch_size: int = 64, device: str = "auto"
) -> dict[str, Any]:
    """Milliseconds per test text of the run's best checkpoint, at batch 1 and batched; written to
    ``latency.json`` in ``run_dir``. Inference runs in float32, as ``predict`` does: on CPUs bf16 autocast can be
    many times slower at batch 1 (measured: 0.6 s against 48 ms per text for all-MiniLM-L6-v2 at 30 tokens)."""
    import torch

    from . import data as wn_data
    from .training.evaluation import MODEL_INPUTS
    from .training.inference import _device, load_model

    run_dir = Path(run_dir)
    torch_device = _device(device)
    model, tokenizer = load_model(run_dir, torch_device)
    splits = wn_data.load_splits(data_cfg)
    tokenized = wn_data.tokenize_splits(splits, tokenizer, data_cfg.max_length, cache_dir=data_cfg.cache_dir)
    test = tokenized.test.select(range(min(docs, len(tokenized.test))))

    def run(batch: dict) -> None:
        inputs = {k: v.to(torch_device) for k, v in batch.items() if k in MODEL_INPUTS}
        with torch.inference_mode():
            model(**inputs)
        if torch_device.type == "cuda":
            torch.cuda.synchronize()

    def loader(size: int, n: int):
        subset = test.select(range(min(n, len(test))))
        return wn_data.make_dataloader(subset, size, shuffle=False, seed=0, pad_token_id=tokenized.pad_token_id)

    single = list(loader(1, 100))
    run(single[0])  # warm-up
    times = []
    for batch in single:
        start = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - start)
    batched = list(loader(batch_size, len(test)))
    run(batched[0])
    start = time.perf_counter()
    for batch in batched:
        run(batch)
    batched_seconds = time.perf_counter() - start
    record = {
        "latency_ms_batch1": 1000 * statistics.median(times),
        "latency_ms_batched": 1000 * batched_seconds / len(test),
        "latency_batch_size": batch_size,
        "latency_docs": {"batch1": len(single), "batched": len(test)},
        "latency_device": str(torch_device),
        "latency_precision": "fp32",
        "latency_threads": torch.get_num_threads(),
    }
    (run_dir / LATENCY).write_text(json.dumps(record, indent=2) + "\n")
    return record


def _summarise(run_dir: Path) -> dict[str, Any]:
    """One table row from the run directory's ``results.json`` (and ``latency.json``)."""
    results = json.loads((run_dir / "results.json").read_text())
    metrics, res = results["metrics"], results["resources"]
    epoch_times = [t for t in res.get("epoch_times_s") or [] if t is not None]
    model_config = json.loads((run_dir / "config.json").read_text()).get("model_config") or {}
    row = {
        "status": "ok",
        "dataset": results["dataset"],
        "seed": results["seed"],
        "test_accuracy": metrics.get("test_accuracy"),
        "test_f1_macro": metrics.get("test_f1_macro"),
        "test_pearson": metrics.get("test_pearson"),
        "test_spearman": metrics.get("test_spearman"),
        "test_f1_weighted": metrics.get("test_f1_weighted"),
        "val_accuracy": metrics.get("val_accuracy"),
        "best_epoch": results["selection"]["best_epoch"],
        "epochs": results.get("epochs_completed"),
        "params_total": res["parameters"]["total"],
        "params_non_embedding": res["parameters"]["non_embedding"],
        "peak_memory_mb": res.get("peak_memory_mb"),
        "peak_memory_kind": res.get("peak_memory_kind"),
        "train_time_s": sum(epoch_times) if epoch_times else None,
        "wall_time_s": res.get("wall_time_s"),
        "train_tokens_per_s": res.get("train_tokens_per_s"),
        "eval_tokens_per_s": res.get("eval_tokens_per_s"),
        "precision": results.get("precision"),
        "device": results.get("device"),
        "command": results.get("command"),
        "checkpoint": checkpoint_label(model_config.get("embeddings_from") or model_config.get("_name_or_path")),
        "subset_note": (results.get("dataset_provenance") or {}).get("subset_note"),
    }
    latency_file = run_dir / LATENCY
    if latency_file.exists():
        row |= json.loads(latency_file.read_text())
    return row


# --- the report -------------------------------------------------------------------------------------------


def write_report(cfg: CompareConfig, rows: list[dict[str, Any]]) -> CompareResult:
    """``compare_<dataset>.json``, ``.md`` and the two plots in ``cfg.report_dir``."""
    report_dir = Path(cfg.report_dir or cfg.output_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    stem = "compare_" + cfg.data.dataset.replace("/", "_").replace(":", "_")
    record = {
        "benchmark": "compare",
        "dataset": cfg.data.dataset,
        "seed": cfg.seed,
        "max_length": cfg.data.max_length,
        "config": to_jsonable(asdict(cfg)),
        "command": list(sys.argv),
        "rows": to_jsonable(rows),
    }
    json_path = report_dir / f"{stem}.json"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    markdown_path = report_dir / f"{stem}.md"
    markdown_path.write_text(render_markdown(record))
    plots = plot_comparison(
        record, report_dir / f"{stem}_accuracy_vs_time.png", report_dir / f"{stem}_accuracy_vs_params.png"
    )
    return CompareResult(rows=rows, json_path=json_path, markdown_path=markdown_path, plot_paths=plots)


def _headline(row: dict[str, Any]) -> str:
    if row.get("test_accuracy") is not None:
        return f"test accuracy {row['test_accuracy']:.4f}"
    return f"test Pearson {row.get('test_pearson')}"
