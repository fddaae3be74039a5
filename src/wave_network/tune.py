"""Hyperparameter search with Optuna: ``tune(TuneConfig(...))``, behind ``wave-network tune``.

Every trial is one ordinary run (``wave_network.training.train``) of a base run configuration with the trial's
values applied as dotted overrides, in its own run directory ``<output_dir>/trial_<NNN>``. The TPE sampler
proposes the values; the median pruner stops a trial whose validation metric is below the median of earlier
trials at the same validation. Selection is on the validation split only: the objective is the validation
metric of the run's selected (best-validation) checkpoint; each run's test metrics are recorded next to the
trial for the report, never optimised.

The search space is a YAML (or JSON) mapping from configuration fields, named as in ``--set`` and run
configuration files (``train.learning_rate``, ``model.hidden_size``, ``data.max_length``), to a range or a list
of choices::

    train.learning_rate: {low: 1.0e-4, high: 1.0e-2, log: true}   # float, sampled on a log scale
    train.weight_decay: {low: 0.0, high: 0.1}                      # float: a bound written with a point
    model.num_layers: {low: 1, high: 4}                            # int: both bounds integers (or type: int)
    model.ffn_dim: {low: 128, high: 1024, step: 128}               # int on a grid
    model.hidden_size: {choices: [128, 256, 768]}                  # categorical

A range takes ``low``, ``high`` and optionally ``log``, ``step`` and ``type`` (``float`` or ``int``); without
``type`` it is an int range when both bounds are integers, so write ``0.0`` for a float bound. Every name is
checked against the configuration classes, with the closest valid name suggested, and every range end and choice
is built into a configuration once, before any trial runs. Everything else (epochs, data, the model, seed) comes
from the base configuration (``--config`` file, then ``--set``).

The study lives in an Optuna storage: by default the SQLite file ``<output_dir>/study.db``, so a study that is
interrupted resumes where it stopped when the same command runs again; any SQLAlchemy URL
(``postgresql+psycopg2://user@host/db``, ``mysql+pymysql://user@host/db``) lets many workers on many machines
share one study, each running the same command. ``n_trials`` counts finished trials (complete or pruned) of the
whole study, over all workers and restarts: a worker starts no trial once the study holds ``n_trials`` finished or
running ones; while running trials take the rest of the budget it waits for them, so that its report covers
the whole study. A worker writes a heartbeat while its trial runs; the trial of a worker that was killed is marked
FAIL once ``grace_period`` seconds passed without a heartbeat (a restarted worker waits that long at most), and
another trial takes its place. A trial that raises is recorded as FAIL with its error and the study goes on; a worker
stops after ``MAX_FAILURES_IN_A_ROW`` failures in a row (a broken base configuration, not an unlucky point). A
trial whose loss became non-finite is recorded as PRUNED (stop reason ``non-finite loss``), so the sampler learns
to avoid the region instead of ignoring it. Two workers that ask for the last trial at the same moment can
overshoot ``n_trials``; the later one is then recorded as FAIL with the user attribute ``surplus`` and not run.

A study remembers its metric, direction, space and base configuration; resuming it with other ones is refused
(the objective values would not be comparable): give another ``study_name``.

When a worker finishes, it writes the report into ``output_dir`` (from the storage, so it covers every
worker's trials): ``best.yaml`` (the best trial's run configuration, ``wave-network train --config best.yaml``
trains it), ``trials.json`` and ``trials.md`` (every trial), ``history.png`` (the objective per trial and the best
so far) and ``importance.png`` (fANOVA parameter importances; skipped, with the reason logged, before two trials
have completed).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import random
import re
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config_files
from .config_files import ConfigFileError
from .training.callbacks import Callback

logger = logging.getLogger("wave_network.tune")

PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")
# A configuration that fails three trials in a row is broken, not unlucky: the worker stops instead of burning
# the whole budget on the same error.
MAX_FAILURES_IN_A_ROW = 3
# Optuna's own default: the median of fewer finished trials is too noisy to stop a run on.
PRUNER_STARTUP_TRIALS = 5
# Base-configuration fields that may differ between the workers of one study (where a run goes, how it is shown,
# which threads and device it uses) without changing what is being compared.
_WORKER_LOCAL = {
    "train.output_dir",
    "train.resume",
    "train.quiet",
    "train.num_threads",
    "train.device",
    "train.tracker",
    "train.compile",
    "data.cache_dir",
    "data.data_dir",
}
_RANGE_KEYS = ("low", "high", "log", "step", "type")
_STUDY_ATTR = "wave_network_tune"

BEST_CONFIG = "best.yaml"
TRIALS_JSON = "trials.json"
TRIALS_MD = "trials.md"
HISTORY_PLOT = "history.png"
IMPORTANCE_PLOT = "importance.png"


@dataclass
class TuneConfig:
    """One hyperparameter search.

    Args:
        space: the search space: a YAML/JSON file or its mapping (see the module docstring).
        base: the base run configuration every trial starts from: a configuration file (``model``, ``data``,
            ``train`` sections), its sections as a dict, or ``None`` for the defaults.
        overrides: dotted overrides of the base (``{"train.epochs": 2}`` or ``["train.epochs=2"]``).
        n_trials: finished (complete or pruned) trials the study runs to, counted over all workers and restarts.
        timeout: seconds after which this worker starts no new trial (the running one finishes); ``None``: none.
        study_name: the study's name in the storage; the same name resumes it. ``None``: ``<model>-<dataset>``.
        storage: an SQLAlchemy URL; ``None``: ``sqlite:///<output_dir>/study.db``.
        output_dir: trial run directories and the report; ``None``: ``runs/tune/<study_name>``.
        metric: the validation metric to optimise (``val_accuracy``, ``val_f1_macro``, ``val_loss``, ...);
            ``None``: the metric that selects a run's best checkpoint (accuracy; loss for regression).
        direction: ``"maximize"`` or ``"minimize"``; ``None``: minimise a loss, maximise anything else.
        seed: seeds the TPE sampler (each trial's sampler is seeded with ``seed`` plus the number of trials
            before it, so a resumed study and concurrent workers do not repeat each other's draws). The runs
            themselves use the base configuration's ``train.seed``.
        pruner: ``"median"``, ``"none"``, or an ``optuna.pruners.BasePruner``.
        grace_period: seconds without a heartbeat after which a running trial counts as abandoned (its worker
            was killed) and is marked FAIL.
        quiet: no progress bars.
    """

    space: str | Path | dict[str, Any]
    base: str | Path | dict[str, Any] | None = None
    overrides: dict[str, Any] | list[str] = field(default_factory=dict)
    n_trials: int = 20
    timeout: float | None = None
    study_name: str | None = None
    storage: str | None = None
    output_dir: str | Path | None = None
    metric: str | None = None
    direction: str | None = None
    seed: int = 42
    pruner: Any = "median"
    grace_period: int = 120
    quiet: bool = False

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ValueError(f"TuneConfig.{name}={getattr(self, name)!r}; expected {expected}")

        if isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int) or self.n_trials < 1:
            fail("n_trials", "an integer >= 1")
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            fail("timeout", "a number of seconds > 0, or None")
        if self.direction is not None and self.direction not in DIRECTIONS:
            fail("direction", f"one of {', '.join(DIRECTIONS)}, or None")
        if self.metric is not None and not (isinstance(self.metric, str) and self.metric.startswith("val_")):
            # selection is on the validation split; a test metric must never be optimised
            fail("metric", "a validation metric such as 'val_accuracy', 'val_f1_macro' or 'val_loss'")
        if isinstance(self.pruner, str) and self.pruner not in PRUNERS:
            fail("pruner", f"one of {', '.join(PRUNERS)}, or an optuna pruner")
        if isinstance(self.grace_period, bool) or not isinstance(self.grace_period, int) or self.grace_period < 1:
            fail("grace_period", "an integer number of seconds >= 1")
        if self.study_name is not None and not (isinstance(self.study_name, str) and self.study_name.strip()):
            fail("study_name", "a non-empty name, or None")


@dataclass
class TuneResult:
    """What ``tune`` returns: where the study and its report are, and its best trial (``None`` before any trial
    completed)."""

    study_name: str
    storage: str  # the URL with any password hidden
    output_dir: Path
    metric: str
    direction: str
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    counts: dict[str, int]  # trials per state: complete, pruned, fail, running, waiting
    files: dict[str, Path]  # the report's files that were written


# ---------------------------------------------------------------------------------------------------------------
# The search space


@dataclass(frozen=True)
class Param:
    """One dimension of the search space: a float or int range, or categorical choices."""

    name: str  # dotted configuration field, e.g. "train.learning_rate"
    kind: str  # "float", "int" or "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def probes(self) -> list[Any]:
        """The values checked before any trial runs: both ends of a range, every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        spec: dict[str, Any] = {"low": self.low, "high": self.high, "type": self.kind}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _canonical(key: str) -> str:
    """``train.lr`` -> ``train.learning_rate``; a bare field is a model field, as ``--set`` reads it."""
    key = config_files.ALIASES.get(key, key)
    return key if "." in key else f"model.{key}"


def _parse_param(name: str, spec: Any, where: str) -> Param:
    def fail(message: str) -> None:
        raise ConfigFileError(f"{where}: {name}: {message}")

    if not isinstance(spec, dict):
        fail(f"expected {{low: ..., high: ...}} or {{choices: [...]}}, got {spec!r}")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            fail(f"choices cannot be combined with {', '.join(sorted(set(spec) - {'choices'}))}")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            fail("choices must be a non-empty list")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                fail(f"choice {choice!r} is not a number, string, boolean or null")
        if len({json.dumps(c) for c in choices}) != len(choices):
            fail(f"choices {choices!r} repeat a value")
        return Param(name, "categorical", choices=tuple(choices))
    unknown = [k for k in spec if k not in _RANGE_KEYS]
    if unknown:
        close = config_files._suggest(str(unknown[0]), [*_RANGE_KEYS, "choices"])
        fail(f"unknown key {unknown[0]!r}{close}")
    if "low" not in spec or "high" not in spec:
        fail("a range needs both low and high (or give choices: [...])")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not _is_number(low) or not _is_number(high):
        fail(f"low and high must be numbers, got low={low!r}, high={high!r}")
    if not low < high:
        fail(f"low ({low}) must be below high ({high})")
    if not isinstance(log, bool):
        fail(f"log must be true or false, got {log!r}")
    kind = spec.get("type", "int" if isinstance(low, int) and isinstance(high, int) else "float")
    if kind not in ("float", "int"):
        fail(f"type must be float or int, got {kind!r}")
    if log and low <= 0:
        fail(f"a log range needs low > 0, got {low}")
    if step is not None and (not _is_number(step) or step <= 0):
        fail(f"step must be a number > 0, got {step!r}")
    if log and step is not None and not (kind == "int" and step == 1):
        fail("log and step cannot be combined")  # Optuna samples a log range continuously
    if kind == "int":
        if low != int(low) or high != int(high) or (step is not None and step != int(step)):
            fail(f"an int range needs integer low, high and step, got low={low}, high={high}, step={step}")
        return Param(name, "int", int(low), int(high), log, int(step) if step is not None else None)
    return Param(name, "float", float(low), float(high), log, float(step) if step is not None else None)


def load_space(space: str | Path | dict[str, Any], base: dict[str, Any]) -> dict[str, Param]:
    """The search space of a YAML/JSON file or mapping, checked against the configuration classes and against
    ``base`` (the base configuration's sections): every name is a field (else the closest is suggested), and
    every range end and choice makes a valid configuration."""
    where = "search space"
    if isinstance(space, (str, Path)):
        path = Path(space)
        where = str(path)
        space = config_files.read_file(path, "the search space")
    if not isinstance(space, dict) or not space:
        raise ConfigFileError(
            f"{where}: expected a mapping of SECTION.FIELD: {{low: ..., high: ...}} or {{choices: [...]}}"
        )
    params: dict[str, Param] = {}
    for key, spec in space.items():
        name = _canonical(str(key))
        if name in params:
            raise ConfigFileError(f"{where}: {key} and another key both name {name}")
        params[name] = _parse_param(str(key), spec, where)
        params[name] = Param(**{**params[name].__dict__, "name": name})
    _check_space(params, base, where)
    return params


def _check_space(params: dict[str, Param], base: dict[str, Any], where: str) -> None:
    """Names first (each against every model the space can choose), then every probe value built into a
    configuration with the other parameters at their first probe."""
    models = params["model.name"].probes() if "model.name" in params else [None]
    for model in models:
        start = config_files.apply(base, {"model.name": model}, where=where) if model is not None else base
        for name, param in params.items():
            if name != "model.name":
                config_files.apply(start, {name: param.probes()[0]}, where=where)
    first = {name: param.probes()[0] for name, param in params.items()}
    for name, param in params.items():
        for value in param.probes():
            values = first | {name: value}
            try:
                config_files.to_train_config(config_files.apply(base, values, where=where))
            except ConfigFileError:
                raise
            except (ValueError, TypeError) as exc:
                raise ConfigFileError(f"{where}: {name}={value!r} makes an invalid configuration: {exc}") from None


# ---------------------------------------------------------------------------------------------------------------
# Pruning


class PruningCallback(Callback):
    """Reports the validation ``metric`` to an Optuna trial after every validation (step = the validation's
    ordinal, 1, 2, ...) and, when the pruner says so, stops the run the way early stopping does: it ends
    cleanly, selects and tests its best checkpoint and writes its run directory, after which the objective
    raises ``TrialPruned``. A run that reaches its last validation is never pruned: it has finished."""

    def __init__(self, trial: Any, metric: str):
        self.trial, self.metric = trial, metric
        self.validations = 0
        self.pruned_at: int | None = None
        self.last_value: float | None = None

    def on_evaluate(self, ctx, metrics, improved):
        if self.metric not in metrics:
            known = ", ".join(k for k, v in metrics.items() if isinstance(v, (int, float)))
            raise ValueError(f"TuneConfig.metric={self.metric!r} is not a validation metric of this run; got {known}")
        self.validations += 1
        value = float(metrics[self.metric])
        self.last_value = value
        if math.isfinite(value):
            self.trial.report(value, self.validations)
        last = ctx.optimizer is None or ctx.state.global_step >= ctx.total_steps
        if not last and self.trial.should_prune():
            self.pruned_at = self.validations
            ctx.state.should_stop = True
            ctx.state.stop_reason = "pruned"
            logger.info("trial %d: pruned at validation %d (%s %.4g)", self.trial.number, self.validations,
                        self.metric, value)  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# The study


def _require_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "wave-network tune needs Optuna: pip install 'wave-network[tune]' (or pip install 'optuna>=3.6,<6')"
        ) from None
    return optuna


