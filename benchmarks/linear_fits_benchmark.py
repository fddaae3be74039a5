"""Issue 20, item 5 (recipe version 2, step 1): which closed-form fit of the wide path validates best? Logistic
regression against LinearSVC, on NB and on TF-IDF features, each over its C grid, on the model's own wide-path
features (``wave_network.wide_fit``), seed 42. Validation accuracy only: no test split is read.

    python benchmarks/linear_fits_benchmark.py            # AG News subset, SST-2, DBpedia-14 subset
    python benchmarks/linear_fits_benchmark.py --datasets sst2
    python benchmarks/linear_fits_benchmark.py --report     # the table again from linear_fits.json

Results: benchmarks/results/linear_fits.{json,md}; then `python benchmarks/update_readme.py` (docs/recipe.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wave_variants_benchmark as ladder  # noqa: E402  (the ladder's split)
from efficiency import cpu_name  # noqa: E402
from wave_network import create_model  # noqa: E402
from wave_network.data import DataConfig  # noqa: E402
from wave_network.data.tokenization import prepare  # noqa: E402
from wave_network.wide_fit import C_GRID, SVM_C_GRID, design_matrices, fit_wide_path  # noqa: E402

DATASETS = {"ag_news": "AG News subset", "sst2": "SST-2", "dbpedia_14": "DBpedia-14 subset"}
LOSSES = {"logistic": C_GRID, "squared_hinge": SVM_C_GRID}
SEED, MAX_LENGTH = 42, 128
PRECISION = "float64 (scikit-learn on the features design_matrices builds)"  # always: the fit does not autocast


def measure(dataset: str) -> list[dict]:
    """One row per (loss, weighting, C): validation accuracy of the linear model and the fit's seconds."""
    data, tokenizer = prepare(DataConfig(dataset=dataset, max_length=MAX_LENGTH, seed=SEED,
                                         val_split=ladder.VAL_SPLIT.get(dataset, "rows")))  # fmt: skip
    train = list(data.train["input_ids"])
    labels = list(data.train["labels"])
    validation = (list(data.validation["input_ids"]), list(data.validation["labels"]))
    rows = []
    for weighting in ("nb", "tfidf"):
        model = create_model("wave-nb-fit", num_labels=len(data.label_names), vocab_size=len(tokenizer),
                             max_length=MAX_LENGTH, bag_weighting=weighting)  # fmt: skip
        model.ngram_bag.count_statistics(train, labels)
        design_matrices(model.ngram_bag, train[:8])  # warm-up outside the timings
        for loss, grid in LOSSES.items():
            for c in grid:
                started = time.perf_counter()
                fitted = fit_wide_path(model.ngram_bag, train, labels, validation, c, loss)
                rows.append({"weighting": weighting, "loss": loss, "c": c,
                             "val_accuracy": 100 * fitted.validation_accuracy,
                             "seconds": time.perf_counter() - started})  # fmt: skip
                print(dataset, rows[-1], flush=True)
    return rows


def markdown(record: dict) -> str:
    names = list(record["datasets"])
    lines = [
        "Validation accuracy (%) of the wide path's closed-form fit alone, best C of each grid in parentheses, seed "
        "42; time: the fit at that C, features included.",
        "",
        "| fit | " + " | ".join(DATASETS[d] for d in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for loss in LOSSES:
        for weighting in ("nb", "tfidf"):
            cells = []
            for d in names:
                rows = [r for r in record["datasets"][d] if r["loss"] == loss and r["weighting"] == weighting]
                best = max(rows, key=lambda r: (r["val_accuracy"], -r["c"]))
                cells.append(f"{best['val_accuracy']:.2f} (C={best['c']:g}, {best['seconds']:.1f} s)")
            name = {"logistic": "logistic regression", "squared_hinge": "LinearSVC"}[loss]
            lines.append(f"| {name}, {weighting.upper() if weighting == 'nb' else 'TF-IDF'} features | "
                         + " | ".join(cells) + " |")  # fmt: skip
    lines += ["", f"CPU: {record['cpu']}; {record['threads']} threads; precision: {record['precision']}; "
              "validation split only; nothing else running."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--report", action="store_true", help="only write the table from linear_fits.json")
    args = parser.parse_args()
    out = ladder.RESULTS / "linear_fits.json"
    if args.report:
        record = {"precision": PRECISION} | json.loads(out.read_text())  # a record from before the field
    else:
        torch.set_num_threads(2)
        record = {"cpu": cpu_name(), "threads": 2, "precision": PRECISION, "seed": SEED, "max_length": MAX_LENGTH,
                  "datasets": {}}  # fmt: skip
        for dataset in args.datasets.split(","):
            record["datasets"][dataset] = measure(dataset)
        ladder.RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    (ladder.RESULTS / "linear_fits.md").write_text(markdown(record))
    print(markdown(record))


if __name__ == "__main__":
    main()
