"""Gradient analysis of the follow-up paper ("The Backpropagation of the Wave Network", arXiv 2411.06989).

The paper compares, per optimisation step, the gradients reaching the [CLS] token's embedding, the whole input
text's embeddings and the classifier, for the Wave network and for Transformers; it does not publish its exact
definitions. Ours, recorded by ``GradientRecorder`` on the one training loop (a callback, no second loop):

* The *input embedding* of a token is the output of the model's token-embedding lookup
  (``model.get_input_embeddings()``), before position and segment embeddings are added: the one vector per token
  that every model here has. Its gradient is taken of the loss the optimiser steps on (the mean over the batch).
* ``cls_grad_norm``: the L2 norm of that gradient at position 0 ([CLS]) over the whole batch, i.e. the norm of the
  (B, D) block; ``cls_grad_norm_per_text`` is the mean over texts of each text's own [CLS] gradient norm.
* ``input_grad_norm`` / ``input_grad_norm_per_text``: the same over every real (non-padding) token of the text,
  the norm of the (B, T, D) block with padding masked out, and its per-text mean.
* ``classifier_grad_norm``: the L2 norm of the gradient of the classification head's parameters
  (``model.classifier``: the final linear layer for the Wave model and FNet, the dropout + linear head for
  BERT-family models, whose pooler counts as encoder); ``total_grad_norm``: every parameter, before clipping.

Wave models only, magnitude against phase. In Z = G exp(i alpha), a token's embedding reaches the loss through
the global semantics G (shared by every token of its text) and through its own phase. Holding G constant in the
backward pass (``WaveMixing.hold_global_semantics``) leaves the *phase path*; the *magnitude path* is the total
minus the phase path, so the two add up to the gradient exactly. The step is replayed with the same dropout masks
(the RNG state is restored) and the same forward values; ``split_loss_gap`` records that the replay's loss equals
the step's. Two shares are reported for the [CLS] gradient ``g = m + p``: ``cls_magnitude_share`` =
|m| / (|m| + |p|) (how large each path is) and ``cls_magnitude_projection`` = <m, g> / |g|^2 (how much of ``g``
lies along the magnitude path; the phase projection is one minus it, either can be negative).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from ..layers import WaveMixing
from ..training.callbacks import Callback
from ..training.evaluation import MODEL_INPUTS

__all__ = ["GradientRecorder", "classifier_head", "hold_global_semantics", "wave_mixings"]


def wave_mixings(model: nn.Module) -> list[WaveMixing]:
    """The wave-mixing sublayers of ``model`` (empty for models without wave layers)."""
    return [m for m in model.modules() if isinstance(m, WaveMixing)]


@contextlib.contextmanager
def hold_global_semantics(model: nn.Module) -> Iterator[None]:
    """Within the block, every wave layer of ``model`` treats its global semantics G as a constant in the backward
    pass; forward values do not change."""
    layers = wave_mixings(model)
    previous = [m.hold_global_semantics for m in layers]
    for m in layers:
        m.hold_global_semantics = True
    try:
        yield
    finally:
        for m, value in zip(layers, previous, strict=True):
            m.hold_global_semantics = value


def classifier_head(model: nn.Module) -> nn.Module:
    """The classification head whose gradient is reported (``model.classifier``)."""
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Module):
        raise ValueError(f"{type(model).__name__} has no `classifier` head; the gradient analysis needs one")
    return head


def _norm(x: Tensor) -> float:
    return float(x.double().norm())


def _per_text_mean(x: Tensor) -> float:
    return float(x.double().flatten(1).norm(dim=1).mean())


class GradientRecorder(Callback):
    """Records the gradient norms defined in this module's docstring every ``every`` optimiser steps.

    Records go to ``self.records`` and, on the process that writes the run directory, to its ``metrics.jsonl``
    as ``{"type": "gradients", ...}``. ``split_paths`` (default: whenever the model has wave layers) adds the
    magnitude/phase split, which costs one more forward and backward pass on the recorded steps.
    """

    def __init__(self, every: int = 1, split_paths: bool | None = None):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.split_paths = split_paths
        self.records: list[dict[str, Any]] = []
        self._embedding_outputs: list[Tensor] = []
        self._handle: Any = None
        self._rng: dict[str, Any] | None = None
        self._loss: float | None = None

    def _recording(self, ctx) -> bool:
        return (ctx.state.global_step + 1) % self.every == 0

    def _capture(self, module: nn.Module, inputs: Any, output: Tensor) -> Tensor | None:
        if not torch.is_grad_enabled():
            return None
        if not output.requires_grad:  # frozen embeddings: still measure the gradient that reaches them
            output = output.detach().requires_grad_(True)
        else:
            output.retain_grad()
        self._embedding_outputs.append(output)
        return output

    def on_train_begin(self, ctx):
        if ctx.dist.enabled:
            raise ValueError("the gradient analysis runs in one process; start it without torchrun")
        if not hasattr(ctx.model, "get_input_embeddings"):
            raise ValueError(f"{type(ctx.model).__name__} has no input embeddings to take gradients of")
        classifier_head(ctx.model)
        if self.split_paths is None:
            self.split_paths = bool(wave_mixings(ctx.model))
        elif self.split_paths and not wave_mixings(ctx.model):
            raise ValueError("split_paths=True needs a model with wave layers")
        self._handle = ctx.model.get_input_embeddings().register_forward_hook(self._capture)

    def on_step_begin(self, ctx, batch):
        self._embedding_outputs.clear()
        if self.split_paths and self._recording(ctx):
            self._rng = {"cpu": torch.get_rng_state()}
            if ctx.device.type == "cuda":
                self._rng["cuda"] = torch.cuda.get_rng_state(ctx.device)

    def on_after_backward(self, ctx, batch):
        if not self._recording(ctx):
            return
        if len(self._embedding_outputs) != 1:
            raise RuntimeError(
                f"expected one token-embedding lookup per step, saw {len(self._embedding_outputs)}; the gradient "
                "analysis needs a model that embeds its input once"
            )
        embedded = self._embedding_outputs[0]
        mask = batch["attention_mask"]
        T = mask.shape[1]
        # FNet pads its input to a fixed length after the batch was padded; those extra positions are padding too.
        grad = embedded.grad[:, :T].float() * mask.unsqueeze(-1).to(torch.float32)  # (B, T, D)
        head = classifier_head(ctx.model)
        record: dict[str, Any] = {
            "type": "gradients",
            "step": ctx.state.global_step + 1,
            "epoch": ctx.state.epoch + 1,
            "batch_size": int(mask.shape[0]),
            "cls_grad_norm": _norm(grad[:, 0]),
            "cls_grad_norm_per_text": _per_text_mean(grad[:, 0]),
            "input_grad_norm": _norm(grad),
            "input_grad_norm_per_text": _per_text_mean(grad),
            "classifier_grad_norm": _grad_norm(head.parameters()),
            "total_grad_norm": _grad_norm(ctx.model.parameters()),
        }
        if self.split_paths:
            record |= self._split(ctx, batch, grad[:, 0])
        self._embedding_outputs.clear()
        self.records.append(record)
        if ctx.run_dir is not None:
            ctx.run_dir.append_metrics(record)

    def _split(self, ctx, batch: dict[str, Tensor], cls_grad: Tensor) -> dict[str, float]:
        """Replay the step with G held constant: the [CLS] gradient that then remains is the phase path."""
        model = ctx.model
        devices = [ctx.device] if ctx.device.type == "cuda" else []
        self._embedding_outputs.clear()
        with torch.random.fork_rng(devices=devices), hold_global_semantics(model):
            torch.set_rng_state(self._rng["cpu"])
            if "cuda" in self._rng:
                torch.cuda.set_rng_state(self._rng["cuda"], ctx.device)
            with ctx.autocast():
                out = model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS}, labels=batch["labels"])
            (phase,) = torch.autograd.grad(out.loss, self._embedding_outputs[0])
        phase_cls = phase[:, 0].float()  # (B, D)
        magnitude_cls = cls_grad - phase_cls  # (B, D)
        m, p, g = _norm(magnitude_cls), _norm(phase_cls), _norm(cls_grad)
        projection = float((magnitude_cls.double() * cls_grad.double()).sum()) / g**2 if g > 0 else float("nan")
        return {
            "cls_grad_norm_magnitude": m,
            "cls_grad_norm_phase": p,
            "cls_magnitude_share": m / (m + p) if m + p > 0 else float("nan"),
            "cls_magnitude_projection": projection,
            "split_loss_gap": abs(float(out.loss.detach()) - self._step_loss(ctx)),
        }

    @staticmethod
    def _step_loss(ctx) -> float:
        return float(ctx.step_loss) if ctx.step_loss is not None else float("nan")

    def on_close(self, ctx):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def _grad_norm(parameters: Any) -> float:
    grads = [p.grad.detach().double().norm() for p in parameters if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0
