"""The one gradient training loop (``fit``) for every model, and its counterpart for models that learn without
gradients (``fit_without_gradients``).

``fit`` runs AdamW steps with a warm-up/decay schedule, gradient clipping and optional bf16 autocast; every
side effect (logs, checkpoints, early stopping, trackers) lives in the callbacks it calls. Under torchrun the
model is wrapped in DistributedDataParallel and each process sees its shard of every global batch; losses,
counts and validation predictions are summed or gathered over processes, so all processes take the same
decisions. A non-finite loss or gradient norm stops the run with ``NonFiniteLossError`` instead of skipping
the step.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..problem_types import ProblemType
from .checkpoint import restore_rng_state
from .distributed import DistInfo, all_reduce_sum, collective_device
from .environment import release_free_memory
from .evaluation import MODEL_INPUTS, evaluate_model, to_device
from .optim import clip_gradients
from .progress import ProgressBars

# Optimiser steps between checks of the C heap's free memory (``release_free_memory``). A check costs about 30 us
# (mallinfo2); a trim, page faults in the next step, which is why it waits until 256 MB of the heap is free (an
# unconditional trim after every step cost about 30% of an AG News-shape step). Checking every 50 steps let IMDB-shape
# steps of varied lengths pile up to 800 MB of freed heap between checks (whole-run peak of wave-nb: 2,642 MB).
TRIM_EVERY_STEPS = 1

if TYPE_CHECKING:
    from .callbacks import Callback
    from .config import TrainConfig
    from .rundir import RunDir


class NonFiniteLossError(RuntimeError):
    """The training loss or gradient norm became NaN or infinite; the run stops instead of skipping steps."""

    def __init__(self, what: str, value: float, step: int, epoch: int, learning_rate: float, precision: str):
        self.what, self.value, self.step, self.epoch = what, value, step, epoch
        super().__init__(
            f"non-finite {what} ({value}) at optimiser step {step}, epoch {epoch}: the run is stopped "
            f"instead of skipping the step. Try a lower learning_rate (this step used {learning_rate:.3g}), "
            f"precision='fp32' (the run uses {precision!r}), or a smaller max_grad_norm; the last/ "
            "checkpoint holds the state at the end of the last finished epoch."
        )


@dataclass
class TrainState:
    """Loop counters and running sums; saved in ``last/`` so ``resume=True`` continues exactly."""

    epoch: int = 0  # 0-based index of the epoch in progress (== epochs when training is over)
    batch_in_epoch: int = 0  # batches of the current epoch already trained on
    global_step: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None  # 1-based, as in the logs
    best_step: int | None = None
    bad_evals: int = 0  # validations in a row without improvement (early stopping)
    should_stop: bool = False
    stop_reason: str | None = None
    last_eval_step: int | None = None
    # all validation metrics of the best checkpoint, and of the latest validation
    best_val_metrics: dict[str, Any] = field(default_factory=dict)
    last_val_metrics: dict[str, Any] = field(default_factory=dict)
    # running sums over the current epoch and the current logging window, summed over processes
    epoch_loss_sum: float = 0.0
    epoch_examples: int = 0
    epoch_correct: int = 0
    epoch_tokens: int = 0
    epoch_seconds: float = 0.0
    window_loss_sum: float = 0.0
    window_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def reset_epoch(self) -> None:
        self.batch_in_epoch = 0
        self.epoch_loss_sum = self.epoch_seconds = 0.0
        self.epoch_examples = self.epoch_correct = self.epoch_tokens = 0


@dataclass
class LoopContext:
    """What the loop and its callbacks share. ``train_model`` may be the DDP wrapper of ``model``."""

    cfg: TrainConfig
    model: nn.Module
    train_model: nn.Module
    optimizer: torch.optim.Optimizer | None  # None for a model that learns without gradients
    scheduler: Any
    tokenizer: Any
    device: torch.device
    autocast_dtype: torch.dtype | None
    problem_type: str
    label_names: Sequence[str]
    monitor: str  # validation metric that selects the best checkpoint
    mode: str  # "max" or "min"
    total_steps: int  # optimiser steps the schedule runs for
    steps_per_epoch: int
    dist: DistInfo = field(default_factory=DistInfo)
    state: TrainState = field(default_factory=TrainState)
    run_dir: RunDir | None = None  # None on processes other than rank 0
    bars: ProgressBars = field(default_factory=lambda: ProgressBars(enabled=False))
    resume_rng: dict[str, Any] | None = None  # RNG state to restore when the resumed epoch starts
    interrupt_requested: bool = False  # set by a SIGINT handler; the loop stops after the current step
    at_step_boundary: bool = True  # False while a step is half done (a checkpoint then would be inconsistent)
    last_val_stats: dict[str, float] = field(default_factory=dict)  # timing of the latest validation
    step_loss: torch.Tensor | None = None  # this process's loss of the step in progress (for callbacks)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def evaluate(self, loader: Any, prefix: str):
        """Evaluate the model on ``loader`` with the run's device, precision and process group."""
        return evaluate_model(
            self.model,
            loader,
            problem_type=self.problem_type,
            prefix=prefix,
            device=self.device,
            autocast_dtype=self.autocast_dtype,
            dist=self.dist,
            bars=self.bars,
            total=_len_or_none(loader),
        )


