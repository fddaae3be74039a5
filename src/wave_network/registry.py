"""Models built by name (as timm's ``create_model``): every Wave preset and every baseline is a registered model
name, so tests, benchmarks and ``compare`` iterate over ``list_models()``.

A builder is ``builder(num_labels=..., vocab_size=..., max_length=..., **overrides) -> nn.Module`` returning a model
with the project's interface: ``forward(input_ids, attention_mask, token_type_ids=None, labels=None)`` gives a
``SequenceClassifierOutput``. ``max_length`` is the run's truncation length (FNet pads every text to it).
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .capabilities import FitsWithoutGradients
from .configuration_wave import WaveConfig
from .modeling_wave import WaveForMaskedLM, WaveForSequenceClassification, WavePreTrainedModel
from .presets import get_preset, list_presets

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """A registered non-preset model: how to build it, its training recipe and a one-line description."""

    name: str
    builder: ModelBuilder
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    # The config class the builder passes its other keyword arguments to (``BertConfig``, ``TfidfConfig``, ...):
    # its fields are the overrides ``check_model_overrides`` accepts beside the builder's own named parameters.
    config_class: type | None = None
    # The class the builder returns, where it is always one: its ``capabilities`` are known before a model is built.
    model_class: type | None = None


_SPECS: dict[str, ModelSpec] = {}
_BUILTINS_LOADED = False


def register_model(
    name: str,
    builder: ModelBuilder,
    *,
    description: str = "",
    training: dict[str, Any] | None = None,
    config_class: type | None = None,
    model_class: type | None = None,
) -> None:
    """Register ``builder`` under ``name``; ``training`` holds its default ``learning_rate``, ``epochs`` and
    ``batch_size`` (what ``TrainConfig.resolved`` fills in; no ``learning_rate`` for a model that fits without
    gradients); ``config_class``, where the builder passes its ``**kwargs`` to one, lets ``check_model_overrides``
    check them before any work; ``model_class``, the class the builder returns, tells its capabilities
    (``fits_without_gradients``) before a model is built."""
    _SPECS[name] = ModelSpec(name, builder, description, dict(training or {}), config_class, model_class)


def _load_builtins() -> None:
    """Register the baselines on first use (imports flow baselines -> registry, never back)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from .baselines import BASELINE_CONFIGS, BASELINE_MODELS, BASELINES

        for name, (builder, description, training) in BASELINES.items():
            config_class, model_class = BASELINE_CONFIGS.get(name), BASELINE_MODELS.get(name)
            spec = ModelSpec(name, builder, description, dict(training), config_class, model_class)
            _SPECS.setdefault(name, spec)


def list_models() -> list[str]:
    """All buildable model names: the Wave presets, then the registered baselines and other builders."""
    _load_builtins()
    return list_presets() + sorted(n for n in _SPECS if n not in list_presets())


def model_spec(name: str) -> ModelSpec | None:
    """The registration of non-preset model ``name`` (``None`` for a Wave preset or an unknown name)."""
    _load_builtins()
    return _SPECS.get(name)


def training_defaults(name: str) -> dict[str, Any]:
    """The default ``learning_rate``, ``epochs`` and ``batch_size`` of model ``name`` (its preset's or recipe's)."""
    spec = model_spec(name)
    if spec is not None:
        return dict(spec.training)
    try:
        return dict(get_preset(name).training)
    except KeyError:
        return {}


def fits_without_gradients(name: str) -> bool:
    """Whether model ``name`` learns without gradients (its class is a ``capabilities.FitsWithoutGradients``):
    then no optimiser is built and its recipe has no ``learning_rate``. The Wave presets learn with gradients."""
    spec = model_spec(name)
    return spec is not None and spec.model_class is not None and issubclass(spec.model_class, FitsWithoutGradients)


def describe_model(name: str) -> str:
    """The one-line description of a preset or registered model."""
    spec = model_spec(name)
    return spec.description if spec is not None else get_preset(name).description


def wave_config_from_preset(name: str, **overrides: Any) -> WaveConfig:
    """A ``WaveConfig`` from preset ``name`` with ``overrides`` (any ``WaveConfig`` field) applied on top."""
    fields = dict(get_preset(name).model)
    fields.update(overrides)
    return WaveConfig(**fields)


