"""Where data comes from: the bundled resources, local directories (in a fixed search order), the hub, and the
cache directory. Nothing here reads a data file; it only finds them.

Search order for a catalogued data set (``catalog.py``):

1. ``data_dir`` when given (``<data_dir>/<dirname>`` for each of the data set's directory names, then
   ``data_dir`` itself); when ``data_dir`` is given nothing else is searched, so a typo never falls back to
   other data silently.
2. Otherwise ``$WAVE_NETWORK_DATA_DIR/<dirname>``, then ``../shared/data/<dirname>`` relative to the working
   directory and to the repository checkout (the layout of this project's shared data and CI).
3. Then the hub, unless ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` is set.

Within a directory the data set's layouts are tried in catalogue order (full official files before subsets).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .catalog import DatasetSpec, HubSource, Layout, generic_layouts, get_spec
from .errors import DatasetNotFoundError

ENV_DATA_DIR = "WAVE_NETWORK_DATA_DIR"
ENV_CACHE = "WAVE_NETWORK_CACHE"
OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_TRUE = {"1", "true", "yes", "on"}
# src/wave_network/data/sources.py -> parents[3] is the checkout; its sibling ``shared/data`` is the shared
# data.
_REPO_ROOT = Path(__file__).resolve().parents[3]


def resources_dir() -> Path:
    """The package's bundled resources (installed as plain files: ``resources/**/*`` package data)."""
    return Path(str(resources.files("wave_network") / "resources"))


def bundled_tokenizer_dir(name: str = "bert-base-uncased") -> Path:
    """The directory of a tokenizer shipped with the package."""
    return resources_dir() / "tokenizers" / name


