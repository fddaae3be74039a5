"""``glue``'s table and plot, from its configuration and per-task results (the content of ``glue.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.catalog import GLUE_METRICS, SMALL_TASKS, get_spec
from ..problem_types import ProblemType
from ..runsets import epochs_for_dataset
from .style import model_styles, new_figure

__all__ = ["glue_markdown", "plot_glue"]

_METRIC_LABELS = {"mcc": "MCC", "accuracy": "acc.", "f1": "F1", "pearson": "Pearson", "spearman": "Spearman"}


def _cell(entry: dict[str, Any], metric: str) -> str:
    stats = entry.get(metric) or {}
    if stats.get("mean") is None:
        return "failed" if entry.get("seeds_failed") else "-"
    scale = 100.0
    text = f"{scale * stats['mean']:.1f}"
    if stats.get("std") is not None:
        text += f" ± {scale * stats['std']:.1f}"
    return text


def glue_markdown(cfg: Any, tasks: dict[str, Any]) -> str:
    """The GLUE table of ``cfg`` (a ``GlueConfig``): one row per model, one column per task metric, mean ± std
    over seeds, and a note per task that was not run, subsampled, cut or is a regression."""
    header = ["model"]
    columns: list[tuple[str, str]] = []
    for task in cfg.tasks:
        for metric in GLUE_METRICS[task]:
            columns.append((task, metric))
            header.append(f"{task} {_METRIC_LABELS[metric]}")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(columns)]
    for model in cfg.models:
        cells = [f"`{model}`"]
        for task, metric in columns:
            info = tasks[task]
            cells.append("not found" if info["status"] != "ok" else _cell(info["models"][model], metric))
        lines.append("| " + " | ".join(cells) + " |")
    seeds = ", ".join(str(s) for s in cfg.seeds)
    small = ", ".join(t for t in cfg.tasks if t in SMALL_TASKS)
    lines += [
        "",
        f"GLUE dev sets as test sets, max length {cfg.max_length}; values x 100 (MCC and correlations too); mean ± "
        f"standard deviation over seeds ({small or 'no small task'}: {cfg.small_task_seeds} seeds from "
        f"{cfg.seeds[0]}; the others: {seeds}). Selection on a 20% validation split of the training data.",
    ]
    for task, info in tasks.items():
        if info["status"] != "ok":
            lines.append(f"- `{task}`: not run, data not found ({info['error'].splitlines()[0]})")
        elif info.get("train_subset"):
            lines.append(f"- `{task}`: training data subsampled to {cfg.max_train_samples:,} rows.")
        if info["status"] == "ok":
            for model, epochs in epochs_for_dataset(cfg.model_epochs, task, cfg.models).items():
                lines.append(f"- `{task}`: `{model}` trained {epochs} epoch(s) instead of its recipe's (budget cut).")
        spec = get_spec(task)
        if info["status"] == "ok" and spec is not None and spec.problem_type == ProblemType.REGRESSION:
            lines.append(
                f"- `{task}`: regression on the 0-5 score scaled to [0, 1]; `majority` predicts the training mean, "
                "a constant whose correlation is undefined (-)."
            )
    return "\n".join(lines) + "\n"


def plot_glue(cfg: Any, tasks: dict[str, Any], path: Path) -> None:
    """Per-task bars of each model's headline metric (with the seed standard deviation), each model in its own
    colour."""
    import numpy as np

    shown = [t for t in cfg.tasks if tasks[t]["status"] == "ok"]
    styles = model_styles(cfg.models)
    fig = new_figure((max(6, 1.6 * len(shown) + 2), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(cfg.models))
    for i, model in enumerate(cfg.models):
        means, errs = [], []
        for task in shown:
            stats = tasks[task]["models"][model].get(GLUE_METRICS[task][0]) or {}
            means.append(100 * stats["mean"] if stats.get("mean") is not None else np.nan)
            errs.append(100 * stats["std"] if stats.get("std") is not None else 0.0)
        ax.bar(np.arange(len(shown)) + i * width, means, width, yerr=errs, label=model, capsize=2,
               color=styles[model].color, edgecolor="#333333", linewidth=0.5, ecolor="#777777")  # fmt: skip
    ax.set_xticks(np.arange(len(shown)) + width * (len(cfg.models) - 1) / 2)
    ax.set_xticklabels([f"{t}\n({GLUE_METRICS[t][0]})" for t in shown])
    ax.set_ylabel("GLUE dev score x 100")
    ax.axhline(0, color="k", linewidth=0.5)
    ax.legend(fontsize=8)
    ax.set_title("GLUE dev sets, per task")
    fig.savefig(path)