def _base_sections(cfg: TuneConfig) -> dict[str, Any]:
    empty = {s: {} for s in config_files.SECTIONS}
    if cfg.base is None:
        sections = empty
    elif isinstance(cfg.base, (str, Path)):
        sections = config_files.load_file(cfg.base)
    elif isinstance(cfg.base, dict):
        flat = {}
        for section, content in cfg.base.items():
            if section == "model" and isinstance(content, str):
                content = {"name": content}
            if section not in config_files.SECTIONS or not isinstance(content or {}, dict):
                raise ConfigFileError(
                    f"TuneConfig.base: expected sections {', '.join(config_files.SECTIONS)} of field: value, "
                    f"got {section!r}"
                )
            flat |= {f"{section}.{k}": v for k, v in (content or {}).items()}
        sections = config_files.apply(empty, flat, where="TuneConfig.base")
    else:
        raise ValueError(f"TuneConfig.base={cfg.base!r}; expected a configuration file, its sections, or None")
    overrides = cfg.overrides
    if isinstance(overrides, list):
        overrides = config_files.parse_overrides(overrides)
    return config_files.apply(sections, overrides or {})


def _jsonable(value: Any) -> Any:
    from .training.rundir import to_jsonable

    return json.loads(json.dumps(to_jsonable(value)))


