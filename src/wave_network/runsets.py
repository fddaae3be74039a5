"""Run-sets: the suites (``compare``, ``glue``, ``reproduce``, the training analyses, ``tune``) as sets of ordinary
training runs that share one configuration of how they run and one way of running a model.

``RunSetConfig`` holds what every suite has: the models, where run directories and reports go, the epochs (for every
model, per model, or per data set and model), per-model config overrides, precision, device, threads, rerun and
quiet. Each suite's config extends it with its own fields (``CompareConfig`` a data set and latency settings,
``GlueConfig`` tasks and seeds ...) and gets the same checks and messages.

``run_model`` trains one model into its run directory, or reuses the finished run already there when its set-up is
the same (``rerun`` refuses reuse), or resumes an interrupted one from ``last/``. It runs the one ``train``
function either in a fresh spawned process (its peak memory is its own, and a failure such as a missing optional
extra is recorded instead of stopping the suite) or in this process (for runs that need callbacks, such as the
gradient recorder, or data already tokenised). Run directories are named by ``run_dir_name``.
"""

from __future__ import annotations

import difflib
import json
import logging
import multiprocessing
import shutil
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .registry import list_models
from .training.checkpoint import TRAINER_STATE
from .training.config import DEVICES, PRECISIONS, TrainConfig
from .training.rundir import CONFIG, ERROR, LAST, RESULTS, SETUP, to_jsonable

logger = logging.getLogger("wave_network.runsets")

# TrainConfig fields that must agree for a finished run to be reused (paths, verbosity and threads do not matter).
SETUP_FIELDS = (
    "model",
    "model_overrides",
    "learning_rate",
    "epochs",
    "batch_size",
    "weight_decay",
    "warmup_ratio",
    "max_grad_norm",
    "precision",
    "seed",
    "early_stopping_patience",
    "label_smoothing",
    "validate_at_start",
    "max_steps",
)
_DATA_IGNORED = ("cache_dir", "data_dir")
# Fields added after runs were written: a stored run without one ran with this value.
_ADDED_LATER = {"label_smoothing": 0.0, "validate_at_start": False}
_DATA_ADDED_LATER = {"val_split": "rows"}


def run_dir_name(dataset: str, model: str, seed: int) -> str:
    """The directory name of one model's run in a run-set: ``<dataset>__<model>__seed<seed>``."""
    return f"{dataset.replace('/', '_').replace(':', '_')}__{model}__seed{seed}"


