"""``load_splits``: a ``DataConfig`` in, train / validation / test ``datasets.Dataset`` splits out, with
columns ``text``, optional ``text_pair`` and ``label``, the label names, the problem type and a provenance
record.

Rules every split follows:

- The official training data is split 80/20 (``val_fraction``), stratified and seeded, into train and
  validation; the official test set is used only as the test set (paper, arXiv 2411.02674, section 4). For
  SST-2 the test set is the GLUE dev set.
- Columns that make one text (title and description) are joined with a single space (``catalog.TEXT_JOIN``).
- Labels become 0-based class ids (a ``ClassLabel``) or float targets; a label outside the label set is an
  error.
- Rows whose text (or text pair) is empty or whitespace only are dropped, counted and reported in
  ``provenance["dropped_empty"]``, and the split that lost them is named in ``provenance["notes"]``.
- The labels must make at least two classes; labels that mix numbers and names, or names that differ only in
  case, are refused rather than turned into extra classes. Where the task was not given (``problem_type``) and
  the data set does not define it, the inferred task is stated in ``provenance["notices"]``.
- Text values must be text: a column of numbers or lists (JSON, Parquet) is refused, not stringified.
- Every change made to the data (empty texts dropped, spaces stripped from labels) is counted in
  ``provenance["notices"]``, which the training and evaluation commands print.
- ``provenance["subset_note"]`` is set whenever a split is not the official one ("AG News, 4,999-row train
  subset ..."), so that no report calls a subset the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
from datasets.fingerprint import Hasher

from ..problem_types import ProblemType
from .catalog import TEXT_JOIN, FileSpec, get_spec
from .config import DataConfig
from .errors import (
    DataConfigError,
    DataError,
    EmptyDatasetError,
    InvalidLabelError,
    LabelSetError,
    MalformedRowError,
)
from .labels import LabelScheme, inferred_scheme, integer_scheme, is_number, named_scheme
from .raw import RawData, class_label_names, read_raw
from .sources import default_cache_dir
from .splitting import holdout, sentence_holdout, subsample

# Bump when the canonical columns change, so cached results of older code are not reused.
_CANONICAL_VERSION = "2"


@dataclass
class TextSplits:
    """Train, validation and test splits of raw text.

    Attributes:
        train, validation, test: ``datasets.Dataset`` with ``text`` (str), optional ``text_pair`` (str) and
            ``label`` (``ClassLabel`` for classification, float32 for regression).
        label_names: class names in id order (empty for regression).
        problem_type: ``"single_label_classification"`` or ``"regression"``.
        provenance: JSON-serialisable record of where the data came from and what was done to it.
    """

    train: datasets.Dataset
    validation: datasets.Dataset
    test: datasets.Dataset
    label_names: list[str]
    problem_type: str
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        """Number of classes (1 for regression: one output)."""
        return len(self.label_names) if self.problem_type == ProblemType.SINGLE_LABEL else 1

    @property
    def has_pair(self) -> bool:
        """Whether examples are sentence pairs."""
        return "text_pair" in self.train.column_names


def load_splits(cfg: DataConfig) -> TextSplits:
    """Load, validate and split the data set ``cfg`` names (see ``DataConfig`` for the search order).

    Raises:
        DatasetNotFoundError: the data set is neither local nor (reachably) on the hub.
        DataError: a subclass naming the file, row and column of bad input.
    """
    cache = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
    raw = read_raw(cfg, cache)
    scheme, inferred = _scheme(cfg, raw)
    train_full, dropped_train = _canonical(raw.train, raw.train_spec, scheme, raw.train_origin)
    _check_classes(train_full, scheme, raw)
    notices = [_task_notice(scheme, raw)] if inferred else []
    notes = []
    holdout_fn = sentence_holdout if cfg.val_split == "sentences" else holdout  # how test and validation are carved

    def carve(ds, fraction: float, seed: int):
        try:
            return holdout_fn(ds, fraction, seed)
        except DataError as error:  # too few rows: name the file they came from
            raise type(error)(f"{raw.train_origin}: {error} (splits are carved from the training rows)") from None

    if raw.test is not None:
        test, dropped_test = _canonical(raw.test, raw.test_spec, scheme, raw.test_origin)
        test_role = raw.provenance.pop("test_role")
    else:
        train_full, test, carved = carve(train_full, cfg.val_fraction, cfg.seed)
        dropped_test = 0
        test_role = f"held out of the training data ({cfg.val_fraction:.0%}; no test split was given)"
        notes.append(f"The test split is {test_role}, split {'stratified' if carved['stratified'] else 'at random'}.")
        notes += _sentence_note("test", test, carved)
    rows = {"train_file": len(raw.train), "test_file": len(raw.test) if raw.test is not None else None}
    train, validation, split = carve(train_full, cfg.val_fraction, cfg.seed)
    notes += _sentence_note("validation", validation, split)
    subsampled = {}
    if cfg.max_train_samples:
        train, subsampled["train"] = subsample(train, cfg.max_train_samples, cfg.seed)
    if cfg.max_eval_samples:
        validation, subsampled["validation"] = subsample(validation, cfg.max_eval_samples, cfg.seed)
        test, subsampled["test"] = subsample(test, cfg.max_eval_samples, cfg.seed)
    subsampled = {k: v for k, v in subsampled.items() if v is not None}
    for split_name, dropped, ds in (("train", dropped_train, raw.train), ("test", dropped_test, raw.test)):
        if dropped:
            notices.append(f"Dropped {dropped:,} of {len(ds):,} {split_name} row(s) with an empty text.")
    for split_name, ds, spec in (("train", raw.train, raw.train_spec), ("test", raw.test, raw.test_spec)):
        padded = _padded_labels(ds, spec.label) if ds is not None else 0
        if padded:
            notices.append(f"Stripped the spaces around {padded:,} {split_name} label(s): ' a ' is read as 'a'.")
    notes += notices
    for split_name, info in subsampled.items():
        notes.append(f"The {split_name} split is a {info['rows']:,}-row subsample of {info['of']:,} rows.")
    provenance = {
        **raw.provenance,
        "test_role": test_role,
        "subset_note": _subset_note(raw, subsampled),
        "label_names": list(scheme.names),
        "problem_type": scheme.problem_type,
        "target_range": list(scheme.target_range) if scheme.target_range else None,
        "columns": {"train": _columns_record(raw.train_spec), "test": _columns_record(raw.test_spec)},
        "text_join": TEXT_JOIN,
        "rows": {**rows, "train": len(train), "validation": len(validation), "test": len(test)},
        "dropped_empty": {"train": dropped_train, "test": dropped_test},
        "split": {
            "validation_fraction": cfg.val_fraction,
            "by": cfg.val_split,
            "seed": cfg.seed,
            "stratified": split["stratified"],
        },
        "subsampled": subsampled,
        "notes": notes,
        "notices": notices,
    }
    return TextSplits(train, validation, test, list(scheme.names), scheme.problem_type, provenance)


def _sentence_note(name: str, held: datasets.Dataset, info: dict) -> list[str]:
    """What a sentence-level hold-out did, for the provenance notes (nothing for a row split)."""
    if "left_out_phrases" not in info:
        return []
    return [
        f"The {name} split is {len(held):,} rows of whole sentences (of {info['sentences']:,}); "
        f"{info['left_out_phrases']:,} phrase(s) found only in them were left out of training."
    ]


def _columns_record(spec: FileSpec) -> dict[str, Any]:
    return {
        "text": list(spec.text),
        "text_pair": list(spec.text_pair),
        "label": spec.label,
        "label_offset": spec.label_offset,
    }


def _subset_note(raw: RawData, subsampled: dict) -> str | None:
    notes = []
    for spec, ds in ((raw.train_spec, raw.train), (raw.test_spec, raw.test)):
        if spec.note and ds is not None:
            notes.append(spec.note.format(rows=len(ds)))
    for split_name, info in subsampled.items():
        notes.append(f"{split_name} subsampled to {info['rows']:,} of {info['of']:,} rows")
    return "; ".join(notes) or None


def _check_classes(train: datasets.Dataset, scheme: LabelScheme, raw: RawData) -> None:
    """A classifier needs two classes in its training data (one class trains a constant, and leaves a checkpoint
    that cannot be loaded as a classifier)."""
    if scheme.problem_type != ProblemType.SINGLE_LABEL:
        return
    present = train.unique("label")
    if len(present) < 2:
        only = scheme.names[present[0]] if present else None
        raise LabelSetError(
            f"{raw.train_origin}, column {raw.train_spec.label!r}: every training row has the label {only!r}; a "
            "classifier needs at least two classes. Add rows of the other classes (or use --task regression for "
            "numeric targets)"
        )


def _task_notice(scheme: LabelScheme, raw: RawData) -> str:
    """What was inferred from the labels, and how to say otherwise."""
    where = f"column {raw.train_spec.label!r} of {raw.train_origin}"
    if scheme.problem_type == ProblemType.REGRESSION:
        return (
            f"Task: regression, inferred from the fractional labels in {where}; "
            "use --task classification to treat them as class names."
        )
    shown = ", ".join(scheme.names[:6]) + (", ..." if len(scheme.names) > 6 else "")
    other = " or --task regression to fit them as numbers" if all(map(is_number, scheme.names)) else ""
    return (
        f"Task: single-label classification with {len(scheme.names)} classes ({shown}), inferred from {where}; "
        f"use --task to state it{other}."
    )


def _padded_labels(ds: datasets.Dataset, column: str) -> int:
    values = ds.unique(column)
    padded = {v for v in values if isinstance(v, str) and v != v.strip()}
    if not padded:
        return 0
    return sum(1 for v in ds[column] if v in padded)


def _scheme(cfg: DataConfig, raw: RawData) -> tuple[LabelScheme, bool]:
    """The label scheme, and whether its task was inferred from the labels (neither given nor defined by the
    data set)."""
    if raw.integer_coded:
        names = raw.names
        if cfg.label_names is not None:
            if len(cfg.label_names) != len(names):
                raise DataConfigError(
                    f"DataConfig.label_names has {len(cfg.label_names)} names; {cfg.dataset} has "
                    f"{len(names)} classes ({', '.join(names)})"
                )
            names = cfg.label_names
        return integer_scheme(names, raw.train_spec.label_offset), False
    spec = get_spec(cfg.dataset) if cfg.train_file is None else None  # with train_file the name is a label
    if (cfg.problem_type or (spec.problem_type if spec else None)) == ProblemType.REGRESSION:
        return LabelScheme((), ProblemType.REGRESSION.value, target_range=spec.target_range if spec else None), False
    if raw.names is not None:
        return named_scheme(raw.names), False
    class_names = class_label_names(raw.train, raw.train_spec.label)
    if class_names is not None:
        return integer_scheme(class_names), False
    origin = f"{raw.train_origin}, column {raw.train_spec.label!r}"
    scheme = inferred_scheme(raw.train.unique(raw.train_spec.label), cfg.problem_type, origin)
    return scheme, cfg.problem_type is None and spec is None


@dataclass(frozen=True)
class _Canonicalize:
    """``datasets.map`` function: raw columns -> ``text``, ``text_pair``, ``label``, checking every label."""

    origin: str
    spec: FileSpec
    scheme: LabelScheme

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        for column in (*self.spec.text, *self.spec.text_pair):
            for index, value in zip(indices, batch[column], strict=True):
                if value is not None and not isinstance(value, str):
                    raise MalformedRowError(
                        f"{self.origin}, row {index + 1}, column {column!r}: holds {type(value).__name__} "
                        f"{_short(value)}, not text; a text column must hold strings (choose another "
                        "--text-column, or convert the column to text)"
                    )
        out = {"text": _join(batch, self.spec.text)}
        if self.spec.text_pair:
            out["text_pair"] = _join(batch, self.spec.text_pair)
        labels = []
        for index, value in zip(indices, batch[self.spec.label], strict=True):
            try:
                labels.append(self.scheme.encode(value))
            except ValueError:
                error = InvalidLabelError(self.origin, index + 1, self.spec.label, value, self.scheme.allowed())
                if value == -1 or value == "-1":
                    error.args = (error.args[0] + " (-1 marks an unlabelled example, as in GLUE test sets)",)
                raise error from None
        out["label"] = labels
        return out


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(batch: dict[str, list], columns: tuple[str, ...]) -> list[str]:
    parts = [batch[c] for c in columns]
    return [TEXT_JOIN.join("" if v is None else str(v) for v in row) for row in zip(*parts, strict=True)]


def _non_empty(batch: dict[str, list]) -> list[bool]:
    pairs = batch.get("text_pair") or [None] * len(batch["text"])
    return [bool(t.strip()) and (p is None or bool(p.strip())) for t, p in zip(batch["text"], pairs, strict=True)]


def _canonical(ds: datasets.Dataset, spec: FileSpec, scheme: LabelScheme, origin: str) -> tuple[datasets.Dataset, int]:
    """Canonical columns for one raw split, minus empty texts; returns the split and how many rows were
    dropped."""
    if len(ds) == 0:
        raise EmptyDatasetError(f"{origin}: no rows")
    features = {"text": datasets.Value("string")}
    if spec.text_pair:
        features["text_pair"] = datasets.Value("string")
    is_classification = scheme.problem_type == ProblemType.SINGLE_LABEL
    features["label"] = (
        datasets.ClassLabel(names=list(scheme.names)) if is_classification else datasets.Value("float32")
    )
    fn = _Canonicalize(origin, spec, scheme)
    key = (
        _CANONICAL_VERSION,
        ds._fingerprint,
        spec,
        scheme.names,
        scheme.problem_type,
        scheme.offset,
        scheme.lookup,
    )
    canonical = ds.map(
        fn,
        batched=True,
        with_indices=True,
        remove_columns=ds.column_names,
        features=datasets.Features(features),
        new_fingerprint=Hasher.hash(key),
        desc="Checking labels and texts",
    )
    kept = canonical.filter(_non_empty, batched=True, new_fingerprint=Hasher.hash((key, "non-empty")))
    if len(kept) == 0:
        raise EmptyDatasetError(f"{origin}: all {len(ds):,} rows have an empty text")
    return kept, len(canonical) - len(kept)
