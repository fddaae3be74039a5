"""From a ``DataConfig`` to the raw data: which local files (or hub splits) hold the train and test data,
which columns make ``text``, ``text_pair`` and ``label``, and which label names apply. ``loading.py`` turns
the result into canonical, validated splits.

Kinds of source, decided in this order: ``train_file`` (local files), a catalogued name (``catalog.py``), a
local directory or file named as the data set, then a Hugging Face data set (``hf:owner/name[:config]`` or a
plain name outside the catalogue). Local search order: ``sources.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import datasets

from ..problem_types import ProblemType
from .catalog import DatasetSpec, FileSpec, HubSource, get_spec
from .config import DataConfig
from .errors import ColumnNotFoundError, DataError, DatasetNotFoundError
from .readers import describe, read_files, read_hub
from .sources import (
    LocalMatch,
    Search,
    find_catalogued,
    find_directory,
    find_generic,
    hub_offline,
    not_found,
    offline_reason,
)

# Columns tried, in order, when a local file or hub data set does not name its text column(s).
_TEXT_CANDIDATES = (
    ("text",),
    ("sentence",),
    ("content",),
    ("review",),
    ("document",),
    ("sentence1", "sentence2"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("question", "sentence"),
)


@dataclass
class RawData:
    """One data set as read, before canonical columns: the raw splits and what describes them."""

    train: datasets.Dataset
    test: datasets.Dataset | None
    train_spec: FileSpec
    test_spec: FileSpec
    train_origin: str
    test_origin: str | None
    names: tuple[str, ...] | None
    integer_coded: bool
    provenance: dict[str, Any]


def read_raw(cfg: DataConfig, cache: Path) -> RawData:
    """The raw train and test data ``cfg`` names (``test`` is ``None`` when there is none), read and checked
    for their columns; parsed files are cached under ``cache``."""
    if cfg.train_file is not None:
        return _read_files(cfg, cache)
    spec = get_spec(cfg.dataset)
    if spec is not None:
        return _read_catalogued(cfg, spec, cache)
    return _read_generic(cfg, cache)


def _read_files(cfg: DataConfig, cache: Path) -> RawData:
    train_path = Path(cfg.train_file).expanduser()
    train = read_files([train_path], cache)
    columns = _columns(cfg, train.column_names, str(train_path))
    test = None
    if cfg.test_file is not None:
        test_path = Path(cfg.test_file).expanduser()
        test = read_files([test_path], cache)
        _check_columns(columns, test.column_names, str(test_path))
    provenance = {
        "dataset": cfg.dataset if get_spec(cfg.dataset) is None else "local files",
        "description": "local files",
        "source": "files",
        "train_source": str(train_path.resolve()),
        "test_source": str(Path(cfg.test_file).expanduser().resolve()) if cfg.test_file else None,
        "test_role": "the given test file",
    }
    return RawData(train, test, columns, columns, str(train_path), cfg.test_file, cfg.label_names, False, provenance)


def _read_catalogued(cfg: DataConfig, spec: DatasetSpec, cache: Path) -> RawData:
    search = find_catalogued(spec, cfg.data_dir)
    if search.match is not None:
        return _from_match(cfg, search.match, cache, spec)
    if spec.bundled:
        raise not_found(spec.name, search, "not used for bundled data", None)
    hub = _hub_or_raise(spec.name, search, spec.hub, cfg)
    dd = _read_hub(spec.name, search, hub, cfg)
    train, test = dd[hub.train_split], dd[hub.test_split]
    columns = FileSpec((), text=hub.text, label=hub.label, text_pair=hub.text_pair)
    origin = f"hub {hub.repo}{':' + hub.config if hub.config else ''}"
    _check_columns(columns, train.column_names, f"{origin} [{hub.train_split}]")
    _check_columns(columns, test.column_names, f"{origin} [{hub.test_split}]")
    names = class_label_names(train, hub.label) or spec.label_names
    provenance = {
        "dataset": spec.name,
        "description": spec.description,
        "source": "hub",
        "hub": {"repo": hub.repo, "config": hub.config, "train": hub.train_split, "test": hub.test_split},
        "train_source": f"{origin} [{hub.train_split}]",
        "test_source": f"{origin} [{hub.test_split}]",
        "test_role": spec.test_role,
    }
    return RawData(
        train,
        test,
        columns,
        columns,
        provenance["train_source"],
        provenance["test_source"],
        names,
        spec.problem_type == ProblemType.SINGLE_LABEL,
        provenance,
    )


def _from_match(cfg: DataConfig, match: LocalMatch, cache: Path, spec: DatasetSpec | None) -> RawData:
    layout = match.layout
    train_spec, test_spec = layout.train, layout.test
    train = read_files(match.train_files, cache, column_names=train_spec.column_names, quoting=train_spec.quoting)
    test = None
    if match.test_files:
        test = read_files(match.test_files, cache, column_names=test_spec.column_names, quoting=test_spec.quoting)
    if spec is None:  # generic layout: the columns come from the config
        train_spec = test_spec = _columns(cfg, train.column_names, describe(match.train_files))
    _check_columns(train_spec, train.column_names, describe(match.train_files))
    if test is not None:
        _check_columns(test_spec, test.column_names, describe(match.test_files))
    names = cfg.label_names
    if spec is not None:
        names = _classes_file(match, spec) or class_label_names(train, train_spec.label) or spec.label_names
    provenance = {
        "dataset": spec.name if spec else cfg.dataset,
        "description": spec.description if spec else f"{cfg.dataset} (local files)",
        "source": "bundled" if spec is not None and spec.bundled else "local",
        "layout": layout.name,
        "location": str(match.directory.resolve()),
        "train_source": [str(p.resolve()) for p in match.train_files],
        "test_source": [str(p.resolve()) for p in match.test_files] or None,
        "test_role": _test_role(spec, layout.test),
    }
    test_origin = describe(match.test_files) if match.test_files else None
    integer_coded = spec is not None and spec.problem_type == ProblemType.SINGLE_LABEL and not train_spec.named_labels
    return RawData(
        train,
        test,
        train_spec,
        test_spec,
        describe(match.train_files),
        test_origin,
        names,
        integer_coded,
        provenance,
    )


def _read_generic(cfg: DataConfig, cache: Path) -> RawData:
    name = cfg.dataset
    as_path = Path(name).expanduser()
    if not name.startswith("hf:") and as_path.is_file():
        return _read_files(replace(cfg, train_file=str(as_path)), cache)
    if not name.startswith("hf:") and as_path.is_dir():
        search = find_directory(as_path)
        if search.match is None:
            raise not_found(name, search, "not tried for a local directory", None)
        return _from_match(cfg, search.match, cache, None)
    repo, _, config = name.removeprefix("hf:").partition(":")
    config = config or None
    search = find_generic(repo, config, cfg.data_dir)
    if search.match is not None:
        return _from_match(cfg, search.match, cache, None)
    hub = _hub_or_raise(name, search, HubSource(repo, config), cfg)
    dd = _read_hub(name, search, hub, cfg)
    if "train" not in dd:
        raise DataError(f"hub {repo}: no 'train' split (it has {', '.join(dd)}); use train_file instead")
    origin = f"hub {repo}{':' + config if config else ''}"
    columns = _columns(cfg, dd["train"].column_names, f"{origin} [train]")
    # GLUE-style test splits carry label -1 throughout: the validation split is the test set then.
    test_split = next((s for s in ("test", "validation") if s in dd and _labelled(dd[s], columns.label)), None)
    train, test = dd["train"], dd[test_split] if test_split else None
    if test is not None:
        _check_columns(columns, test.column_names, f"{origin} [{test_split}]")
    provenance = {
        "dataset": name,
        "description": f"Hugging Face data set {repo}",
        "source": "hub",
        "hub": {"repo": repo, "config": config, "train": "train", "test": test_split},
        "train_source": f"{origin} [train]",
        "test_source": f"{origin} [{test_split}]" if test_split else None,
        "test_role": f"the hub's {test_split} split" if test_split else None,
    }
    test_origin = provenance["test_source"]
    return RawData(train, test, columns, columns, f"{origin} [train]", test_origin, cfg.label_names, False, provenance)


def _test_role(spec: DatasetSpec | None, test_spec: FileSpec) -> str:
    if spec is None:
        return "the test (or validation) files found"
    return "a subset, not the official test split (see subset_note)" if test_spec.note else spec.test_role


def _read_hub(name: str, search: Search, hub: HubSource, cfg: DataConfig) -> datasets.DatasetDict:
    try:
        return read_hub(hub, Path(cfg.cache_dir).expanduser() if cfg.cache_dir else None)
    except DatasetNotFoundError as error:
        raise not_found(name, search, f"tried and failed: {error}", hub) from error


def _labelled(ds: datasets.Dataset, column: str) -> bool:
    if column not in ds.column_names:
        return True  # reported as a missing column later
    return any(v is not None and v != -1 for v in ds.unique(column))


def _hub_or_raise(name: str, search: Search, hub: HubSource | None, cfg: DataConfig) -> HubSource:
    if hub is None:
        raise not_found(name, search, "this data set has no hub copy", None)
    if cfg.data_dir is not None:
        raise not_found(name, search, "not tried, because data_dir was given", hub)
    if hub_offline():
        raise not_found(name, search, f"not tried, offline ({offline_reason()})", hub)
    return hub


def _columns(cfg: DataConfig, available: list[str], origin: str) -> FileSpec:
    label = cfg.label_column or "label"
    if label not in available:
        raise ColumnNotFoundError(origin, label, available, option="DataConfig.label_column")
    if cfg.text_columns:
        for column in cfg.text_columns:
            if column not in available:
                raise ColumnNotFoundError(origin, column, available, option="DataConfig.text_columns")
        chosen = cfg.text_columns
    else:
        chosen = next((c for c in _TEXT_CANDIDATES if all(x in available for x in c)), None)
        if chosen is None:
            raise ColumnNotFoundError(origin, "text", available, option="DataConfig.text_columns")
    return FileSpec((), text=(chosen[0],), label=label, text_pair=tuple(chosen[1:]))


def _check_columns(spec: FileSpec, available: list[str], origin: str) -> None:
    for column in (*spec.text, *spec.text_pair, spec.label):
        if column not in available:
            raise ColumnNotFoundError(origin, column, available)


def _classes_file(match: LocalMatch, spec: DatasetSpec) -> tuple[str, ...] | None:
    if match.classes_file is None:
        return None
    lines = match.classes_file.read_text(encoding="utf-8").splitlines()
    names = tuple(line.strip() for line in lines if line.strip())
    if len(names) != len(spec.label_names):
        raise DataError(
            f"{match.classes_file}: {len(names)} classes, but {spec.name} has {len(spec.label_names)} "
            f"({', '.join(spec.label_names)})"
        )
    return names


def class_label_names(ds: datasets.Dataset, column: str) -> tuple[str, ...] | None:
    feature = ds.features.get(column)
    return tuple(feature.names) if isinstance(feature, datasets.ClassLabel) else None
