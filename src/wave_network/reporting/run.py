"""The figures of one run directory, drawn from its records alone (``metrics.jsonl``, ``results.json``).

Training writes the records and no figure; ``report_run`` draws them afterwards (``wave-network train`` calls it),
so a run's peak memory and its record do not depend on the plotting library, and the figures of any finished or
interrupted run can be drawn again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..training.rundir import CONFUSION_MATRIX, RESULTS, TRAINING_CURVES, RunDir
from .style import new_figure

__all__ = ["plot_confusion_matrix", "plot_training_curves", "report_run"]


def report_run(run_dir: str | Path) -> list[Path]:
    """Draw ``training_curves.png`` (always) and ``confusion_matrix.png`` (when the run has a test confusion
    matrix, i.e. a classification run evaluated on a test split) into ``run_dir``; returns the files written.

    The validation metric plotted is the run's monitor (``results.json``'s ``selection``); a run without
    ``results.json`` (interrupted) gets its curves so far, against ``val_accuracy``.
    """
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise FileNotFoundError(f"{run.path} is not a run directory")
    results = run.read_json(RESULTS) if run.file(RESULTS).exists() else {}
    selection = results.get("selection") or {}
    written = [
        plot_training_curves(
            run.read_metrics(), run.file(TRAINING_CURVES), monitor=selection.get("monitor") or "val_accuracy"
        )
    ]
    matrix = (results.get("metrics") or {}).get("test_confusion_matrix")
    if matrix is not None:
        title = f"test split, best validation checkpoint (epoch {selection.get('best_epoch')})"
        names = results.get("label_names") or []
        written.append(plot_confusion_matrix(matrix, names, run.file(CONFUSION_MATRIX), title=title))
    return written


def plot_training_curves(records: Sequence[dict[str, Any]], path: str | Path, monitor: str = "val_accuracy") -> Path:
    """Left: training loss per logged step and train / validation loss per epoch, against optimiser steps.
    Right: the validation metric ``monitor`` per validation, against optimiser steps."""
    steps = [r for r in records if r.get("type") == "step"]
    epochs = [r for r in records if r.get("type") == "epoch"]
    evals = [r for r in records if r.get("type") in ("epoch", "eval") and r.get(monitor) is not None]
    fig = new_figure((10, 4), dpi=100)
    ax_loss, ax_val = fig.subplots(1, 2)
    if steps:
        ax_loss.plot([r["step"] for r in steps], [r["loss"] for r in steps], label="train loss (logged steps)", lw=1)
    for key, style in (("train_loss", "o-"), ("val_loss", "s-")):
        points = [(r["step"], r[key]) for r in epochs if r.get(key) is not None]
        if points:
            ax_loss.plot(*zip(*points, strict=True), style, label=f"{key.replace('_', ' ')} (epoch)")
    ax_loss.set_xlabel("optimiser step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    if evals:
        ax_val.plot([r["step"] for r in evals], [r[monitor] for r in evals], "o-", color="tab:green")
    ax_val.set_xlabel("optimiser step")
    ax_val.set_ylabel(monitor.replace("_", " "))
    ax_val.set_title(f"{monitor.replace('_', ' ')} per validation")
    fig.savefig(path)
    return Path(path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], label_names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Counts, true labels as rows and predictions as columns; small matrices get their cells annotated."""
    n = len(matrix)
    size = max(4.0, 0.5 * n + 2)
    fig = new_figure((size + 1, size), dpi=100)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    names = [str(name) for name in label_names] if len(label_names) == n else [str(i) for i in range(n)]
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        peak = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                color = "white" if count > peak / 2 else "black"
                ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    fig.savefig(path)
    return Path(path)
