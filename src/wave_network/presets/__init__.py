"""Named presets: small YAML files in ``wave_network/presets/`` that hold a model config, the paper's training
defaults, a one-line description and where the preset departs from the paper. Presets are data, not code."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Preset:
    """One named configuration. ``model`` holds ``WaveConfig`` fields; ``training`` holds training defaults."""

    name: str
    description: str
    departures: str
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


@cache
def _load_all() -> dict[str, Preset]:
    presets = {}
    for entry in sorted(resources.files("wave_network.presets").iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        name = entry.name.removesuffix(".yaml")
        presets[name] = Preset(name=name, **data)
    return presets


def list_presets() -> list[str]:
    """Names of all presets, sorted."""
    return list(_load_all())


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    presets = _load_all()
    if name not in presets:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(presets)}")
    return presets[name]
