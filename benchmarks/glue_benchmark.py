"""GLUE and the `reproduce` tables on the data in ../shared/data, one command each (printed):

    python benchmarks/glue_benchmark.py                      # GLUE, then the four reproduce tables
    python benchmarks/glue_benchmark.py --only glue
    python benchmarks/glue_benchmark.py --only paper-table1,seed-readme

GLUE protocol: the Wave presets, FNet (ours, from scratch, same budget), the offline BERT-family checkpoint and the
majority row; max length 128; seed 42 on SST-2 (and on QQP, QNLI and MNLI when their training data is present),
seeds 42, 43, 44 on CoLA, MRPC, RTE, STS-B and WNLI; each model's own recipe. Tasks whose data is absent are reported
as not found. Run directories go to runs/benchmarks/glue and runs/benchmarks/reproduce (finished runs with the same
set-up are reused); results to benchmarks/results/glue.{json,md,png} and
benchmarks/results/reproduce_<table>.{json,md}. Then `python benchmarks/update_readme.py`.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "benchmarks/results"
RUNS = "runs/benchmarks"
GLUE_MODELS = "paper-modulation,paper-interference,fnet,bert,majority"
TABLES = ("paper-table1", "paper-table2", "seed-readme", "seed-glue")


def commands() -> dict[str, list[str]]:
    table = {
        "glue": [
            "glue",
            "--models",
            GLUE_MODELS,
            "--tasks",
            "all",
            "--seeds",
            "42",
            "--max-length",
            "128",
            "--output-dir",
            f"{RUNS}/glue",
            "--report-dir",
            RESULTS,
        ],  # fmt: skip
    }
    for name in TABLES:
        table[name] = ["reproduce", name, "--output-dir", f"{RUNS}/reproduce", "--report-dir", RESULTS]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(["glue", *TABLES]))
    args = parser.parse_args()
    executable = Path(sys.executable).with_name("wave-network")
    table = commands()
    for name in args.only.split(","):
        command = ["wave-network", *table[name]]
        print("$", shlex.join(command), flush=True)
        subprocess.run([str(executable), *command[1:]], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