def check_model_overrides(name: str, overrides: dict[str, Any], max_length: int | None = None) -> None:
    """Refuse, before any work, overrides that model ``name`` would misread: for a Wave preset every field must
    be a ``WaveConfig`` field, of its annotated type (``residual=maybe`` is not a bool, ``num_layers=1.5`` not
    an int) and within its range (``WaveConfig.validate``); a ``max_length`` longer than the position table is
    refused too. Messages name the field as ``WaveConfig.<field>``. Other models take their own library's config
    fields: every key must be a named parameter of the model's builder or a field of its config class (the
    ``__init__`` parameters of that class and its bases), of the default value's type."""
    if name not in list_presets():
        _check_builder_overrides(name, overrides)
        return
    hints = typing.get_type_hints(WaveConfig.__init__)
    known = [p for p in inspect.signature(WaveConfig.__init__).parameters if p not in ("self", "kwargs")]
    for key, value in overrides.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are {', '.join(known)}"
            raise ValueError(f"WaveConfig.{key} is not a field{hint}")
        if not _of_type(value, hints[key]):
            raise ValueError(f"WaveConfig.{key}={value!r}; expected {_type_name(hints[key])}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run itself warns once, when it builds the model
        config = wave_config_from_preset(name, **overrides)
    if max_length is not None and config.position_embedding != "none" and max_length > config.max_position_embeddings:
        raise ValueError(
            f"DataConfig.max_length={max_length} is longer than the model's {config.max_position_embeddings} "
            f"positions; lower it, or give the model WaveConfig.max_position_embeddings={max_length}"
        )


_BUILDER_ARGS = ("num_labels", "vocab_size", "max_length")  # what create_model passes itself


def _check_builder_overrides(name: str, overrides: dict[str, Any]) -> None:
    """``check_model_overrides`` for a registered (non-preset) model; a builder that takes ``**kwargs`` without a
    known config class is left to check its own."""
    spec = model_spec(name)
    if spec is None or not overrides:
        return
    fields: dict[str, Any] = {}  # name -> default (inspect.Parameter.empty where there is none)
    open_ended = False
    for parameter in inspect.signature(spec.builder).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
        elif parameter.name not in _BUILDER_ARGS:
            fields[parameter.name] = parameter.default
    if open_ended and spec.config_class is None:
        return
    for cls in reversed(getattr(spec.config_class, "__mro__", ())):
        if cls is object or "__init__" not in vars(cls):
            continue
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                fields[parameter.name] = parameter.default
    fields = {k: v for k, v in fields.items() if k != "self" and k not in _BUILDER_ARGS}
    for key, value in overrides.items():
        if key not in fields:
            close = [f for f in fields if f.lower() == key.lower()] or difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are {', '.join(sorted(fields))}"
            raise ValueError(f"TrainConfig.model_overrides['{key}'] is not a field of {name!r}{hint}")
        default = fields[key]
        expected = type(default) if isinstance(default, (bool, int, float, str)) else None
        if expected is not None and not _of_type(value, expected):
            raise ValueError(
                f"TrainConfig.model_overrides['{key}']={value!r} for {name!r}; expected {_type_name(expected)}"
            )


def _of_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type ``hint`` (an int is a float; a bool is not an int)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_of_type(value, arm) for arm in args)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(_of_type(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in args if typing.get_origin(a) is not tuple]  # list[int] | tuple[int, ...]: one name
        return " or ".join(_type_name(a) for a in arms)
    if origin in (list, tuple):
        plural = {int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(args[0], _type_name(args[0]))}"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def load_token_embeddings(model: WaveForSequenceClassification, checkpoint: str) -> None:
    """Copy the input token embeddings of a BERT-family ``checkpoint`` into ``model``'s token table (the
    "pre-trained token embeddings" variant; everything else keeps its fresh initialisation)."""
    from safetensors import safe_open
    from transformers import AutoModel

    from .baselines.checkpoints import quiet_transformers, resolve_checkpoint

    path = resolve_checkpoint(checkpoint)
    weights = Path(path) / "model.safetensors"
    if weights.exists():  # read the one tensor instead of building the whole encoder
        with safe_open(weights, framework="pt") as f:
            key = next((k for k in f.keys() if k.endswith("word_embeddings.weight")), None)
            table = f.get_tensor(key) if key is not None else None
    else:
        table = None
    if table is None:
        with quiet_transformers():
            table = AutoModel.from_pretrained(path).get_input_embeddings().weight.detach()
    target = model.get_input_embeddings().weight
    if tuple(table.shape) != tuple(target.shape):
        raise ValueError(
            f"token_embeddings_from={checkpoint!r}: its table is {tuple(table.shape)} (vocabulary x width), "
            f"the model's is {tuple(target.shape)}; set hidden_size={table.shape[1]} and use the checkpoint's tokenizer"
        )
    with torch.no_grad():
        target.copy_(table.to(target.dtype))


def create_model(
    name: str, num_labels: int = 2, vocab_size: int = 30522, max_length: int | None = None, **overrides: Any
) -> nn.Module:
    """Build the model called ``name`` with a fresh initialisation (pre-trained weights where the model is a
    pre-trained baseline).

    The returned module follows the project's model interface: ``forward(input_ids, attention_mask,
    token_type_ids=None, labels=None)`` returns a ``SequenceClassifierOutput`` (loss when labels are given).
    ``max_length`` is ignored by the Wave presets, whose cost does not depend on padding.
    """
    spec = model_spec(name)
    if spec is not None:
        return spec.builder(num_labels=num_labels, vocab_size=vocab_size, max_length=max_length, **overrides)
    if name in list_presets():
        config = wave_config_from_preset(name, num_labels=num_labels, vocab_size=vocab_size, **overrides)
        model = WaveForSequenceClassification(config)
        if config.token_embeddings_from:
            load_token_embeddings(model, config.token_embeddings_from)
        return model
    raise KeyError(f"unknown model {name!r}; known models: {', '.join(list_models())}")


# WaveConfig fields that change what a pre-trained wave path's weights mean: a warm start must match them.
ARCHITECTURE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_layers",
    "wave_mode",
    "readout",
    "position_embedding",
    "global_semantics",
    "local_window",
    "ngram_orders",
    "ngram_buckets",
    "ffn_dim",
    "ffn_activation",
    "residual",
    "norm",
)


