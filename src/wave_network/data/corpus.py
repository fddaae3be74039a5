"""The unlabelled corpus of ``wave-network pretrain``: the training texts of the named data sets, never a validation,
dev or test text, tokenized into windows for the masked-token objective.

Each data set is loaded as a training run would load it (``load_splits`` with the same ``DataConfig``), and only its
training data is read, less every text of the validation split that a fine-tuning run with one of ``holdout_seeds``
would select its checkpoint on, and less any training text that is also a test (or GLUE dev) text: test and dev
texts, and those validation texts, stay unseen. Sentence pairs give both sentences as separate texts. Duplicates are
kept once (GLUE pairs repeat premises). Two texts are the same text when their token ids are (they differ only in
case or spacing), for the duplicates and for the texts left out. A text longer than a window is cut into consecutive
windows of ``max_length - 2`` tokens, each wrapped in [CLS] ... [SEP], so long reviews are read whole rather than
truncated. ``val_fraction`` of the texts (before cutting) are held out to select the pre-training checkpoint by
masked-token loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np

from ..problem_types import ProblemType
from .config import DataConfig
from .loading import load_splits
from .tokenization import TokenizedSplits, pad_token_id_of

# Every data set of ../shared/data with a training split that may be used (MNLI's 2,000 rows there are for smoke
# tests only; QNLI and QQP have no training split here).
PRETRAINING_DATASETS = ("ag_news", "dbpedia_14", "imdb", "sst2", "cola", "mrpc", "rte", "stsb", "wnli")
# Data sets whose training runs may validate on whole sentences (``DataConfig.val_split="sentences"``).
SENTENCE_SPLIT_DATASETS = ("sst2",)


@dataclass
class PretrainingCorpus(TokenizedSplits):
    """``TokenizedSplits`` of unlabelled windows (``train`` and ``validation``; ``test`` is ``None``) and the share
    of tokens the masking collator chooses (``data.MaskingCollator``)."""

    mask_prob: float = 0.15


def pretraining_corpus(
    names: Sequence[str],
    tokenizer: Any,
    *,
    max_length: int = 128,
    val_fraction: float = 0.01,
    mask_prob: float = 0.15,
    seed: int = 42,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    data_val_fraction: float = 0.2,
    holdout_seeds: Sequence[int] = (42, 43, 44),
    max_texts: int | None = None,
) -> PretrainingCorpus:
    """The corpus of the training splits of ``names`` (see the module docstring).

    Args:
        names: data set names (``list_datasets()``), e.g. ``PRETRAINING_DATASETS``.
        tokenizer: the tokenizer the fine-tuned models will use (its vocabulary is the model's).
        max_length: tokens per window, [CLS] and [SEP] included.
        val_fraction: share of the texts held out to validate pre-training (masked-token loss).
        mask_prob: share of a window's tokens that are masked (BERT's 15%).
        seed: shuffles the texts before the hold-out and ``max_texts``.
        data_dir, cache_dir: as ``DataConfig``'s (``None``: the usual data roots, ``../shared/data`` included).
        data_val_fraction: the ``DataConfig.val_fraction`` of the fine-tuning runs (their validation share).
        holdout_seeds: the seeds of the fine-tuning runs to come: a text in the validation split of any of them
            (carved by rows, and for SST-2 by whole sentences too) is left out, so no run selects its checkpoint
            on a text its starting point was pre-trained on.
        max_texts: keep this many texts after shuffling (quick runs).
    """
    if not names:
        raise ValueError("pretraining_corpus: name at least one data set")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ValueError(f"pretraining_corpus: max_length={max_length!r}; expected an integer >= 3")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"pretraining_corpus: val_fraction={val_fraction!r}; expected a number in (0, 1)")
    base = {"data_dir": data_dir, "cache_dir": cache_dir, "val_fraction": data_val_fraction}
    texts: list[str] = []
    seen: set[tuple[int, ...]] = set()
    sources = []
    for name in names:
        pool, held_out, columns = _training_texts(name, base, holdout_seeds, tokenizer)
        before, skipped = len(texts), 0
        for text, key in zip(pool, _keys(pool, tokenizer), strict=True):
            if key in held_out:
                skipped += 1
            elif key and key not in seen:
                seen.add(key)
                texts.append(text)
        sources.append(
            {
                "dataset": name,
                "columns": columns,
                "training_texts": len(pool),
                "validation_or_test_texts_excluded": skipped,
                "texts_kept": len(texts) - before,
            }
        )
    order = np.random.default_rng(seed).permutation(len(texts))
    if max_texts is not None:
        order = order[:max_texts]
    n_val = max(1, round(val_fraction * len(order)))
    if len(order) - n_val < 1:
        raise ValueError(f"pretraining_corpus: {len(order)} texts are too few to hold out {n_val} for validation")
    split_texts = {
        "validation": [texts[i] for i in order[:n_val]],
        "train": [texts[i] for i in order[n_val:]],
    }
    out = {name: _windows(part, tokenizer, max_length) for name, part in split_texts.items()}
    provenance = {
        "objective": "masked tokens",
        "sources": sources,
        "holdout_seeds": list(holdout_seeds),
        "texts": {name: len(part) for name, part in split_texts.items()},
        "windows": {name: len(ds) for name, ds in out.items()},
        "tokens": {name: int(np.sum(ds["length"])) for name, ds in out.items()},
        "max_length": max_length,
        "mask_prob": mask_prob,
        "seed": seed,
        "notices": [],
    }
    return PretrainingCorpus(
        train=out["train"],
        validation=out["validation"],
        test=None,
        label_names=[],
        problem_type=ProblemType.MASKED_LM.value,
        pad_token_id=pad_token_id_of(tokenizer),
        vocab_size=len(tokenizer),
        max_length=max_length,
        provenance=provenance,
        mask_prob=mask_prob,
    )


def _keys(texts: Sequence[str], tokenizer: Any) -> list[tuple[int, ...]]:
    """What two texts must share to count as the same text: their token ids (texts that differ only in case, white
    space or spacing around punctuation read alike to the model)."""
    keys: list[tuple[int, ...]] = []
    for start in range(0, len(texts), 1024):
        batch = list(texts[start : start + 1024])
        keys += map(tuple, tokenizer(batch, add_special_tokens=False, verbose=False)["input_ids"])
    return keys


def _training_texts(
    name: str, base: dict[str, Any], seeds: Sequence[int], tokenizer: Any
) -> tuple[list[str], set[tuple[int, ...]], list[str]]:
    """Every text of ``name``'s training data (train and validation splits of the first seed, carved by rows), the
    texts of its validation split under any of ``seeds`` and split modes that apply (with whole sentences: the
    phrases that split drops from training too) and of its test split (a text in both is left out), and the text
    columns read."""
    pools: dict[str, list[str]] = {}
    held_out: set[str] = set()
    modes = ("rows", "sentences") if name in SENTENCE_SPLIT_DATASETS else ("rows",)
    columns: list[str] = []
    for i, (seed, mode) in enumerate((s, m) for s in seeds for m in modes):
        splits = load_splits(DataConfig(dataset=name, seed=seed, val_split=mode, **base))
        columns = [c for c in ("text", "text_pair") if c in splits.train.column_names]
        for column in columns:
            train, validation = list(splits.train[column]), list(splits.validation[column])
            if i == 0:
                pools[column] = train + validation
            test = splits.test[column] if column in splits.test.column_names else []
            held_out.update(_keys([*validation, *test], tokenizer))  # a test text also in train is left out too
            if mode == "sentences":  # the phrases of validation sentences, which that split drops from training
                held_out.update(_keys(sorted(set(pools[column]) - set(train) - set(validation)), tokenizer))
    return [text for pool in pools.values() for text in pool], held_out, columns


def _windows(texts: list[str], tokenizer: Any, max_length: int) -> datasets.Dataset:
    """Each text's WordPiece ids cut into windows of ``max_length - 2`` tokens, each as [CLS] window [SEP]."""
    body = max_length - 2
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls is None or sep is None:
        raise ValueError(f"the tokenizer {tokenizer.name_or_path!r} has no [CLS] or [SEP] token to wrap windows in")
    windows: list[list[int]] = []
    for start in range(0, len(texts), 1024):
        encoded = tokenizer(texts[start : start + 1024], add_special_tokens=False, verbose=False)["input_ids"]
        for ids in encoded:
            windows += [[cls, *ids[i : i + body], sep] for i in range(0, len(ids), body)]
    return datasets.Dataset.from_dict(
        {"input_ids": windows, "length": [len(w) for w in windows]},
        features=datasets.Features(
            {"input_ids": datasets.Sequence(datasets.Value("int32")), "length": datasets.Value("int32")}
        ),
    )


__all__ = ["PRETRAINING_DATASETS", "PretrainingCorpus", "pretraining_corpus"]