def _improved(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def validate(ctx: LoopContext, loader: Any, callbacks: Callback) -> dict[str, Any]:
    """Validate, update the best so far and tell the callbacks (best checkpoint, early stopping)."""
    state = ctx.state
    result = ctx.evaluate(loader, "val")
    value = result.metrics[ctx.monitor]
    improved = _improved(value, state.best_metric, ctx.mode)
    if improved:
        epoch = state.epoch + 1 if state.global_step else 0  # 0: the model as it was before the first step
        state.best_metric, state.best_epoch, state.best_step = value, epoch, state.global_step
        state.best_val_metrics = dict(result.metrics)
    state.last_eval_step = state.global_step
    state.last_val_metrics = result.metrics
    ctx.last_val_stats = {"val_seconds": result.seconds, "val_tokens_per_s": result.tokens_per_s}
    callbacks.on_evaluate(ctx, result.metrics, improved)
    return result.metrics


def _len_or_none(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _train_step(ctx: LoopContext, batch: dict[str, torch.Tensor], callbacks: Callback) -> dict[str, float]:
    """One optimiser step on one global batch; returns the global loss, learning rate and gradient norm."""
    state, cfg = ctx.state, ctx.cfg
    batch = to_device(batch, ctx.device)
    callbacks.on_step_begin(ctx, batch)
    labels = batch["labels"]
    n_local = labels.shape[0]
    # Label smoothing is the loop's, for every model: the model then returns logits only and is not asked for a
    # loss that would be thrown away.
    single_label = ctx.problem_type == ProblemType.SINGLE_LABEL
    smoothing = cfg.label_smoothing if single_label else 0.0
    with ctx.autocast():
        inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
        out = ctx.train_model(**inputs, labels=None if smoothing else labels)
    loss = F.cross_entropy(out.logits.float(), labels.long(), label_smoothing=smoothing) if smoothing else out.loss
    ctx.step_loss = loss.detach()
    correct = (out.logits.argmax(-1) == labels).sum() if single_label else labels.new_zeros(())
    # One small all-reduce per step: global loss sum, examples, correct predictions, real tokens and the
    # interrupt flag, so every process sees the same numbers and stops (or raises) at the same step.
    stats = torch.stack(
        [
            loss.detach().double() * n_local,
            torch.tensor(n_local, dtype=torch.float64, device=loss.device),
            correct.double(),
            batch["attention_mask"].sum().double(),
            torch.tensor(float(ctx.interrupt_requested), dtype=torch.float64, device=loss.device),
        ]
    ).to(collective_device(ctx.dist, ctx.device))
    loss_sum, n_global, n_correct, n_tokens, interrupt = all_reduce_sum(stats, ctx.dist).tolist()
    lr = ctx.optimizer.param_groups[0]["lr"]
    if not math.isfinite(loss_sum):
        raise NonFiniteLossError(
            "training loss", loss_sum / n_global, state.global_step + 1, state.epoch + 1, lr, cfg.precision
        )
    # DDP averages gradients over processes; weighting each process's mean loss by its share of the global
    # batch makes that average the gradient of the global mean even when the last batch splits unevenly.
    scale = n_local * ctx.dist.world_size / n_global
    ctx.at_step_boundary = False
    (loss * scale if scale != 1.0 else loss).backward()
    callbacks.on_after_backward(ctx, batch)
    params = [p for p in ctx.model.parameters() if p.grad is not None]
    max_norm = cfg.max_grad_norm if cfg.max_grad_norm is not None else float("inf")
    grad_norm = float(clip_gradients(params, max_norm))
    if not math.isfinite(grad_norm):
        raise NonFiniteLossError("gradient norm", grad_norm, state.global_step + 1, state.epoch + 1, lr, cfg.precision)
    ctx.optimizer.step()
    ctx.scheduler.step()
    ctx.optimizer.zero_grad(set_to_none=True)
    state.global_step += 1
    if ctx.device.type == "cpu" and state.global_step % TRIM_EVERY_STEPS == 0:
        release_free_memory()
    state.batch_in_epoch += 1
    state.epoch_loss_sum += loss_sum
    state.window_loss_sum += loss_sum
    state.epoch_examples += int(n_global)
    state.window_examples += int(n_global)
    state.epoch_correct += int(n_correct)
    state.epoch_tokens += int(n_tokens)
    ctx.at_step_boundary = True
    if interrupt:
        ctx.interrupt_requested = True
    return {"loss": loss_sum / n_global, "lr": lr, "grad_norm": grad_norm}


def _max_steps_reached(ctx: LoopContext) -> bool:
    max_steps = ctx.cfg.max_steps
    return max_steps is not None and ctx.state.global_step >= max_steps


def _run_epoch(ctx: LoopContext, train_loader: Any, val_loader: Any, callbacks: Callback) -> None:
    state, cfg = ctx.state, ctx.cfg
    batch_sampler = getattr(train_loader, "batch_sampler", None)
    for candidate in (train_loader, batch_sampler, getattr(train_loader, "sampler", None)):
        if hasattr(candidate, "set_epoch"):
            candidate.set_epoch(state.epoch)
            break
    if ctx.resume_rng is not None and state.batch_in_epoch == 0:
        restore_rng_state(ctx.resume_rng)
        ctx.resume_rng = None
    batches = iter(train_loader)
    if ctx.resume_rng is not None:
        # A run interrupted mid-epoch: the same batch order comes back from the sampler (seeded by seed and
        # epoch); skip what was trained on, then restore the RNG as it was at the interruption.
        for _ in range(state.batch_in_epoch):
            next(batches)
        restore_rng_state(ctx.resume_rng)
        ctx.resume_rng = None
    description = f"epoch {state.epoch + 1}/{cfg.epochs}"
    total = _len_or_none(train_loader)
    remaining = total - state.batch_in_epoch if total is not None else None
    ctx.train_model.train()
    for batch in ctx.bars.track(batches, description, total=remaining):
        if _max_steps_reached(ctx):
            break
        start = time.perf_counter()
        step_logs = _train_step(ctx, batch, callbacks)
        state.epoch_seconds += time.perf_counter() - start
        if state.global_step % cfg.log_every == 0:
            record = {
                "type": "step",
                "epoch": state.epoch + 1,
                "step": state.global_step,
                "loss": state.window_loss_sum / max(state.window_examples, 1),
                "lr": step_logs["lr"],
                "grad_norm": step_logs["grad_norm"],
            }
            state.window_loss_sum, state.window_examples = 0.0, 0
            ctx.bars.status(f"loss {record['loss']:.4f}")
            callbacks.on_log(ctx, record)
        if val_loader is not None and cfg.eval_every_steps and state.global_step % cfg.eval_every_steps == 0:
            metrics = validate(ctx, val_loader, callbacks)
            record = {"type": "eval", "epoch": state.epoch + 1, "step": state.global_step, **metrics}
            callbacks.on_log(ctx, record | ctx.last_val_stats)
        callbacks.on_step_end(ctx, step_logs)
        if ctx.interrupt_requested:
            raise KeyboardInterrupt
        if state.should_stop or _max_steps_reached(ctx):
            break


def _end_epoch(ctx: LoopContext, val_loader: Any, callbacks: Callback) -> None:
    state, cfg = ctx.state, ctx.cfg
    last_epoch = state.epoch + 1 >= cfg.epochs or _max_steps_reached(ctx) or state.should_stop
    record: dict[str, Any] = {
        "type": "epoch",
        "epoch": state.epoch + 1,
        "step": state.global_step,
        "train_loss": state.epoch_loss_sum / state.epoch_examples if state.epoch_examples else None,
        "train_accuracy": (
            state.epoch_correct / state.epoch_examples
            if ctx.problem_type == ProblemType.SINGLE_LABEL and state.epoch_examples
            else None
        ),
        "lr": ctx.optimizer.param_groups[0]["lr"] if ctx.optimizer is not None else None,
        "epoch_time_s": state.epoch_seconds,
        "train_tokens_per_s": state.epoch_tokens / state.epoch_seconds if state.epoch_seconds else None,
    }
    if val_loader is not None and ((state.epoch + 1) % cfg.eval_every == 0 or last_epoch):
        if state.last_eval_step != state.global_step:
            validate(ctx, val_loader, callbacks)
        record |= state.last_val_metrics | ctx.last_val_stats
    record["best_" + ctx.monitor] = state.best_metric
    state.epoch += 1
    state.reset_epoch()
    callbacks.on_log(ctx, record)
    callbacks.on_epoch_end(ctx)


def fit(ctx: LoopContext, train_loader: Any, val_loader: Any | None, callbacks: Callback) -> TrainState:
    """Train ``ctx.model`` until ``cfg.epochs``, ``cfg.max_steps`` or early stopping, validating on
    ``val_loader`` (``None``: no validation). ``callbacks`` is a ``CallbackList``. On ``KeyboardInterrupt``
    (raised at a step boundary after a SIGINT, or by a callback) the callbacks save ``last/``, then it
    propagates."""
    state = ctx.state
    callbacks.on_train_begin(ctx)
    try:
        at_start = state.global_step == 0 and state.best_metric is None  # not a resumed run
        if ctx.cfg.validate_at_start and val_loader is not None and at_start:
            metrics = validate(ctx, val_loader, callbacks)  # "epoch 0": kept if no epoch validates better
            callbacks.on_log(ctx, {"type": "eval", "epoch": 0, "step": 0, **metrics} | ctx.last_val_stats)
        while state.epoch < ctx.cfg.epochs and not state.should_stop and not _max_steps_reached(ctx):
            _run_epoch(ctx, train_loader, val_loader, callbacks)
            _end_epoch(ctx, val_loader, callbacks)
        if state.stop_reason is None:
            cut_short = ctx.cfg.max_steps is not None and ctx.cfg.max_steps < ctx.cfg.epochs * ctx.steps_per_epoch
            state.stop_reason = "max_steps" if cut_short else "completed"
    except KeyboardInterrupt:
        callbacks.on_interrupt(ctx)
        raise
    return state


def fit_without_gradients(
    ctx: LoopContext, train_loader: Any, val_loader: Any | None, callbacks: Callback
) -> TrainState:
    """The counterpart of ``fit`` for models that learn without gradients (``capabilities.FitsWithoutGradients``):
    one pass of ``model.fit_batches`` over the training batches, then the same validation, logs and checkpoints
    as a gradient epoch."""
    state = ctx.state
    callbacks.on_train_begin(ctx)
    if state.epoch == 0:
        start = time.perf_counter()
        batches = list(ctx.bars.track(train_loader, "fitting", total=_len_or_none(train_loader)))
        ctx.model.fit_batches(batches)
        state.epoch_seconds = time.perf_counter() - start
        state.epoch_examples = sum(len(b["labels"]) for b in batches)
        state.epoch_tokens = sum(int(b["attention_mask"].sum()) for b in batches)
        state.global_step = 1
        _end_epoch(ctx, val_loader, callbacks)
    state.stop_reason = state.stop_reason or "completed"
    return state


__all__ = [
    "LoopContext",
    "NonFiniteLossError",
    "TrainState",
    "fit",
    "fit_without_gradients",
    "validate",
]