def split_models(value: str | Sequence[str] | None) -> list[str]:
    """A comma-separated string or a sequence of model names as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [m.strip() for m in value.split(",") if m.strip()]
    return list(value)


def epochs_for_dataset(model_epochs: dict[str, int], dataset: str, models: list[str]) -> dict[str, int]:
    """The per-model epochs that apply to ``dataset``, for the suites that run several data sets.

    A key ``MODEL`` applies on every data set; ``DATASET/MODEL`` only on that one, and wins over ``MODEL``
    (``{"imdb/bert": 1}`` cuts BERT to one epoch on IMDB alone). Keys naming models outside ``models`` are dropped.
    """
    scoped = {k: v for k, v in model_epochs.items() if "/" not in k and k in models}
    for key, value in model_epochs.items():
        where, _, model = key.partition("/")
        if model and where == dataset and model in models:
            scoped[model] = value
    return scoped


@dataclass
class RunSetConfig:
    """What every run-set shares.

    Args:
        models: registered model names (``wave_network.list_models()``) in report order; a comma-separated
            string is split.
        output_dir: where the run directories go (``run_dir_name`` each).
        report_dir: where the suite's JSON, Markdown and plots go; ``None`` uses ``output_dir``.
        epochs: epochs of every gradient-trained model; ``None`` keeps each model's recipe.
        model_epochs: per-model epochs that replace ``epochs``: a key ``MODEL``, or ``DATASET/MODEL`` (``TASK/MODEL``)
            for one data set only (a budget cut for a slow baseline, marked in the report).
        model_overrides: per model name, config fields to change (``{"bert": {"checkpoint": "minilm"}}``).
        precision, device, num_threads, compile: as in ``TrainConfig``, for every run.
        rerun: train every model again even when a finished run with the same set-up exists.
        quiet: no progress bars.
    """

    models: list[str] = field(default_factory=list)
    output_dir: str = "runs"
    report_dir: str | None = None
    epochs: int | None = None
    model_epochs: dict[str, int] = field(default_factory=dict)
    model_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    precision: str = "auto"
    device: str = "auto"
    num_threads: int | None = None
    compile: bool = True
    rerun: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        self.check_run_set()

    def _fail(self, name: str, message: str) -> None:
        raise ValueError(f"{type(self).__name__}.{name}: {message}")

    def check_run_set(self, require_models: bool = True) -> None:
        """Check the shared fields; messages name ``<ConfigClass>.<field>``."""
        self.models = split_models(self.models)
        known = list_models()
        if require_models and not self.models:
            self._fail("models", "empty; name at least one model (wave_network.list_models())")
        unknown = [m for m in self.models if m not in known]
        if unknown:
            close = {m: difflib.get_close_matches(m, known, 1) for m in unknown}
            hints = [f"{m!r} (did you mean {c[0]!r}?)" for m, c in close.items() if c]
            shown = ", ".join(hints) if len(hints) == len(unknown) else str(unknown)
            self._fail("models", f"unknown {shown}; known: {', '.join(known)}")
        if len(set(self.models)) != len(self.models):
            self._fail("models", f"names a model twice: {self.models}")
        stray = sorted(set(self.model_overrides) - set(self.models))
        if stray:
            self._fail("model_overrides", f"names models not run: {stray}")
        stray = sorted(k for k in self.model_epochs if k.rpartition("/")[2] not in self.models)
        if stray:
            self._fail("model_epochs", f"names models not run: {stray} (keys: MODEL or DATASET/MODEL)")
        for key, value in self.model_epochs.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self._fail("model_epochs", f"{key}={value!r}; expected an integer >= 1")
        if self.epochs is not None and (isinstance(self.epochs, bool) or not isinstance(self.epochs, int)
                                        or self.epochs < 1):  # fmt: skip
            self._fail("epochs", f"{self.epochs!r}; expected an integer >= 1 or None")
        if self.precision not in PRECISIONS:
            self._fail("precision", f"{self.precision!r}; expected one of {PRECISIONS}")
        if self.device not in DEVICES:
            self._fail("device", f"{self.device!r}; expected one of {DEVICES}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            self._fail("num_threads", f"{self.num_threads!r}; expected an integer >= 1 or None")

    @property
    def report_path(self) -> Path:
        """Where the report goes: ``report_dir``, else ``output_dir``."""
        return Path(self.report_dir or self.output_dir)

    def epochs_of(self, model: str, dataset: str | None = None) -> int | None:
        """The epochs ``model`` trains for (on ``dataset``, where a ``DATASET/MODEL`` key applies)."""
        scoped = epochs_for_dataset(self.model_epochs, dataset or "", [model])
        return scoped.get(model, self.epochs)

    def train_config_for(self, model: str, data: Any, seed: int, run_dir: str | Path, **extra: Any) -> TrainConfig:
        """The ``TrainConfig`` of ``model`` in this run-set, on ``data`` (a ``DataConfig``) with ``seed``."""
        values: dict[str, Any] = {
            "model": model,
            "model_overrides": dict(self.model_overrides.get(model, {})),
            "data": data,
            "epochs": self.epochs_of(model, data.dataset),  # models fitted without gradients make one pass
            "precision": self.precision,
            "seed": seed,
            "device": self.device,
            "num_threads": self.num_threads,
            "compile": self.compile,
            "output_dir": str(run_dir),
            "quiet": True,
        }
        return TrainConfig(**(values | extra))

    def shared(self) -> dict[str, Any]:
        """The shared fields as keyword arguments, to hand one suite's settings to another (glue to compare)."""
        return {f.name: getattr(self, f.name) for f in fields(RunSetConfig)}


# --- one model --------------------------------------------------------------------------------------------


def setup_differences(run_dir: Path, wanted: TrainConfig, setup: dict[str, Any] | None = None) -> list[str]:
    """The set-up fields in which the finished run in ``run_dir`` differs from ``wanted`` (and from the suite's
    own ``setup`` record, where one is given); empty when it can be reused."""
    try:
        stored = json.loads((run_dir / CONFIG).read_text())["train"]
    except (OSError, KeyError, json.JSONDecodeError):
        return [f"{CONFIG} unreadable"]
    want = json.loads(json.dumps(to_jsonable(wanted.resolved().to_dict())))
    setup_fields = [name for name in SETUP_FIELDS if name not in wanted.unread_fields()]
    differences = [name for name in setup_fields if stored.get(name, _ADDED_LATER.get(name)) != want.get(name)]
    stored_data, want_data = stored.get("data", {}), want["data"]
    differences += [
        f"data.{k}"
        for k in want_data
        if k not in _DATA_IGNORED and stored_data.get(k, _DATA_ADDED_LATER.get(k)) != want_data.get(k)
    ]
    if setup is not None:
        try:
            stored_setup = json.loads((run_dir / SETUP).read_text())
        except (OSError, json.JSONDecodeError):
            stored_setup = None
        wanted_setup = json.loads(json.dumps(to_jsonable(setup)))
        if stored_setup != wanted_setup:
            differences += sorted(
                k for k in set(wanted_setup) | set(stored_setup or {})
                if (stored_setup or {}).get(k) != wanted_setup.get(k)
            ) or [SETUP]  # fmt: skip
    return differences


