"""The data layer: named data sets, local files and Hugging Face data sets in; tokenized, length-bucketed,
dynamically padded batches out.

    from wave_network.data import DataConfig, load_splits, get_tokenizer, tokenize_splits, make_dataloader

    cfg = DataConfig(dataset="ag_news_sample", max_length=128)
    splits = load_splits(cfg)                      # train / validation (stratified 80/20) / official test
    tokenizer = get_tokenizer(cfg.tokenizer)       # bert-base-uncased WordPiece, bundled, offline
    tokenized = tokenize_splits(splits, tokenizer, cfg.max_length)
    # or all three in one call: tokenized, tokenizer = prepare(cfg)
    pad = tokenized.pad_token_id
    loader = make_dataloader(tokenized.train, 64, shuffle=True, seed=cfg.seed, pad_token_id=pad)
    for epoch in range(4):
        loader.set_epoch(epoch)
        for batch in loader: ...                   # input_ids, attention_mask, token_type_ids, labels

Modules, one job each: ``catalog`` (the named data sets and their layouts), ``sources`` (where to look),
``readers`` (files and hub to raw ``datasets``), ``raw`` (which files, columns and label names), ``labels``
(label schemes), ``splitting`` (stratified splits), ``loading`` (``load_splits``), ``tokenization``,
``batching``, ``errors``, ``config``.
"""

from ..problem_types import ProblemType
from .batching import (
    BucketedDataLoader,
    LengthGroupedBatchSampler,
    MaskingCollator,
    PadCollator,
    make_dataloader,
    pad_batch,
)
from .catalog import TEXT_JOIN, list_datasets
from .config import DataConfig
from .errors import (
    ColumnNotFoundError,
    DataConfigError,
    DataError,
    DataFileNotFoundError,
    DatasetNotFoundError,
    EmptyDatasetError,
    EncodingError,
    InvalidLabelError,
    LabelSetError,
    MalformedRowError,
    TokenizerNotFoundError,
)
from .loading import TextSplits, load_splits
from .sources import default_cache_dir, locate_dataset
from .tokenization import TokenizedSplits, encode_texts, get_tokenizer, prepare, tokenize_splits

# The names this package exported before ``ProblemType``; kept for code that imports them.
CLASSIFICATION = ProblemType.SINGLE_LABEL
REGRESSION = ProblemType.REGRESSION

__all__ = [
    "MaskingCollator",
    "CLASSIFICATION",
    "REGRESSION",
    "TEXT_JOIN",
    "BucketedDataLoader",
    "ColumnNotFoundError",
    "DataConfig",
    "DataConfigError",
    "DataError",
    "DataFileNotFoundError",
    "DatasetNotFoundError",
    "EmptyDatasetError",
    "EncodingError",
    "InvalidLabelError",
    "LabelSetError",
    "LengthGroupedBatchSampler",
    "MalformedRowError",
    "ProblemType",
    "PadCollator",
    "TextSplits",
    "TokenizedSplits",
    "TokenizerNotFoundError",
    "default_cache_dir",
    "encode_texts",
    "get_tokenizer",
    "list_datasets",
    "load_splits",
    "locate_dataset",
    "make_dataloader",
    "pad_batch",
    "prepare",
    "tokenize_splits",
]
