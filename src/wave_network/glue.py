"""GLUE (Wang et al. 2019) for the Wave presets and the baselines: every task of the benchmark, its official metric,
several seeds on the small tasks, a majority (or mean) row, and one table and plot.

Each (task, seed) is one ``compare`` run, so every model goes through the same data loading, splits, training loop
and run directories as everywhere else, and finished runs are reused. GLUE's test labels are not public: the dev
set is the reported test set, and model selection uses a validation split carved from the training data (20%,
drawn with the run's seed). A task whose data is not available (no local copy, offline) becomes a "not found" row
with the loader's message, and the suite goes on.

Metrics as GLUE defines them, computed by scikit-learn and SciPy: Matthews correlation for CoLA, accuracy and F1
(of the paraphrase / duplicate class) for MRPC and QQP, Pearson and Spearman correlation for STS-B, accuracy for
the others; MNLI is reported on its matched and mismatched dev sets (two data sets, ``mnli`` and
``mnli_mismatched``, trained alike).
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .data import DataConfig, DataError
from .data.catalog import GLUE_METRICS, GLUE_TASKS, SMALL_TASKS
from .reporting.glue import glue_markdown, plot_glue
from .runsets import RunSetConfig, epochs_for_dataset
from .training.rundir import RESULTS, to_jsonable

logger = logging.getLogger("wave_network.glue")

__all__ = ["GLUE_METRICS", "SMALL_TASKS", "GlueConfig", "GlueResult", "run_glue"]


@dataclass
class GlueConfig(RunSetConfig):
    """One GLUE run: the shared run-set fields (``wave_network.runsets.RunSetConfig``) and:

    Args:
        models: registered model names; the majority baseline is added when missing (every task gets a
            majority-class or mean-prediction row).
        tasks: GLUE task names (``GLUE_TASKS``), or ``["all"]``.
        seeds: the seeds of the large tasks.
        small_task_seeds: how many seeds (``seeds[0], seeds[0] + 1, ...``) the small tasks get (at least 3).
        max_length: tokens per example (a pair counts both sentences and the separators).
        data_dir: where the GLUE folders are (default: the usual data roots, ``../shared/data`` included).
        output_dir: run directories, ``<output_dir>/<task>__<model>__seed<seed>``.
        report_dir: where ``glue.json``, ``glue.md`` and ``glue.png`` go; ``None`` uses ``output_dir``.
        model_epochs: per-model epochs; a key ``TASK/MODEL`` applies to that task only (a budget cut, marked in
            the table).
        max_train_samples: stratified subsample of every task's training data (budget runs; marked in the table).
    """

    models: list[str] = field(default_factory=lambda: ["paper-modulation", "fnet", "bert", "majority"])
    output_dir: str = "runs/glue"
    tasks: list[str] = field(default_factory=lambda: ["all"])
    seeds: list[int] = field(default_factory=lambda: [42])
    small_task_seeds: int = 3
    max_length: int = 128
    data_dir: str | None = None
    max_train_samples: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [t.strip() for t in self.tasks.split(",") if t.strip()]
        if self.tasks == ["all"]:
            self.tasks = list(GLUE_TASKS)
        unknown = [t for t in self.tasks if t not in GLUE_TASKS]
        if unknown:
            raise ValueError(f"GlueConfig.tasks: unknown {unknown}; choose from all, {', '.join(GLUE_TASKS)}")
        self.check_run_set()
        if "majority" not in self.models:
            self.models = [*self.models, "majority"]
        if not self.seeds:
            raise ValueError("GlueConfig.seeds is empty")
        if self.small_task_seeds < 3:
            raise ValueError(f"GlueConfig.small_task_seeds must be >= 3, got {self.small_task_seeds}")

    def task_seeds(self, task: str) -> list[int]:
        if task in SMALL_TASKS:
            first = self.seeds[0]
            return sorted(set(self.seeds) | set(range(first, first + self.small_task_seeds)))
        return list(self.seeds)


@dataclass
class GlueResult:
    """Per task and model: the metric values per seed and their mean and standard deviation; the files written."""

    tasks: dict[str, Any]
    json_path: Path
    markdown_path: Path
    plot_path: Path | None


def _task_data(cfg: GlueConfig, task: str, seed: int) -> DataConfig:
    return DataConfig(
        dataset=task, data_dir=cfg.data_dir, max_length=cfg.max_length, seed=seed,
        max_train_samples=cfg.max_train_samples,
    )  # fmt: skip


def _check_available(cfg: GlueConfig, task: str) -> str | None:
    """The loader's message when the task's data cannot be found, else ``None``."""
    from .data import load_splits

    try:
        load_splits(_task_data(cfg, task, cfg.seeds[0]))
    except DataError as exc:
        return str(exc)
    return None


def run_glue(cfg: GlueConfig) -> GlueResult:
    """Train and evaluate every model on every task and seed of ``cfg`` (``compare`` per task and seed)."""
    from .compare import CompareConfig, compare

    tasks: dict[str, Any] = {}
    for task in cfg.tasks:
        missing = _check_available(cfg, task)
        if missing is not None:
            logger.warning("%s: data not found; skipped (%s)", task, missing.splitlines()[0])
            tasks[task] = {"status": "not found", "error": missing}
            continue
        per_model: dict[str, dict[str, Any]] = {m: {"runs": []} for m in cfg.models}
        for seed in cfg.task_seeds(task):
            logger.info("GLUE %s, seed %d", task, seed)
            shared = cfg.shared() | {
                "report_dir": str(cfg.report_path / "glue_runs"),
                "model_epochs": epochs_for_dataset(cfg.model_epochs, task, cfg.models),
                "quiet": True,
            }
            result = compare(CompareConfig(**shared, data=_task_data(cfg, task, seed), seed=seed))
            for row in result.rows:
                per_model[row["model"]]["runs"].append(_run_metrics(row, task, seed))
        for entry in per_model.values():
            entry |= _aggregate(entry["runs"], task)
        subset = cfg.max_train_samples is not None
        tasks[task] = {"status": "ok", "metrics": GLUE_METRICS[task], "models": per_model, "train_subset": subset}
    return _write(cfg, tasks)


def _run_metrics(row: dict[str, Any], task: str, seed: int) -> dict[str, Any]:
    if row["status"] != "ok":
        return {"seed": seed, "status": row["status"], "error": row.get("error")}
    results = json.loads((Path(row["run_dir"]) / RESULTS).read_text())
    metrics = results["metrics"]
    return {
        "seed": seed,
        "status": "ok",
        "run_dir": row["run_dir"],
        **{name: metrics.get(f"test_{name}") for name in GLUE_METRICS[task]},
    }


def _aggregate(runs: list[dict[str, Any]], task: str) -> dict[str, Any]:
    ok = [r for r in runs if r["status"] == "ok"]
    out: dict[str, Any] = {"seeds_ok": len(ok), "seeds_failed": len(runs) - len(ok)}
    for name in GLUE_METRICS[task]:
        values = [r[name] for r in ok if r.get(name) is not None]
        out[name] = {
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values),
        }
    return out


# The table and plot are drawn by wave_network.reporting.glue; their old names stay importable from here.
markdown = glue_markdown
plot = plot_glue


def _write(cfg: GlueConfig, tasks: dict[str, Any]) -> GlueResult:
    directory = Path(cfg.report_dir or cfg.output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "glue.json"
    json_path.write_text(json.dumps(to_jsonable({"config": asdict(cfg), "tasks": tasks}), indent=2) + "\n")
    md_path = directory / "glue.md"
    md_path.write_text(glue_markdown(cfg, tasks))
    plot_path = None
    if any(info["status"] == "ok" for info in tasks.values()):
        plot_path = directory / "glue.png"
        plot_glue(cfg, tasks, plot_path)
    logger.info("wrote %s, %s", json_path, md_path)
    return GlueResult(tasks, json_path, md_path, plot_path)
