"""Seeded, stratified splits and subsamples.

The paper (arXiv 2411.02674, section 4) trains on 80% of the official training data, validates on the other
20% and reports the official test set; ``holdout`` makes that 80/20 split. The row indices come from
scikit-learn's ``train_test_split`` (``stratify`` = the labels, ``random_state`` = the seed; the held-out part
has ``ceil(fraction * n)`` rows) and the splits are ``Dataset.select`` views with fingerprints derived from
the parent's, so the tokenization cache recognises them on the next run. Stratification needs class labels and
at least two examples per class; when it is impossible (regression, a class with one example, fewer rows than
classes) the split is a seeded random one instead, and the returned info says so.

``sentence_holdout`` is the validation split for training sets that hold every phrase of their sentences as rows
of their own (SST-2: 67,349 phrases of 6,885 sentences). A random row split would validate on phrases whose
sentences, and usually the phrases themselves, are in training: that measures memorisation, not the unseen whole
sentences the test set holds, and it picks the wrong epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

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


def sentence_holdout(
    ds: datasets.Dataset, fraction: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset, dict]:
    """``(train, validation, info)`` for a training set of phrases and the sentences they come from.

    A *sentence* is a row whose text (as whitespace-separated words) is no contiguous run of words of another
    row; every other row is a phrase. ``ceil(fraction x sentences)`` distinct sentences, stratified and seeded
    like ``holdout``, become the validation split (every row of a repeated sentence goes with it). Training keeps
    the other sentences and every phrase that occurs in one of them (or in no sentence at all); the phrases that
    occur only in validation sentences are left out of both splits and counted in ``info["left_out_phrases"]``,
    so no part of a validation sentence is trained on unless a training sentence holds it too, as for the test
    set.
    """
    if "text_pair" in ds.column_names:
        raise DataError("the sentence-level validation split needs single texts, not text pairs")
    words = [text.split() for text in ds["text"]]
    texts = [" ".join(w) for w in words]
    inner = {run for w in words for run in _word_runs(w, proper=True)}
    first = {}  # each sentence's first row: a sentence that occurs twice goes wholly to one side
    for i, text in enumerate(texts):
        if text and text not in inner:
            first.setdefault(text, i)
    sentences = np.array(sorted(first.values()), dtype=np.int64)
    if len(sentences) < 2:
        raise DataError(
            f"the sentence-level validation split found {len(sentences)} whole sentence(s) among {len(ds):,} rows; "
            "it is meant for phrase data sets such as SST-2 (use the default row split otherwise)"
        )
    labels = column_array(ds, "label") if isinstance(ds.features.get("label"), datasets.ClassLabel) else None
    kept, held, stratified = _split_indices(len(sentences), labels[sentences] if labels is not None else None,
                                            seed, test_size=fraction)  # fmt: skip
    held_texts = {texts[i] for i in sentences[held]}
    held_out = [i for i, text in enumerate(texts) if text in held_texts]
    in_training, in_validation = (
        {run for r in rows for run in _word_runs(words[r])} for rows in (sentences[kept], sentences[held])
    )
    train_rows = [
        i
        for i, text in enumerate(texts)
        if text not in held_texts and (text in in_training or text not in in_validation)
    ]
    left_out = len(ds) - len(train_rows) - len(held_out)
    key = Hasher.hash((ds._fingerprint, seed, fraction, stratified, "sentences"))
    train = ds.select(train_rows, new_fingerprint=f"{key}-0")
    validation = ds.select(held_out, new_fingerprint=f"{key}-1")
    info = {"fraction": fraction, "seed": seed, "stratified": stratified, "sentences": len(sentences),
            "left_out_phrases": left_out}  # fmt: skip
    return train, validation, info


def _word_runs(words: list[str], proper: bool = False) -> Iterator[str]:
    """Every contiguous run of ``words``, joined by spaces; ``proper`` leaves out the whole."""
    n = len(words)
    return (" ".join(words[i:j]) for i in range(n) for j in range(i + 1, n + 1) if not (proper and j - i == n))


def subsample(ds: datasets.Dataset, n: int, seed: int) -> tuple[datasets.Dataset, dict | None]:
    """A stratified, seeded sample of ``n`` rows (``ds`` itself when it has at most ``n``), and what was
    done."""
    if n >= len(ds):
        return ds, None
    kept, _, stratified = _split(ds, seed, train_size=n)
    return kept, {"rows": n, "of": len(ds), "seed": seed, "stratified": stratified}


def _split(ds: datasets.Dataset, seed: int, **size: float | int) -> tuple[datasets.Dataset, datasets.Dataset, bool]:
    labels = column_array(ds, "label") if isinstance(ds.features.get("label"), datasets.ClassLabel) else None
    *parts, stratified = _split_indices(len(ds), labels, seed, **size)
    key = Hasher.hash((ds._fingerprint, seed, sorted(size.items()), stratified))
    kept, held = (ds.select(p, new_fingerprint=f"{key}-{i}") for i, p in enumerate(parts))
    return kept, held, stratified


def _split_indices(
    n: int, labels: np.ndarray | None, seed: int, **size: float | int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Kept and held-out positions in ``range(n)``, stratified by ``labels`` where possible, and whether they are."""
    indices = np.arange(n)
    random_state = seed % 2**32  # scikit-learn accepts seeds in [0, 2**32)
    if labels is not None:
        try:
            kept, held = train_test_split(indices, random_state=random_state, stratify=labels, **size)
            return kept, held, True
        except ValueError:  # too few examples of some class to stratify: a random split instead
            pass
    kept, held = train_test_split(indices, random_state=random_state, **size)
    return kept, held, False
