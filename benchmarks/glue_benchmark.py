"""GLUE and the `reproduce` tables on the data in ../shared/data, one command each (printed):

    python benchmarks/glue_benchmark.py                      # GLUE, then the four reproduce tables
    python benchmarks/glue_benchmark.py --only glue
    python benchmarks/glue_benchmark.py --only paper-table1,seed-readme

GLUE protocol: the Wave presets, FNet (ours, from scratch, same budget), the offline BERT-family checkpoint and the
majority row; max length 128; seed 42 on SST-2 (and on QQP, QNLI and MNLI when their training data is present),
seeds 42, 43, 44 on CoLA, MRPC, RTE, STS-B and WNLI; each model's own recipe, with the budget cuts of BUDGET below
(marked in every table they touch), and without the cells of LEFT_OUT unless --full is given (marked not run).
Tasks whose data is absent are reported as not found.

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
# Budget cuts a 2-core CPU forces, as DATASET/MODEL=EPOCHS, each marked in the tables (the same cuts as
# compare_benchmark.py where runs are shared):
# - FNet pads every text to 128 tokens (CoLA's sentences have about 11), so on SST-2, CoLA, MRPC and STS-B it gets one
#   epoch instead of four (about 6 minutes per CoLA seed otherwise); the WNLI and RTE rows kept four.
# - The BERT-family baseline gets one epoch on IMDB at 512 tokens (about an hour per epoch) and on DBpedia-14.
# - The proof-of-life Wave at 384 tokens on IMDB gets one epoch of four.
# Cells left out on a 2-core CPU (marked "not run" in the table); --full runs them. The proof-of-life README's IMDB
# cells need BERT for an epoch at 128 tokens and the Wave model at 384 tokens: about 70 minutes on one core.
LEFT_OUT = {"seed-readme": ["--datasets", "ag_news,dbpedia_14"]}
BUDGET = [
    "sst2/fnet=1", "cola/fnet=1", "mrpc/fnet=1", "stsb/fnet=1",
    "imdb/bert=1", "dbpedia_14/bert=1", "imdb/seed-modulation=1",
]  # fmt: skip
GLUE_MODELS = "paper-modulation,paper-interference,fnet,bert,majority"


def commands(full: bool = False) -> dict[str, list[str]]:
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
        if not full:
            table[name] += LEFT_OUT.get(name, [])
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
    parser.add_argument("--full", action="store_true", help="also run the cells LEFT_OUT on a 2-core CPU")
    args = parser.parse_args()
    executable = Path(sys.executable).with_name("wave-network")
    table = commands(args.full)
    for name in args.only.split(","):
        command = ["wave-network", *table[name]]
        print("$", shlex.join(command), flush=True)
        subprocess.run([str(executable), *command[1:]], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
