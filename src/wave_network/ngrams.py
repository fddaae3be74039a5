"""Hashed token n-grams, the bag-of-n-gram features that make fastText strong (Joulin et al. 2017, section 2.2).

Position t of a text gets, for each order n, the n-gram of token ids ``ids[t-n+1 .. t]`` ending at t, hashed into one
of ``buckets`` rows (1 .. buckets; 0 means "no n-gram": fewer than n tokens so far, or padding inside the window).
The hash is a polynomial rolling hash modulo the Mersenne prime 2^31 - 1 with an order-specific final step, so the
same ids give different buckets for different orders; it is deterministic across runs, machines and devices, which
a saved model needs (Python's ``hash`` is salted per process).

Shapes: B batch, T tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["NGRAM_PRIME", "NGRAM_MULTIPLIER", "hashed_ngram_ids", "reference_ngram_ids"]

NGRAM_PRIME = 2**31 - 1
NGRAM_MULTIPLIER = 1_000_003  # products stay below 2^51, exact in int64


def hashed_ngram_ids(input_ids: Tensor, attention_mask: Tensor | None, order: int, buckets: int) -> Tensor:
    """Bucket ids (B, T) long in [0, buckets] of the order-``order`` n-gram ending at each position."""
    B, T = input_ids.shape
    out = torch.zeros(B, T, dtype=torch.long, device=input_ids.device)
    if T < order:
        return out
    ids = input_ids.long()
    valid = torch.ones_like(ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    h = torch.zeros(B, T - order + 1, dtype=torch.long, device=ids.device)
    ok = torch.ones_like(h, dtype=torch.bool)
    for k in range(order):  # oldest token first: ids[t-n+1], ..., ids[t]
        window = slice(k, T - order + 1 + k)
        h = (h * NGRAM_MULTIPLIER + ids[:, window] + 1) % NGRAM_PRIME  # (B, T-n+1)
        ok = ok & valid[:, window]
    h = (h * NGRAM_MULTIPLIER + order) % NGRAM_PRIME  # the order enters last: bigram (a, b) != trigram (0, a, b)
    out[:, order - 1 :] = torch.where(ok, h % buckets + 1, torch.zeros_like(h))
    return out


def reference_ngram_ids(ids: list[int], mask: list[int], order: int, buckets: int) -> list[int]:
    """Plain-Python reference of ``hashed_ngram_ids`` for one text (tests)."""
    out = []
    for t in range(len(ids)):
        if t < order - 1 or not all(mask[t - order + 1 : t + 1]):
            out.append(0)
            continue
        h = 0
        for token in ids[t - order + 1 : t + 1]:
            h = (h * NGRAM_MULTIPLIER + token + 1) % NGRAM_PRIME
        h = (h * NGRAM_MULTIPLIER + order) % NGRAM_PRIME
        out.append(h % buckets + 1)
    return out
