"""Tokenizers and tokenized splits.

The default tokenizer is bert-base-uncased WordPiece (Devlin et al. 2019), built offline from the vocabulary
shipped in ``wave_network/resources/tokenizers/bert-base-uncased`` (the paper, arXiv 2411.02674 section 4,
uses BERT's tokenizer and vocabulary). Any other Hugging Face tokenizer name or local directory goes through
``AutoTokenizer``.

Tokenization is batched (``Dataset.map(batched=True)``), truncates to ``max_length`` and never pads: padding
is per batch, in ``batching.py``. Sentence pairs are encoded as ``[CLS] a [SEP] b [SEP]`` with token type ids
0 for ``a`` and 1 for ``b``, truncating the longer text first. Results are cached as Arrow files in
``<cache_dir>/tokenized/<key>.arrow``, the key hashing the split's ``datasets`` fingerprint, the tokenizer's
full state (vocabulary, normalisation, special tokens) and ``max_length``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import torch
from datasets.fingerprint import Hasher
from transformers import AutoTokenizer, BertTokenizerFast, PreTrainedTokenizerBase

from ..problem_types import ProblemType
from .batching import pad_batch
from .columns import column_array
from .config import DEFAULT_TOKENIZER, DataConfig
from .errors import TokenizerNotFoundError
from .loading import TextSplits, load_splits
from .sources import bundled_tokenizer_dir, default_cache_dir

# Names that mean the bundled bert-base-uncased vocabulary.
_BUNDLED = {"bert-base-uncased": "bert-base-uncased", "google-bert/bert-base-uncased": "bert-base-uncased"}
# Bump when the tokenized columns change, so caches written by older code are not reused.
_TOKENIZED_VERSION = "1"
_List = getattr(datasets, "List", datasets.Sequence)  # ``datasets.List`` replaced ``Sequence`` in datasets 4


def get_tokenizer(name_or_path: str | None = None) -> PreTrainedTokenizerBase:
    """The tokenizer ``name_or_path`` (``None``: bert-base-uncased from the package, no network needed).

    Raises:
        TokenizerNotFoundError: the name is neither bundled, a local tokenizer directory, nor loadable from
            the hub (or its cache) right now.
    """
    name = name_or_path or DEFAULT_TOKENIZER
    if name in _BUNDLED:
        tokenizer = BertTokenizerFast.from_pretrained(str(bundled_tokenizer_dir(_BUNDLED[name])))
        tokenizer.name_or_path = _BUNDLED[name]
        return tokenizer
    try:
        return AutoTokenizer.from_pretrained(name)
    except Exception as error:  # OSError, ValueError, connection errors: all mean "cannot load this tokenizer"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TokenizerNotFoundError(
            f"tokenizer {name!r} could not be loaded: {reason}. Use 'bert-base-uncased' (bundled), a local "
            "tokenizer directory, or download one where the hub is reachable with "
            f"`huggingface-cli download {name} --local-dir DIR` and pass DIR."
        ) from error


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A hash of everything that decides a tokenizer's output, but not of its transient truncation/padding
    state."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        return Hasher.hash((type(tokenizer).__name__, json.dumps(state, sort_keys=True)))
    return Hasher.hash((type(tokenizer).__name__, sorted(tokenizer.get_vocab().items()), str(tokenizer)))


def pad_token_id_of(tokenizer: PreTrainedTokenizerBase) -> int:
    """The tokenizer's pad id; 0 when it has none (GPT-2 style): padded positions are masked out anyway."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


@dataclass
class TokenizedSplits:
    """Tokenized train / validation / test splits, ready for ``make_dataloader``.

    Attributes:
        train, validation, test: ``datasets.Dataset`` with ``input_ids``, ``attention_mask``,
            ``token_type_ids`` (variable-length lists, unpadded), ``labels`` and ``length`` (tokens per
            example).
        label_names, problem_type: as in ``TextSplits``.
        provenance: the ``TextSplits`` provenance plus ``tokenization`` (tokenizer, max_length, how many
            examples reached ``max_length``, i.e. were probably truncated).
        pad_token_id, vocab_size: what the model and the collate function need.
    """

    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    label_names: list[str]
    problem_type: str
    pad_token_id: int
    vocab_size: int
    max_length: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        """Number of classes (1 for regression)."""
        return len(self.label_names) if self.problem_type == ProblemType.SINGLE_LABEL else 1

    @property
    def has_pair(self) -> bool:
        """Whether examples are sentence pairs (``[CLS] a [SEP] b [SEP]`` with segment ids 0 and 1)."""
        return bool(self.provenance.get("columns", {}).get("train", {}).get("text_pair"))


@dataclass(frozen=True)
class _Encode:
    """``datasets.map`` function: text (and text_pair) -> unpadded ids, truncated to ``max_length``."""

    tokenizer: PreTrainedTokenizerBase
    max_length: int

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        encoded = encode(self.tokenizer, batch["text"], batch.get("text_pair"), self.max_length)
        encoded["labels"] = batch["label"]
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded


