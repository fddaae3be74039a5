"""Summaries of the analyses' records (numbers stored in their JSON payloads). The tables and plots are drawn by
``wave_network.reporting.analysis``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reporting.analysis import GRADIENT_SERIES

__all__ = ["convergence_summary", "gradient_summary"]


def gradient_summary(models: dict[str, Any]) -> dict[str, Any]:
    """Per model: median of each norm over the first and the last fifth of the steps and over all steps; for Wave
    models the mean magnitude share and projection of the [CLS] gradient."""
    summary = {}
    for name, entry in models.items():
        records = entry.get("records") or []
        if entry.get("status") != "ok" or not records:
            continue
        fifth = max(1, len(records) // 5)
        row: dict[str, Any] = {"steps": len(records)}
        for key, _ in GRADIENT_SERIES:
            values = np.array([r[key] for r in records], dtype=float)
            row[key] = {
                "median": float(np.median(values)),
                "first_fifth_median": float(np.median(values[:fifth])),
                "last_fifth_median": float(np.median(values[-fifth:])),
            }
        if "cls_magnitude_share" in records[0]:
            for key in ("cls_magnitude_share", "cls_magnitude_projection"):
                values = np.array([r[key] for r in records], dtype=float)
                row[key] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values))}
            row["max_split_loss_gap"] = float(max(r["split_loss_gap"] for r in records))
        summary[name] = row
    return summary


def convergence_summary(models: dict[str, Any]) -> dict[str, Any]:
    """Per model: curve accuracy at a few steps, the best point, the mean over the curve (area under it) and the
    first step at which the curve reaches 90% and 95% of its best accuracy."""
    summary = {}
    for name, entry in models.items():
        records = entry.get("records") or []
        if entry.get("status") != "ok" or not records:
            continue
        steps = [r["step"] for r in records]
        acc = np.array([r["accuracy"] for r in records], dtype=float)
        best = float(acc.max())
        at = {str(s): float(a) for s, a in zip(steps, acc, strict=True) if s in (0, 50, 100, 200, 300, 500)}
        reach = {}
        for frac in (0.9, 0.95):
            hit = [s for s, a in zip(steps, acc, strict=True) if a >= frac * best]
            reach[f"steps_to_{int(frac * 100)}pct_of_best"] = hit[0] if hit else None
        summary[name] = {
            "best": best,
            "best_step": steps[int(acc.argmax())],
            "final": float(acc[-1]),
            "mean_over_curve": float(acc.mean()),
            "at_step": at,
            **reach,
        }
    return summary
