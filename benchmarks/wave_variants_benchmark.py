"""Beyond the paper: the `wave-*` presets and an ablation ladder against the cheap classics (issue 7), one command:

    python benchmarks/wave_variants_benchmark.py                          # ag_news, sst2, imdb (3 seeds)
    python benchmarks/wave_variants_benchmark.py --datasets sst2 --seeds 42

Each rung of LADDER adds one ingredient to the one before it and is trained with `wave-network train` on the same
split, max length and seeds; the classics (`fasttext`, `tfidf`, `nbsvm`) are trained by `wave-network compare` on
the same seeds (their run directories are shared with compare_benchmark.py), or by `wave-network train` beside the
rungs where the validation split is not compare's (VAL_SPLIT). BERT's training throughput, the 10x yardstick, is
read from the `compare` result of the same data set on the same CPU (benchmarks/results/compare_<dataset>.json).

Run directories: runs/benchmarks/variants/<dataset>__<rung>__seed<seed> (a finished one is reused) and
runs/benchmarks/<dataset>__{fasttext,tfidf,nbsvm}__seed<seed>; for a data set in VAL_SPLIT (SST-2, validated on whole
sentences), runs/benchmarks/variants/<dataset>-<split>__<rung or classic>__seed<seed>.
Results: benchmarks/results/wave_variants.{json,md,png}.
Then `python benchmarks/update_readme.py`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from wave_network.reporting import Point, log_axis, model_styles, new_figure, scatter_models

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "benchmarks"
MAX_LENGTH = {"ag_news": 128, "sst2": 128, "imdb": 512, "rte": 128, "mrpc": 128}  # GLUE pairs: as `glue`
DEFAULT_SEEDS = {"ag_news": [42, 43, 44], "sst2": [42, 43, 44], "imdb": [42, 43, 44]}
CLASSICS = ["fasttext", "tfidf", "nbsvm"]
NO_NGRAMS = ["ngram_orders=[]", "ngram_buckets=0"]
NO_WIDE = ["bag_ngram_orders=[]", "bag_buckets=0"]
MEAN_WEIGHTING = ["bag_weighting=mean", "bag_scale=100.0"]  # the wide path before tf-idf weighting
# SST-2 trains on the phrases of its sentences and tests on whole sentences: a random row split would validate on
# phrases of training sentences (about 92% for every recipe, whatever the test says), so its rungs and classics
# validate on whole held-out sentences (`--val-split sentences`). compare_benchmark.py's SST-2 runs split rows.
VAL_SPLIT = {"sst2": "sentences"}
NO_SMOOTHING = ["--label-smoothing=0"]  # an item starting with "--" is a `wave-network train` option, not a --set

# (rung name, preset, overrides, what it adds). From scratch unless the name says otherwise. An override is a
# `--set` of a WaveConfig field, or a `wave-network train` option when it starts with "--".
LADDER = [
    ("paper-modulation", "paper-modulation", [], "the paper's single layer (section 4a), D=768, [CLS]"),
    (
        "wave-ngram, no n-grams",
        "wave-ngram",
        NO_NGRAMS,
        "D=256, [Re, Im] read-out, residual FFN, masked mean pooling, sparse token table",
    ),
    ("wave-ngram", "wave-ngram", [], "+ hashed bigram and trigram embeddings (2^18 rows)"),
    (
        "wave-wide, no wide path, no label smoothing",
        "wave-wide",
        NO_WIDE + NO_SMOOTHING,
        "wave-ngram without n-grams; dropout 0.3, up to 20 epochs with early stopping (best epoch kept)",
    ),
    (
        "wave-wide, no label smoothing",
        "wave-wide",
        MEAN_WEIGHTING + NO_SMOOTHING,
        "+ the wide path: linear model over the mean of hashed uni- and bigram weights, added to the logits",
    ),
    ("wave-wide, mean weighting", "wave-wide", MEAN_WEIGHTING, "+ label smoothing 0.1"),
    ("wave-wide", "wave-wide", [], "wide path on TF-IDF features (sublinear tf x idf, L2) instead of the mean"),
    (
        "wave-wide, nb weighting",
        "wave-wide",
        ["bag_weighting=nb"],
        "wide path on NBSVM features (binary n-grams x Naive Bayes log-count ratios, L2) instead of TF-IDF",
    ),
    (
        "wave-minilm (pre-trained)",
        "wave-minilm",
        [],
        "token table initialised from all-MiniLM-L6-v2 (D=384); pre-trained, not from scratch",
    ),
    (
        "wave-minilm-wide (pre-trained)",
        "wave-minilm-wide",
        [],
        "wave-minilm + the wide path and wave-wide's recipe; pre-trained, not from scratch",
    ),
]


# Runs this 2-core CPU does not afford; `--full` trains them too. Each names its seeds and why.
RUNG_SEEDS = {
    # D=768 costs about 28 minutes per SST-2 seed on one core beside another run: one seed.
    ("sst2", "paper-modulation"): [42],
    ("imdb", "paper-modulation"): [42],  # 50 CPU minutes per seed at 512 tokens (the Table 2 run)
}
# IMDB at 512 tokens: 20 to 75 CPU minutes per seed for the from-scratch rungs. `wave-wide` was trained on this CPU,
# the other from-scratch rungs on a GPU machine (benchmarks/gpu_variants.sh); the pre-trained rungs are left out on
# IMDB without --full.
IMDB_RUNGS = [name for name, *_ in LADDER if "pre-trained" not in name]
SPEED_STEPS = 150  # optimiser steps of a --speed run


def slug(name: str) -> str:
    return name.replace(" ", "").replace(",", "_").replace("(", "").replace(")", "")


def rung_dir(dataset: str, rung: tuple, seed: int) -> Path:
    name, preset, sets, _ = rung
    if name == preset and not sets and dataset not in VAL_SPLIT:  # the run directory compare_benchmark.py uses
        return RUNS / f"{dataset}__{preset}__seed{seed}"
    tag = f"{dataset}-{VAL_SPLIT[dataset]}" if dataset in VAL_SPLIT else dataset
    return RUNS / "variants" / f"{tag}__{slug(name)}__seed{seed}"


def run(command: list[str]) -> None:
    print("$", shlex.join(command), flush=True)
    # `python -m wave_network` rather than the console script: it also works with the package on PYTHONPATH
    subprocess.run([sys.executable, "-m", "wave_network", *command[1:]], cwd=ROOT, check=True)


def train_command(dataset: str, rung: tuple, seed: int, out: Path, *options: str) -> list[str]:
    """`wave-network train` of one rung: its preset, data set, max length and seed, then the rung's overrides."""
    _, preset, sets, _ = rung
    command = ["wave-network", "train", "-m", preset, "-d", dataset, "--max-length", str(MAX_LENGTH[dataset]),
               "--seed", str(seed), "--output-dir", str(out.relative_to(ROOT)), "--quiet", *options]  # fmt: skip
    if dataset in VAL_SPLIT:
        command += ["--val-split", VAL_SPLIT[dataset]]
    for item in sets:
        command += [item] if item.startswith("--") else ["--set", item]
    return command