def default_cache_dir() -> Path:
    """``$WAVE_NETWORK_CACHE`` or ``~/.cache/wave_network``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wave_network"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` is set to a true value (read at call time)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in OFFLINE_ENV)


def offline_reason() -> str:
    """Which variable made us offline, for messages."""
    names = [n for n in OFFLINE_ENV if os.environ.get(n, "").strip().lower() in _TRUE]
    return " and ".join(f"{n}={os.environ[n]}" for n in names)


def shared_data_roots() -> list[Path]:
    """Roots searched when no ``data_dir`` is given: ``$WAVE_NETWORK_DATA_DIR``, then ``../shared/data``
    relative to the working directory and to the repository (deduplicated; missing ones are kept for error
    messages)."""
    candidates = []
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        candidates.append(Path(env).expanduser())
    candidates += [Path.cwd().parent / "shared" / "data", _REPO_ROOT.parent / "shared" / "data"]
    unique: list[Path] = []
    for path in candidates:
        if all(path.resolve() != p.resolve() for p in unique):
            unique.append(path)
    return unique


@dataclass(frozen=True)
class LocalMatch:
    """A layout found in a directory: the files of each split (``test_files`` may be empty for generic
    data)."""

    directory: Path
    layout: Layout
    train_files: tuple[Path, ...]
    test_files: tuple[Path, ...]
    classes_file: Path | None


@dataclass
class Search:
    """The outcome of a local search: the match, or every place that was tried (for the not-found message)."""

    match: LocalMatch | None
    tried: list[str]
    layouts: tuple[Layout, ...]


def first_match(directory: Path, patterns: tuple[str, ...]) -> tuple[Path, ...]:
    """All files matching the first pattern of ``patterns`` that matches anything in ``directory``, sorted."""
    for pattern in patterns:
        found = sorted(p for p in directory.glob(pattern) if p.is_file())
        if found:
            return tuple(found)
    return ()


def match_layout(directory: Path, layout: Layout, *, need_test: bool = True) -> LocalMatch | None:
    """``layout`` in ``directory``, or ``None`` when its train file (or, with ``need_test``, test file) is
    missing."""
    train = first_match(directory, layout.train.patterns)
    test = first_match(directory, layout.test.patterns)
    if not train or (need_test and not test):
        return None
    classes = directory / layout.classes_file if layout.classes_file else None
    return LocalMatch(directory, layout, train, test, classes if classes and classes.is_file() else None)


def _search(dirs: list[Path], layouts: tuple[Layout, ...], *, need_test: bool) -> Search:
    tried = []
    for directory in dirs:
        if not directory.is_dir():
            tried.append(f"{directory} (no such directory)")
            continue
        for layout in layouts:
            match = match_layout(directory, layout, need_test=need_test)
            if match is not None:
                return Search(match, tried, layouts)
        tried.append(f"{directory} (exists; no layout matched{_config_hint(directory)})")
    return Search(None, tried, layouts)


def _config_hint(directory: Path) -> str:
    configs = sorted({p.parent.name for p in directory.glob("*/train-*.parquet")} - {"data"})
    return f"; it holds the configs {', '.join(configs)}: name one as hf:owner/name:config" if configs else ""


def _unset_env_note(search: Search, data_dir: str | Path | None) -> Search:
    if data_dir is None and not os.environ.get(ENV_DATA_DIR) and search.match is None:
        search.tried.insert(0, f"${ENV_DATA_DIR} (not set)")
    return search


def _dirs(dirnames: tuple[str, ...], data_dir: str | Path | None) -> list[Path]:
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [root / d for d in dirnames] + [root]
    return [root / d for root in shared_data_roots() for d in dirnames]


def find_catalogued(spec: DatasetSpec, data_dir: str | Path | None) -> Search:
    """Search for a catalogued data set in the order described in the module docstring."""
    if spec.bundled:
        return _search([resources_dir() / "data" / spec.name], spec.layouts, need_test=True)
    return _unset_env_note(_search(_dirs(spec.dirnames, data_dir), spec.layouts, need_test=True), data_dir)


def find_generic(repo: str, config: str | None, data_dir: str | Path | None) -> Search:
    """Search for a data set outside the catalogue, named by its hub id: ``<root>/<name>`` and
    ``<root>/<owner>/<name>`` under the same roots as catalogued data; with ``data_dir``, also ``data_dir``
    itself."""
    dirnames = tuple(dict.fromkeys((repo.split("/")[-1], repo)))
    return _unset_env_note(_search(_dirs(dirnames, data_dir), generic_layouts(config), need_test=False), data_dir)


def find_directory(directory: Path) -> Search:
    """A local directory named as the data set: the generic layouts in that directory only."""
    return _search([directory], generic_layouts(), need_test=False)


def locate_dataset(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The local directory a catalogued data set would be read from, or ``None`` (hub only, or nowhere); for
    the ``datasets`` CLI command. Reads no data."""
    spec = get_spec(name)
    if spec is None:
        return None
    match = find_catalogued(spec, data_dir).match
    return match.directory if match else None


def download_hint(hub: HubSource | None, name: str) -> str:
    """How to get a data set onto a machine without hub access, for not-found messages."""
    if hub is None:
        return f"{name!r} is not on the hub; pass train_file/test_file (CLI: --train-file/--test-file)."
    return (
        f"download it where the hub is reachable with `huggingface-cli download {hub.repo} --repo-type "
        "dataset --local-dir DIR`, copy DIR here, and pass data_dir=DIR (CLI: --data-dir DIR) or set "
        f"{ENV_DATA_DIR}=DIR."
    )


def not_found(name: str, search: Search, hub_status: str, hub: HubSource | None) -> DatasetNotFoundError:
    """The one error for data that is nowhere: what was looked for, every place tried, and how to get it."""
    layouts = "\n".join(f"  - {layout.description} [{layout.name}]" for layout in search.layouts)
    tried = "\n".join(f"  - {place}" for place in search.tried) or "  - (no directory)"
    return DatasetNotFoundError(
        f"data set {name!r} was not found.\nLooked for any of these layouts:\n{layouts}\nin:\n{tried}\n"
        f"Hub: {hub_status}.\nTo get it: {download_hint(hub, name)}"
    )