@dataclass
class ModelRun:
    """The outcome of ``run_model``: ``status`` is ``"ok"`` or ``"failed"`` (then ``error`` says why)."""

    model: str
    run_dir: Path
    status: str
    reused: bool = False
    error: str | None = None
    result: Any = None  # the RunResult of an in-process run

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_model(
    cfg: TrainConfig,
    *,
    rerun: bool = False,
    isolate: bool = True,
    resume: bool = True,
    retrain_if_different: bool = False,
    setup: dict[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
    data: Any = None,
    tokenizer: Any = None,
    then: tuple[Any, tuple] | None = None,
) -> ModelRun:
    """Train ``cfg`` into ``cfg.output_dir``, or reuse or resume what is there.

    Args:
        cfg: the run; ``cfg.output_dir`` is its run directory.
        rerun: train again even when a finished run with the same set-up is there.
        isolate: train in a fresh spawned process (own peak memory; an error, even a crash, becomes a failed
            ``ModelRun``); ``False`` trains in this process, with ``callbacks``, ``data`` and ``tokenizer``.
        resume: continue an unfinished run from its ``last/`` checkpoint; ``False`` starts it again.
        retrain_if_different: a finished run with another set-up is replaced; by default it is a failed
            ``ModelRun`` that names the differences (the user's results are never deleted silently).
        setup: the suite's own record of what else defines the run (an analysis's recording interval); stored
            as ``SETUP`` in the run directory and compared on reuse.
        then: ``(function, args)``, a picklable top-level function the child process calls with ``args`` once the
            run has trained (compare times inference there, without starting a second process); its failure is
            logged, not the run's.
    """
    run_dir = Path(cfg.output_dir)
    outcome = ModelRun(model=cfg.model, run_dir=run_dir, status="ok")
    if (run_dir / RESULTS).exists() and not rerun:
        differences = setup_differences(run_dir, cfg, setup)
        if not differences:
            outcome.reused = True
            return outcome
        if not retrain_if_different:
            outcome.status = "failed"
            outcome.error = (
                f"{run_dir} holds a finished run with a different set-up ({', '.join(differences)}); "
                "remove it or run with rerun=True (--rerun)"
            )
            return outcome
    if run_dir.exists():
        finished = (run_dir / RESULTS).exists()
        if resume and not rerun and not finished and (run_dir / LAST / TRAINER_STATE).exists():
            cfg = replace(cfg, resume=True)
        else:
            shutil.rmtree(run_dir)  # an unfinished run with nothing to resume from, a different one, or rerun
    if isolate:
        outcome.error = in_subprocess(_train_child, (cfg.to_dict(), then), run_dir / ERROR)
        if outcome.error is not None:
            outcome.status = "failed"
            return outcome
    else:
        from .training import train

        outcome.result = train(cfg, callbacks=list(callbacks), data=data, tokenizer=tokenizer)
    if setup is not None:
        (run_dir / SETUP).write_text(json.dumps(to_jsonable(setup), indent=2) + "\n")
    return outcome


def in_subprocess(target: Any, args: tuple, error_file: Path) -> str | None:
    """Run ``target(*args, error_file)`` in a fresh spawned process; ``None`` on success, else its error (the
    child writes it to ``error_file`` through ``child_guard``)."""
    context = multiprocessing.get_context("spawn")
    error_file.parent.mkdir(parents=True, exist_ok=True)
    error_file.unlink(missing_ok=True)
    process = context.Process(target=target, args=(*args, str(error_file)))
    process.start()
    process.join()
    if process.exitcode == 0:
        return None
    if error_file.exists():
        return json.loads(error_file.read_text())["error"]
    return f"the process exited with code {process.exitcode} (killed, out of memory?)"


def child_guard(error_file: str, work: Any) -> None:
    """Run ``work()`` in a child process; an exception is written to ``error_file`` and the child exits 1."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        work()
    except BaseException as exc:  # noqa: BLE001  (recorded for the parent, then the child exits non-zero)
        message = f"{type(exc).__name__}: {exc}".strip()
        record = {"error": message, "traceback": traceback.format_exc()}
        Path(error_file).write_text(json.dumps(record, indent=2) + "\n")
        sys.exit(1)


def _train_child(cfg_dict: dict[str, Any], then: tuple[Any, tuple] | None, error_file: str) -> None:
    from .training import train

    def work() -> None:
        train(TrainConfig.from_dict(cfg_dict))
        if then is not None:
            function, args = then
            try:
                function(*args)
            except Exception as exc:  # noqa: BLE001  (the run itself succeeded; the caller sees what is missing)
                logger.warning("%s after training failed: %s: %s", function.__name__, type(exc).__name__, exc)

    child_guard(error_file, work)
