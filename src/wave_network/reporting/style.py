"""How every figure of the library looks: one colour and marker per model, the same in every figure; labels that
do not overlap; log axes whose tick labels do not collide.

matplotlib is imported inside the functions, never at module level, and only its object API is used
(``Figure`` + the Agg canvas): no pyplot, no global backend switch, nothing changed for a user who plots
interactively in the same process.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelStyle:
    """The colour (hex) and marker a model is drawn with."""

    color: str
    marker: str


# One pair per registered model (``wave_network.list_models()``), hand-picked from a 20-colour qualitative palette
# chosen for distinctness on white (Trubetskoy's "20 distinct colours"): no two models share a colour, so a reader
# can match a point to the legend by colour alone, and the marker tells them apart in greyscale. The test suite
# checks that every registered name has an entry here.
MODEL_STYLES: dict[str, ModelStyle] = {
    "paper-modulation": ModelStyle("#e6194b", "o"),  # red
    "paper-interference": ModelStyle("#4363d8", "s"),  # blue
    "paper-multilayer": ModelStyle("#911eb4", "D"),  # purple
    "seed-modulation": ModelStyle("#f032e6", "v"),  # magenta
    "wave-ngram": ModelStyle("#f58231", "^"),  # orange
    "wave-wide": ModelStyle("#3cb44b", "<"),  # green
    "wave-nb": ModelStyle("#469990", ">"),  # teal
    "wave-nb-fit": ModelStyle("#d4a017", "s"),  # mustard
    "wave-minilm": ModelStyle("#42d4f4", "P"),  # cyan
    "wave-minilm-wide": ModelStyle("#000075", "X"),  # navy
    "bert": ModelStyle("#000000", "*"),  # black
    "transformer-1layer": ModelStyle("#a9a9a9", "h"),  # grey
    "fnet": ModelStyle("#9a6324", "H"),  # brown
    "fasttext": ModelStyle("#808000", "p"),  # olive
    "tfidf": ModelStyle("#800000", "d"),  # maroon
    "nbsvm": ModelStyle("#bfef45", "8"),  # lime
    "majority": ModelStyle("#fabed4", "o"),  # pink
}
# Colours for names outside the registry (a benchmark's variants of a preset, a user's own model), none of them
# used above; taken in order, skipping any already used in the same figure.
EXTRA_COLORS = (
    "#ffe119",  # yellow
    "#dcbeff",  # lavender
    "#aaffc3",  # mint
    "#ffd8b1",  # apricot
    "#1b5e20",  # dark green
    "#5d6d7e",  # slate
    "#c71585",  # deep pink
    "#7fb3d5",  # light steel blue
    "#e59866",  # tan
    "#6c3483",  # dark violet
    "#b7950b",  # dark gold
    "#117a65",  # dark teal
)
EXTRA_MARKERS = ("o", "s", "D", "v", "^", "<", ">", "P", "X", "*", "h", "H", "p", "d", "8")
# A thin dark edge keeps the light colours (lime, pink, yellow, mint) visible on white.
EDGE = {"edgecolors": "#333333", "linewidths": 0.5}


def model_styles(names: Iterable[str]) -> dict[str, ModelStyle]:
    """The style of each name in one figure, every colour different.

    A registered model always gets its own pair (the same in every figure). Any other name takes the pair of the
    registered model it starts with (``"wave-minilm (pre-trained)"`` is drawn as ``wave-minilm``) unless that
    colour is already in the figure, else the first of ``EXTRA_COLORS`` not yet used; deterministic in the order
    of ``names``.
    """
    names = list(dict.fromkeys(names))
    styles = {name: MODEL_STYLES[name] for name in names if name in MODEL_STYLES}
    used = {style.color for style in styles.values()}
    extra = 0
    for name in names:
        if name in styles:
            continue
        parent = _registered_prefix(name)
        if parent is not None and MODEL_STYLES[parent].color not in used:
            styles[name] = MODEL_STYLES[parent]
        else:
            pool = [c for c in (*EXTRA_COLORS, *_fallback_colors()) if c not in used]
            styles[name] = ModelStyle(pool[0], EXTRA_MARKERS[extra % len(EXTRA_MARKERS)])
            extra += 1
        used.add(styles[name].color)
    return {name: styles[name] for name in names}


def model_style(name: str) -> ModelStyle:
    """The style of one model drawn alone (``model_styles`` for several in one figure)."""
    return model_styles([name])[name]


def _registered_prefix(name: str) -> str | None:
    parents = [m for m in MODEL_STYLES if name.startswith(m) and name[len(m) : len(m) + 1] in (" ", ",", "(")]
    return max(parents, key=len, default=None)


def _fallback_colors() -> list[str]:
    # Past the hand-picked colours (more than 28 names in one figure): evenly spaced hues, still all different.
    import colorsys

    return ["#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in colorsys.hsv_to_rgb(i / 64, 0.8, 0.7)))
            for i in range(64)]  # fmt: skip


# --- figures -------------------------------------------------------------------------------------------------------


def new_figure(figsize: tuple[float, float], dpi: int = 110) -> Any:
    """A ``matplotlib.figure.Figure`` on its own Agg canvas, with constrained layout; draw on ``fig.subplots()``
    and write it with ``fig.savefig(path)``. Save at the figure's own ``dpi`` (the default): label placement is
    measured in its pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def compact_number(value: float) -> str:
    """Short tick text: 0.5, 20, 300, 1.5k, 20k, 3M, 1.2G; short labels are what keeps log ticks apart."""
    if value == 0:
        return "0"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


