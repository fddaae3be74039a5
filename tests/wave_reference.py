"""Float64 reference of the Wave Network equations, written straight from arXiv 2411.02674 section 3 with atan2,
exp and complex128, independent of the closed form in ``wave_network.ops``. Used by tests and the speed benchmark."""

from __future__ import annotations

import torch
from torch import Tensor


def reference_global_semantics(w: Tensor, mask: Tensor | None) -> Tensor:
    """G_k = sqrt(sum_j w_jk^2) over the real tokens (paper Eq. 1). (B, T, D) -> (B, 1, D)."""
    if mask is not None:
        w = w * mask.unsqueeze(-1).to(w.dtype)
    return torch.sqrt((w * w).sum(dim=1, keepdim=True))


def reference_token2wave(w: Tensor, mask: Tensor | None = None, g: Tensor | None = None) -> Tensor:
    """Z = G exp(i alpha), alpha = atan2(sqrt(1 - (w/G)^2), w/G) (paper Eqs. 1-3), as a complex tensor.

    Two guards the paper leaves implicit: an all-zero dimension (G = 0) has no defined ratio, and Z = 0 there
    whatever the phase; rounding can push (w/G)^2 a hair above 1, where the square root is clamped at 0.
    ``g`` passes a given global semantics (e.g. a detached one, to hold it constant in the backward pass).
    """
    g = reference_global_semantics(w, mask) if g is None else g
    ratio = torch.where(g > 0, w / torch.where(g > 0, g, torch.ones_like(g)), torch.zeros_like(w))
    alpha = torch.atan2(torch.sqrt(torch.clamp(1 - ratio**2, min=0.0)), ratio)
    return g * torch.exp(1j * alpha)


def reference_interference(z1: Tensor, z2: Tensor) -> Tensor:
    return z1 + z2


def reference_modulation(z1: Tensor, z2: Tensor) -> Tensor:
    return z1 * z2


def reference_local_semantics(w: Tensor, mask: Tensor | None, radius: int) -> Tensor:
    """G_t,k = sqrt(sum of w_jk^2 over the real tokens j with |j - t| <= radius), token by token with Python
    loops (the order-aware ``global_semantics="local"``). (B, T, D) -> (B, T, D)."""
    if mask is not None:
        w = w * mask.unsqueeze(-1).to(w.dtype)
    out = torch.zeros_like(w)
    T = w.shape[1]
    for t in range(T):
        lo, hi = max(0, t - radius), min(T, t + radius + 1)
        out[:, t] = torch.sqrt((w[:, lo:hi] ** 2).sum(dim=1))
    return out
