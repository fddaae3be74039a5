"""Seeded, stratified splits and subsamples.

The paper (arXiv 2411.02674, section 4) trains on 80% of the official training data, validates on the other
20% and reports the official test set; ``holdout`` makes that 80/20 split. The row indices come from
scikit-learn's ``train_test_split`` (``stratify`` = the labels, ``random_state`` = the seed; the held-out part
has ``ceil(fraction * n)`` rows) and the splits are ``Dataset.select`` views with fingerprints derived from
the parent's, so the tokenization cache recognises them on the next run. Stratification needs class labels and
at least two examples per class; when it is impossible (regression, a class with one example, fewer rows than
classes) the split is a seeded random one instead, and the returned info says so.
"""

from __future__ import annotations

import datasets
import numpy as np
from datasets.fingerprint import Hasher
from sklearn.model_selection import train_test_split

from .columns import column_array
from .errors import DataError


def holdout(ds: datasets.Dataset, fraction: float, seed: int) -> tuple[datasets.Dataset, datasets.Dataset, dict]:
    """``(kept, held_out, info)`` with ``ceil(fraction * len(ds))`` rows held out."""
    if len(ds) < 2:
        raise DataError(f"cannot hold out {fraction:.0%} of {len(ds)} row(s); need at least 2 rows")
    kept, held, stratified = _split(ds, seed, test_size=fraction)
    return kept, held, {"fraction": fraction, "seed": seed, "stratified": stratified}


def subsample(ds: datasets.Dataset, n: int, seed: int) -> tuple[datasets.Dataset, dict | None]:
    """A stratified, seeded sample of ``n`` rows (``ds`` itself when it has at most ``n``), and what was
    done."""
    if n >= len(ds):
        return ds, None
    kept, _, stratified = _split(ds, seed, train_size=n)
    return kept, {"rows": n, "of": len(ds), "seed": seed, "stratified": stratified}


def _split(ds: datasets.Dataset, seed: int, **size: float | int) -> tuple[datasets.Dataset, datasets.Dataset, bool]:
    indices = np.arange(len(ds))
    random_state = seed % 2**32  # scikit-learn accepts seeds in [0, 2**32)
    stratified = isinstance(ds.features.get("label"), datasets.ClassLabel)
    parts = None
    if stratified:
        try:
            parts = train_test_split(indices, random_state=random_state, stratify=column_array(ds, "label"), **size)
        except ValueError:  # too few examples of some class to stratify: a random split instead
            stratified = False
    if parts is None:
        parts = train_test_split(indices, random_state=random_state, **size)
    key = Hasher.hash((ds._fingerprint, seed, sorted(size.items()), stratified))
    kept, held = (ds.select(p, new_fingerprint=f"{key}-{i}") for i, p in enumerate(parts))
    return kept, held, stratified
