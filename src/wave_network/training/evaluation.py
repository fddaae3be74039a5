"""The one evaluation loop: logits of a model over a split, gathered over processes under torchrun, turned
into metrics. Used for validation during training, the final test evaluation and ``inference.evaluate``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..problem_types import IGNORE_INDEX, ProblemType
from .distributed import DistInfo, gather_objects
from .environment import release_free_memory
from .metrics import compute_metrics, loss_from_logits, masked_lm_metrics
from .progress import ProgressBars

# Evaluation batches between checks of the C heap's free memory: a forward pass is short, so a trim's page faults
# weigh more than in training; checking every batch cost about a third of the IMDB-shape evaluation speed.
TRIM_EVERY_BATCHES = 10

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The model inputs and labels of ``batch`` on ``device``."""
    keys = (*MODEL_INPUTS, "labels")
    return {k: v.to(device, non_blocking=True) for k, v in batch.items() if k in keys}


@dataclass
class EvalResult:
    """Metrics of one split, its number of examples and of real (non-padding) tokens, and the time taken."""

    metrics: dict[str, Any]
    examples: int
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    loader: Iterable[dict[str, torch.Tensor]],
    *,
    problem_type: str,
    prefix: str,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    dist: DistInfo | None = None,
    bars: ProgressBars | None = None,
    total: int | None = None,
) -> EvalResult:
    """Loss and metrics of ``model`` over ``loader``, named ``f"{prefix}_{metric}"``; the loss is computed
    from the logits (cross-entropy, BCE or MSE by ``problem_type``), so it does not depend on batching.

    Under torchrun each process evaluates its shard and the predictions are gathered, so all processes return
    the same metrics. Examples a sampler repeats to even out the shards are counted once, by their dataset
    index (``loader.batch_sampler`` yields the indices of each batch).

    ``ProblemType.MASKED_LM`` (pre-training) keeps no logits: each batch's masked tokens add their summed
    cross-entropy and correct first choices (see ``_evaluate_masked_lm``).
    """
    dist = dist or DistInfo()
    if problem_type == ProblemType.MASKED_LM:
        return _evaluate_masked_lm(
            model,
            loader,
            prefix=prefix,
            device=device,
            autocast_dtype=autocast_dtype,
            dist=dist,
            bars=bars or ProgressBars(enabled=False),
            total=total,
        )
    bars = bars or ProgressBars(enabled=False)
    index_batches = list(loader.batch_sampler) if dist.enabled else None
    was_training = model.training
    model.eval()
    logits_parts, label_parts = [], []
    tokens = 0
    start = time.perf_counter()
    autocast = _autocast(device, autocast_dtype)
    with autocast:
        for batch in bars.track(loader, f"{prefix} evaluation", total=total):
            batch = to_device(batch, device)
            out = model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS})
            tokens += int(batch["attention_mask"].sum())
            logits_parts.append(out.logits.float().cpu())
            label_parts.append(batch["labels"].cpu())
            if device.type == "cpu" and len(logits_parts) % TRIM_EVERY_BATCHES == 0:
                release_free_memory()  # batches of every length leave holes in the C heap (see release_free_memory)
    seconds = time.perf_counter() - start
    model.train(was_training)
    if not logits_parts and not dist.enabled:
        raise ValueError(f"the {prefix} split is empty")
    logits = torch.cat(logits_parts) if logits_parts else torch.zeros(0)
    labels = torch.cat(label_parts) if label_parts else torch.zeros(0)
    if dist.enabled:
        indices = torch.tensor([i for batch in index_batches for i in batch], dtype=torch.long)
        if len(indices) != len(logits):
            raise RuntimeError("the evaluation loader's batch_sampler does not match the batches it yielded")
        parts = gather_objects((indices, logits, labels, tokens), dist)
        indices = torch.cat([p[0] for p in parts])
        logits = torch.cat([p[1] for p in parts])
        labels = torch.cat([p[2] for p in parts])
        tokens = sum(p[3] for p in parts)
        first = _first_occurrences(indices)
        logits, labels = logits[first], labels[first]
    if len(logits) == 0:
        raise ValueError(f"the {prefix} split is empty")
    loss = loss_from_logits(logits, labels, problem_type)
    metrics = compute_metrics(logits.numpy(), labels.numpy(), problem_type, prefix=prefix, loss=loss)
    return EvalResult(metrics=metrics, examples=len(logits), tokens=tokens, seconds=seconds)


def _evaluate_masked_lm(model, loader, *, prefix, device, autocast_dtype, dist, bars, total) -> EvalResult:
    """Masked-token loss, perplexity and accuracy of ``model`` (a ``WaveForMaskedLM``) over ``loader``, whose
    batches carry their masks (``MaskingCollator``). Under torchrun the sums are added over processes (a text a
    sampler repeats to even out the shards counts twice: a few texts of a pre-training corpus)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count, tokens = 0.0, 0, 0, 0
    start = time.perf_counter()
    autocast = _autocast(device, autocast_dtype)
    with autocast:
        for i, batch in enumerate(bars.track(loader, f"{prefix} evaluation", total=total)):
            batch = to_device(batch, device)
            labels = batch["labels"]
            out = model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS}, labels=labels)
            targets = labels[labels != IGNORE_INDEX]  # (N,), in the order of out.logits
            loss_sum += float(out.loss) * len(targets)  # the model's mean over these N tokens
            correct += int((out.logits.argmax(-1) == targets).sum())
            count += len(targets)
            tokens += int(batch["attention_mask"].sum())
            if device.type == "cpu" and (i + 1) % TRIM_EVERY_BATCHES == 0:
                release_free_memory()
    seconds = time.perf_counter() - start
    model.train(was_training)
    if dist.enabled:
        parts = gather_objects((loss_sum, correct, count, tokens), dist)
        loss_sum, correct, count, tokens = (sum(p[k] for p in parts) for k in range(4))
    metrics = masked_lm_metrics(loss_sum, correct, count, prefix=prefix)
    return EvalResult(metrics=metrics, examples=count, tokens=tokens, seconds=seconds)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def _first_occurrences(indices: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each distinct value of ``indices``, in index order."""
    order = torch.argsort(indices, stable=True)
    sorted_indices = indices[order]
    keep = torch.ones_like(sorted_indices, dtype=torch.bool)
    keep[1:] = sorted_indices[1:] != sorted_indices[:-1]
    return order[keep]
