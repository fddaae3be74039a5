"""How the learning rates of the baselines the paper gives none for were chosen: a small sweep judged on the
validation split only (carved from the AG News training subset; the test set is not looked at).

    python benchmarks/lr_sweep.py          # runs what is missing under runs/lr_sweep/, then writes the table

Writes benchmarks/results/lr_sweep.{json,md}. A finished run directory is reused.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "lr_sweep"
RESULTS = ROOT / "benchmarks" / "results"
MODELS = ["transformer-1layer", "fnet"]
RATES = ["1e-4", "3e-4", "1e-3"]
BUDGET = ["--dataset", "ag_news", "--max-length", "128", "--max-train-samples", "2000", "--epochs", "2"]


def main() -> None:
    executable = Path(sys.executable).with_name("wave-network")
    records = []
    for model in MODELS:
        for rate in RATES:
            run_dir = RUNS / f"{model}-{rate}"
            output = str(run_dir.relative_to(ROOT))
            command = ["wave-network", "train", "-m", model, *BUDGET, "--lr", rate, "-o", output]
            if not (run_dir / "results.json").exists():
                print("$", shlex.join(command), flush=True)
                subprocess.run([str(executable), *command[1:], "--quiet"], cwd=ROOT, check=True)
            results = json.loads((run_dir / "results.json").read_text())
            records.append(
                {
                    "model": model,
                    "learning_rate": float(rate),
                    "val_accuracy": results["selection"]["best_value"],
                    "steps": results["global_steps"],
                    "command": shlex.join(command),
                }
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lr_sweep.json").write_text(json.dumps({"benchmark": "lr_sweep", "records": records}, indent=2) + "\n")
    lines = ["| model | lr | validation accuracy | optimiser steps |", "|---|---:|---:|---:|"]
    lines += [
        f"| `{r['model']}` | {r['learning_rate']:g} | {100 * r['val_accuracy']:.1f}% | {r['steps']} |" for r in records
    ]
    lines += ["", "AG News subset, 2,000 training rows, 2 epochs, max length 128, seed 42; validation split only."]
    (RESULTS / "lr_sweep.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "lr_sweep.md").read_text())


if __name__ == "__main__":
    main()