def encode(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], pairs: Sequence[str] | None, max_length: int
) -> dict[str, list]:
    """Unpadded ``input_ids``, ``attention_mask`` and ``token_type_ids`` (zeros when the tokenizer has
    none)."""
    out = tokenizer(
        list(texts),
        list(pairs) if pairs is not None else None,
        truncation=True,
        max_length=max_length,
        padding=False,
        return_attention_mask=True,
        return_token_type_ids=True,
    )
    ids = out["input_ids"]
    types = out.get("token_type_ids") or [[0] * len(x) for x in ids]
    return {"input_ids": ids, "attention_mask": out["attention_mask"], "token_type_ids": types}


def tokenize_splits(
    splits: TextSplits,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 512,
    cache_dir: str | Path | None = None,
) -> TokenizedSplits:
    """Tokenize every split of ``splits`` (cached on disk; see the module docstring for the cache key)."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length={max_length!r}; expected an integer >= 2")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    (cache / "tokenized").mkdir(parents=True, exist_ok=True)
    tok_key = tokenizer_fingerprint(tokenizer)
    out = {}
    for name in ("train", "validation", "test"):
        ds = getattr(splits, name)
        key = Hasher.hash((_TOKENIZED_VERSION, ds._fingerprint, tok_key, max_length))
        features = datasets.Features(
            {
                "input_ids": _List(datasets.Value("int32")),
                "attention_mask": _List(datasets.Value("int8")),
                "token_type_ids": _List(datasets.Value("int8")),
                "labels": ds.features["label"],
                "length": datasets.Value("int32"),
            }
        )
        out[name] = ds.map(
            _Encode(tokenizer, max_length),
            batched=True,
            remove_columns=ds.column_names,
            features=features,
            cache_file_name=str(cache / "tokenized" / f"{name}-{key}.arrow"),
            new_fingerprint=key,
            desc=f"Tokenizing {name}",
        )
    stats = {}
    for name, ds in out.items():
        lengths = column_array(ds, "length")
        stats[name] = {
            "mean_length": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
            "at_max_length": int((lengths >= max_length).sum()),
        }
    provenance = dict(splits.provenance)
    provenance["notices"] = list(provenance.get("notices", []))
    for name, ds in out.items():
        if stats[name]["at_max_length"]:
            provenance["notices"].append(
                f"{stats[name]['at_max_length']:,} of {len(ds):,} {name} texts reach max_length={max_length} tokens "
                "and are cut there (--max-length)."
            )
    provenance["tokenization"] = {
        "tokenizer": tokenizer.name_or_path,
        "vocab_size": len(tokenizer),
        "max_length": max_length,
        "splits": stats,
    }
    return TokenizedSplits(
        train=out["train"],
        validation=out["validation"],
        test=out["test"],
        label_names=list(splits.label_names),
        problem_type=splits.problem_type,
        pad_token_id=pad_token_id_of(tokenizer),
        vocab_size=len(tokenizer),
        max_length=max_length,
        provenance=provenance,
    )


def prepare(
    cfg: DataConfig, tokenizer: PreTrainedTokenizerBase | None = None
) -> tuple[TokenizedSplits, PreTrainedTokenizerBase]:
    """The data set ``cfg`` describes, split and tokenized: ``load_splits``, then ``tokenize_splits`` with the
    config's ``max_length`` and ``cache_dir``. ``tokenizer`` is ``cfg.tokenizer`` unless given (a saved model's
    own). Returns the tokenized splits and the tokenizer; their ``provenance["notices"]`` is for the caller to
    show."""
    tokenizer = get_tokenizer(cfg.tokenizer) if tokenizer is None else tokenizer
    splits = load_splits(cfg)
    return tokenize_splits(splits, tokenizer, cfg.max_length, cache_dir=cfg.cache_dir), tokenizer


def encode_texts(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int = 512,
    *,
    text_pairs: Sequence[str] | None = None,
    batch_size: int = 64,
) -> Iterator[dict[str, torch.Tensor]]:
    """Model-ready batches for raw texts (prediction), in input order, each padded to its own longest example.

    Yields dicts of long tensors ``input_ids``, ``attention_mask``, ``token_type_ids`` of shape (B, T).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    if text_pairs is not None and len(text_pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text_pairs")
    pad = pad_token_id_of(tokenizer)
    for start in range(0, len(texts), batch_size):
        pairs = text_pairs[start : start + batch_size] if text_pairs is not None else None
        encoded = encode(tokenizer, texts[start : start + batch_size], pairs, max_length)
        rows = [dict(zip(encoded, values, strict=True)) for values in zip(*encoded.values(), strict=True)]
        yield pad_batch(rows, pad)
