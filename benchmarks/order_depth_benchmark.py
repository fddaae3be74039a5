"""Issue 20's first two questions, with the ladder's protocol: does order-aware mixing help, and does depth help?

    python benchmarks/order_depth_benchmark.py                       # sst2, seeds 42, 43, 44
    python benchmarks/order_depth_benchmark.py --datasets sst2 --seeds 42 --variants "local G, window 2"

Every variant is the best from-scratch SST-2 rung of the ladder (`wave-wide, no label smoothing`: wave-wide with the
wide path on the mean of hashed uni- and bigram weights, no label smoothing; see benchmarks/wave_variants_benchmark.py)
with one change, trained by `wave-network train` on the same split (SST-2: validation on whole held-out sentences),
max length and seeds as the ladder, and the cheap classics on the same seeds. The base rung is trained again here
(the ladder's run directory is reused when present), so every row of a data set comes from the same runs/ tree.

Order: `global_semantics=local` (each token's G over its window of neighbours) and `text+local` (the text-level wave
modulated by the local one), `local_window` tokens each side. Depth: 2, 4 and 6 residual blocks (paper Eq. 8; the
preset's blocks are pre-FFN-residual with a final LayerNorm).

Accuracy only: the runs may share the machine, so no throughput is read from them.
Run directories: runs/benchmarks/variants/<dataset>[-<split>]__<variant>__seed<seed> (a finished one is reused).
Results: benchmarks/results/order_depth.{json,md,png}; then `python benchmarks/update_readme.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wave_variants_benchmark as ladder  # noqa: E402  (the ladder's protocol: commands, directories, summaries)
from efficiency import cpu_name  # noqa: E402
from wave_network.reporting import model_styles, new_figure  # noqa: E402

BASE_NAME = "wave-wide, no label smoothing"
BASE = next(r for r in ladder.LADDER if r[0] == BASE_NAME)
_, PRESET, BASE_SETS, _ = BASE


def variant(name: str, sets: list[str], adds: str) -> tuple:
    return (name, PRESET, [*BASE_SETS, *sets], adds)


VARIANTS = [
    BASE,
    variant("local G, window 2", ["global_semantics=local", "local_window=2"], "G over each token's +-2 neighbours"),
    variant(
        "text+local G, window 2",
        ["global_semantics=text+local", "local_window=2"],
        "text-level wave x local wave (+-2 neighbours)",
    ),
    variant("2 blocks", ["num_layers=2"], "two residual wave blocks (paper Eq. 8)"),
    variant("4 blocks", ["num_layers=4"], "four residual wave blocks (paper Eq. 8)"),
    variant("6 blocks", ["num_layers=6"], "six residual wave blocks (paper Eq. 8)"),
]


def untimed(row: dict) -> dict:
    """These runs answer accuracy questions and may share the CPU with other work: no throughput is reported
    from them (the ladder's --speed runs measure it alone)."""
    return row | {"train_tokens_per_s": None, "throughput_from": None}


def measured_on(dirs: list[Path]) -> dict:
    """The CPU and precisions of the runs behind a row (rows of one data set may come from different sessions)."""
    precisions = sorted({json.loads((d / "results.json").read_text())["precision"] for d in dirs})
    return {"cpu": cpu_name(), "precision": precisions}


def plot(record: dict, path: Path) -> None:
    """Test accuracy (mean and seed standard deviation) of every variant and classic, one panel per data set,
    each row in its own colour and marker."""
    datasets = list(record["datasets"])
    names = list(dict.fromkeys(n for info in record["datasets"].values() for n in info["rows"]))
    styles = model_styles(names)
    fig = new_figure((5.5 * len(datasets) + 1, 0.45 * len(names) + 1.5))
    axes = fig.subplots(1, len(datasets), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = record["datasets"][dataset]["rows"]
        shown = [n for n in names if n in rows and rows[n]["mean"] is not None]
        for y, name in enumerate(reversed(shown)):
            entry, style = rows[name], styles[name]
            ax.errorbar(entry["mean"], y, xerr=entry["std"] or 0, fmt=style.marker, color=style.color, capsize=3)
        ax.set_yticks(range(len(shown)), list(reversed(shown)), fontsize=8)
        ax.set_xlabel("test accuracy (%), mean ± std over seeds")
        ax.set_title(dataset)
        ax.grid(True, axis="x", alpha=0.3)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="sst2")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--variants", default=None, help="semicolon-separated variant names (default: all)")
    args = parser.parse_args()
    names = args.variants.split(";") if args.variants else [v[0] for v in VARIANTS]
    unknown = sorted(set(names) - {v[0] for v in VARIANTS})
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {[v[0] for v in VARIANTS]}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out_json = ladder.RESULTS / "order_depth.json"
    record = json.loads(out_json.read_text()) if out_json.exists() else {"datasets": {}}
    for dataset in args.datasets.split(","):
        rows = dict(record["datasets"].get(dataset, {}).get("rows", {}))
        chosen = [v for v in VARIANTS if v[0] in names]
        for seed in seeds:  # a seed of every variant before the next seed: a cut-short run still compares them all
            for entry in chosen:
                ladder.train_rung(dataset, entry, seed)
        for entry in chosen:
            dirs = [ladder.train_rung(dataset, entry, s) for s in seeds]
            rows[entry[0]] = untimed(ladder.summarise(dirs)) | {"adds": entry[3]} | measured_on(dirs)
        classic_dirs = [ladder.train_classics(dataset, s) for s in seeds]
        for i, model in enumerate(ladder.CLASSICS):
            runs = [dirs[i] for dirs in classic_dirs]
            rows[model] = untimed(ladder.summarise(runs)) | {"adds": "cheap classic"} | measured_on(runs)
        order = [v[0] for v in VARIANTS] + ladder.CLASSICS
        rows = {name: rows[name] for name in order if name in rows}
        record["datasets"][dataset] = {
            "seeds": seeds,
            "rows": rows,
            "bert_train_tokens_per_s": ladder.bert_speed(dataset),
        }
    ladder.RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(record, indent=2) + "\n")
    (ladder.RESULTS / "order_depth.md").write_text(ladder.markdown(record))
    plot(record, ladder.RESULTS / "order_depth.png")
    print((ladder.RESULTS / "order_depth.md").read_text())


if __name__ == "__main__":
    main()