def create_masked_lm(name: str, vocab_size: int = 30522, **overrides: Any) -> WaveForMaskedLM:
    """A ``WaveForMaskedLM`` with the wave path of Wave preset ``name`` (``wave-network pretrain``): its config with
    ``overrides``, without the classifier-only wide n-gram path and pre-trained token table source."""
    if name not in list_presets():
        raise ValueError(
            f"pre-training needs a Wave preset ({', '.join(list_presets())}); {name!r} is not one (the BERT-family "
            "baselines come pre-trained)"
        )
    fields = {"bag_ngram_orders": [], "bag_buckets": 0, "bag_weighting": "mean", "num_labels": 1} | overrides
    model = WaveForMaskedLM(wave_config_from_preset(name, vocab_size=vocab_size, **fields))
    if model.config.token_embeddings_from:
        load_token_embeddings(model, model.config.token_embeddings_from)
    return model


def load_pretrained_wave(model: nn.Module, source: str | Path) -> dict[str, Any]:
    """Initialise the wave path (``model.wave``: embeddings and blocks) of a Wave model from a saved Wave model
    directory ``source`` (a ``wave-network pretrain`` run directory, its ``best/``, or any saved Wave classifier),
    leaving the rest (classifier head, wide path) as initialised.

    The two configs must agree on ``ARCHITECTURE_FIELDS``. The position table may be longer in ``source`` (its first
    rows are taken); segment embeddings that ``source`` lacks (pre-trained on single texts, fine-tuned on pairs)
    keep their fresh initialisation. Returns what was done: ``source``, ``loaded`` and ``initialised`` tensor
    names."""
    from safetensors.torch import load_file

    if not isinstance(model, WavePreTrainedModel) or not hasattr(model, "wave"):
        raise ValueError("init_from initialises Wave models (the presets); this model is not one")
    directory = Path(source)
    if not (directory / "model.safetensors").exists() and (directory / "best" / "model.safetensors").exists():
        directory = directory / "best"  # a run directory
    weights = directory / "model.safetensors"
    if not (directory / "config.json").exists() or not weights.exists():
        raise FileNotFoundError(
            f"init_from={str(source)!r}: no saved Wave model there (config.json and model.safetensors, or a run "
            "directory with best/); give a `wave-network pretrain` run directory"
        )
    saved = WaveConfig.from_pretrained(directory)
    differ = [
        f"{name} {getattr(saved, name)!r} (this model: {getattr(model.config, name)!r})"
        for name in ARCHITECTURE_FIELDS
        if getattr(saved, name) != getattr(model.config, name)
    ]
    if differ:
        raise ValueError(
            f"init_from={str(source)!r} was trained with another wave path: {'; '.join(differ)}. Train with the "
            "same preset and --set overrides as the pre-training run (see its run.yaml)"
        )
    state = {k.removeprefix("wave."): v for k, v in load_file(weights).items() if k.startswith("wave.")}
    target = model.wave.state_dict()
    loaded, initialised = [], []
    with torch.no_grad():
        for key, tensor in target.items():
            value = state.get(key)
            if value is None:
                initialised.append(f"wave.{key}")
                continue
            if key.endswith("position_embeddings.weight") and value.shape[0] > tensor.shape[0]:
                value = value[: tensor.shape[0]]
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(
                    f"init_from={str(source)!r}: wave.{key} is {tuple(value.shape)} there and {tuple(tensor.shape)} "
                    "here; lower DataConfig.max_length to the pre-training run's or pre-train with this one"
                )
            tensor.copy_(value.to(tensor.dtype))
            loaded.append(f"wave.{key}")
    if not loaded:
        raise ValueError(f"init_from={str(source)!r}: the saved model has no wave.* weights")
    return {"source": str(directory), "loaded": len(loaded), "initialised": initialised}
