"""Models built by name (as timm's ``create_model``): every Wave preset and every baseline is a registered model
name, so tests, benchmarks and ``compare`` iterate over ``list_models()``.

A builder is ``builder(num_labels=..., vocab_size=..., max_length=..., **overrides) -> nn.Module`` returning a model
with the project's interface: ``forward(input_ids, attention_mask, token_type_ids=None, labels=None)`` gives a
``SequenceClassifierOutput``. ``max_length`` is the run's truncation length (FNet pads every text to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .configuration_wave import WaveConfig
from .modeling_wave import WaveForSequenceClassification
from .presets import get_preset, list_presets

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """A registered non-preset model: how to build it, its training recipe and a one-line description."""

    name: str
    builder: ModelBuilder
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)


_SPECS: dict[str, ModelSpec] = {}
_BUILTINS_LOADED = False


def register_model(
    name: str, builder: ModelBuilder, *, description: str = "", training: dict[str, Any] | None = None
) -> None:
    """Register ``builder`` under ``name``; ``training`` holds its default ``learning_rate``, ``epochs`` and
    ``batch_size`` (what ``TrainConfig.resolved`` fills in)."""
    _SPECS[name] = ModelSpec(name, builder, description, dict(training or {}))


def _load_builtins() -> None:
    """Register the baselines on first use (imports flow baselines -> registry, never back)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from .baselines import BASELINES

        for name, (builder, description, training) in BASELINES.items():
            _SPECS.setdefault(name, ModelSpec(name, builder, description, dict(training)))


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


def describe_model(name: str) -> str:
    """The one-line description of a preset or registered model."""
    spec = model_spec(name)
    return spec.description if spec is not None else get_preset(name).description


def wave_config_from_preset(name: str, **overrides: Any) -> WaveConfig:
    """A ``WaveConfig`` from preset ``name`` with ``overrides`` (any ``WaveConfig`` field) applied on top."""
    fields = dict(get_preset(name).model)
    fields.update(overrides)
    return WaveConfig(**fields)


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
