"""``compare``: train several models (Wave presets and baselines) on the same data, splits, machine and budget, one
after another, and write one table, one JSON file and two plots.

A run-set (``wave_network.runsets``): each model trains in a fresh process through the one ``train`` function
(``run_model``), so its peak memory is its own and a failure (a missing optional extra, no weights offline) is
recorded in the table instead of stopping the others. Runs are kept as ordinary run directories named
``<dataset>__<model>__seed<seed>`` under ``output_dir``; a finished run with the same set-up is reused rather than
retrained (``rerun=True`` refuses reuse), and an interrupted one resumes from its ``last/`` checkpoint.

After training, the best checkpoint is reloaded as a user would load it (``load_model``) and its inference latency is
measured on the first ``latency_docs`` test texts: one text at a time (batch 1) and in length-bucketed batches.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .baselines.checkpoints import checkpoint_label
from .data import DataConfig
from .registry import describe_model
from .reporting import report_run
from .reporting.compare import fmt, pct, plot_comparison, render_markdown
from .runsets import RunSetConfig, child_guard, epochs_for_dataset, in_subprocess, run_dir_name, run_model
from .training.config import TrainConfig
from .training.rundir import CONFIG, ERROR, LATENCY, RESULTS, TRAINING_CURVES, to_jsonable

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


DEFAULT_MODELS = (
    "paper-modulation", "paper-interference", "bert", "transformer-1layer", "fnet", "fasttext", "tfidf", "majority"
)  # fmt: skip


@dataclass
class CompareConfig(RunSetConfig):
    """One comparison: the shared run-set fields (``wave_network.runsets.RunSetConfig``: models, output and report
    directories, epochs, per-model epochs and overrides, precision, device, threads, rerun, quiet) and:

    Args:
        data: the data set, split and tokenisation every model gets.
        seed: the seed of every run (initialisation, batch order, the train/validation split).
        latency_docs: test texts used to time inference (batch 1 uses at most 100 of them).
        latency_batch_size: batch size of the batched latency measurement.

    Run directories are ``<output_dir>/<dataset>__<model>__seed<seed>``.
    """

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/compare"
    seed: int = 42
    latency_docs: int = 256
    latency_batch_size: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        self.check_run_set()
        if self.latency_docs < 1 or self.latency_batch_size < 1:
            raise ValueError("CompareConfig.latency_docs and latency_batch_size must be >= 1")
        # one TrainConfig per model validates the rest (precision, device, epochs ...) with its own messages
        for model in self.models:
            self.train_config(model)

    def train_config(self, model: str) -> TrainConfig:
        """The ``TrainConfig`` of ``model`` in this comparison."""
        return self.train_config_for(model, replace(self.data, seed=self.seed), self.seed, self.run_dir(model))

    def run_dir(self, model: str) -> Path:
        return Path(self.output_dir) / run_dir_name(self.data.dataset, model, self.seed)


@dataclass
class CompareResult:
    """The rows of the comparison (one dict per model) and the files written."""

    rows: list[dict[str, Any]]
    json_path: Path
    markdown_path: Path
    plot_paths: list[Path]


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
    """Train or reuse ``model`` (``runsets.run_model``) and time its inference: in the training process, after
    training, or in a process of its own for a reused run that has no timing yet."""
    train_cfg = cfg.train_config(model)
    latency_args = (str(train_cfg.output_dir), asdict(train_cfg.data), cfg.latency_docs, cfg.latency_batch_size,
                    cfg.device)  # fmt: skip
    run = run_model(train_cfg, rerun=cfg.rerun, then=(measure_latency, latency_args))
    row: dict[str, Any] = {"model": model, "description": describe_model(model), "run_dir": str(run.run_dir)}
    if not run.ok:
        return row | {"status": "failed", "error": run.error}
    row["reused"] = run.reused
    if not (run.run_dir / TRAINING_CURVES).exists():
        report_run(run.run_dir)  # the run's figures, as `wave-network train` draws them
    if not (run.run_dir / LATENCY).exists():
        error = in_subprocess(_latency_child, latency_args, run.run_dir / ERROR)
        if error is not None:
            logger.warning("%s: latency not measured: %s", model, error)
    return row | _summarise(run.run_dir)


def _latency_child(run_dir: str, data_fields: dict, docs: int, batch_size: int, device: str, error_file: str) -> None:
    child_guard(error_file, lambda: measure_latency(run_dir, data_fields, docs, batch_size, device))


def measure_latency(
    run_dir: str | Path, data_cfg: DataConfig | dict, docs: int = 256, batch_size: int = 64, device: str = "auto"
) -> dict[str, Any]:
    """Milliseconds per test text of the run's best checkpoint, at batch 1 and batched; written to
    ``latency.json`` in ``run_dir``; ``data_cfg`` may be a ``DataConfig``'s fields. Inference runs in float32, as
    ``predict`` does: on CPUs bf16 autocast can be many times slower at batch 1 (measured: 0.6 s against 48 ms per
    text for all-MiniLM-L6-v2 at 30 tokens)."""
    import torch

    from . import data as wn_data
    from .devices import resolve_device
    from .training.evaluation import MODEL_INPUTS
    from .training.inference import load_model

    if isinstance(data_cfg, dict):
        data_cfg = DataConfig(**data_cfg)
    run_dir = Path(run_dir)
    torch_device = resolve_device(device)
    model, tokenizer = load_model(run_dir, torch_device)
    tokenized, _ = wn_data.prepare(data_cfg, tokenizer)
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
    results = json.loads((run_dir / RESULTS).read_text())
    metrics, res = results["metrics"], results["resources"]
    epoch_times = [t for t in res.get("epoch_times_s") or [] if t is not None]
    model_config = json.loads((run_dir / CONFIG).read_text()).get("model_config") or {}
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
