"""Models built by name (as timm's ``create_model``): every preset is a registered model name. Baselines register
builders here too, so tests and benchmarks can iterate over ``list_models()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .configuration_wave import WaveConfig
from .modeling_wave import WaveForSequenceClassification
from .presets import get_preset, list_presets

ModelBuilder = Callable[..., nn.Module]
_BUILDERS: dict[str, ModelBuilder] = {}


def register_model(name: str, builder: ModelBuilder) -> None:
    """Register ``builder(num_labels=..., vocab_size=..., **overrides) -> nn.Module`` under ``name``."""
    _BUILDERS[name] = builder


def list_models() -> list[str]:
    """All buildable model names: the Wave presets, then registered builders."""
    return list_presets() + sorted(n for n in _BUILDERS if n not in list_presets())


def wave_config_from_preset(name: str, **overrides: Any) -> WaveConfig:
    """A ``WaveConfig`` from preset ``name`` with ``overrides`` (any ``WaveConfig`` field) applied on top."""
    fields = dict(get_preset(name).model)
    fields.update(overrides)
    return WaveConfig(**fields)


def create_model(name: str, num_labels: int = 2, vocab_size: int = 30522, **overrides: Any) -> nn.Module:
    """Build the model called ``name`` with a fresh initialisation.

    The returned module follows the project's model interface: ``forward(input_ids, attention_mask,
    token_type_ids=None, labels=None)`` returns a ``SequenceClassifierOutput`` (loss when labels are given).
    """
    if name in _BUILDERS:
        return _BUILDERS[name](num_labels=num_labels, vocab_size=vocab_size, **overrides)
    if name in list_presets():
        config = wave_config_from_preset(name, num_labels=num_labels, vocab_size=vocab_size, **overrides)
        return WaveForSequenceClassification(config)
    raise KeyError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
