"""``wave_network.reporting``: one colour and marker per model in every figure, point labels and log-axis tick
labels that do not collide (measured on the rendered figure), matplotlib confined to the package, and the run
figures drawn from a run directory's records rather than by training."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wave_network import list_models
from wave_network.reporting import (
    MODEL_STYLES,
    Point,
    boxes_overlap,
    comparison_figure,
    label_box,
    log_axis,
    model_styles,
    new_figure,
    place_labels,
    report_run,
    scatter_models,
    tick_label_boxes,
)
from wave_network.reporting.style import EXTRA_COLORS
from wave_network.training.rundir import CONFUSION_MATRIX, METRICS, RESULTS, TRAINING_CURVES

SRC = Path(__file__).resolve().parents[1] / "src" / "wave_network"
# The 13 names of benchmarks/wave_variants_benchmark.py's ladder plot (rungs and classics), which once shared colours.
LADDER = [
    "paper-modulation",
    "wave-ngram, no n-grams",
    "wave-ngram",
    "wave-wide, no wide path, no label smoothing",
    "wave-wide, no label smoothing",
    "wave-wide, mean weighting",
    "wave-wide",
    "wave-wide, nb weighting",
    "wave-minilm (pre-trained)",
    "wave-minilm-wide (pre-trained)",
    "fasttext",
    "tfidf",
    "nbsvm",
]


def test_every_registered_model_has_its_own_colour():
    assert set(list_models()) <= set(MODEL_STYLES)
    styles = model_styles(list_models())
    colors = [style.color.lower() for style in styles.values()]
    assert len(set(colors)) == len(colors)
    assert not set(colors) & {c.lower() for c in EXTRA_COLORS}  # an unregistered name never looks registered
    assert all(styles[name] == MODEL_STYLES[name] for name in list_models())  # the same pair in every figure


def test_other_names_get_colours_unused_in_their_figure():
    styles = model_styles(LADDER)
    colors = [style.color for style in styles.values()]
    assert len(set(colors)) == len(LADDER) == 13
    assert styles["paper-modulation"] == MODEL_STYLES["paper-modulation"]
    assert styles["fasttext"] == MODEL_STYLES["fasttext"]
    assert styles["wave-minilm (pre-trained)"] == MODEL_STYLES["wave-minilm"]  # a registered model's variant
    assert styles["wave-wide, mean weighting"] != MODEL_STYLES["wave-wide"]  # wave-wide itself is in the figure
    assert model_styles(LADDER) == styles  # deterministic
    many = model_styles(f"model {i}" for i in range(60))
    assert len({style.color for style in many.values()}) == 60


def _record(n: int = 13) -> dict:
    """A comparison whose models nearly coincide: the case where labels at the points overlapped."""
    names = (list_models() + LADDER)[:n]
    rows = [
        {"model": name, "status": "ok", "test_accuracy": 0.88 + 0.0005 * i, "train_time_s": 40 + i,
         "params_total": 1_000_000 + 1000 * i}
        for i, name in enumerate(names)
    ]  # fmt: skip
    rows.append({"model": "bert", "status": "failed", "error": "no weights"})
    return {"dataset": "ag_news", "max_length": 128, "seed": 42, "rows": rows}


@pytest.mark.parametrize("kind", ["time", "params"])
def test_compare_plot_names_each_model_once_in_its_own_colour_and_marker(kind):
    record = _record()
    fig = comparison_figure(record, kind)
    [ax] = fig.axes
    assert not ax.texts  # no labels at the points to overlap
    [legend] = fig.legends
    names = [text.get_text() for text in legend.get_texts()]
    ok = sorted((r for r in record["rows"] if r["status"] == "ok"), key=lambda r: -r["test_accuracy"])
    assert names == [r["model"] for r in ok]  # best first
    colors = [tuple(handle.get_facecolor()[0]) for handle in legend.legend_handles]
    assert len(set(colors)) == len(names)
    styles = model_styles(names)
    markers = [collection.get_paths()[0] for collection in ax.collections]
    assert len(markers) == len(names)
    assert all(styles[n].color.lower() == _hex(c) for n, c in zip(names, colors, strict=True))
    assert not boxes_overlap(tick_label_boxes(ax, "x"))


def _hex(rgba) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


def test_point_labels_are_moved_apart_until_none_overlap():
    fig = new_figure((6, 4))
    ax = fig.subplots()
    points = [Point(name, 100 + i, 85 + 0.01 * i, label=name) for i, name in enumerate(LADDER)]
    points += [Point("bert", 1, 50), Point("bert", 1e4, 95)]  # the axis range: the labelled points nearly coincide
    annotations = scatter_models(ax, points)
    log_axis(ax, "x")
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    before = [label_box(a, renderer) for a in annotations]
    assert boxes_overlap(before)  # the case is real: 13 labels at almost one point
    place_labels(fig, annotations)
    fig.draw_without_rendering()
    after = [label_box(a, renderer) for a in annotations]
    assert len(after) == 13 and not boxes_overlap(after)
    moved = [a for a in annotations if a.arrow_patch.get_visible()]
    assert 0 < len(moved) < 13  # the lowest label stays at its point, the others get a leader line


@pytest.mark.parametrize(
    ("lo", "hi", "width"),
    [(21, 790, 7), (0.09, 230, 6), (4, 3e7, 8.4), (150, 200, 5), (1e-3, 1e9, 2.5)],
)
def test_log_axis_tick_labels_do_not_collide(lo, hi, width):
    fig = new_figure((width, 3.5))
    ax = fig.subplots()
    ax.scatter([lo, (lo * hi) ** 0.5, hi], [1, 2, 3])
    log_axis(ax, "x")
    boxes = tick_label_boxes(ax, "x")
    assert boxes and not boxes_overlap(boxes)


def test_matplotlib_is_imported_by_reporting_only():
    offenders = []
    for path in SRC.rglob("*.py"):
        if "reporting" in path.relative_to(SRC).parts:
            continue
        if re.search(r"^\s*(import matplotlib|from matplotlib)", path.read_text(), re.MULTILINE):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []
    assert not any(re.search(r"matplotlib\.use\(|import matplotlib\.pyplot", p.read_text()) for p in SRC.rglob("*.py"))
    code = "import sys, wave_network.compare, wave_network.training; assert 'matplotlib' not in sys.modules"
    env = os.environ | {"PYTHONPATH": str(SRC.parent)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_report_run_draws_the_figures_from_the_records(tmp_path):
    records = [
        {"type": "step", "step": 1, "loss": 1.4},
        {"type": "step", "step": 2, "loss": 1.1},
        {"type": "epoch", "epoch": 1, "step": 2, "train_loss": 1.2, "val_loss": 1.0, "val_f1_macro": 0.5},
    ]
    (tmp_path / METRICS).write_text("".join(json.dumps(r) + "\n" for r in records))
    results = {
        "metrics": {"test_confusion_matrix": [[3, 1], [0, 4]]},
        "selection": {"monitor": "val_f1_macro", "best_epoch": 1},
        "label_names": ["neg", "pos"],
    }
    (tmp_path / RESULTS).write_text(json.dumps(results))
    written = report_run(tmp_path)
    assert written == [tmp_path / TRAINING_CURVES, tmp_path / CONFUSION_MATRIX]
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in written)
    (tmp_path / RESULTS).unlink()  # an interrupted run: its curves so far
    (tmp_path / TRAINING_CURVES).unlink()
    assert report_run(tmp_path) == [tmp_path / TRAINING_CURVES]
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        report_run(tmp_path / "missing")


def test_the_runner_draws_no_figure():
    runner = (SRC / "training" / "runner.py").read_text()
    assert not re.search(r"\.png|savefig|plot_|report_run\(|import .*reporting", runner)