def _comparable(sections: dict[str, Any]) -> dict[str, Any]:
    """The base configuration as a flat dict without the worker-local fields."""
    flat = {f"{s}.{k}": v for s, content in _jsonable(sections).items() for k, v in (content or {}).items()}
    return {k: v for k, v in sorted(flat.items()) if k not in _WORKER_LOCAL}


def _default_study_name(train_cfg: Any) -> str:
    return re.sub(r"[^\w.-]+", "_", f"{train_cfg.model}-{train_cfg.data.display_name}")


def hide_password(url: str) -> str:
    """``url`` as it may be written into a report: without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: the storage itself will say so
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def open_storage(url: str, grace_period: int = 120) -> Any:
    """An Optuna ``RDBStorage`` for ``url`` with heartbeats (a trial of a killed worker is failed after
    ``grace_period`` seconds). SQLite waits up to 30 s for a lock another worker holds instead of failing at
    once; the file's folder is created."""
    optuna = _require_optuna()
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    engine_kwargs: dict[str, Any] = {}
    parsed = make_url(url)
    lock_path = None
    if parsed.get_backend_name() == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database).expanduser()
            database.parent.mkdir(parents=True, exist_ok=True)
            lock_path = database.with_name(database.name + ".init-lock")
    # Three heartbeats per grace period: one late write (a busy database) does not fail a live trial.
    interval = max(1, grace_period // 3)
    # Workers started together all create the tables of a new storage; the losers of that race fail ("table
    # already exists", a duplicate version row). SQLite workers share a machine and take turns under a file
    # lock; on a database server a worker tries again, and then finds the tables.
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            with _file_lock(lock_path), warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable since 2.9
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=interval, grace_period=grace_period
                )
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError):
            if attempt == attempts:
                raise
            time.sleep(attempt * (0.5 + random.random()))
    raise AssertionError("not reached")


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (none where ``path`` is ``None`` or the platform has no ``fcntl``); the
    kernel releases it when the holder exits, however it exits."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_pruner(optuna: Any, pruner: Any) -> Any:
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=0)
    if pruner == "none":
        return optuna.pruners.NopPruner()
    return pruner


