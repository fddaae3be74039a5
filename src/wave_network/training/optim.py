"""The optimiser of the one training loop, and gradient clipping that also handles sparse gradients.

Dense parameters train with AdamW (decoupled weight decay on matrices only, as in BERT's fine-tuning recipe).
Embedding tables built with ``sparse=True`` (``WaveConfig.sparse_embeddings``) produce sparse gradients that touch
only the rows of the batch's tokens and n-grams; they train with lazy Adam (``torch.optim.SparseAdam``: moments
and weights of the touched rows only, no weight decay), so a step costs time in the batch's tokens, not in the
table's rows. Both sit behind one ``torch.optim.Optimizer`` so the learning-rate schedule, checkpoints and resume see
one object.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["HybridAdam", "adamw_param_groups", "build_optimizer", "clip_gradients", "sparse_parameters"]


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights of every ``nn.Embedding(sparse=True)`` that trains."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse and m.weight.requires_grad]


def adamw_param_groups(
    model: nn.Module, weight_decay: float, exclude: list[nn.Parameter] | None = None
) -> list[dict[str, Any]]:
    """Weight decay on matrices and embedding tables only; biases and normalisation scales (1-D tensors) are
    not decayed, as in BERT's fine-tuning recipe. ``exclude``: parameters another optimiser owns."""
    skip = {id(p) for p in exclude or []}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in skip]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class HybridAdam(torch.optim.Optimizer):
    """AdamW on the dense parameters and ``SparseAdam`` on sparse embedding tables, stepped together.

    ``param_groups`` is the list of both optimisers' groups (the same dicts), so a learning-rate scheduler built on
    this object sets the rate of both.
    """

    def __init__(self, dense_groups: list[dict[str, Any]], sparse_params: list[nn.Parameter], lr: float):
        # The base initialiser is not called: all state lives in the two inner optimisers.
        self.dense = _adamw(dense_groups, lr)
        self.sparse = torch.optim.SparseAdam(sparse_params, lr=lr)
        self.defaults = dict(self.dense.defaults)
        self._sync_groups()

    def _sync_groups(self) -> None:
        self.param_groups = self.dense.param_groups + self.sparse.param_groups

    @property
    def state(self) -> dict[Tensor, Any]:  # type: ignore[override]
        return {**self.dense.state, **self.sparse.state}

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - the Optimizer signature
        loss = self.dense.step(closure)
        self.sparse.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        self.sparse.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"dense": self.dense.state_dict(), "sparse": self.sparse.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if set(state_dict) != {"dense", "sparse"}:
            raise ValueError(
                "optimizer state is not a HybridAdam state (keys dense, sparse): the checkpoint was written by a "
                "model without sparse embeddings; resume with the same model configuration"
            )
        self.dense.load_state_dict(state_dict["dense"])
        self.sparse.load_state_dict(state_dict["sparse"])
        self._sync_groups()  # loading replaces the inner group dicts

    def __repr__(self) -> str:
        return f"HybridAdam(dense={self.dense!r}, sparse={self.sparse!r})"


def _adamw(groups: list[dict[str, Any]], lr: float) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` with its fused kernel (one pass over each parameter's weight, gradient and moments
    instead of a dozen; the same update up to rounding) where PyTorch has one for the parameters' device."""
    devices = {p.device.type for g in groups for p in g["params"]}
    fused = bool(devices) and devices <= {"cpu", "cuda"}
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None)


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW, or ``HybridAdam`` when the model has sparse embedding tables."""
    sparse = sparse_parameters(model)
    if not sparse:
        return _adamw(adamw_param_groups(model, weight_decay), lr)
    return HybridAdam(adamw_param_groups(model, weight_decay, exclude=sparse), sparse, lr)


@torch.no_grad()
def clip_gradients(params: list[nn.Parameter], max_norm: float) -> Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (L2) that also accepts sparse gradients; returns the total norm.

    A sparse gradient from ``nn.Embedding`` lists a row once per occurrence; it is coalesced first (duplicates
    summed) so its norm is the norm of the dense gradient it stands for.
    """
    if not any(p.grad.is_sparse for p in params):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    norms = [torch.linalg.vector_norm(p.grad._values() if p.grad.is_sparse else p.grad) for p in params]
    total = torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        (p.grad._values() if p.grad.is_sparse else p.grad).mul_(coef.to(p.grad.dtype))
    return total
