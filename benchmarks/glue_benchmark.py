"""GLUE and the `reproduce` tables on the data in ../shared/data, one command each (printed):

    python benchmarks/glue_benchmark.py                      # GLUE, then the four reproduce tables
    python benchmarks/glue_benchmark.py --only glue
    python benchmarks/glue_benchmark.py --only paper-table1,seed-readme

GLUE protocol: the Wave presets, FNet (ours, from scratch, same budget), the offline BERT-family checkpoint and the
majority row; max length 128; seed 42 on SST-2 (and on QQP, QNLI and MNLI when their training data is present),
seeds 42, 43, 44 on CoLA, MRPC, RTE, STS-B and WNLI; each model's own recipe, with the budget cuts of BUDGET below
(marked in every table they touch). Tasks whose data is absent are reported as not found.

Every run directory goes to runs/benchmarks/<dataset>__<model>__seed<seed>, the directory `compare_benchmark.py`
uses, so a run that a table shares with another (the SST-2 rows of `compare` and GLUE, the IMDB rows of `compare` and
paper Table 2, the FNet GLUE rows of the proof-of-life table) is trained once and reused. Results go to
benchmarks/results/glue.{json,md,png} and benchmarks/results/reproduce_<table>.{json,md}. Then
`python benchmarks/update_readme.py`.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from wave_network.data.catalog import GLUE_TASKS
from wave_network.reproduce import TABLES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "benchmarks/results"
RUNS = "runs/benchmarks"
# Budget cuts a 2-core CPU forces, as DATASET/MODEL=EPOCHS (the same cuts as compare_benchmark.py where the runs are
# shared): FNet pads SST-2's 67k sentences to 128 tokens (one epoch, not four); the BERT-family baseline takes about an
# hour per IMDB epoch at 512 tokens (one epoch); the proof-of-life Wave at 384 tokens on IMDB gets one epoch of four
# (about 40 minutes otherwise).
BUDGET = ["sst2/fnet=1", "imdb/bert=1", "imdb/seed-modulation=1"]
GLUE_MODELS = "paper-modulation,paper-interference,fnet,bert,majority"


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
            RUNS,
            "--report-dir",
            RESULTS,
        ],  # fmt: skip
    }
    for name in TABLES:
        table[name] = ["reproduce", name, "--output-dir", RUNS, "--report-dir", RESULTS]
    for name, command in table.items():
        if name == "glue":
            pairs = {(task, model) for task in GLUE_TASKS for model in GLUE_MODELS.split(",")}
        else:
            pairs = {(cell.dataset, cell.model) for cell in TABLES[name]["cells"]}
        for cut in BUDGET:
            if tuple(cut.partition("=")[0].split("/")) in pairs:
                command += ["--epochs-for", cut]
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
