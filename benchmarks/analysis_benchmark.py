"""The follow-up paper's analyses (arXiv 2411.06989) on real data, one `wave-network analyze` command each (printed):

    python benchmarks/analysis_benchmark.py                           # all four
    python benchmarks/analysis_benchmark.py --analyses complexity     # one of them
    python benchmarks/analysis_benchmark.py --threads 1               # training analyses on one thread

Protocol: AG News with the 4,999-row training subset of ../shared/data (the 80/20 train/validation split of it,
the official 7,600-row test set), max length 128, seed 42, batch size 32, 500 optimiser steps per model (the paper's
500 batches; about 4 epochs of the subset).
- gradients: the two Wave presets, the one-layer Transformer and the BERT-family baseline, every step.
- convergence: the same plus FNet, test accuracy on a fixed sample of 1,000 test texts every 10 batches.
- independence: the five models trained by the convergence analysis, [CLS] vectors of 2,048 test texts.
- complexity: wave, attention and FNet layers, n = 64..4096 at D = 768 and D = 128..2048 at n = 512, batch 1, fp32.
  Timings: run it alone on the machine.

Run directories go to runs/benchmarks/analysis/; JSON, Markdown and PNG to benchmarks/results/analysis/, which
docs/analysis.md reads.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = (ROOT / "benchmarks" / "results" / "analysis").relative_to(ROOT)
RUNS = (ROOT / "runs" / "benchmarks" / "analysis").relative_to(ROOT)
COMMON = ["--dataset", "ag_news", "--max-length", "128", "--seed", "42", "--output-dir", str(RUNS),
          "--report-dir", str(RESULTS)]  # fmt: skip
CONVERGENCE_MODELS = ["paper-modulation", "paper-interference", "transformer-1layer", "bert", "fnet"]


def commands(threads: list[str]) -> dict[str, list[str]]:
    runs = [str(RUNS / "convergence" / f"ag_news__{m}__seed42") for m in CONVERGENCE_MODELS]
    return {
        "gradients": ["analyze", "gradients", *COMMON, "--steps", "500", "--batch-size", "32", *threads],
        "convergence": [
            "analyze",
            "convergence",
            *COMMON,
            "--models",
            ",".join(CONVERGENCE_MODELS),
            "--steps",
            "500",
            "--every",
            "10",
            "--curve-samples",
            "1000",
            *threads,
        ],  # fmt: skip
        "independence": [
            "analyze",
            "independence",
            *runs,
            "--dataset",
            "ag_news",
            "--max-length",
            "128",
            "--max-texts",
            "2048",
            "--report-dir",
            str(RESULTS),
        ],  # fmt: skip
        "complexity": ["analyze", "complexity", "--report-dir", str(RESULTS)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyses", default="gradients,convergence,independence,complexity")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the training analyses")
    args = parser.parse_args()
    threads = ["--num-threads", str(args.threads)] if args.threads else []
    executable = Path(sys.executable).with_name("wave-network")
    table = commands(threads)
    for name in args.analyses.split(","):
        command = ["wave-network", *table[name]]
        print("$", shlex.join(command), flush=True)
        subprocess.run([str(executable), *command[1:]], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
