"""``train(cfg)``: one run from a ``TrainConfig`` to a run directory. It prepares the process group, the
data and the model, hands them to the one training loop (``loop.fit``), then reloads the best-validation
checkpoint, evaluates it on the test split once and writes the results."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from .. import config_files, ops
from .. import data as wn_data
from ..capabilities import FitsWithoutGradients, NeedsTextStatistics
from ..configuration_wave import WaveConfig
from ..devices import resolve_device
from ..model_card import write_model_card
from ..presets import list_presets
from ..problem_types import ProblemType
from ..registry import create_masked_lm, create_model, load_pretrained_wave
from . import distributed as ddp
from .callbacks import (
    Callback,
    CallbackList,
    Checkpointer,
    ConsoleLogger,
    EarlyStopping,
    JsonlLogger,
    TrackerCallback,
)
from .checkpoint import TRAINER_STATE, load_resume_state, load_weights, recover_dir, replace_dir, save_model_dir
from .config import TrainConfig
from .environment import (
    cpu_threads,
    deterministic_mode,
    graceful_interrupt,
    release_free_memory,
    resolve_precision,
    seed_everything,
    tune_allocator,
)
from .loop import LoopContext, NonFiniteLossError, TrainState, fit, fit_without_gradients
from .metrics import selection_metric
from .optim import HybridAdam, build_optimizer, sparse_parameters
from .progress import ProgressBars, hide_library_progress_bars
from .resources import (
    describe_device,
    git_commit,
    library_versions,
    parameter_counts,
    peak_memory,
    reset_peak_memory,
)
from .rundir import (
    CONFIG,
    RESULTS,
    RUN_CONFIG,
    RunDir,
    RunDirError,
    RunDirLock,
    default_run_dir,
    to_jsonable,
)

logger = logging.getLogger("wave_network.training")


@dataclass
class RunResult:
    """What ``train`` returns: the run directory and the headline numbers of its ``results.json``."""

    run_dir: Path
    metrics: dict[str, Any]
    best_epoch: int | None
    best_metric: float | None
    monitor: str
    stop_reason: str
    results: dict[str, Any] = field(repr=False, default_factory=dict)


def train(
    cfg: TrainConfig,
    *,
    callbacks: Sequence[Callback] = (),
    data: Any | None = None,
    tokenizer: Any | None = None,
) -> RunResult:
    """Train ``cfg.model`` on ``cfg.data``, select the best epoch on the validation split, evaluate it once on
    the test split and write the run directory (see ``wave_network.training.rundir``).

    Under ``torchrun`` the same call trains data-parallel: every process runs it, rank 0 writes the files.

    Args:
        cfg: the run's configuration; ``None`` hyperparameters come from the model's preset.
        callbacks: extra ``Callback`` objects, run on every process after the built-in ones.
        data: tokenised splits (``wave_network.data.TokenizedSplits``) to use instead of ``cfg.data``.
        tokenizer: the tokenizer of ``data`` (required with ``data``); saved next to every checkpoint.
    """
    cfg = cfg.resolved()
    if (data is None) != (tokenizer is None):
        raise ValueError("train(): pass data and tokenizer together, or neither")
    tune_allocator()
    ops.set_compile(cfg.compile and ops.env_allows_compile())  # WAVE_NETWORK_COMPILE=0 wins, as documented
    info = ddp.init_distributed(resolve_device(cfg.device, option="TrainConfig.device").type)
    device = resolve_device(cfg.device, info.local_rank, option="TrainConfig.device")
    try:
        with cpu_threads(cfg.num_threads), deterministic_mode(cfg.deterministic, device):
            return _train(cfg, info, device, list(callbacks), data, tokenizer)
    finally:
        ddp.shutdown(info)


class _TokenIds:
    """The ``input_ids`` of a tokenized split as lists, read 1,024 rows at a time each time it is iterated."""

    def __init__(self, split):
        self.split = split

    def __iter__(self):
        return (ids for rows in self.split.select_columns(["input_ids"]).iter(1024) for ids in rows["input_ids"])


def _train(cfg: TrainConfig, info: ddp.DistInfo, device: torch.device, extra: list, data, tokenizer):
    started = time.time()
    with _claim_run_dir(cfg, info) as run_dir:
        return _run(cfg, info, device, extra, data, tokenizer, run_dir, started)


def _run(cfg, info, device, extra, data, tokenizer, run_dir: RunDir, started: float) -> RunResult:
    seed_everything(cfg.seed)
    if data is None:
        with hide_library_progress_bars(cfg.quiet or not info.is_main):
            data, tokenizer = _load_data(cfg, info)
    seed_everything(cfg.seed)  # model initialisation does not depend on what data loading drew
    model = _build_model(cfg, data, tokenizer).to(device)
    resume_state = None
    resuming = bool(cfg.resume) and (run_dir.last / TRAINER_STATE).exists()  # else it starts again from step 0
    if isinstance(model, NeedsTextStatistics) and not resuming:  # a resumed run restores them with the weights
        # Streamed a batch at a time: the token ids of a large corpus as Python lists would cost gigabytes.
        validation = None
        if data.validation is not None and len(data.validation) > 0:
            validation = (_TokenIds(data.validation), list(data.validation["labels"]))
        model.fit_text_statistics(_TokenIds(data.train), list(data.train["labels"]), validation=validation)
    if cfg.init_from is not None and not resuming:  # a resumed run's weights come from last/
        warm_start = load_pretrained_wave(model, cfg.init_from)
        logger.info(
            "init_from %s: %d wave-path tensors loaded%s",
            warm_start["source"],
            warm_start["loaded"],
            f"; freshly initialised: {', '.join(warm_start['initialised'])}" if warm_start["initialised"] else "",
        )
    if resuming:
        load_weights(model, run_dir.last)
        resume_state = load_resume_state(run_dir.last)
    pad_id = _pad_token_id(data, tokenizer)
    train_loader = _loader(data.train, cfg.batch_size, cfg, pad_id, info, True, _collator(data, tokenizer, None))
    has_val = data.validation is not None and len(data.validation) > 0
    val_collate = _collator(data, tokenizer, cfg.seed)
    val_loader = (
        _loader(data.validation, cfg.eval_batch_size, cfg, pad_id, info, False, val_collate) if has_val else None
    )
    ctx = _make_context(cfg, model, data, tokenizer, device, info, run_dir, steps_per_epoch=len(train_loader))
    if resume_state is not None:
        ctx.optimizer.load_state_dict(resume_state["optimizer"])
        ctx.scheduler.load_state_dict(resume_state["scheduler"])
        ctx.state = TrainState.from_dict(resume_state["loop"])
        ctx.resume_rng = resume_state["rng"]
    resolved = _resolved_config(ctx, data)
    callbacks = CallbackList(_builtin_callbacks(ctx, run_dir, resolved, has_val) + extra)
    reset_peak_memory(device)
    try:
        with ctx.bars, graceful_interrupt(ctx):
            try:
                fit_fn = fit_without_gradients if ctx.optimizer is None else fit
                fit_fn(ctx, train_loader, val_loader, callbacks)
            except NonFiniteLossError as error:
                if not run_dir.last.exists():  # no checkpoint yet: the message must not promise one
                    head = str(error).split("; the last/ checkpoint")[0]
                    error.args = (
                        f"{head}. No last/ checkpoint was written before it stopped: start the run again, with the "
                        "changes above, in another TrainConfig.output_dir",
                    )
                if info.is_main:
                    record = {"type": "error", "step": error.step, "epoch": error.epoch, "error": str(error)}
                    run_dir.append_metrics(record)
                raise
            results = _finish(ctx, data, pad_id, run_dir, started)
            callbacks.on_train_end(ctx, results)
    finally:
        callbacks.on_close(ctx)
    return RunResult(
        run_dir=run_dir.path,
        metrics=results["metrics"],
        best_epoch=ctx.state.best_epoch,
        best_metric=ctx.state.best_metric,
        monitor=ctx.monitor,
        stop_reason=ctx.state.stop_reason or "completed",
        results=results,
    )


@contextlib.contextmanager
def _claim_run_dir(cfg: TrainConfig, info: ddp.DistInfo) -> Iterator[RunDir]:
    """The run directory, decided, created and locked on rank 0 and shared with the other processes. A
    second process writing the same directory is refused (``RunDirLock``); a run that fails before writing
    anything takes the directory it created with it."""
    outcome: tuple[str | None, Exception | None] = (None, None)
    lock = created = None
    if info.is_main:
        try:
            path = _run_dir_path(cfg)
            created = path if not path.exists() else None
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise RunDirError(f"cannot create the run directory {path}: {error.strerror}") from error
            lock = RunDirLock(path).acquire()
            if cfg.resume:
                _check_resume_settings(RunDir(path), cfg)
            if not cfg.resume and RunDir(path).holds_run():
                raise FileExistsError(
                    f"TrainConfig.output_dir={str(path)!r} already holds a run; continue it with resume=True or "
                    "choose another TrainConfig.output_dir"
                )
            outcome = (str(path), None)
        except (ValueError, OSError) as error:
            if lock is not None:
                lock.release()
                lock = None
            outcome = (None, error)
    path, error = ddp.broadcast_object(outcome, info)
    if error is not None:
        if created is not None:
            RunDir(created).remove_if_empty()
        raise error
    run_dir = RunDir(path)
    try:
        yield run_dir
    except BaseException:
        if created is not None:
            run_dir.remove_if_empty()
        raise
    finally:
        if lock is not None:
            lock.release()


def _run_dir_path(cfg: TrainConfig) -> Path:
    if isinstance(cfg.resume, str):
        path = Path(cfg.resume)
        path = path.parent if path.name == "last" else path
        if cfg.output_dir is not None and Path(cfg.output_dir).resolve() != path.resolve():
            raise ValueError(
                f"TrainConfig.resume={cfg.resume!r} and TrainConfig.output_dir={cfg.output_dir!r} name "
                "different run directories; give one of them"
            )
    elif cfg.output_dir is not None:
        path = Path(cfg.output_dir)
    elif cfg.resume:
        raise ValueError("TrainConfig.resume=True needs TrainConfig.output_dir (the run directory to continue)")
    else:
        path = default_run_dir(cfg.model, cfg.data.display_name)
    run_dir = RunDir(path)
    if cfg.resume:
        recover_dir(run_dir.last)
        recover_dir(run_dir.best)
    # A run stopped before its first checkpoint resumes from step 0; a directory that holds no run is a typo.
    if cfg.resume and not (run_dir.last / TRAINER_STATE).exists() and not run_dir.holds_run():
        raise FileNotFoundError(f"TrainConfig.resume: no checkpoint to resume at {run_dir.last}")
    return path


def _load_data(cfg: TrainConfig, info: ddp.DistInfo) -> tuple[Any, Any]:
    with ddp.main_process_first(info):  # rank 0 fills the tokenisation cache; the others read it
        tokenized, tokenizer = wn_data.prepare(cfg.data)
    if info.is_main:
        for notice in tokenized.provenance.get("notices", []):  # what was inferred, dropped, stripped or cut
            logger.warning(notice)
    return tokenized, tokenizer


def _build_model(cfg: TrainConfig, data: Any, tokenizer: Any) -> torch.nn.Module:
    """``create_model`` sized for the data (labels, vocabulary), with the label names in its config; for a
    pre-training corpus (``ProblemType.MASKED_LM``), the preset's wave path with a masked-token head."""
    problem_type = data.problem_type
    if problem_type == ProblemType.MASKED_LM:
        return create_masked_lm(cfg.model, vocab_size=len(tokenizer), **cfg.model_overrides)
    num_labels = 1 if problem_type == ProblemType.REGRESSION else len(data.label_names)
    kwargs = {"num_labels": num_labels, "vocab_size": len(tokenizer), "max_length": cfg.data.max_length}
    if getattr(data, "has_pair", False) and cfg.model in list_presets():
        # Sentence pairs: the Wave model gets segment embeddings (the BERT-family baselines have their own).
        kwargs["type_vocab_size"] = 2
    kwargs |= dict(cfg.model_overrides)
    if kwargs["vocab_size"] < len(tokenizer):
        raise ValueError(
            f"TrainConfig.model_overrides['vocab_size']={kwargs['vocab_size']} is smaller than the "
            f"tokenizer's {len(tokenizer)} tokens"
        )
    model = create_model(cfg.model, **kwargs)
    config = getattr(model, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if positions and getattr(config, "position_embedding", None) != "none" and cfg.data.max_length > positions:
        # caught here for the baselines; TrainConfig already refused it for the Wave presets
        raise ValueError(
            f"DataConfig.max_length={cfg.data.max_length} is longer than the {positions} positions of model "
            f"{cfg.model!r}; lower it"
        )
    if config is not None:
        config.problem_type = problem_type
        if callable(getattr(config, "validate", None)):
            config.validate()  # rules that depend on the problem type (WaveConfig) see the data's
        if problem_type != ProblemType.REGRESSION:
            config.id2label = {i: str(name) for i, name in enumerate(data.label_names)}
            config.label2id = {str(name): i for i, name in enumerate(data.label_names)}
    return model


def _pad_token_id(data: Any, tokenizer: Any) -> int:
    pad_id = getattr(data, "pad_token_id", None)
    if pad_id is None:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return pad_id


def _collator(data: Any, tokenizer: Any, fixed_seed: int | None) -> wn_data.MaskingCollator | None:
    """The masking collator of a pre-training corpus (``fixed_seed``: the same masks at every validation), else
    ``None`` (plain padding)."""
    if data.problem_type != ProblemType.MASKED_LM:
        return None
    if tokenizer.mask_token_id is None:
        raise ValueError(f"the tokenizer {tokenizer.name_or_path!r} has no [MASK] token: it cannot pre-train")
    return wn_data.MaskingCollator(
        pad_token_id=_pad_token_id(data, tokenizer),
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        special_ids=tuple(tokenizer.all_special_ids),
        mask_prob=getattr(data, "mask_prob", 0.15),
        fixed_seed=fixed_seed,
    )


def _loader(
    dataset: Any,
    batch_size: int,
    cfg: TrainConfig,
    pad_id: int,
    info: ddp.DistInfo,
    shuffle: bool,
    collate_fn: Any = None,
):
    """A loader whose batches, over all processes together, hold ``batch_size`` examples."""
    if batch_size % info.world_size:
        raise ValueError(
            f"TrainConfig batch size {batch_size} must be divisible by the number of processes ({info.world_size})"
        )
    return wn_data.make_dataloader(
        dataset,
        batch_size // info.world_size,
        shuffle=shuffle,
        seed=cfg.seed,
        pad_token_id=pad_id,
        rank=info.rank,
        world_size=info.world_size,
        collate_fn=collate_fn,
    )


def _make_context(cfg, model, data, tokenizer, device, info, run_dir, steps_per_epoch: int) -> LoopContext:
    """Optimizer, schedule and everything else the loop shares with its callbacks."""
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    optimizer = scheduler = None
    train_model = model
    if isinstance(model, FitsWithoutGradients):
        if info.enabled:
            raise ValueError(f"model {cfg.model!r} learns without gradients; train it in one process")
    else:
        if info.enabled and sparse_parameters(model):
            raise ValueError(
                f"model {cfg.model!r} has sparse embedding tables, which distributed training does not support; "
                "train it in one process or set sparse_embeddings=false"
            )
        optimizer = build_optimizer(model, cfg.learning_rate, cfg.weight_decay)
        warmup_steps = math.ceil(cfg.warmup_ratio * total_steps)
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
        train_model = ddp.wrap_model(model, info, device)
    monitor, mode = selection_metric(data.problem_type)
    return LoopContext(
        cfg=cfg,
        model=model,
        train_model=train_model,
        optimizer=optimizer,
        scheduler=scheduler,
        tokenizer=_tokenizer_for_checkpoints(tokenizer, cfg.data.max_length),
        device=device,
        autocast_dtype=resolve_precision(cfg.precision, device),
        problem_type=data.problem_type,
        label_names=list(data.label_names or []),
        monitor=monitor,
        mode=mode,
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        dist=info,
        run_dir=run_dir if info.is_main else None,
        bars=ProgressBars(enabled=not cfg.quiet and info.is_main),
    )


def _tokenizer_for_checkpoints(tokenizer: Any, max_length: int) -> Any:
    """A copy whose ``model_max_length`` is the training ``max_length``: ``predict`` truncates alike."""
    tok = copy.deepcopy(tokenizer)
    tok.model_max_length = max_length
    tok.init_kwargs["model_max_length"] = max_length
    return tok


def _builtin_callbacks(ctx: LoopContext, run_dir: RunDir, resolved: dict, has_val: bool) -> list[Callback]:
    """Early stopping on every process; logs, checkpoints and tracking on rank 0, which also writes
    ``config.json`` and ``run.yaml`` (and, when resuming, drops log records newer than the checkpoint)."""
    cfg = ctx.cfg
    builtin: list[Callback] = []
    if cfg.early_stopping_patience is not None and has_val:
        builtin.append(EarlyStopping(cfg.early_stopping_patience))
    if not ctx.dist.is_main:
        return builtin
    if cfg.resume:
        run_dir.truncate_metrics(ctx.state.global_step)
    run_dir.write_json(CONFIG, resolved)
    config_files.write(cfg, run_dir.file(RUN_CONFIG))
    builtin += [JsonlLogger(run_dir), ConsoleLogger(), Checkpointer(run_dir)]
    if cfg.tracker != "none":
        builtin.append(TrackerCallback(cfg.tracker, run_dir, resolved))
    return builtin


def _finish(ctx: LoopContext, data: Any, pad_id: int, run_dir: RunDir, started: float) -> dict:
    """Reload the best-validation weights, evaluate them on the test split once, write ``results.json``."""
    cfg, info, state = ctx.cfg, ctx.dist, ctx.state
    _release_training_state(ctx)
    if info.is_main and not run_dir.best.exists():
        # No validation split: the final weights are the only candidate.
        replace_dir(lambda tmp: save_model_dir(ctx.model, ctx.tokenizer, tmp), run_dir.best)
    ddp.barrier(info)
    load_weights(ctx.model, run_dir.best)
    params = parameter_counts(ctx.model)  # after fitting: models fitted without gradients count their estimator
    metrics: dict[str, Any] = dict(state.best_val_metrics)
    test = None
    if data.test is not None and len(data.test) > 0:
        test_loader = _loader(data.test, cfg.eval_batch_size, cfg, pad_id, info, shuffle=False)
        test = ctx.evaluate(test_loader, "test")
        metrics |= test.metrics
    memory = peak_memory(ctx.device)
    memory["peak_memory_mb"] = ddp.all_reduce_max(memory["peak_memory_mb"], info)
    records = run_dir.read_metrics() if info.is_main else []
    epochs = [r for r in records if r.get("type") == "epoch"]
    train_speeds = [r["train_tokens_per_s"] for r in epochs if r.get("train_tokens_per_s")]
    resources = {
        "parameters": params,
        **memory,
        "wall_time_s": time.time() - started,
        "epoch_times_s": [r.get("epoch_time_s") for r in epochs],
        "train_tokens_per_s": float(np.mean(train_speeds)) if train_speeds else None,
        "eval_tokens_per_s": test.tokens_per_s if test is not None else None,
        "world_size": info.world_size,
        "num_threads": torch.get_num_threads(),
    }
    git = git_commit()
    results = {
        "model": cfg.model,
        "dataset": cfg.data.display_name,
        "seed": cfg.seed,
        "command": list(sys.argv),
        "run_dir": str(run_dir.path),
        "metrics": metrics,
        "selection": {
            "split": "validation",
            "monitor": ctx.monitor,
            "mode": ctx.mode,
            "best_epoch": state.best_epoch,
            "best_step": state.best_step,
            "best_value": state.best_metric,
        },
        "stop_reason": state.stop_reason,
        "epochs_completed": state.epoch,
        "global_steps": state.global_step,
        "problem_type": ctx.problem_type,
        "label_names": ctx.label_names,
        "resources": resources,
        "device": describe_device(ctx.device),
        "precision": "bf16" if ctx.autocast_dtype == torch.bfloat16 else "fp32",
        "versions": library_versions(),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "dataset_provenance": getattr(data, "provenance", None),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if info.is_main:
        # The record only: figures are drawn from it afterwards (wave_network.reporting.report_run).
        run_dir.write_json(RESULTS, results)
        classifier = ctx.problem_type != ProblemType.MASKED_LM
        if classifier and getattr(ctx.model.config, "model_type", None) == WaveConfig.model_type:
            write_model_card(run_dir.best, ctx.model.config, results)
    return results


def _release_training_state(ctx: LoopContext) -> None:
    """Drop the optimiser's moments and the gradients once training is over (``last/`` holds them for a resume):
    for ``paper-modulation`` that is 3 x its 23.4M-weight token table, about 280 MB, which the test evaluation
    would otherwise add to."""
    ctx.model.zero_grad(set_to_none=True)
    optimizer = ctx.optimizer
    inners = [optimizer.dense, optimizer.sparse] if isinstance(optimizer, HybridAdam) else [optimizer]
    for inner in inners:
        if inner is not None:
            inner.state.clear()
    if ctx.device.type == "cpu":
        release_free_memory()


def _resolved_config(ctx: LoopContext, data: Any) -> dict[str, Any]:
    """``config.json``: the resolved ``TrainConfig``, the model's full config and what follows from both."""
    cfg, model = ctx.cfg, ctx.model
    return {
        "train": cfg.to_dict(),
        "model_config": model.config.to_dict() if hasattr(model, "config") else None,
        "problem_type": data.problem_type,
        "label_names": list(data.label_names or []),
        "world_size": ctx.dist.world_size,
        "per_process_batch_size": cfg.batch_size // ctx.dist.world_size,
        "steps_per_epoch": ctx.steps_per_epoch,
        "total_steps": ctx.total_steps,
        "warmup_steps": math.ceil(cfg.warmup_ratio * ctx.total_steps),
        "autocast_dtype": str(ctx.autocast_dtype) if ctx.autocast_dtype is not None else None,
    }


# Options that change neither the weights nor the record: a resumed run may differ in these.
_RESUME_FREE = {"resume", "quiet", "num_threads", "tracker", "output_dir", "data.cache_dir"}


def _check_resume_settings(run_dir: RunDir, cfg: TrainConfig) -> None:
    """Refuse to resume with settings other than the run's own: the weights in ``last/`` were trained with
    those, and ``config.json`` and ``results.json`` would otherwise claim settings they were not trained with."""
    if not run_dir.file(CONFIG).exists():
        return
    before = _flatten(run_dir.read_json(CONFIG).get("train", {}))
    now = _flatten(json.loads(json.dumps(to_jsonable(cfg.to_dict()))))
    free = _RESUME_FREE | set(cfg.unread_fields())
    changed = [k for k in sorted(set(before) | set(now)) if k not in free and before.get(k) != now.get(k)]
    if changed:
        shown = "; ".join(f"{_config_name(k)} {before.get(k)!r} (now {now.get(k)!r})" for k in changed)
        raise ValueError(
            f"{run_dir.path} was trained with other settings: {shown}. A resumed run continues with the settings "
            "it was trained with (see its config.json): give the same options, or start a new run in another "
            "TrainConfig.output_dir"
        )


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in values.items() if k != "data"}
    flat |= {f"data.{k}": v for k, v in (values.get("data") or {}).items()}
    return flat


def _config_name(key: str) -> str:
    return f"DataConfig.{key[5:]}" if key.startswith("data.") else f"TrainConfig.{key}"
