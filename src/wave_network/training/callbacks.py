"""Everything that hangs off the training loop: JSONL and console logging, checkpoints, early stopping and
experiment tracking. Each is a ``Callback``; the loop calls the hooks of a ``CallbackList`` in order."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .checkpoint import replace_dir, save_model_dir, save_resume_state
from .tracking import Tracker, create_tracker

if TYPE_CHECKING:
    from .loop import LoopContext
    from .rundir import RunDir

logger = logging.getLogger("wave_network.training")


class Callback:
    """Hooks of the training loop; override the ones you need. ``ctx`` is the loop's ``LoopContext``."""

    def on_train_begin(self, ctx: LoopContext) -> None:
        """Before the first step (also when resuming)."""

    def on_step_begin(self, ctx: LoopContext, batch: dict[str, Any]) -> None:
        """Before the forward pass of every optimiser step; ``batch`` is on the device (analyses snapshot the
        RNG here to replay the step's dropout)."""

    def on_after_backward(self, ctx: LoopContext, batch: dict[str, Any]) -> None:
        """After the backward pass, before gradient clipping and the optimiser step: every parameter's ``grad``
        holds this step's (unclipped) gradient."""

    def on_step_end(self, ctx: LoopContext, logs: dict[str, float]) -> None:
        """After every optimiser step; ``logs`` holds the step's ``loss``, ``lr`` and ``grad_norm``. Raising
        ``KeyboardInterrupt`` here interrupts the run at a clean step boundary."""

    def on_log(self, ctx: LoopContext, record: dict[str, Any]) -> None:
        """A record for the log: ``type`` is ``"step"`` (every ``log_every`` steps), ``"eval"`` (validation
        every ``eval_every_steps``) or ``"epoch"`` (epoch summary with training and validation metrics)."""

    def on_evaluate(self, ctx: LoopContext, metrics: dict[str, Any], improved: bool) -> None:
        """After each validation; ``improved`` says whether it is the best so far."""

    def on_epoch_end(self, ctx: LoopContext) -> None:
        """After an epoch is summarised; ``ctx.state`` already points at the next epoch."""

    def on_interrupt(self, ctx: LoopContext) -> None:
        """On ``KeyboardInterrupt``, before it propagates."""

    def on_train_end(self, ctx: LoopContext, results: dict[str, Any]) -> None:
        """After the test evaluation, with the run's final results."""

    def on_close(self, ctx: LoopContext) -> None:
        """Always called last, also after an error: release files and connections."""


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks: Iterable[Callback]):
        self.callbacks = list(callbacks)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, ctx):
        self._call("on_train_begin", ctx)

    def on_step_begin(self, ctx, batch):
        self._call("on_step_begin", ctx, batch)

    def on_after_backward(self, ctx, batch):
        self._call("on_after_backward", ctx, batch)

    def on_step_end(self, ctx, logs):
        self._call("on_step_end", ctx, logs)

    def on_log(self, ctx, record):
        self._call("on_log", ctx, record)

    def on_evaluate(self, ctx, metrics, improved):
        self._call("on_evaluate", ctx, metrics, improved)

    def on_epoch_end(self, ctx):
        self._call("on_epoch_end", ctx)

    def on_interrupt(self, ctx):
        self._call("on_interrupt", ctx)

    def on_train_end(self, ctx, results):
        self._call("on_train_end", ctx, results)

    def on_close(self, ctx):
        self._call("on_close", ctx)


class JsonlLogger(Callback):
    """Appends every log record to ``metrics.jsonl`` in the run directory."""

    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir

    def on_log(self, ctx, record):
        self.run_dir.append_metrics(record)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class ConsoleLogger(Callback):
    """One log line per validation and per epoch through the ``wave_network.training`` logger."""

    SHOWN = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro", "val_pearson")

    def on_log(self, ctx, record):
        if record["type"] == "step":
            return
        shown = " ".join(f"{k} {_fmt(record[k])}" for k in self.SHOWN if record.get(k) is not None)
        timing = f" ({record['epoch_time_s']:.1f} s)" if record.get("epoch_time_s") is not None else ""
        logger.info("%s %d step %d: %s%s", record["type"], record["epoch"], record["step"], shown, timing)

    def on_train_end(self, ctx, results):
        test = {k: v for k, v in results["metrics"].items() if k.startswith("test_") and isinstance(v, float)}
        if test:  # a run without a test split (pre-training) has none
            logger.info("test: %s", " ".join(f"{k} {_fmt(v)}" for k, v in test.items()))
        logger.info("run directory: %s", results["run_dir"])


class EarlyStopping(Callback):
    """Stop after ``patience`` validations in a row without improvement of the selection metric."""

    def __init__(self, patience: int):
        self.patience = patience

    def on_evaluate(self, ctx, metrics, improved):
        state = ctx.state
        state.bad_evals = 0 if improved else state.bad_evals + 1
        if state.bad_evals >= self.patience:
            state.should_stop = True
            state.stop_reason = "early_stopping"
            logger.info(
                "early stopping: %s has not improved for %d validations (best %s at epoch %s)",
                ctx.monitor,
                state.bad_evals,
                _fmt(state.best_metric),
                state.best_epoch,
            )


class Checkpointer(Callback):
    """``best/`` whenever validation improves; ``last/`` (resume state) after every epoch and on interrupt."""

    def __init__(self, run_dir: RunDir):
        self.run_dir = run_dir

    def on_evaluate(self, ctx, metrics, improved):
        if improved:
            replace_dir(lambda tmp: save_model_dir(ctx.model, ctx.tokenizer, tmp), self.run_dir.best)

    def save_last(self, ctx: LoopContext) -> None:
        if ctx.optimizer is None:  # a model fitted without gradients has no state to resume
            return
        save_resume_state(
            self.run_dir.last, ctx.model, ctx.tokenizer, ctx.optimizer, ctx.scheduler, ctx.state.to_dict()
        )

    def on_epoch_end(self, ctx):
        self.save_last(ctx)

    def on_interrupt(self, ctx):
        if ctx.at_step_boundary:
            self.save_last(ctx)
            logger.warning(
                "interrupted at step %d; saved %s (continue with resume=True)",
                ctx.state.global_step,
                self.run_dir.last,
            )
        else:
            logger.warning("interrupted inside a step; %s keeps the previous checkpoint", self.run_dir.last)


class TrackerCallback(Callback):
    """Sends the resolved config and every numeric log value to an experiment tracker (``cfg.tracker``)."""

    def __init__(self, kind: str, run_dir: RunDir, params: dict[str, Any]):
        self.kind, self.run_dir, self.params = kind, run_dir, params
        self.tracker: Tracker | None = None

    def on_train_begin(self, ctx):
        self.tracker = create_tracker(self.kind, self.run_dir.path, self.run_dir.path.name)
        self.tracker.log_params(self.params)

    def on_log(self, ctx, record):
        if self.tracker is None:
            return
        prefix = "train_" if record["type"] == "step" else ""
        values = {
            f"{prefix}{k}": float(v)
            for k, v in record.items()
            if k not in ("type", "step") and isinstance(v, (int, float)) and math.isfinite(v)
        }
        self.tracker.log_metrics(values, step=record["step"])

    def on_train_end(self, ctx, results):
        if self.tracker is None:
            return
        final = {k: float(v) for k, v in results["metrics"].items() if isinstance(v, (int, float))}
        self.tracker.log_metrics({k: v for k, v in final.items() if math.isfinite(v)}, step=ctx.state.global_step)

    def on_close(self, ctx):
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None
