"""Convergence analysis of the follow-up paper (arXiv 2411.06989): test accuracy every few batches of training.

The paper trains each model for 500 batches and measures test accuracy every 10 batches. ``AccuracyCurve`` is a
callback on the one training loop that evaluates a fixed set of held-out texts every ``every`` optimiser steps
(and once before the first step). It only measures: model selection still uses the validation split carved
from the training data, so evaluating the test set here cannot leak into the reported results. To keep 50
evaluations affordable on a CPU the curve may use a fixed, seeded sample of the test set (``curve_samples``);
its size is recorded with every point.
"""

from __future__ import annotations

from typing import Any

from ..training.callbacks import Callback

__all__ = ["AccuracyCurve"]


class AccuracyCurve(Callback):
    """Evaluates ``loader`` every ``every`` optimiser steps; each point is ``{"type": "curve", "step", "accuracy",
    "loss", "examples"}``, kept in ``self.records`` and written to the run's ``metrics.jsonl``."""

    def __init__(self, loader: Any, every: int = 10):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.loader = loader
        self.every = every
        self.records: list[dict[str, Any]] = []

    def _measure(self, ctx) -> None:
        result = ctx.evaluate(self.loader, "curve")
        metrics = result.metrics
        record = {
            "type": "curve",
            "step": ctx.state.global_step,
            "epoch": ctx.state.epoch + 1,
            "accuracy": metrics.get("curve_accuracy"),
            "loss": metrics.get("curve_loss"),
            "examples": result.examples,
        }
        self.records.append(record)
        if ctx.run_dir is not None:
            ctx.run_dir.append_metrics(record)

    def on_train_begin(self, ctx):
        if ctx.state.global_step == 0:
            self._measure(ctx)

    def on_step_end(self, ctx, logs):
        if ctx.state.global_step % self.every == 0:
            self._measure(ctx)