def train_rung(dataset: str, rung: tuple, seed: int) -> Path:
    out = rung_dir(dataset, rung, seed)
    if not (out / "results.json").exists():
        resume = ["--resume"] if out.exists() else []  # an interrupted run: continue it
        run(train_command(dataset, rung, seed, out, *resume))
    return out


def train_classics(dataset: str, seed: int) -> list[Path]:
    if dataset in VAL_SPLIT:  # not compare's split: trained here, beside the rungs
        return [train_rung(dataset, (m, m, [], "cheap classic"), seed) for m in CLASSICS]
    dirs = [RUNS / f"{dataset}__{m}__seed{seed}" for m in CLASSICS]
    if not all((d / "results.json").exists() for d in dirs):
        run(["wave-network", "compare", "--dataset", dataset, "--models", ",".join(CLASSICS), "--seed", str(seed),
             "--max-length", str(MAX_LENGTH[dataset]), "--output-dir", str(RUNS.relative_to(ROOT)),
             "--report-dir", str((RESULTS / "variants_runs").relative_to(ROOT))])  # fmt: skip
    return dirs


def speed_dir(dataset: str, rung: tuple) -> Path:
    return RUNS / "variants_speed" / f"{dataset}__{slug(rung[0])}__seed42"  # one timing per data set, any split


