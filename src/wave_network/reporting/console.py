"""The tables the command line prints (rich), each built from the record a library function returned: a run's
``results.json``, a comparison's rows, a metrics dict, an export report."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else format(100 * value, ".2f")


def _mean(values: list | None) -> float | None:
    values = [v for v in values or [] if v is not None]
    return sum(values) / len(values) if values else None


def run_table(results: dict[str, Any]) -> Table:
    """Test metrics and resources of one run (its ``results.json``)."""
    m, r = results["metrics"], results["resources"]
    table = Table(title=f"{results['model']} on {results['dataset']} (seed {results['seed']})", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = [
        ("test accuracy", m.get("test_accuracy"), "{:.4f}"),
        ("test F1 (macro)", m.get("test_f1_macro"), "{:.4f}"),
        ("test F1 (weighted)", m.get("test_f1_weighted"), "{:.4f}"),
        ("test Pearson", m.get("test_pearson"), "{:.4f}"),
        ("test Spearman", m.get("test_spearman"), "{:.4f}"),
        ("test loss", m.get("test_loss"), "{:.4f}"),
        ("best validation " + str(results["selection"]["monitor"]), results["selection"]["best_value"], "{:.4f}"),
        ("best epoch", results["selection"]["best_epoch"], "{}"),
        ("parameters (total)", r["parameters"].get("total"), "{:,}"),
        ("parameters (non-embedding)", r["parameters"].get("non_embedding"), "{:,}"),
        ("time per epoch (s)", _mean(r.get("epoch_times_s")), "{:.1f}"),
        ("train tokens/s", r.get("train_tokens_per_s"), "{:,.0f}"),
        ("eval tokens/s", r.get("eval_tokens_per_s"), "{:,.0f}"),
        ("peak memory (MB)", r.get("peak_memory_mb"), "{:,.0f}"),
        ("device", results.get("device"), "{}"),
    ]
    for name, value, fmt in rows:
        if value is not None:
            table.add_row(name, fmt.format(value))
    return table


def compare_table(rows: list[dict[str, Any]], title: str) -> Table:
    """One row per model of a comparison (``compare``'s rows); failed models say so."""
    regression = all(r.get("test_accuracy") is None for r in rows if r["status"] == "ok")
    first, second = ("Pearson", "Spearman") if regression else ("test acc.", "macro F1")
    table = Table(title=title, header_style="bold")
    for column in ("model", first, second, "params", "non-emb.", "peak MB", "train s", "tok/s", "ms/text"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        if row["status"] != "ok":
            table.add_row(row["model"], "[red]failed[/red]", *[""] * 7)
            continue
        table.add_row(
            row["model"],
            _pct(row.get("test_pearson" if regression else "test_accuracy")),
            _pct(row.get("test_spearman" if regression else "test_f1_macro")),
            f"{row['params_total']:,}",
            f"{row['params_non_embedding']:,}",
            _fmt(row.get("peak_memory_mb"), ",.0f"),
            _fmt(row.get("train_time_s"), ",.1f"),
            _fmt(row.get("train_tokens_per_s"), ",.0f"),
            _fmt(row.get("latency_ms_batch1"), ".2f"),
        )
    return table


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """A metrics dict (``evaluate``): floats to 4 places, counts with separators; lists are left out."""
    table = Table(title=title, show_header=False)
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
        elif isinstance(value, int):
            table.add_row(key, f"{value:,}")
    return table


def export_table(report: dict[str, Any], title: str, tolerance: float) -> Table:
    """An ONNX export's parity and size report (``export_onnx``)."""
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    for p in report["parity"]:
        name = f"fp32 max |logit diff|, batch {p['batch_size']}, lengths {p['shortest']}-{p['longest']}"
        table.add_row(name, f"{p['max_abs_logit_diff']:.2e}")
    rows = [
        (f"fp32 max |logit diff| (tolerance {tolerance:g})", report["max_abs_logit_diff"], "{:.2e}"),
        ("texts checked", report["texts_checked"], "{:,}"),
        ("fp32 accuracy (PyTorch)", report["fp32_accuracy"], "{:.4f}"),
        ("int8 argmax agreement", report["int8_argmax_agreement"], "{:.4f}"),
        ("int8 max |logit diff|", report["int8_max_abs_logit_diff"], "{:.3g}"),
        ("int8 accuracy", report["int8_accuracy"], "{:.4f}"),
        ("model.onnx (bytes)", report["fp32_bytes"], "{:,}"),
        ("model.int8.onnx (bytes)", report["int8_bytes"], "{:,}"),
    ]
    for name, value, fmt in rows:
        if value is not None:
            table.add_row(name, fmt.format(value))
    return table


def listing(columns: list[str], rows: list[list[str]]) -> Table:
    """A plain listing (models, presets, data sets)."""
    table = Table(show_header=True, header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column.endswith("params") else "left")
    for row in rows:
        table.add_row(*row)
    return table