def _make_sampler(optuna: Any, seed: int, n_trials: int, trials_before: int) -> Any:
    # TPE models the history once it has a few points: a third of the budget is drawn at random first, at least
    # 2 trials and at most Optuna's default of 10. The constant liar counts running trials as bad, so that
    # concurrent workers do not all propose the same point.
    return optuna.samplers.TPESampler(
        seed=seed + trials_before, n_startup_trials=min(10, max(2, n_trials // 3)), constant_liar=True
    )


def _check_study(study: Any, expected: dict[str, Any]) -> None:
    """Record what the study compares on its first use; refuse a resume that would compare other things."""
    stored = study.user_attrs.get(_STUDY_ATTR)
    if stored is None:
        study.set_user_attr(_STUDY_ATTR, expected)
        return
    changed = []
    for key in ("metric", "direction", "space"):
        if stored.get(key) != expected[key]:
            changed.append(f"{key} {stored.get(key)!r} (now {expected[key]!r})")
    before, now = _comparable(stored.get("base", {})), _comparable(expected["base"])
    changed += [
        f"{k} {before.get(k)!r} (now {now.get(k)!r})"
        for k in sorted(set(before) | set(now))
        if before.get(k) != now.get(k)
    ]
    if changed:
        raise ValueError(
            f"study {study.study_name!r} was run with other settings: {'; '.join(changed)}. Its trials would "
            "not be comparable: give the same settings to resume it, or another study name to start a new study"
        )


def _counts(study: Any) -> dict[str, int]:
    counts = {"complete": 0, "pruned": 0, "fail": 0, "running": 0, "waiting": 0}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return counts


class _Surplus(Exception):
    """The study already held ``n_trials`` finished or running trials when this one was created."""


class _DataCache:
    """The tokenised data of the latest ``DataConfig``: loaded once per worker unless the space changes it."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.key: Any = None
        self.value: tuple[Any, Any] | None = None

    def get(self, data_cfg: Any) -> tuple[Any, Any]:
        if self.value is None or self.key != data_cfg:
            from .data import get_tokenizer, load_splits, tokenize_splits
            from .training.progress import hide_library_progress_bars

            tokenizer = get_tokenizer(data_cfg.tokenizer)
            with hide_library_progress_bars(self.quiet):
                splits = load_splits(data_cfg)
                tokenized = tokenize_splits(splits, tokenizer, data_cfg.max_length, cache_dir=data_cfg.cache_dir)
            self.key, self.value = copy.deepcopy(data_cfg), (tokenized, tokenizer)
        return self.value


class _Objective:
    """One trial: apply the sampled values to the base configuration, train, return the validation metric."""

    def __init__(self, cfg: TuneConfig, base: dict[str, Any], space: dict[str, Param], metric: str, output_dir):
        self.cfg, self.base, self.space, self.metric, self.output_dir = cfg, base, space, metric, Path(output_dir)
        self.data = _DataCache(cfg.quiet)
        self.outcome: str | None = None  # "complete", "pruned", "fail" or "surplus"
        self.errors: list[str] = []

    def __call__(self, trial: Any) -> float:
        optuna = _require_optuna()
        from .runsets import run_model
        from .training import NonFiniteLossError

        self.outcome = "fail"
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if self._surplus(trial):
            self.outcome = "surplus"
            trial.set_user_attr("surplus", True)
            raise _Surplus(f"the study already holds {self.cfg.n_trials} finished or running trials")
        params = {name: param.suggest(trial) for name, param in self.space.items()}
        run_dir = self.output_dir / f"trial_{trial.number:03d}"
        trial.set_user_attr("run_dir", str(run_dir))
        try:
            sections = config_files.apply(self.base, params, where=f"trial {trial.number}")
            sections["train"] |= {
                "output_dir": str(run_dir),
                "quiet": bool(self.cfg.quiet or sections["train"].get("quiet")),
            }
            train_cfg = config_files.to_train_config(sections)
            data, tokenizer = self.data.get(train_cfg.data)
            pruning = PruningCallback(trial, self.metric)
            try:
                # the one way a run-set runs a model; a trial's directory is new, or a killed worker's to start again
                run = run_model(
                    train_cfg, rerun=True, isolate=False, callbacks=[pruning], data=data, tokenizer=tokenizer
                )
                result = run.result
            except NonFiniteLossError as exc:
                # A diverged run is a bad point, not a broken one: pruned, so the sampler learns to avoid it.
                trial.set_user_attr("stop_reason", "non-finite loss")
                trial.set_user_attr("error", str(exc).split(". ")[0])
                self.outcome = "pruned"
                logger.info("trial %d: pruned, the loss became non-finite (%s)", trial.number, _short(params))
                raise optuna.TrialPruned("non-finite loss") from None
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("error", message[:2000])
            self.errors.append(f"trial {trial.number}: {message}")
            logger.error("trial %d failed (%s): %s", trial.number, _short(params), message)
            logger.debug("trial %d traceback", trial.number, exc_info=True)
            raise
        test = {k: v for k, v in result.metrics.items() if k.startswith("test_") and _is_number(v)}
        trial.set_user_attr("test_metrics", test)
        trial.set_user_attr("stop_reason", result.stop_reason)
        trial.set_user_attr("best_epoch", result.best_epoch)
        value = result.best_metric if self.metric == result.monitor else result.metrics.get(self.metric)
        if pruning.pruned_at is not None:
            self.outcome = "pruned"
            raise optuna.TrialPruned(f"pruned at validation {pruning.pruned_at}")
        if not _is_number(value):
            message = f"the run has no finite {self.metric} (got {value!r}): does its data have a validation split?"
            trial.set_user_attr("error", message)
            self.errors.append(f"trial {trial.number}: {message}")
            logger.error("trial %d failed: %s", trial.number, message)
            raise ValueError(message)
        self.outcome = "complete"
        logger.info("trial %d: %s %.4g (%s) -> %s", trial.number, self.metric, value, _short(params), run_dir)
        return float(value)

    def _surplus(self, trial: Any) -> bool:
        """Whether the trials created before this one already make ``n_trials`` (two workers asked at once)."""
        optuna = _require_optuna()
        live = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
        before = trial.study.get_trials(deepcopy=False, states=live)
        return sum(t.number < trial.number for t in before) >= self.cfg.n_trials


def _short(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _metric_and_direction(cfg: TuneConfig, problem_type: str) -> tuple[str, str]:
    from .training.metrics import selection_metric

    monitor, mode = selection_metric(problem_type)
    metric = cfg.metric or monitor
    if cfg.direction is not None:
        return metric, cfg.direction
    if metric == monitor:
        return metric, "maximize" if mode == "max" else "minimize"
    return metric, "minimize" if "loss" in metric or "error" in metric else "maximize"


def tune(cfg: TuneConfig) -> TuneResult:
    """Run (or resume, or join) the study ``cfg`` describes until it holds ``cfg.n_trials`` finished trials or
    ``cfg.timeout`` passes, then write the report into the output directory (see the module docstring).

    Raises ``ImportError`` without Optuna, ``ConfigFileError`` for a search space or base configuration that
    names no field or makes an invalid configuration (before any trial runs), ``ValueError`` for a study that
    was run with other settings, and ``RuntimeError`` after ``MAX_FAILURES_IN_A_ROW`` failed trials in a row
    (the report is written first)."""
    optuna = _require_optuna()
    base = _base_sections(cfg)
    train_cfg = config_files.to_train_config(base)
    space = load_space(cfg.space, base)
    study_name = cfg.study_name or _default_study_name(train_cfg)
    output_dir = Path(cfg.output_dir) if cfg.output_dir is not None else Path("runs") / "tune" / study_name
    storage_url = cfg.storage or f"sqlite:///{output_dir / 'study.db'}"
    objective = _Objective(cfg, base, space, metric="", output_dir=output_dir)
    # the metric's default depends on the problem type, which the data tells: load it now (trials reuse it)
    data, _ = objective.data.get(train_cfg.data)
    metric, direction = _metric_and_direction(cfg, data.problem_type)
    objective.metric = metric
    output_dir.mkdir(parents=True, exist_ok=True)
    verbosity = optuna.logging.get_verbosity()
    # this module logs the study and every trial itself (a failed trial's traceback at debug level)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        return _optimize(optuna, cfg, base, space, objective, study_name, storage_url, output_dir, metric, direction)
    finally:
        optuna.logging.set_verbosity(verbosity)


def _optimize(optuna, cfg, base, space, objective, study_name, storage_url, output_dir, metric, direction):
    storage = open_storage(storage_url, cfg.grace_period)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction=direction,
        pruner=_make_pruner(optuna, cfg.pruner),
        load_if_exists=True,
    )
    expected = _jsonable(
        {"metric": metric, "direction": direction, "space": {n: p.to_dict() for n, p in space.items()}, "base": base}
    )
    _check_study(study, expected)
    if study.direction.name.lower() != direction:
        raise ValueError(f"study {study_name!r} was created to {study.direction.name.lower()}; now {direction}")
    logger.info(
        "study %s in %s: %s %s over %d trials, runs in %s",
        study_name,
        hide_password(storage_url),
        direction,
        metric,
        cfg.n_trials,
        output_dir,
    )
    started = time.monotonic()
    failures = 0
    waiting = False
    try:
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # before counting: the running trial of a killed worker must not count as running
                optuna.storages.fail_stale_trials(study)
            counts = _counts(study)
            finished = counts["complete"] + counts["pruned"]
            if cfg.timeout is not None and time.monotonic() - started >= cfg.timeout:
                logger.info("timeout of %g s reached: no new trial", cfg.timeout)
                break
            if finished >= cfg.n_trials:
                break
            if finished + counts["running"] >= cfg.n_trials:
                # The budget is taken by running trials: other workers' (the report waits for them), or that of a
                # killed worker, which is failed once its heartbeat is grace_period seconds old and then replaced.
                if not waiting:
                    logger.info(
                        "waiting for %d running trial(s): other workers', or a killed worker's, failed after %d s "
                        "without a heartbeat",
                        counts["running"],
                        cfg.grace_period,
                    )
                waiting = True
                time.sleep(min(10, max(1, cfg.grace_period // 3)))
                continue
            waiting = False
            study.sampler = _make_sampler(optuna, cfg.seed, cfg.n_trials, sum(counts.values()))
            study.optimize(objective, n_trials=1, catch=(Exception,))
            failures = failures + 1 if objective.outcome == "fail" else 0
            if failures >= MAX_FAILURES_IN_A_ROW:
                break
    except BaseException:  # an interrupt or a storage error: report what there is, then let it propagate
        try:
            write_report(study, output_dir, base=base, n_trials=cfg.n_trials, seed=cfg.seed)
        except Exception as exc:
            logger.warning("the report could not be written: %s", exc)
        raise
    files = write_report(study, output_dir, base=base, n_trials=cfg.n_trials, seed=cfg.seed)
    if failures >= MAX_FAILURES_IN_A_ROW:
        raise RuntimeError(
            f"{failures} trials failed in a row, this worker stopped (the study resumes when the command runs "
            "again):\n  " + "\n  ".join(objective.errors[-failures:])
        )
    best = _best_trial(study)
    return TuneResult(
        study_name=study_name,
        storage=hide_password(storage_url),
        output_dir=output_dir,
        metric=metric,
        direction=direction,
        best_trial=best.number if best is not None else None,
        best_value=best.value if best is not None else None,
        best_params=dict(best.params) if best is not None else {},
        counts=_counts(study),
        files=files,
    )


def _best_trial(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no trial has completed
        return None


# ---------------------------------------------------------------------------------------------------------------
# The report


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: several workers may write the report at once."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(
    study: Any,
    output_dir: str | Path,
    *,
    base: dict[str, Any] | None = None,
    n_trials: int | None = None,
    seed: int = 42,
) -> dict[str, Path]:
    """``best.yaml``, ``trials.json``, ``trials.md``, ``history.png`` and ``importance.png`` of ``study`` into
    ``output_dir``; returns the files written. ``base`` defaults to the base configuration the study recorded."""
    from .reporting.tune import plot_history, plot_importance

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    info = study.user_attrs.get(_STUDY_ATTR, {})
    base = base if base is not None else info.get("base", {s: {} for s in config_files.SECTIONS})
    metric, direction = info.get("metric", "value"), info.get("direction", study.direction.name.lower())
    trials = [_trial_record(t) for t in study.get_trials(deepcopy=False)]
    best = _best_trial(study)
    files: dict[str, Path] = {}
    if best is not None:
        path = output_dir / BEST_CONFIG
        best_cfg = config_files.to_train_config(
            config_files.apply(base, dict(best.params), where=f"trial {best.number}")
        )
        text = config_files.dump(config_files.from_train_config(best_cfg.resolved()))
        header = (
            f"# best trial {best.number} of study {study.study_name!r}: {metric} {best.value:.6g} (validation split)\n"
            "# wave-network run configuration: wave-network train --config THIS_FILE [--set SECTION.FIELD=VALUE]\n"
        )
        _write_text(path, header + text)
        files["best"] = path
    else:
        logger.warning("no trial has completed: no %s", BEST_CONFIG)
    importances, note = _importances(study, seed)
    summary = {
        "study": study.study_name,
        "metric": metric,
        "direction": direction,
        "split": "validation",
        "n_trials": n_trials,
        "space": info.get("space"),
        "counts": _counts(study),
        "best": next((t for t in trials if best is not None and t["number"] == best.number), None),
        "importances": importances,
        "importance_note": note,
        "trials": trials,
    }
    files["json"] = output_dir / TRIALS_JSON
    _write_text(files["json"], json.dumps(_jsonable(summary), indent=2) + "\n")
    files["markdown"] = output_dir / TRIALS_MD
    _write_text(files["markdown"], trials_markdown(summary))
    files["history"] = plot_history(trials, output_dir / HISTORY_PLOT, metric=metric, direction=direction)
    if importances is not None:
        files["importance"] = plot_importance(importances, output_dir / IMPORTANCE_PLOT, metric=metric, note=note)
    else:
        logger.info("no %s: %s", IMPORTANCE_PLOT, note)
    return files


def _trial_record(trial: Any) -> dict[str, Any]:
    attrs = trial.user_attrs
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    intermediate = dict(sorted(trial.intermediate_values.items()))
    value = trial.value
    if trial.state.name == "PRUNED" and value is None and intermediate:
        value = list(intermediate.values())[-1]  # a pruned trial's last reported value
    return {
        "number": trial.number,
        "state": "SURPLUS" if attrs.get("surplus") else trial.state.name,
        "value": value,
        "params": dict(trial.params),
        "intermediate": intermediate,
        "stop_reason": attrs.get("stop_reason"),
        "best_epoch": attrs.get("best_epoch"),
        "test_metrics": attrs.get("test_metrics", {}),
        "run_dir": attrs.get("run_dir"),
        "error": attrs.get("error"),
        "worker": attrs.get("worker"),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "duration_s": duration,
    }


def _importances(study: Any, seed: int) -> tuple[dict[str, float] | None, str]:
    """fANOVA importances over the completed trials, or ``None`` and why not."""
    optuna = _require_optuna()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None, f"{len(complete)} completed trial(s); importances need at least 2"
    names = sorted({name for t in complete for name in t.params})
    if len(names) == 1:
        return {names[0]: 1.0}, "one parameter: its importance is 1 by definition"
    if len({t.value for t in complete}) == 1:
        return {name: 0.0 for name in names}, f"all {len(complete)} completed trials have the same value"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as exc:
        return None, f"importances could not be computed: {exc}"
    note = f"fANOVA over {len(complete)} completed trials"
    if len(complete) < 10:
        note += "; with so few trials, a rough guide only"
    return {k: float(v) for k, v in values.items()}, note


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trials_markdown(summary: dict[str, Any]) -> str:
    """The report's table: one row per trial, the best in bold; validation values only (the best trial's test
    metrics are stated below the table, for the record)."""
    metric, trials = summary["metric"], summary["trials"]
    names = list(summary.get("space") or {}) or sorted({n for t in trials for n in t["params"]})
    best = summary.get("best")
    lines = [
        f"# Study `{summary['study']}`",
        "",
        f"{summary['direction']} {metric} (validation split of each run's best checkpoint); "
        + ", ".join(f"{n} {k}" for k, n in summary["counts"].items() if n),
        "",
        "| trial | state | " + metric + " | " + " | ".join(f"`{n}`" for n in names) + " | stop |",
        "|---:|---|---:|" + "---:|" * len(names) + "---|",
    ]
    for t in trials:
        if t["state"] == "SURPLUS":
            continue
        mark = "**" if best is not None and t["number"] == best["number"] else ""
        stop = t["error"] if t["state"] == "FAIL" else t["stop_reason"]
        cells = [str(t["number"]), t["state"].lower(), _cell(t["value"])] + [_cell(t["params"].get(n)) for n in names]
        row = " | ".join(f"{mark}{c}{mark}" if c else c for c in cells)
        lines.append(f"| {row} | {_cell(stop).replace('|', '/')[:80]} |")
    if best is not None:
        shown = ("test_accuracy", "test_f1_macro", "test_loss", "test_pearson")  # all of them are in trials.json
        tests = ", ".join(f"{k} {_cell(v)}" for k, v in best["test_metrics"].items() if k in shown)
        lines += [
            "",
            f"Best: trial {best['number']}, {metric} {_cell(best['value'])}; `wave-network train --config "
            f"{BEST_CONFIG}` trains it. Its test metrics, reported once and never used for selection: "
            f"{tests or 'none'}.",
        ]
    if summary.get("importances"):
        shown = ", ".join(f"`{k}` {v:.2f}" for k, v in summary["importances"].items())
        lines += ["", f"Parameter importances ({summary['importance_note']}): {shown}."]
    return "\n".join(lines) + "\n"


def format_summary(result: TuneResult) -> str:
    """A few lines for the terminal after a study."""
    counts = ", ".join(f"{n} {k}" for k, n in result.counts.items() if n)
    lines = [f"study {result.study_name} ({result.storage}): {counts}"]
    if result.best_trial is not None:
        lines.append(
            f"best trial {result.best_trial}: {result.metric} {result.best_value:.4g}  {_short(result.best_params)}"
        )
    lines += [f"{kind}: {path}" for kind, path in result.files.items()]
    return "\n".join(lines)


__all__ = [
    "Param",
    "PruningCallback",
    "TuneConfig",
    "TuneResult",
    "format_summary",
    "hide_password",
    "load_space",
    "open_storage",
    "trials_markdown",
    "tune",
    "write_report",
]