def speed_run(dataset: str, rung: tuple) -> Path:
    """A short run on 2 threads (seed 42, SPEED_STEPS steps) whose training tokens/s is the rung's throughput.
    Run it with nothing else on the machine: two torch jobs on 2 cores slow each other down many times."""
    out = speed_dir(dataset, rung)
    if not (out / "results.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        options = ["--max-steps", str(SPEED_STEPS), "--num-threads", "2", "--device", "cpu"]
        run(train_command(dataset, rung, 42, out, *options))
    return out


def device_name(record: dict) -> str:
    """The string CPU, or the GPU's name from a device string such as "cuda:0 (NVIDIA H200)"."""
    device = str(record.get("device", "cpu"))
    if device.startswith("cpu"):
        return "CPU"
    return device[device.find("(") + 1 : -1] if device.endswith(")") else "GPU"


def summarise(run_dirs: list[Path], speed: Path | None = None) -> dict:
    """Mean and spread of the runs' test accuracy. Throughput is a CPU number only: the --speed run's when there
    is one, else the mean over the runs trained on the CPU (None when all ran on a GPU)."""
    if not run_dirs:
        return {"seeds": [], "test_accuracy": [], "mean": None, "std": None, "train_tokens_per_s": None,
                "throughput_from": None, "non_embedding_parameters": None, "parameters": None,
                "trained_on": [], "run_dirs": []}  # fmt: skip
    records = [json.loads((d / "results.json").read_text()) for d in run_dirs]
    accs = [100 * r["metrics"]["test_accuracy"] for r in records]
    if speed is not None and (speed / "results.json").exists():
        speed_record = json.loads((speed / "results.json").read_text())
        tokens_per_s, source = speed_record["resources"]["train_tokens_per_s"], "speed run, 2 threads"
    else:
        cpu = [r["resources"].get("train_tokens_per_s") for r in records if device_name(r) == "CPU"]
        cpu = [v for v in cpu if v]
        tokens_per_s = statistics.fmean(cpu) if cpu else None
        source = "training runs" if cpu else None
    params = records[0]["resources"]["parameters"]
    return {
        "seeds": [r["seed"] for r in records],
        "test_accuracy": accs,
        "mean": statistics.fmean(accs),
        "std": statistics.stdev(accs) if len(accs) > 1 else None,
        "train_tokens_per_s": tokens_per_s,
        "throughput_from": source,
        "non_embedding_parameters": params.get("non_embedding"),
        "parameters": params.get("total"),
        "trained_on": sorted({device_name(r) for r in records}),
        "run_dirs": [str(d.relative_to(ROOT)) for d in run_dirs],
    }


def bert_speed(dataset: str) -> float | None:
    path = RESULTS / f"compare_{dataset}.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text())["rows"]
    row = next((r for r in rows if r["model"] == "bert" and r.get("status") == "ok"), None)
    return row.get("train_tokens_per_s") if row else None


def markdown(record: dict) -> str:
    header = "| model | adds | test acc. | trained on | train tok/s (CPU) | x BERT tok/s | non-emb. params |"
    lines = []
    for dataset, info in record["datasets"].items():
        seeds = ", ".join(str(s) for s in info["seeds"])
        split = f"validation: whole {VAL_SPLIT[dataset]}, " if dataset in VAL_SPLIT else ""
        lines += [f"**{dataset}** (max length {MAX_LENGTH[dataset]}, {split}seeds {seeds}; test accuracy, mean ± std)",
                  ""]  # fmt: skip
        lines += [header, "|---|---|---:|---|---:|---:|---:|"]
        bert = info["bert_train_tokens_per_s"]
        for name, entry in info["rows"].items():
            if entry["mean"] is None:
                acc = "not run (`--full`)"
            else:
                acc = f"{entry['mean']:.2f}" + (f" ± {entry['std']:.2f}" if entry["std"] is not None else "")
                if len(entry["seeds"]) != len(info["seeds"]):
                    acc += f" (seed {', '.join(str(s) for s in entry['seeds'])} only)"
            speed = entry["train_tokens_per_s"]
            cells = [
                f"`{name}`",
                entry.get("adds", ""),
                acc,
                ", ".join(entry.get("trained_on", [])) or "-",
                f"{speed:,.0f}" if speed else "-",
                f"{speed / bert:.1f}x" if speed and bert else "-",
                f"{entry['non_embedding_parameters']:,}" if entry["non_embedding_parameters"] else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        best_classic = max(info["rows"][m]["mean"] for m in CLASSICS if m in info["rows"])
        bert_text = f"{bert:,.0f} tok/s" if bert else "not measured"
        lines += ["", f"Best cheap classic: {best_classic:.2f}. BERT's training throughput on this CPU: {bert_text} "
                  f"(compare_{dataset}.json, 2 threads). Wave tokens/s: a {SPEED_STEPS}-step run on 2 threads with "
                  "nothing else running where measured (`--speed`), else the mean of the CPU training runs.",
                  ""]  # fmt: skip
    return "\n".join(lines)


def plot(record: dict, path: Path) -> None:
    """Test accuracy against CPU training throughput per data set; every rung and classic in its own colour and
    marker (a registered model's own, the same as in every other figure), one legend for all panels."""
    datasets = list(record["datasets"])
    names = list(dict.fromkeys(name for info in record["datasets"].values() for name in info["rows"]))
    styles = model_styles(names)
    fig = new_figure((5 * len(datasets) + 2.5, 4))
    axes = fig.subplots(1, len(datasets), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        points = [
            Point(name, entry["train_tokens_per_s"], entry["mean"], yerr=entry["std"])
            for name, entry in record["datasets"][dataset]["rows"].items()
            if entry["mean"] is not None and entry["train_tokens_per_s"]  # not run, or trained on a GPU only
        ]
        scatter_models(ax, points, styles, size=36)
        ax.set_xlabel("training tokens/s on the CPU (log)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(dataset)
    handles = {}
    for ax in axes[0]:
        handles |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend([handles[n] for n in names if n in handles], [n for n in names if n in handles],
               loc="outside right upper", fontsize=7)  # fmt: skip
    for ax in axes[0]:
        log_axis(ax, "x")  # once the legend has taken its room: the ticks are fitted to the final width
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ag_news,sst2,imdb")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: 3 on ag_news and sst2)")
    parser.add_argument("--rungs", default=None, help="semicolon-separated rung names (default: all)")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train the rungs' runs and stop: no classics, no result files (for a second machine whose run "
        "directories are copied back, then summarised by a run without this flag)",
    )
    parser.add_argument("--full", action="store_true", help="also the runs RUNG_SEEDS and IMDB_RUNGS leave out")
    parser.add_argument(
        "--speed",
        action="store_true",
        help=f"time each Wave rung with a {SPEED_STEPS}-step run on 2 threads (run nothing else meanwhile)",
    )
    args = parser.parse_args()
    names = args.rungs.split(";") if args.rungs else [r[0] for r in LADDER]
    unknown = sorted(set(names) - {r[0] for r in LADDER})
    if unknown:
        parser.error(f"unknown rungs {unknown}; known: {[r[0] for r in LADDER]}")
    ladder = [r for r in LADDER if r[0] in names]
    out_json = RESULTS / "wave_variants.json"
    record = json.loads(out_json.read_text()) if out_json.exists() else {"datasets": {}}
    for dataset in args.datasets.split(","):
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else DEFAULT_SEEDS[dataset]
        rows = {}
        for rung in ladder:
            rung_seeds = [s for s in seeds if s in RUNG_SEEDS.get((dataset, rung[0]), seeds) or args.full]
            if dataset == "imdb" and rung[0] not in IMDB_RUNGS and not args.full:
                rung_seeds = []
            dirs = [train_rung(dataset, rung, s) for s in rung_seeds]
            speed = speed_run(dataset, rung) if args.speed and dirs else speed_dir(dataset, rung)
            rows[rung[0]] = summarise(dirs, speed) | {"adds": rung[3]}
        if args.train_only:
            continue
        classic_dirs = [train_classics(dataset, s) for s in seeds]
        for i, model in enumerate(CLASSICS):
            rows[model] = summarise([dirs[i] for dirs in classic_dirs]) | {"adds": "cheap classic"}
        record["datasets"][dataset] = {"seeds": seeds, "rows": rows, "bert_train_tokens_per_s": bert_speed(dataset)}
    if args.train_only:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "wave_variants.md").write_text(markdown(record))
    plot(record, RESULTS / "wave_variants.png")
    print((RESULTS / "wave_variants.md").read_text())


if __name__ == "__main__":
    main()
