"""Train the paper's Wave presets on the real data sets in ../shared/data and record test accuracy, F1, time per
epoch, tokens/s and peak memory, one JSON record per (dataset, model, seed).

    python benchmarks/train_benchmark.py                       # every dataset x model below, seed 42
    python benchmarks/train_benchmark.py --datasets ag_news --models paper-modulation --seeds 1,2,3
    python benchmarks/train_benchmark.py --render-only         # rebuild the table and plot from the records

Each run is a plain ``wave-network train`` command (recorded in its record) writing its run directory under
runs/benchmarks/; records go to benchmarks/results/train/ and a finished record is not re-run. The Markdown table
(benchmarks/results/train_results.md) and plot (train_results.png) are generated from the records only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from wave_network.reporting import Point, log_axis, new_figure, place_labels, scatter_models

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "results" / "train"
RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "benchmarks"

# Protocol per data set (paper Table 2: 80/20 train/validation split of the official train set, official test).
DATASETS = {
    "imdb": {"args": ["--max-length", "512"], "label": "IMDB (25k train, official 25k test)"},
    "sst2": {"args": ["--max-length", "128"], "label": "SST-2 (67k train, GLUE dev as test)"},
    "ag_news": {"args": ["--max-length", "128"], "label": "AG News (4,999-row train subset, official test)"},
}
MODELS = ["paper-modulation", "paper-interference"]
TARGETS = {"imdb": (0.870, "paper Table 2"), "sst2": (0.805, "proof-of-life GLUE dev")}
METRICS = ("test_accuracy", "test_f1_macro", "test_f1_weighted", "test_loss", "val_accuracy")


def record_path(dataset: str, model: str, seed: int) -> Path:
    return RECORDS / f"{dataset}__{model}__seed{seed}.json"


def run_one(dataset: str, model: str, seed: int, extra: list[str]) -> dict:
    run_dir = RUNS / f"{dataset}__{model}__seed{seed}"
    command = [
        "wave-network",
        "train",
        "--model",
        model,
        "--dataset",
        dataset,
        "--seed",
        str(seed),
        *DATASETS[dataset]["args"],
        *extra,
        "--output-dir",
        str(run_dir.relative_to(ROOT)),
        "--quiet",
    ]
    if (run_dir / "results.json").exists():
        print(f"finished run found, recording it: {run_dir}", flush=True)
    else:
        if (run_dir / "last").exists():
            command.append("--resume")  # an interrupted run continues where it stopped
        print("$", shlex.join(command), flush=True)
        # The CLI installed beside this interpreter, so the benchmark works without an activated venv.
        executable = Path(sys.executable).with_name("wave-network")
        subprocess.run([str(executable), *command[1:]], cwd=ROOT, check=True)
    results = json.loads((run_dir / "results.json").read_text())
    metrics, resources = results["metrics"], results["resources"]
    epoch_times = [t for t in resources.get("epoch_times_s") or [] if t is not None]
    record = {
        "benchmark": "train",
        "dataset": dataset,
        "dataset_label": DATASETS[dataset]["label"],
        "subset_note": (results.get("dataset_provenance") or {}).get("subset_note"),
        "model": model,
        "seed": seed,
        "command": shlex.join([c for c in command if c != "--resume"]),
        **{k: metrics.get(k) for k in METRICS},
        "best_epoch": results["selection"]["best_epoch"],
        "epochs_completed": results["epochs_completed"],
        "epoch_time_s": sum(epoch_times) / len(epoch_times) if epoch_times else None,
        "epoch_times_s": epoch_times,
        "train_tokens_per_s": resources.get("train_tokens_per_s"),
        "eval_tokens_per_s": resources.get("eval_tokens_per_s"),
        "peak_memory_mb": resources.get("peak_memory_mb"),
        "params_total": resources["parameters"].get("total"),
        "params_non_embedding": resources["parameters"].get("non_embedding"),
        "device": results.get("device"),
        "precision": results.get("precision"),
        "git_commit": results.get("git_commit"),
        "versions": results.get("versions"),
    }
    RECORDS.mkdir(parents=True, exist_ok=True)
    record_path(dataset, model, seed).write_text(json.dumps(record, indent=2) + "\n")
    return record


def render() -> None:
    """Markdown table and plot from every record in benchmarks/results/train/."""
    records = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))]
    if not records:
        print("no records yet")
        return
    lines = [
        "| data set | model | seed | test acc | test F1 macro | target | best epoch | s / epoch | train tok/s "
        "| peak MB |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in sorted(records, key=lambda r: (r["dataset"], r["model"], r["seed"])):
        target, source = TARGETS.get(r["dataset"], (None, ""))
        verdict = (
            "-" if target is None else f"{target:.1%} ({source}): {'met' if r['test_accuracy'] >= target else 'missed'}"
        )
        lines.append(
            f"| {r['dataset_label']} | `{r['model']}` | {r['seed']} | {r['test_accuracy']:.2%} | "
            f"{r['test_f1_macro']:.4f} | {verdict} | {r['best_epoch']} | {r['epoch_time_s']:.0f} | "
            f"{r['train_tokens_per_s']:,.0f} | {r['peak_memory_mb']:,.0f} |"
        )
    devices = sorted({r["device"] for r in records})
    lines += ["", f"Device: {'; '.join(devices)}. Peak memory is the peak RSS of the whole process on CPU.", ""]
    lines += ["Commands:", ""] + [f"- `{r['command']}`" for r in records]
    (RESULTS / "train_results.md").write_text("\n".join(lines) + "\n")
    _plot(records)
    print("\n".join(lines))


def _plot(records: list[dict]) -> None:
    plot_records(records).savefig(RESULTS / "train_results.png")


def plot_records(records: list[dict]) -> Any:
    """Test accuracy against seconds per epoch, a colour and marker per model, the data set written at each
    point (labels moved apart where points nearly coincide); the log axis labels major ticks only."""
    fig = new_figure((7, 4.5), dpi=120)
    ax = fig.subplots()
    records = sorted(records, key=lambda r: (r["model"], r["dataset"]))
    points = [Point(r["model"], r["epoch_time_s"], 100 * r["test_accuracy"], label=r["dataset"]) for r in records]
    labels = scatter_models(ax, points, size=40)
    ax.margins(x=0.12, y=0.08)  # room for the labels at the edge points, which the layout does not see
    ax.set_xlabel("seconds per training epoch (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Wave presets on real data (this machine's CPU)")
    ax.grid(alpha=0.3)
    ax.legend()
    log_axis(ax, "x")
    place_labels(fig, labels)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("extra", nargs="*", help="extra arguments passed to wave-network train (after --)")
    args = parser.parse_args()
    if not args.render_only:
        for dataset in args.datasets.split(","):
            for model in args.models.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    if record_path(dataset, model, seed).exists():
                        print(f"done already: {dataset} {model} seed {seed}")
                        continue
                    try:
                        run_one(dataset, model, seed, args.extra)
                    except subprocess.CalledProcessError as exc:
                        print(f"FAILED: {dataset} {model} seed {seed}: exit {exc.returncode}", file=sys.stderr)
    render()


if __name__ == "__main__":
    main()
