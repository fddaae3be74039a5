"""PNG figures of a hyperparameter study (``wave_network.tune``), drawn from its trial records with matplotlib's
object API and the Agg canvas, as ``reporting.run`` draws a run's: no pyplot, no global backend switch.
matplotlib is imported inside each function, so importing this module costs nothing. They take plain records, not
an Optuna study, so drawing needs no Optuna."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _save(fig: Any, path: str | Path) -> Path:
    """Save through a temporary file and a rename: several workers of a study may write the report at once."""
    import os

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.savefig(tmp, dpi=100, format="png")
    os.replace(tmp, path)
    return path


def plot_history(trials: Sequence[Mapping[str, Any]], path: str | Path, metric: str, direction: str) -> Path:
    """The objective of every trial against its number (pruned trials at their last reported value) and the best
    completed value so far. ``trials`` are ``tune``'s trial records (``number``, ``state``, ``value``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    complete = [(t["number"], t["value"]) for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    pruned = [(t["number"], t["value"]) for t in trials if t["state"] == "PRUNED" and t["value"] is not None]
    if complete:
        ax.plot(*zip(*complete, strict=True), "o", color="tab:blue", label="complete")
        better = max if direction == "maximize" else min
        best, steps = None, []
        for number, value in sorted(complete):
            best = value if best is None else better(best, value)
            steps.append((number, best))
        ax.step(*zip(*steps, strict=True), where="post", color="tab:red", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned, strict=True), "x", color="tab:gray", label="pruned (last reported value)")
    failed = [t["number"] for t in trials if t["state"] == "FAIL"]
    if failed:
        ax.plot([], [], " ", label=f"{len(failed)} failed (not shown)")
    if not complete and not pruned:
        ax.text(0.5, 0.5, "no trial has a value yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (validation)")
    ax.set_title(f"optimisation history ({direction})")
    if complete or pruned or failed:
        ax.legend()
    return _save(fig, path)


def plot_importance(importances: Mapping[str, float], path: str | Path, metric: str, note: str = "") -> Path:
    """Horizontal bars of the parameter importances (they sum to 1), the most important on top; ``note`` says
    how they were computed and how far to trust them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    items = sorted(importances.items(), key=lambda item: item[1])
    fig = Figure(figsize=(7, 1.5 + 0.45 * len(items)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh([name for name, _ in items], [value for _, value in items], color="tab:blue")
    for i, (_, value) in enumerate(items):
        ax.text(value, i, f" {value:.2f}", va="center")
    ax.set_xlim(0, max(1.0, max((v for _, v in items), default=0) * 1.15))
    ax.set_xlabel(f"importance for {metric.replace('_', ' ')}")
    ax.set_title("parameter importances" + (f"\n{note}" if note else ""), fontsize=10)
    return _save(fig, path)
