"""Tables and plots of the analyses (``wave_network.analysis``), generated from their JSON payloads only; each model
in its own colour and marker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .style import log_axis, model_styles, new_figure

__all__ = [
    "GRADIENT_SERIES",
    "complexity_markdown",
    "convergence_markdown",
    "gradient_markdown",
    "independence_markdown",
    "plot_complexity",
    "plot_convergence",
    "plot_gradients",
    "plot_independence",
]

GRADIENT_SERIES = (
    ("cls_grad_norm", "[CLS] input embedding"),
    ("input_grad_norm", "all input token embeddings"),
    ("classifier_grad_norm", "classifier parameters"),
)


def _smooth(values: list[float], window: int = 10) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if len(v) < window:
        return v
    kernel = np.ones(window) / window
    head = np.array([v[: i + 1].mean() for i in range(window - 1)])
    return np.concatenate([head, np.convolve(v, kernel, mode="valid")])


def _line(styles: dict, name: str, points: int) -> dict[str, Any]:
    """Line keywords of ``name``: its colour, and its marker on about ten of the ``points`` (every point would
    hide the curve)."""
    style = styles[name]
    return {"color": style.color, "marker": style.marker, "markevery": max(1, points // 10), "markersize": 5}


def _fmt(value: Any, spec: str = "{:.3g}") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return spec.format(value)


def _label(name: str, entry: dict[str, Any]) -> str:
    checkpoint = entry.get("checkpoint")
    return f"{name} ({checkpoint})" if checkpoint and name in ("bert", "transformer-1layer") else name


def _failed_lines(models: dict[str, Any]) -> list[str]:
    return [f"- **{name} failed:** {e['error']}" for name, e in models.items() if e.get("status") != "ok"]


# --- gradients ---------------------------------------------------------------------------------------------------


def gradient_markdown(payload: dict[str, Any], cfg: Any) -> str:
    lines = [
        f"### Gradient norms per optimiser step: {payload['dataset']}",
        "",
        f"{cfg.steps} steps at batch size {cfg.batch_size}, seed {cfg.seed}, each model's own learning-rate recipe; "
        "L2 norms of the gradient of the batch-mean loss (definitions: `wave_network.analysis.gradients`). "
        "Medians over all steps, over the first fifth and over the last fifth of the steps (first -> last).",
        "",
        "| model | test acc. | [CLS] embedding | all input embeddings | classifier | [CLS] magnitude share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, entry in payload["models"].items():
        row = payload["summary"].get(name)
        if row is None:
            continue
        cells = []
        for key, _ in GRADIENT_SERIES:
            s = row[key]
            cells.append(f"{_fmt(s['median'])} ({_fmt(s['first_fifth_median'])} -> {_fmt(s['last_fifth_median'])})")
        share = row.get("cls_magnitude_share")
        share_cell = f"{share['mean']:.3f} ± {share['std']:.3f}" if share else "-"
        acc = _fmt(100 * entry["test_accuracy"], "{:.2f}") if entry.get("test_accuracy") is not None else "-"
        lines.append(f"| {_label(name, payload['models'][name])} | {acc} | " + " | ".join(cells) + f" | {share_cell} |")
    lines += [
        "",
        "Magnitude share = |m| / (|m| + |p|) for the [CLS] gradient g = m + p, m flowing through the global "
        "semantics G and p through the token's own phase (found by replaying the step with G held constant). "
        "Test accuracy is that of the best checkpoint of this short run on the full test set.",
    ]
    splits = {n: r["max_split_loss_gap"] for n, r in payload["summary"].items() if "max_split_loss_gap" in r}
    if splits:
        gaps = ", ".join(f"{n} {g:.1e}" for n, g in splits.items())
        lines.append(f"Largest difference between a step's loss and its replay's (should be ~0): {gaps}.")
    lines += _failed_lines(payload["models"])
    return "\n".join(lines) + "\n"


def plot_gradients(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure((12, 8))
    axes = fig.subplots(2, 2)
    ok = {n: e for n, e in payload["models"].items() if e.get("status") == "ok" and e.get("records")}
    styles = model_styles(ok)
    for ax, (key, title) in zip(axes.flat, GRADIENT_SERIES, strict=False):
        for name, entry in ok.items():
            steps = [r["step"] for r in entry["records"]]
            ax.plot(steps, _smooth([r[key] for r in entry["records"]]), label=_label(name, entry),
                    **_line(styles, name, len(steps)))  # fmt: skip
        if ax.lines:
            log_axis(ax, "y")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("gradient L2 norm (10-step mean)")
        ax.set_title(f"gradient w.r.t. {title}")
    ax = axes.flat[3]
    for name, entry in ok.items():
        if "cls_magnitude_share" not in entry["records"][0]:
            continue
        steps = [r["step"] for r in entry["records"]]
        ax.plot(steps, _smooth([r["cls_magnitude_share"] for r in entry["records"]]), label=name,
                **_line(styles, name, len(steps)))  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("|m| / (|m| + |p|) (10-step mean)")
    ax.set_title("Wave: share of the [CLS] gradient through the magnitude G")
    axes.flat[0].legend(fontsize=8)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.suptitle(f"Gradient norms during training on {payload['dataset']}")
    fig.savefig(path)


# --- convergence -------------------------------------------------------------------------------------------------


def convergence_markdown(payload: dict[str, Any], cfg: Any) -> str:
    samples = cfg.curve_samples or "all"
    lines = [
        f"### Convergence: test accuracy during the first {cfg.steps} batches, {payload['dataset']}",
        "",
        f"Batch size {cfg.batch_size}, seed {cfg.seed}, each model's own learning-rate recipe (warm-up and linear "
        f"decay over the {cfg.steps} steps); accuracy on a fixed sample of {samples} test texts every {cfg.every} "
        "steps (measurement only: checkpoints are selected on the validation split).",
        "",
        "| model | acc. at 50 | at 100 | at 200 | final | best (step) | mean over curve | steps to 90% of best |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in payload["summary"].items():
        at = row["at_step"]

        def pct(step: int, at=at) -> str:
            return _fmt(100 * at[str(step)], "{:.1f}") if str(step) in at else "-"

        lines.append(
            f"| {_label(name, payload['models'][name])} | {pct(50)} | {pct(100)} | {pct(200)} | "
            f"{100 * row['final']:.1f} | {100 * row['best']:.1f} ({row['best_step']}) | "
            f"{100 * row['mean_over_curve']:.1f} | {_fmt(row['steps_to_90pct_of_best'], '{}')} |"
        )
    lines += _failed_lines(payload["models"])
    return "\n".join(lines) + "\n"


def plot_convergence(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure((8, 5))
    ax = fig.subplots()
    ok = {n: e for n, e in payload["models"].items() if e.get("status") == "ok" and e.get("records")}
    styles = model_styles(ok)
    for name, entry in ok.items():
        records = entry["records"]
        ax.plot([r["step"] for r in records], [100 * r["accuracy"] for r in records], label=_label(name, entry),
                **_line(styles, name, len(records)))  # fmt: skip
    ax.set_xlabel("training batches")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Convergence on {payload['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path)


# --- independence ------------------------------------------------------------------------------------------------


def independence_markdown(payload: dict[str, Any], cfg: Any) -> str:
    lines = [
        f"### Embedding independence: {payload['dataset']}",
        "",
        f"Representation: `{cfg.representation}`; covariance over up to {cfg.max_texts or 'all'} test texts (seed "
        f"{cfg.seed}) and over random batches of {cfg.batch_size} texts (definitions: "
        "`wave_network.analysis.independence`).",
        "",
        "| model | D | λ1/Σλ | λmin/λ1 | effective rank (fraction of r) "
        "| per batch: λ1/Σλ | λmin/λ1 | eff. rank fraction |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in payload["models"].items():
        if entry.get("status") != "ok":
            continue
        o, b = entry["overall"], entry["per_batch_summary"]

        def ms(key: str, b=b) -> str:
            spec = ".1e" if key == "smallest_over_largest" else ".3f"
            return f"{b[key]['mean']:{spec}} ± {b[key]['std']:{spec}}" if key in b else "-"

        lines.append(
            f"| {name} | {entry['dim']} | {o['largest_over_sum']:.3f} | {o['smallest_over_largest']:.2e} | "
            f"{o['effective_rank']:.1f} ({o['effective_rank_fraction']:.3f} of {o['rank']}) | "
            f"{ms('largest_over_sum')} | {ms('smallest_over_largest')} | {ms('effective_rank_fraction')} |"
        )
    lines += _failed_lines(payload["models"])
    return "\n".join(lines) + "\n"


def plot_independence(payload: dict[str, Any], ratio: str, path: Path) -> None:
    from scipy.stats import gaussian_kde

    fig = new_figure((12, 4.5))
    left, right = fig.subplots(1, 2)
    ok = {n: e for n, e in payload["models"].items() if e.get("status") == "ok"}
    styles = model_styles(ok)
    for name, entry in ok.items():
        eig = np.asarray(entry["eigenvalues"])
        left.plot(np.arange(1, len(eig) + 1), eig / eig.sum(), label=name, **_line(styles, name, len(eig)))
        values = np.asarray(entry["per_batch"][ratio], dtype=float)
        values = values[np.isfinite(values)]
        if len(values) > 1 and np.ptp(values) > 0:
            grid = np.linspace(values.min() - 0.1 * np.ptp(values), values.max() + 0.1 * np.ptp(values), 200)
            right.plot(grid, gaussian_kde(values)(grid), label=name, **_line(styles, name, len(grid)))
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("eigenvalue index")
    left.set_ylabel("eigenvalue / sum")
    left.set_title("covariance spectrum over the test sample")
    right.set_xlabel(ratio.replace("_", " "))
    right.set_ylabel("density")
    right.set_title("per-batch distribution (KDE)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.suptitle(f"Independence of embedding dimensions on {payload['dataset']}")
    fig.savefig(path)


# --- complexity --------------------------------------------------------------------------------------------------


def complexity_markdown(payload: dict[str, Any]) -> str:
    cfg = payload["config"]
    lines = [
        f"### Complexity of one layer, forward + backward ({payload['device']})",
        "",
        f"Batch {cfg['batch_size']}, fp32, attention `{cfg['attention']}`; the length sweep at D = {cfg['width']}, "
        f"the width sweep at n = {cfg['width_sweep_length']}. Slopes of log-log least-squares fits over the long "
        "end of each sweep (points at or above a quarter of the largest).",
        "",
        "| layer | time slope in n (predicted) | memory slope in n | saved-tensor slope in n "
        "| time slope in D (predicted) | memory slope in D |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, fit in payload["fits"].items():
        n, d = fit["length"], fit["width"]
        lines.append(
            f"| {kind} | {_fmt(n['time_slope'], '{:.2f}')} ({n['predicted_time_slope']:.0f}) | "
            f"{_fmt(n['memory_slope'], '{:.2f}')} | {_fmt(n['saved_slope'], '{:.2f}')} | "
            f"{_fmt(d['time_slope'], '{:.2f}')} ({d['predicted_time_slope']:.0f}) | "
            f"{_fmt(d['memory_slope'], '{:.2f}')} |"
        )
    lines += ["", "| layer | n | D | time ms | peak MB | saved MB |", "|---|---:|---:|---:|---:|---:|"]
    for p in payload["points"]:
        if "error" in p:
            lines.append(f"| {p['kind']} | {p['length']} | {p['width']} | failed: {p['error']} | | |")
            continue
        lines.append(
            f"| {p['kind']} | {p['length']} | {p['width']} | {p['time_ms']:.1f} | {p['peak_mb']:.1f} | "
            f"{p['saved_mb']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot_complexity(payload: dict[str, Any], path: Path) -> None:
    fig = new_figure((12, 9))
    axes = fig.subplots(2, 2)
    sweeps = (("length", "length", "sequence length n"), ("width", "width", "width D"))
    for row, (sweep, axis, label) in enumerate(sweeps):
        for col, (key, ylabel) in enumerate((("time_ms", "time per pass (ms)"), ("peak_mb", "peak memory (MB)"))):
            ax = axes[row][col]
            for kind, fit in payload["fits"].items():
                pts = [p for p in payload["points"] if p["sweep"] == sweep and p["kind"] == kind and "error" not in p]
                if not pts:
                    continue
                slope = fit[sweep]["time_slope" if key == "time_ms" else "memory_slope"]
                ax.plot([p[axis] for p in pts], [max(p[key], 1e-3) for p in pts], "o-",
                        label=f"{kind} (slope {_fmt(slope, '{:.2f}')})")  # fmt: skip
            xs = [p[axis] for p in payload["points"] if p["sweep"] == sweep]
            if xs and key == "time_ms":
                # Reference lines of the predicted orders, anchored at the wave layer's first point.
                anchor = [p for p in payload["points"] if p["sweep"] == sweep and "error" not in p]
                if anchor:
                    x0, y0 = anchor[0][axis], anchor[0][key]
                    grid = np.array(sorted(set(xs)), dtype=float)
                    for power, style in ((1, ":"), (2, "--")):
                        ax.plot(grid, y0 * (grid / x0) ** power, "k" + style, alpha=0.4, label=f"∝ x^{power}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
    fig.suptitle(f"One layer, forward + backward, on {payload['device']}")
    fig.savefig(path)
