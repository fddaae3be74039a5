"""``TrainConfig``: every choice of a training run, typed and documented. Invalid values fail in
``__post_init__`` with a message naming the field; ``resolved()`` fills the ``None`` fields from the model's
preset."""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..data import DataConfig
from ..registry import check_model_overrides, fits_without_gradients, list_models, training_defaults

PRECISIONS = ("auto", "bf16", "fp32")
DEVICES = ("auto", "cpu", "cuda")
TRACKERS = ("none", "tensorboard", "wandb", "mlflow")
# What only gradient training reads (the optimiser, its schedule, clipping, the training loss's label smoothing).
GRADIENT_ONLY_FIELDS = ("learning_rate", "weight_decay", "warmup_ratio", "max_grad_norm", "label_smoothing")


# The recommended preset, and the default model when a user brings their own training file (``--train-file``):
# chosen on validation only, the same recipe on every data set (docs/recipe.md). Multi-label and regression
# files get wave-wide, whose wide path takes them.
OWN_DATA_MODEL = "wave-nb-fit"
OWN_DATA_FALLBACK = "wave-wide"


@dataclass
class TrainConfig:
    """One training run.

    Args:
        model: registered model name (``wave_network.list_models()``), e.g. ``"paper-modulation"``.
        model_overrides: fields of the model's config to change, e.g. ``{"hidden_size": 128}``.
        data: which data set, split and tokenisation (``wave_network.data.DataConfig``; a dict is converted).
        learning_rate: peak AdamW learning rate; ``None`` takes the preset's (the paper's 1e-3 for Wave
            models). Models fitted without gradients (TF-IDF, NBSVM, fastText, majority) have none and ignore it.
        epochs: passes over the training split; ``None`` takes the preset's (the paper's 4).
        batch_size: global batch size, summed over all processes under torchrun (each process gets
            ``batch_size / world_size``); ``None`` takes the preset's (the paper's 64).
        eval_batch_size: global batch size for validation and test; ``None`` uses ``batch_size`` (twice it, the
            earlier default, made evaluation rather than training the peak of an IMDB run's memory).
        weight_decay: AdamW decoupled weight decay, applied to matrices only (not to biases or norm scales).
        warmup_ratio: fraction of all optimiser steps spent in linear warm-up from 0 to ``learning_rate``,
            after which the rate decays linearly to 0 at the last step.
        max_grad_norm: clip the global gradient L2 norm to this value; ``None`` disables clipping.
        precision: ``"auto"`` (bf16 autocast where the device supports bf16, else fp32), ``"bf16"`` or
            ``"fp32"``.
        seed: seeds Python, NumPy and torch (model initialisation, dropout, batch order).
        deterministic: ``torch.use_deterministic_algorithms(True)``: bitwise repeatable runs, possibly slower.
        compile: run the Wave models' fused wave kernels through ``torch.compile`` (``wave_network.ops``): about
            7x faster than eager tensor ops on a CPU, after a one-off compilation of about 10 s; the same values.
            Falls back to eager mode, with a warning, where compilation fails (no C++ compiler or Triton).
        label_smoothing: smoothing of the cross-entropy targets (Szegedy et al. 2016) for single-label
            classification, in [0, 1); ``None`` takes the preset's, else 0. Validation and test losses stay
            plain cross-entropy.
        early_stopping_patience: stop after this many validations in a row without improvement of the
            validation metric (accuracy; loss for regression); ``None`` never stops early.
        eval_every: validate every this many epochs (the last epoch is always validated).
        validate_at_start: also validate the model before the first step, as "epoch 0", so a model that starts
            from a fit (``bag_fit``) or a checkpoint (``init_from``) is kept when no epoch validates better;
            ``None`` takes the preset's, else False.
        eval_every_steps: also validate every this many optimiser steps; ``None`` validates per epoch only.
        log_every: write the running training loss and learning rate every this many optimiser steps.
        output_dir: run directory; ``None`` makes ``runs/<timestamp>-<model>-<dataset>``.
        resume: ``True`` continues the run in ``output_dir`` from its ``last/`` checkpoint; a path names the
            run directory to continue. ``False`` starts a new run and refuses a directory that already holds
            one.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        tracker: experiment tracker, ``"none"``, ``"tensorboard"``, ``"wandb"`` (offline) or ``"mlflow"``
            (local file store in the run directory); each needs its pip extra, e.g.
            ``wave-network[tensorboard]``.
        num_threads: ``torch.set_num_threads`` for CPU work; ``None`` keeps torch's default.
        max_steps: stop after this many optimiser steps in total (smoke tests); ``None`` runs every epoch.
        quiet: no progress bars (they are also off when stderr is not a terminal).
        init_from: a ``wave-network pretrain`` run directory (or any saved Wave model) whose wave path (token,
            position and n-gram tables, wave blocks) initialises the model; the classifier head and the wide path
            start fresh (``registry.load_pretrained_wave``). ``None``: from scratch. Wave presets only.
    """

    model: str = "paper-modulation"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    learning_rate: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    eval_batch_size: int | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_grad_norm: float | None = 1.0
    precision: str = "auto"
    seed: int = 42
    deterministic: bool = False
    compile: bool = True
    label_smoothing: float | None = None
    early_stopping_patience: int | None = None
    eval_every: int = 1
    validate_at_start: bool | None = None
    eval_every_steps: int | None = None
    log_every: int = 50
    output_dir: str | None = None
    resume: bool | str = False
    device: str = "auto"
    tracker: str = "none"
    num_threads: int | None = None
    max_steps: int | None = None
    quiet: bool = False
    init_from: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if isinstance(self.output_dir, Path):
            self.output_dir = str(self.output_dir)
        if isinstance(self.resume, Path):
            self.resume = str(self.resume)
        if isinstance(self.init_from, Path):
            self.init_from = str(self.init_from)
        self._validate()

    def _validate(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r}; expected {expected}")

        if not isinstance(self.model, str) or not self.model:
            fail("model", "a registered model name")
        known = list_models()
        if self.model not in known:
            close = difflib.get_close_matches(self.model, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            fail("model", f"a registered model name{hint}; known: {', '.join(known)}")
        if not isinstance(self.model_overrides, dict):
            fail("model_overrides", "a dict of model config fields")
        if isinstance(self.data, DataConfig):
            check_model_overrides(self.model, self.model_overrides, self.data.max_length)
        if not isinstance(self.data, DataConfig):
            fail("data", "a wave_network.data.DataConfig")
        choices = {"precision": PRECISIONS, "device": DEVICES, "tracker": TRACKERS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                fail(name, f"one of {allowed}")
        for name in ("learning_rate", "max_grad_norm", "weight_decay", "warmup_ratio", "label_smoothing"):
            value = getattr(self, name)
            optional = name not in ("weight_decay", "warmup_ratio")
            if not (_is_number(value) or (optional and value is None)):
                fail(name, "a finite number" + (" or None" if optional else ""))
        if self.validate_at_start is not None and not isinstance(self.validate_at_start, bool):
            fail("validate_at_start", "True, False or None")
        for name in ("deterministic", "compile", "quiet"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "True or False")
        positive_or_none = ("learning_rate", "max_grad_norm")
        for name in positive_or_none:
            value = getattr(self, name)
            if value is not None and not value > 0:
                fail(name, "a number > 0 or None")
        at_least_one_or_none = (
            "epochs",
            "batch_size",
            "eval_batch_size",
            "early_stopping_patience",
            "eval_every_steps",
            "num_threads",
            "max_steps",
        )
        for name in at_least_one_or_none:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                fail(name, "an integer >= 1 or None")
        for name in ("eval_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(name, "an integer >= 1")
        if not self.weight_decay >= 0:
            fail("weight_decay", "a number >= 0")
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            fail("label_smoothing", "a number in [0, 1) or None")
        if not 0 <= self.warmup_ratio < 1:
            fail("warmup_ratio", "a number in [0, 1)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            fail("seed", "an integer")
        if not isinstance(self.resume, (bool, str)):
            fail("resume", "True, False or the path of a run directory")
        if self.init_from is not None and (not isinstance(self.init_from, str) or not self.init_from):
            fail("init_from", "the path of a pre-training run directory or None")

    def resolved(self) -> TrainConfig:
        """A copy with ``learning_rate``, ``epochs``, ``batch_size`` and ``eval_batch_size`` filled in from
        the model's preset or registered recipe; ``early_stopping_patience`` where the preset sets one and this
        config does not; ``label_smoothing`` (the preset's, else 0) where this config leaves it None. A model
        without a preset or recipe must set the first three explicitly, except ``learning_rate`` for a model that
        fits without gradients (``registry.fits_without_gradients``), which builds no optimiser: it stays None."""
        defaults = training_defaults(self.model)
        needed = ("learning_rate", "epochs", "batch_size")
        if fits_without_gradients(self.model):
            needed = needed[1:]
        values = {}
        for name in needed:
            value = getattr(self, name)
            if value is None:
                if name not in defaults:
                    raise ValueError(
                        f"TrainConfig.{name} is None and model {self.model!r} has no preset default for it; "
                        f"set TrainConfig.{name}"
                    )
                value = defaults[name]
            values[name] = value
        if self.eval_batch_size is None:
            values["eval_batch_size"] = values["batch_size"]
        if self.early_stopping_patience is None and defaults.get("early_stopping_patience") is not None:
            values["early_stopping_patience"] = defaults["early_stopping_patience"]
        if self.label_smoothing is None:
            values["label_smoothing"] = float(defaults.get("label_smoothing", 0.0))
        if self.validate_at_start is None:
            values["validate_at_start"] = bool(defaults.get("validate_at_start", False))
        return replace(self, **values)

    def unread_fields(self) -> tuple[str, ...]:
        """The fields the model's training never reads: ``GRADIENT_ONLY_FIELDS`` for a model fitted without
        gradients, none otherwise. Two runs that differ only in them are the same run (reuse, resume); runs of
        the classics written before they lost their placeholder ``learning_rate`` of 1.0 stay reusable."""
        return GRADIENT_ONLY_FIELDS if fits_without_gradients(self.model) else ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the nested ``data`` config becomes a dict)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
