"""Figure pieces shared by the suites and the benchmarks: points of several models on one axes, each model in
its own colour and marker (``style.model_styles``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .style import EDGE, ModelStyle, annotate_points, model_styles

__all__ = ["Point", "scatter_models"]


@dataclass(frozen=True)
class Point:
    """One measurement of ``model``: ``y`` (with an optional error bar) against ``x``, and an optional ``label``
    written next to the point (a data set, say)."""

    model: str
    x: float
    y: float
    yerr: float | None = None
    label: str | None = None


def scatter_models(
    ax: Any, points: Sequence[Point], styles: dict[str, ModelStyle] | None = None, size: float = 48
) -> list[Any]:
    """Draw ``points``, one legend entry per model in order of first appearance; returns the annotations of the
    labelled points, for ``style.place_labels`` once the axes are final (scales, limits, legend)."""
    styles = styles or model_styles(p.model for p in points)
    for model in dict.fromkeys(p.model for p in points):
        mine = [p for p in points if p.model == model]
        style = styles[model]
        if any(p.yerr for p in mine):
            ax.errorbar([p.x for p in mine], [p.y for p in mine], yerr=[p.yerr or 0 for p in mine], fmt="none",
                        ecolor=style.color, capsize=3, lw=1)  # fmt: skip
        ax.scatter([p.x for p in mine], [p.y for p in mine], s=size, color=style.color, marker=style.marker,
                   label=model, zorder=3, **EDGE)  # fmt: skip
    return annotate_points(ax, [(p.x, p.y, p.label) for p in points if p.label])
