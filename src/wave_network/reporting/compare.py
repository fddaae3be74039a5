"""``compare``'s table and plots, from its JSON record (``compare_<dataset>.json``) alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .figures import Point, scatter_models
from .style import log_axis, new_figure

__all__ = ["comparison_figure", "fmt", "pct", "plot_comparison", "render_markdown"]


def fmt(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``, ``-`` for a missing one."""
    return "-" if value is None else format(value, spec)


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals, ``-`` for a missing one."""
    return "-" if value is None else format(100 * value, ".2f")


def render_markdown(record: dict[str, Any]) -> str:
    """The comparison table, one row per model, failures included with their reason."""
    rows = record["rows"]
    header = (
        "| model | test acc. | macro F1 | params (total / non-emb.) | peak MB | train s | train tok/s "
        "| ms/text (batch 1 / batched) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    notes = []
    for row in rows:
        name = f"`{row['model']}`"
        if row.get("status") != "ok":
            lines.append(f"| {name} | failed | | | | | | |")
            notes.append(f"- `{row['model']}` failed: {row.get('error')}")
            continue
        if row.get("checkpoint") and row["model"] in ("bert", "transformer-1layer"):
            name += f" ({row['checkpoint']})"
        params = f"{fmt(row['params_total'], ',')} / {fmt(row['params_non_embedding'], ',')}"
        latency = f"{fmt(row.get('latency_ms_batch1'), '.2f')} / {fmt(row.get('latency_ms_batched'), '.3f')}"
        lines.append(
            f"| {name} | {pct(row['test_accuracy'])} | {pct(row['test_f1_macro'])} "
            f"| {params} | {fmt(row.get('peak_memory_mb'), ',.0f')} | {fmt(row.get('train_time_s'), ',.1f')} "
            f"| {fmt(row.get('train_tokens_per_s'), ',.0f')} | {latency} |"
        )
    ok = [r for r in rows if r.get("status") == "ok"]
    device = ok[0]["device"] if ok else "-"
    subset = next((r["subset_note"] for r in ok if r.get("subset_note")), None)
    batch = next((r["latency_batch_size"] for r in ok if r.get("latency_batch_size")), "-")
    footer = [
        "",
        f"Data set `{record['dataset']}`, max length {record['max_length']} tokens, seed {record['seed']}; the best "
        "epoch of each model chosen on a validation split carved from the training data, the test set used once. "
        f"Device: {device}. Train s = time in training steps summed over epochs (validation excluded); peak MB = "
        "peak RSS of the model's own process on CPU (CUDA max allocated on GPU); latency (fp32, as `predict` "
        f"runs) = median per text at batch 1, total / texts at batch {batch}.",
    ]
    if subset:
        footer.append(f"Data: {subset}")
    if any(r.get("checkpoint") and "minilm" in str(r["checkpoint"]).lower() for r in ok):
        from ..baselines import PACKAGED_DISCLOSURE

        footer.append(f"Pre-trained weights: {PACKAGED_DISCLOSURE}.")
    return (
        header + "\n".join(lines) + "\n" + "\n".join(footer) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")
    )


# The two plots of a comparison: (row key on the x axis, axis label).
_PLOTS = {
    "time": ("train_time_s", "training time (s, log scale)"),
    "params": ("params_total", "parameters, total (log scale)"),
}


def plot_comparison(record: dict[str, Any], time_path: Path, params_path: Path) -> list[Path]:
    """Test accuracy against training time, and against parameter count (log axes), one point per model."""
    for path, kind in ((time_path, "time"), (params_path, "params")):
        comparison_figure(record, kind).savefig(path)
    return [time_path, params_path]


def comparison_figure(record: dict[str, Any], kind: str) -> Any:
    """Test accuracy against ``kind`` (``"time"``: training seconds, ``"params"``: total parameters), one point
    per model, as a ``matplotlib.figure.Figure``.

    Models are told apart by colour and marker in a legend ordered by accuracy, best first, rather than by
    labels at the points: points of similar models nearly coincide, and their labels would overlap.
    """
    key, label = _PLOTS[kind]
    ok = [r for r in record["rows"] if r.get("status") == "ok" and r.get("test_accuracy") is not None]
    ok.sort(key=lambda r: -r["test_accuracy"])
    fig = new_figure((8.4, 4.4), dpi=120)
    ax = fig.subplots()
    points = [Point(r["model"], max(r.get(key) or 0, 1e-3), 100 * r["test_accuracy"]) for r in ok]
    scatter_models(ax, points)
    ax.set_xlabel(label)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{record['dataset']} (max length {record['max_length']}, seed {record['seed']})")
    ax.grid(True, alpha=0.3)
    if points:
        fig.legend(loc="outside right upper", fontsize=8, title="best first", title_fontsize=8)
    log_axis(ax, "x")
    return fig
