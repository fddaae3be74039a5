"""Embedding-independence analysis of the follow-up paper (arXiv 2411.06989).

The paper argues that the Wave network's [CLS] embedding dimensions are more independent than a Transformer's,
from the eigenvalues of their covariance, and shows a KDE of an "eigenvalue ratio" per batch that for the Wave
network "clusters around 0.28". It does not define the ratio. Ours, for a set of representations X (N, D) with
covariance C = cov(X) and eigenvalues l_1 >= ... >= l_r > 0 (r = min(N - 1, D) numerically non-zero ones):

* ``largest_over_sum`` = l_1 / sum(l): the share of variance in the leading direction (1/r when all directions
  carry the same variance, 1 when one direction carries it all); the default.
* ``smallest_over_largest`` = l_r / l_1 over the r eigenvalues a sample of N can have (inverse condition number).
* ``effective_rank`` = exp(H(p)), p = l / sum(l) (Roy and Vetterli 2007), as a fraction of r in
  ``effective_rank_fraction``.

Representations (``representation``): ``"cls"`` is the last layer's vector at position 0 ([CLS]) as the paper
analyses it; ``"pooled"`` is what the classifier reads (BERT's tanh pooler output, the Wave model's pooled vector).
Statistics are computed over the whole evaluated set and per batch of ``batch_size`` texts (the KDE).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..training.evaluation import MODEL_INPUTS, to_device
from .gradients import classifier_head

__all__ = [
    "RATIOS",
    "REPRESENTATIONS",
    "collect_representations",
    "covariance_spectrum",
    "independence_statistics",
    "spectrum_statistics",
]

RATIOS = ("largest_over_sum", "smallest_over_largest", "effective_rank_fraction")
REPRESENTATIONS = ("cls", "pooled")


@torch.no_grad()
def collect_representations(
    model: torch.nn.Module, loader: Any, representation: str = "cls", device: str | torch.device = "cpu"
) -> np.ndarray:
    """(N, D) float64 array of one representation per text of ``loader``, in fp32, in evaluation mode."""
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {list(REPRESENTATIONS)}, got {representation!r}")
    device = torch.device(device)
    model.eval()
    captured: list[torch.Tensor] = []
    handle = None
    if representation == "pooled":
        handle = classifier_head(model).register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    parts = []
    try:
        for batch in loader:
            batch = to_device(batch, device)
            inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
            if representation == "pooled":
                captured.clear()
                model(**inputs)
                parts.append(captured[-1].float().cpu())
            else:
                out = model(**inputs, output_hidden_states=True)
                if getattr(out, "hidden_states", None) is None:
                    raise ValueError(f"{type(model).__name__} returns no hidden states; use representation='pooled'")
                parts.append(out.hidden_states[-1][:, 0].float().cpu())
    finally:
        if handle is not None:
            handle.remove()
    if not parts:
        raise ValueError("no texts to compute representations of")
    return torch.cat(parts).double().numpy()


# Representations come out of fp32 models: singular values below max(N, D) * eps(fp32) of the largest are rounding
# noise (NumPy's matrix_rank tolerance for fp32 data), so the eigenvalues they give are not counted.
FP32_EPS = float(np.finfo(np.float32).eps)


def covariance_spectrum(x: np.ndarray, eps: float = FP32_EPS) -> np.ndarray:
    """Eigenvalues of the sample covariance of the rows of ``x`` (N, D), largest first, without the numerically
    zero ones: at most min(N - 1, D) can be non-zero, and those whose singular value is below
    ``max(N, D) * eps`` of the largest are rounding noise of ``eps``-precision data."""
    if x.shape[0] < 2:
        raise ValueError("a covariance needs at least two texts")
    centred = x - x.mean(axis=0, keepdims=True)
    # Singular values of the centred data give the covariance eigenvalues without forming a D x D matrix.
    s = np.sort(np.linalg.svd(centred, compute_uv=False))[::-1]
    if s[0] <= 0:
        return s[:0]
    s = s[s > s[0] * max(x.shape) * eps]
    return s**2 / (x.shape[0] - 1)


def spectrum_statistics(eig: np.ndarray) -> dict[str, float]:
    """The three ratios of this module's docstring, plus the effective rank itself and r."""
    if len(eig) == 0:
        nan = float("nan")
        return {"largest_over_sum": nan, "smallest_over_largest": nan, "effective_rank": nan,
                "effective_rank_fraction": nan, "rank": 0}  # fmt: skip
    p = eig / eig.sum()
    effective = float(np.exp(-(p * np.log(p)).sum()))
    return {
        "largest_over_sum": float(p[0]),
        "smallest_over_largest": float(eig[-1] / eig[0]),
        "effective_rank": effective,
        "effective_rank_fraction": effective / len(eig),
        "rank": len(eig),
    }


def independence_statistics(x: np.ndarray, batch_size: int = 32, seed: int = 0) -> dict[str, Any]:
    """Spectrum statistics over all of ``x`` and their per-batch values: the rows are shuffled (``seed``) and cut
    into batches of ``batch_size``, as a training batch would be drawn; a last, smaller batch is dropped so every
    batch has the same rank limit."""
    eig = covariance_spectrum(x)
    x = x[np.random.default_rng(seed).permutation(x.shape[0])]
    per_batch: dict[str, list[float]] = {name: [] for name in RATIOS}
    for start in range(0, x.shape[0] - batch_size + 1, batch_size):
        stats = spectrum_statistics(covariance_spectrum(x[start : start + batch_size]))
        for name in RATIOS:
            per_batch[name].append(stats[name])
    return {
        "texts": int(x.shape[0]),
        "dim": int(x.shape[1]),
        "overall": spectrum_statistics(eig),
        "eigenvalues": eig.tolist(),
        "per_batch": per_batch,
        "per_batch_summary": {
            name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "median": float(np.median(v))}
            for name, v in per_batch.items()
            if v
        },
    }