# Tick positions within a decade, densest first: 1-9, 1-2-5, 1-3, whole decades.
_LOG_SUBS = ((1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0), (1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))


def log_axis(ax: Any, axis: str = "x") -> None:
    """Put ``axis`` of ``ax`` on a log scale whose tick labels do not collide.

    matplotlib's default labels the minor ticks (``2x10^1 3x10^1 4x10^1 ...``) when the data span about a decade
    or less, and those run into each other. Here only major ticks are labelled, in compact numbers, at the densest
    of 1-9, 1-2-5, 1-3 steps or whole decades (thinned further when needed) whose labels, as drawn at the
    figure's size, do not touch. Call it once the data and any outside legend are drawn: it measures.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    getattr(ax, f"set_{axis}scale")("log")
    target = getattr(ax, f"{axis}axis")
    target.set_major_formatter(FuncFormatter(lambda value, _pos: compact_number(value)))
    target.set_minor_formatter(NullFormatter())
    fig = ax.figure
    fig.draw_without_rendering()
    box = ax.get_window_extent()
    lo, hi = sorted(abs(v) for v in (ax.get_xlim() if axis == "x" else ax.get_ylim()))
    per_decade = (box.width if axis == "x" else box.height) / max(math.log10(hi / lo), 1e-9)  # pixels
    font = target.get_ticklabels()[0].get_size() * fig.dpi / 72 if target.get_ticklabels() else 10.0
    # A step that leaves less than about three digits' width between ticks cannot fit: not worth a draw.
    subs_that_may_fit = [subs for subs in _LOG_SUBS if _min_step(subs) * per_decade >= 2 * font]
    choices = [LogLocator(base=10, subs=subs) for subs in subs_that_may_fit]
    choices += [LogLocator(base=10, subs=(1.0,), numticks=n) for n in (6, 4, 3, 2)]  # every 2nd, 3rd ... decade
    fallback = None
    for locator in choices:
        target.set_major_locator(locator)
        labels = tick_label_boxes(ax, axis)
        if boxes_overlap(labels):
            continue
        if len(labels) >= 2:
            return
        fallback = fallback or locator  # one label only: keep looking for two, else use the densest such
    target.set_major_locator(fallback or choices[-1])


def _min_step(subs: Sequence[float]) -> float:
    """The smallest distance in decades between neighbouring ticks at ``subs`` of every decade."""
    steps = [math.log10(b / a) for a, b in zip(subs, (*subs[1:], 10 * subs[0]), strict=True)]
    return min(steps)


def tick_label_boxes(ax: Any, axis: str = "x") -> list[Any]:
    """Pixel extents of the tick labels ``axis`` of ``ax`` shows (within its limits, non-empty), after a layout
    pass: what must not collide."""
    fig = ax.figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    target = getattr(ax, f"{axis}axis")
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    boxes = []
    for tick in target.get_major_ticks():
        if not lo <= tick.get_loc() <= hi:
            continue
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text():
                boxes.append(label.get_window_extent(renderer))
    return boxes


# --- labels that do not overlap --------------------------------------------------------------------------------------


def annotate_points(ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float = 8) -> list[Any]:
    """Label each ``(x, y, text)`` just right of and above its point; ``place_labels`` then separates them."""
    annotations = []
    for x, y, text in points:
        annotation = ax.annotate(
            text,
            (x, y),
            xytext=(5, 3),
            textcoords="offset points",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "relpos": (0.0, 0.0), "color": "#777777", "lw": 0.5, "shrinkA": 0,
                        "shrinkB": 3},
        )  # fmt: skip
        annotation.arrow_patch.set_visible(False)  # a leader line only for a label moved away from its point
        annotation.set_in_layout(False)  # the layout must not move the axes under labels already placed
        annotations.append(annotation)
    return annotations


def label_box(annotation: Any, renderer: Any) -> Any:
    """The pixel extent of an annotation's text alone (``get_window_extent`` adds its leader line)."""
    from matplotlib.text import Text

    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer)


def place_labels(fig: Any, annotations: Sequence[Any], pad_points: float = 1.5) -> None:
    """Move point labels (from ``annotate_points``) up until no two overlap.

    Deterministic sweep: labels are taken from the lowest up, and each one is lifted just above every already
    placed label it shares some horizontal extent with. Lifting never changes a label's horizontal extent, so
    the result has no overlap by construction. A label lifted away from its point shows its leader line.
    """
    if not annotations:
        return
    fig.draw_without_rendering()  # runs the layout, so the pixel positions measured below are final
    renderer = fig.canvas.get_renderer()
    to_points = 72.0 / fig.dpi
    pad = pad_points / to_points
    boxes = [label_box(annotation, renderer) for annotation in annotations]
    order = sorted(range(len(annotations)), key=lambda i: (boxes[i].y0, boxes[i].x0))
    placed: list[tuple[float, float, float]] = []  # (x0, x1, top) of the labels placed so far, in pixels
    for i in order:
        box = boxes[i]
        floor = max((top + pad for x0, x1, top in placed if x0 < box.x1 and box.x0 < x1), default=-math.inf)
        lift = max(0.0, floor - box.y0)
        if lift > 0:
            dx, dy = annotations[i].xyann
            annotations[i].xyann = (dx, dy + lift * to_points)
            annotations[i].arrow_patch.set_visible(True)
        placed.append((box.x0, box.x1, box.y1 + lift))


def boxes_overlap(boxes: Sequence[Any]) -> list[tuple[int, int]]:
    """Pairs of indices of ``matplotlib.transforms.Bbox`` es that intersect (with positive area)."""
    pairs = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            if min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0):
                pairs.append((i, j))
    return pairs
