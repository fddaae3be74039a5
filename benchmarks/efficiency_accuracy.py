"""No accuracy lost to the efficiency work: `paper-modulation` and `wave-nb` re-trained on AG News (4,999-row
subset, 128 tokens) and IMDB (512 tokens) with the same commands and seeds as the variants ladder, beside the
ladder's numbers from before the change (benchmarks/results/wave_variants.json, rows `paper-modulation` and
`wave-wide, nb weighting`, which is `wave-nb`).

    python benchmarks/efficiency_accuracy.py                                   # both data sets, seeds 42-44
    python benchmarks/efficiency_accuracy.py --datasets imdb --seeds 42        # a part; finished runs are reused
    python benchmarks/efficiency_accuracy.py --render-only

Each run is a plain `wave-network train` command writing runs/benchmarks/efficiency/<dataset>__<model>__seed<seed>;
a finished run is reused, an interrupted one resumed. Results: benchmarks/results/efficiency_accuracy.{json,md},
with each run's epoch time, training tokens/s and peak RSS as recorded in its results.json.
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
RUNS = ROOT / "runs" / "benchmarks" / "efficiency"
OUTPUT = RESULTS / "efficiency_accuracy.json"
MAX_LENGTH = {"ag_news": 128, "imdb": 512}
MODELS = {"paper-modulation": "paper-modulation", "wave-nb": "wave-wide, nb weighting"}  # model -> ladder row


def run_dir(dataset: str, model: str, seed: int) -> Path:
    return RUNS / f"{dataset}__{model}__seed{seed}"


def train(dataset: str, model: str, seed: int) -> dict:
    path = run_dir(dataset, model, seed)
    command = ["wave-network", "train", "--model", model, "--dataset", dataset, "--seed", str(seed)]
    command += ["--max-length", str(MAX_LENGTH[dataset]), "--output-dir", str(path.relative_to(ROOT)), "--quiet"]
    if not (path / "results.json").exists():
        resume = ["--resume"] if (path / "last").exists() else []
        print("$", shlex.join(command + resume), flush=True)
        subprocess.run([sys.executable, "-m", "wave_network", *command[1:], *resume], cwd=ROOT, check=True)
    results = json.loads((path / "results.json").read_text())
    resources = results["resources"]
    epochs = [t for t in resources.get("epoch_times_s") or [] if t is not None]
    return {
        "seed": seed,
        "test_accuracy": 100 * results["metrics"]["test_accuracy"],
        "best_epoch": results["selection"]["best_epoch"],
        "epochs": results["epochs_completed"],
        "epoch_time_s": statistics.mean(epochs) if epochs else None,
        "train_tokens_per_s": resources.get("train_tokens_per_s"),
        "peak_rss_mb": resources.get("peak_memory_mb"),
        "wall_time_s": resources.get("wall_time_s"),
        "device": results["device"],
        "precision": results["precision"],
        "command": shlex.join(command),
    }


def before(dataset: str, model: str) -> dict:
    ladder = json.loads((RESULTS / "wave_variants.json").read_text())["datasets"][dataset]["rows"][MODELS[model]]
    return {
        "seeds": ladder["seeds"],
        "test_accuracy": ladder["test_accuracy"],
        "train_tokens_per_s": ladder.get("train_tokens_per_s"),
        "trained_on": ladder.get("trained_on"),
    }


def _peaks(runs: list[dict]) -> str:
    """Each seed's whole-run peak RSS: runs made before a memory change show it beside those after."""
    return ", ".join(f"{r['peak_rss_mb']:,.0f}" for r in runs)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f} (1 seed)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} ({len(values)} seeds)"


def render(record: dict) -> str:
    lines = [
        "| data set | model | before: test accuracy (%) | after: test accuracy (%) | after: per seed "
        "| after: best epoch | after: peak RSS per seed (MB) |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    for key, row in record["rows"].items():
        dataset, model = key.split("/")
        runs = row["after"]
        per_seed = ", ".join(f"{r['seed']}: {r['test_accuracy']:.2f}" for r in runs) or "-"
        old = row["before"]
        where = ", ".join(old.get("trained_on") or [])
        lines.append(
            f"| {dataset} | `{model}` | {_mean_std(old['test_accuracy'])}{f' [{where}]' if where else ''} "
            f"| {_mean_std([r['test_accuracy'] for r in runs])} "
            f"| {per_seed} "
            f"| {', '.join(str(r['best_epoch']) for r in runs)} "
            f"| {_peaks(runs)} |"
            if runs
            else f"| {dataset} | `{model}` | {_mean_std(old['test_accuracy'])} | - | - | - | - |"
        )
    devices = sorted({f"{r['device']}, {r['precision']}" for row in record["rows"].values() for r in row["after"]})
    lines += [
        "",
        f"After: {'; '.join(devices)}. Peak RSS: the whole training process, one figure per seed, in the "
        "per-seed column's order. "
        "Speed is measured by benchmarks/efficiency.py alone on the machine, not here (these runs shared it).",
        "Before: the variants ladder (benchmarks/results/wave_variants.json), same commands and seeds.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(MAX_LENGTH))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    record = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {"benchmark": "efficiency_accuracy", "rows": {}}
    if not args.render_only:
        for dataset in args.datasets:
            for model in args.models:
                key = f"{dataset}/{model}"
                row = record["rows"].setdefault(key, {"before": before(dataset, model), "after": []})
                row["before"] = before(dataset, model)
                for seed in args.seeds:
                    result = train(dataset, model, seed)
                    row["after"] = sorted(
                        [r for r in row["after"] if r["seed"] != seed] + [result], key=lambda r: r["seed"]
                    )
                    OUTPUT.write_text(json.dumps(record, indent=2) + "\n")
    OUTPUT.with_suffix(".md").write_text(render(record))
    print(render(record))


if __name__ == "__main__":
    main()
