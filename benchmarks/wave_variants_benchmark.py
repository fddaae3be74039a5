"""Beyond the paper: the `wave-*` presets and an ablation ladder against the cheap classics (issue 7), one command:

    python benchmarks/wave_variants_benchmark.py                          # ag_news, sst2 (3 seeds); imdb (1 seed)
    python benchmarks/wave_variants_benchmark.py --datasets sst2 --seeds 42

Each rung of LADDER adds one ingredient to the one before it and is trained with `wave-network train` on the same
split, max length and seeds; the classics (`fasttext`, `tfidf`) are trained by `wave-network compare` on the same
seeds (their run directories are shared with compare_benchmark.py). BERT's training throughput, the 10x yardstick,
is read from the `compare` result of the same data set on the same CPU (benchmarks/results/compare_<dataset>.json).

Run directories: runs/benchmarks/variants/<dataset>__<rung>__seed<seed> (a finished one is reused) and
runs/benchmarks/<dataset>__{fasttext,tfidf}__seed<seed>. Results: benchmarks/results/wave_variants.{json,md,png}.
Then `python benchmarks/update_readme.py`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "benchmarks"
MAX_LENGTH = {"ag_news": 128, "sst2": 128, "imdb": 512}
DEFAULT_SEEDS = {"ag_news": [42, 43, 44], "sst2": [42, 43, 44], "imdb": [42]}
CLASSICS = ["fasttext", "tfidf"]
NO_NGRAMS = ["ngram_orders=[]", "ngram_buckets=0"]

# (rung name, preset, --set overrides, what it adds). From scratch unless the name says otherwise.
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
        "wave-minilm (pre-trained)",
        "wave-minilm",
        [],
        "token table initialised from all-MiniLM-L6-v2 (D=384); pre-trained, not from scratch",
    ),
]


# The paper's D=768 rung costs about 12 minutes per SST-2 seed on one core; it keeps the one seed that compare ran.
RUNG_SEEDS = {("sst2", "paper-modulation"): [42]}


def rung_dir(dataset: str, rung: tuple, seed: int) -> Path:
    name, preset, sets, _ = rung
    if name == preset and not sets:  # a preset as it is: the run directory compare_benchmark.py uses
        return RUNS / f"{dataset}__{preset}__seed{seed}"
    slug = name.replace(" ", "").replace(",", "_").replace("(", "").replace(")", "")
    return RUNS / "variants" / f"{dataset}__{slug}__seed{seed}"


def run(command: list[str]) -> None:
    print("$", shlex.join(command), flush=True)
    executable = Path(sys.executable).with_name("wave-network")
    subprocess.run([str(executable), *command[1:]], cwd=ROOT, check=True)


def train_rung(dataset: str, rung: tuple, seed: int) -> Path:
    name, preset, sets, _ = rung
    out = rung_dir(dataset, rung, seed)
    if (out / "results.json").exists():
        return out
    resume = ["--resume"] if out.exists() else []  # an interrupted run: continue it
    command = ["wave-network", "train", "-m", preset, "-d", dataset, "--max-length", str(MAX_LENGTH[dataset]),
               "--seed", str(seed), "--output-dir", str(out.relative_to(ROOT)), "--quiet", *resume]  # fmt: skip
    for item in sets:
        command += ["--set", item]
    run(command)
    return out


def train_classics(dataset: str, seed: int) -> list[Path]:
    dirs = [RUNS / f"{dataset}__{m}__seed{seed}" for m in CLASSICS]
    if not all((d / "results.json").exists() for d in dirs):
        run(["wave-network", "compare", "--dataset", dataset, "--models", ",".join(CLASSICS), "--seed", str(seed),
             "--max-length", str(MAX_LENGTH[dataset]), "--output-dir", str(RUNS.relative_to(ROOT)),
             "--report-dir", str((RESULTS / "variants_runs").relative_to(ROOT))])  # fmt: skip
    return dirs


def summarise(run_dirs: list[Path]) -> dict:
    records = [json.loads((d / "results.json").read_text()) for d in run_dirs]
    accs = [100 * r["metrics"]["test_accuracy"] for r in records]
    speeds = [r["resources"].get("train_tokens_per_s") for r in records]
    speeds = [s for s in speeds if s]
    params = records[0]["resources"]["parameters"]
    return {
        "seeds": [r["seed"] for r in records],
        "test_accuracy": accs,
        "mean": statistics.fmean(accs),
        "std": statistics.stdev(accs) if len(accs) > 1 else None,
        "train_tokens_per_s": statistics.fmean(speeds) if speeds else None,
        "non_embedding_parameters": params.get("non_embedding"),
        "parameters": params.get("total"),
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
    header = "| model | adds | test acc. | train tok/s | x BERT tok/s | non-emb. params |"
    lines = []
    for dataset, info in record["datasets"].items():
        seeds = ", ".join(str(s) for s in info["seeds"])
        lines += [f"**{dataset}** (max length {MAX_LENGTH[dataset]}, seeds {seeds}; test accuracy, mean ± std)", ""]
        lines += [header, "|---|---|---:|---:|---:|---:|"]
        bert = info["bert_train_tokens_per_s"]
        for name, entry in info["rows"].items():
            acc = f"{entry['mean']:.2f}" + (f" ± {entry['std']:.2f}" if entry["std"] is not None else "")
            if len(entry["seeds"]) != len(info["seeds"]):
                acc += f" (seed {', '.join(str(s) for s in entry['seeds'])} only)"
            speed = entry["train_tokens_per_s"]
            cells = [
                f"`{name}`",
                entry.get("adds", ""),
                acc,
                f"{speed:,.0f}" if speed else "-",
                f"{speed / bert:.1f}x" if speed and bert else "-",
                f"{entry['non_embedding_parameters']:,}" if entry["non_embedding_parameters"] else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        best_classic = max(info["rows"][m]["mean"] for m in CLASSICS if m in info["rows"])
        bert_text = f"{bert:,.0f} tok/s" if bert else "not measured"
        lines += ["", f"Best cheap classic: {best_classic:.2f}. BERT's training throughput on this CPU: {bert_text} "
                  f"(compare_{dataset}.json).", ""]  # fmt: skip
    return "\n".join(lines)


def plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(record["datasets"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for name, entry in record["datasets"][dataset]["rows"].items():
            speed = entry["train_tokens_per_s"] or 1e6  # models fitted without gradients: far right
            ax.errorbar(speed, entry["mean"], yerr=entry["std"] or 0, fmt="o", capsize=3, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("training tokens/s (log)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(dataset)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ag_news,sst2,imdb")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: 3 on ag_news and sst2)")
    parser.add_argument("--rungs", default=None, help="comma-separated rung names (default: all)")
    args = parser.parse_args()
    ladder = [r for r in LADDER if args.rungs is None or r[0] in args.rungs.split(",")]
    out_json = RESULTS / "wave_variants.json"
    record = json.loads(out_json.read_text()) if out_json.exists() else {"datasets": {}}
    for dataset in args.datasets.split(","):
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else DEFAULT_SEEDS[dataset]
        rows = {}
        for rung in ladder:
            rung_seeds = [s for s in seeds if s in RUNG_SEEDS.get((dataset, rung[0]), seeds)]
            rows[rung[0]] = summarise([train_rung(dataset, rung, s) for s in rung_seeds]) | {"adds": rung[3]}
        classic_dirs = [train_classics(dataset, s) for s in seeds]
        for i, model in enumerate(CLASSICS):
            rows[model] = summarise([dirs[i] for dirs in classic_dirs]) | {"adds": "cheap classic"}
        record["datasets"][dataset] = {"seeds": seeds, "rows": rows, "bert_train_tokens_per_s": bert_speed(dataset)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "wave_variants.md").write_text(markdown(record))
    plot(record, RESULTS / "wave_variants.png")
    print((RESULTS / "wave_variants.md").read_text())


if __name__ == "__main__":
    main()
