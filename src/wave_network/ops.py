"""Wave operations of the Wave Network (arXiv 2411.02674, section 3), as pure functions on real tensors.

Shapes: B batch, T tokens, D width. A complex tensor is carried as a pair ``(re, im)`` of real tensors of the same
shape, so everything here runs under bf16 autocast and exports to ONNX (no complex dtype).

Closed form (see ``docs/math.md``): with the global semantics G_k = sqrt(sum_j w_jk^2) and the phase
alpha_jk = atan2(sqrt(1 - (w_jk/G_k)^2), w_jk/G_k) of the paper, cos(alpha) = w/G and sin(alpha) >= 0, hence

    Z_jk = G_k exp(i alpha_jk) = w_jk + i sqrt(G_k^2 - w_jk^2).

The phase therefore lies in [0, pi] (the paper says (-pi, pi]); no atan2, exp or complex number is needed.

Numerical safety. ``G_k^2 - w_jk^2`` is zero when token j holds all of dimension k's energy (always for a one-token
text) and the derivative of sqrt is infinite at zero. Below a threshold ``eps * G_k^2`` the difference is rounding
noise, so the square root is set to exactly zero there with a zero gradient ("double where"); above it the exact
value and gradient are used, bounded by 1 / (2 sqrt(eps) G_k). An all-zero dimension (G_k = 0) gives Z = 0, the limit
of G exp(i alpha) as G -> 0 whatever the phase.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "ComplexPair",
    "global_semantics",
    "global_semantics_sq",
    "token2wave",
    "interference",
    "modulation",
    "modulation_real",
    "magnitude",
    "masked_mean",
    "DEFAULT_EPS",
]

ComplexPair = tuple[Tensor, Tensor]

# Relative threshold below which G^2 - w^2 is treated as zero. fp32 rounding noise in G^2 - w^2 is ~1e-7 G^2, so
# anything below 1e-6 G^2 carries no information, and the gradient of the square root stays under 500 / G.
DEFAULT_EPS = 1e-6


def _safe_sqrt(x: Tensor, threshold: Tensor | float) -> Tensor:
    """sqrt(x) where x > threshold, exactly 0 elsewhere, with a finite gradient everywhere.

    ``threshold`` must be > 0 wherever x can be 0, so the clamped square root never sees 0 and its gradient stays
    finite; the comparison then zeroes both the value and the gradient below the threshold.
    """
    return torch.where(x > threshold, x.clamp(min=threshold).sqrt(), 0.0)


def _compute_dtype(x: Tensor) -> torch.dtype:
    # Sums of squares lose too much in 16-bit floats; the wave math is elementwise and cheap, so run it in fp32.
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def global_semantics_sq(
    w: Tensor, attention_mask: Tensor | None = None, w_sq: Tensor | None = None, segments: Tensor | None = None
) -> Tensor:
    """Squared global semantics G^2 per text and dimension (paper Eq. 1): the sum of squares over real tokens.

    ``w`` is (B, T, D); ``attention_mask`` (B, T) with 1 for real tokens and 0 for padding. Padding is excluded
    here, after every bias has been added to ``w``, so the result does not depend on how much padding a batch has.
    ``w_sq`` may pass a precomputed ``w * w``. Returns (B, 1, D).

    ``segments`` (B, T) ids (the segment ids of a sentence pair) give sentence-level global semantics (paper
    Figure 6(a)): each token gets the G of its own segment, summed over the real tokens of that segment only.
    Returns (B, T, D) then.
    """
    w_sq = w * w if w_sq is None else w_sq  # (B, T, D)
    mask = torch.ones(w.shape[:2], device=w.device) if attention_mask is None else attention_mask
    if segments is None:
        if attention_mask is None:
            return w_sq.sum(dim=-2, keepdim=True)  # (B, 1, D)
        return torch.bmm(mask.unsqueeze(1).to(w_sq.dtype), w_sq)  # (B, 1, D)
    g_sq = torch.zeros_like(w_sq)  # (B, T, D)
    for segment in range(int(segments.max()) + 1 if segments.numel() else 0):
        member = (segments == segment).to(w_sq.dtype)  # (B, T)
        per_segment = torch.bmm((member * mask.to(w_sq.dtype)).unsqueeze(1), w_sq)  # (B, 1, D)
        g_sq = g_sq + member.unsqueeze(-1) * per_segment  # (B, T, D)
    return g_sq


def token2wave(
    w: Tensor,
    attention_mask: Tensor | None = None,
    eps: float = DEFAULT_EPS,
    hold_global: bool = False,
    segments: Tensor | None = None,
) -> ComplexPair:
    """Token2Wave (paper section 3.1): the complex token Z = G exp(i alpha) in closed form, as (Re, Im).

    Re Z = w, Im Z = sqrt(G^2 - w^2) with G taken over the real tokens of each text. Both parts are (B, T, D) in
    fp32 (or the input dtype when that is fp32/fp64). Values at padded positions are defined but meaningless; the
    caller keeps them out of anything that mixes tokens.

    ``hold_global=True`` gives the same values but treats G as a constant in the backward pass, so the gradient
    reaching ``w`` is the part that flows through each token's own phase (used by the gradient analysis of the
    follow-up paper, arXiv 2411.06989, to split gradients into magnitude and phase paths). ``segments`` takes G
    per segment of a sentence pair (see ``global_semantics_sq``).
    """
    w = w.to(_compute_dtype(w))
    w_sq = w * w  # (B, T, D)
    g_sq = global_semantics_sq(w, attention_mask, w_sq, segments)  # (B, 1, D), or (B, T, D) per segment
    if hold_global:
        g_sq = g_sq.detach()
    # A threshold, not a value: no gradient flows through it (saves a reduction over T in the backward pass).
    threshold = (eps * g_sq + torch.finfo(w.dtype).tiny).detach()  # like g_sq; > 0 even for an all-zero dimension
    im = _safe_sqrt(g_sq - w_sq, threshold)  # (B, T, D)
    return w, im


def global_semantics(w: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """Global semantics G (paper Eq. 1), (B, 1, D), with a finite gradient for all-zero dimensions."""
    g_sq = global_semantics_sq(w.to(_compute_dtype(w)), attention_mask)
    return _safe_sqrt(g_sq, torch.finfo(g_sq.dtype).tiny)


def interference(z1: ComplexPair, z2: ComplexPair) -> ComplexPair:
    """Wave interference (paper section 3.2): Z + Z' = (w + w') + i (s + s')."""
    return z1[0] + z2[0], z1[1] + z2[1]


def modulation(z1: ComplexPair, z2: ComplexPair) -> ComplexPair:
    """Wave modulation (paper section 3.2): Z * Z' = G G' exp(i (alpha + alpha')).

    In closed form Re = w w' - s s' and Im = w s' + w' s. Its magnitude G G' is the same for every token of a text.
    """
    (a, b), (c, d) = z1, z2
    return a * c - b * d, a * d + b * c


def modulation_real(z1: ComplexPair, z2: ComplexPair) -> Tensor:
    """Re(Z * Z') = w w' - s s' alone, for the real-part read-out (skips computing the imaginary part)."""
    return z1[0] * z2[0] - z1[1] * z2[1]


def magnitude(z: ComplexPair) -> Tensor:
    """|Z| = sqrt(Re^2 + Im^2), with a finite gradient where Z = 0."""
    sq = z[0].pow(2) + z[1].pow(2)
    return _safe_sqrt(sq, torch.finfo(sq.dtype).tiny)


def masked_mean(x: Tensor, attention_mask: Tensor | None) -> Tensor:
    """Mean over real tokens: (B, T, D) -> (B, D). Padded positions never contribute, whatever their values."""
    if attention_mask is None:
        return x.mean(dim=1)
    m = attention_mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)  # (B, D)
