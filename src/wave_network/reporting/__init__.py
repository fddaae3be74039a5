"""Every Markdown table and figure of the library, produced from run directories and result records alone.

The suites (``compare``, ``glue``, ``reproduce``, ``analysis``) and ``training`` write records (JSON, JSONL);
the functions here turn records into tables and PNG figures. matplotlib is imported by this package only, inside
the functions that draw, through its object API (no pyplot, no global backend switch), so importing or running
training never loads it. ``style`` gives every model one colour and marker, the same in every figure.

Modules: ``run`` (a run directory's training curves and confusion matrix: ``report_run``), ``compare``,
``glue``, ``reproduce``, ``analysis``, ``tune`` (each suite's tables and plots), ``console`` (the tables the command
line prints, built from the same records), ``figures`` and ``style`` (shared pieces, also used by the benchmarks).
"""

from .analysis import (
    complexity_markdown,
    convergence_markdown,
    gradient_markdown,
    independence_markdown,
    plot_complexity,
    plot_convergence,
    plot_gradients,
    plot_independence,
)
from .compare import comparison_figure, fmt, pct, plot_comparison, render_markdown
from .figures import Point, scatter_models
from .glue import glue_markdown, plot_glue
from .reproduce import reproduce_markdown
from .run import plot_confusion_matrix, plot_training_curves, report_run
from .style import (
    MODEL_STYLES,
    ModelStyle,
    annotate_points,
    boxes_overlap,
    compact_number,
    label_box,
    log_axis,
    model_style,
    model_styles,
    new_figure,
    place_labels,
    tick_label_boxes,
)

__all__ = [
    "MODEL_STYLES",
    "ModelStyle",
    "Point",
    "annotate_points",
    "boxes_overlap",
    "compact_number",
    "comparison_figure",
    "complexity_markdown",
    "convergence_markdown",
    "fmt",
    "glue_markdown",
    "gradient_markdown",
    "independence_markdown",
    "label_box",
    "log_axis",
    "model_style",
    "model_styles",
    "new_figure",
    "pct",
    "place_labels",
    "plot_comparison",
    "plot_complexity",
    "plot_confusion_matrix",
    "plot_convergence",
    "plot_glue",
    "plot_gradients",
    "plot_independence",
    "plot_training_curves",
    "render_markdown",
    "report_run",
    "reproduce_markdown",
    "scatter_models",
    "tick_label_boxes",
]
