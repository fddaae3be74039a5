"""PNG figures of a run, drawn from its records with matplotlib's object API and the Agg canvas (no pyplot, no
global backend switch, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_training_curves(records: Sequence[dict[str, Any]], path: str | Path, monitor: str = "val_accuracy") -> Path:
    """Left: training loss per logged step and train / validation loss per epoch, against optimiser steps.
    Right: the validation metric ``monitor`` per validation, against optimiser steps."""
    steps = [r for r in records if r.get("type") == "step"]
    epochs = [r for r in records if r.get("type") == "epoch"]
    evals = [r for r in records if r.get("type") in ("epoch", "eval") and r.get(monitor) is not None]
    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
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
    fig.savefig(path, dpi=100)
    return Path(path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], label_names: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Counts, true labels as rows and predictions as columns; small matrices get their cells annotated."""
    n = len(matrix)
    size = max(4.0, 0.5 * n + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    FigureCanvasAgg(fig)
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
    fig.savefig(path, dpi=100)
    return Path(path)
