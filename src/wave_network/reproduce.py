"""``reproduce``: re-run the configurations behind a published table and print ours beside the published numbers.

Tables (numbers as quoted in the project's REFERENCE.md):

* ``paper-table1``: Wave Network paper (arXiv 2411.02674) Table 1, AG News: Wave interference and modulation and
  "a single Transformer layer on pre-trained BERT token embeddings".
* ``paper-table2``: the same paper's Table 2, AG News / DBpedia-14 / IMDB: Wave interference, modulation, BERT base.
* ``seed-readme``: the public proof-of-life implementation's README table (its own Wave architecture, our
  ``seed-modulation`` preset, and BERT base; IMDB with Wave at 384 tokens and BERT at 128).
* ``seed-glue``: the proof-of-life's GLUE dev results, its Wave model against its FNet trained from scratch.

Every cell runs on whatever of its data is available locally (or from the hub when online) through ``compare`` (or
``glue``), reusing finished runs. Each of our cells is marked when its data is a subset or a different split
(from the data's provenance), when the checkpoint differs from the published one (the offline BERT-family
baseline is all-MiniLM-L6-v2, not bert-base-uncased), and when it was not run (with the reason).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import DataError
from .reporting.reproduce import reproduce_markdown
from .runsets import RunSetConfig, epochs_for_dataset
from .training.rundir import RESULTS

logger = logging.getLogger("wave_network.reproduce")

__all__ = ["TABLES", "Cell", "ReproduceConfig", "render_markdown", "reproduce"]

# The table is drawn by wave_network.reporting.reproduce; its old name stays importable from here.
render_markdown = reproduce_markdown


@dataclass(frozen=True)
class Cell:
    """One published number: ``model`` (ours) on ``dataset`` at ``max_length``, the ``metric`` and its value."""

    row: str  # the published row label
    model: str
    dataset: str
    published: float
    metric: str = "accuracy"
    max_length: int = 128
    published_checkpoint: str | None = None  # for BERT rows: what the source fine-tuned


_BERT_BASE = "bert-base-uncased"
TABLES: dict[str, dict[str, Any]] = {
    "paper-table1": {
        "title": "Wave Network paper (arXiv 2411.02674), Table 1: AG News",
        "cells": [
            Cell("Wave, interference", "paper-interference", "ag_news", 90.36),
            Cell("Wave, modulation", "paper-modulation", "ag_news", 91.29),
            Cell(
                "one Transformer layer on BERT embeddings",
                "transformer-1layer",
                "ag_news",
                71.68,
                published_checkpoint=_BERT_BASE,
            ),
        ],
    },
    "paper-table2": {
        "title": "Wave Network paper (arXiv 2411.02674), Table 2: AG News, DBpedia-14, IMDB",
        "cells": [
            cell
            for dataset, values, length in (
                ("ag_news", (90.91, 91.66, 94.64), 128),
                ("dbpedia_14", (97.93, 98.05, 99.28), 128),
                ("imdb", (87.00, 87.02, 93.94), 512),
            )
            for cell in (
                Cell("Wave, interference", "paper-interference", dataset, values[0], max_length=length),
                Cell("Wave, modulation", "paper-modulation", dataset, values[1], max_length=length),
                Cell(
                    "BERT base (fine-tuned)",
                    "bert",
                    dataset,
                    values[2],
                    max_length=length,
                    published_checkpoint=_BERT_BASE,
                ),
            )
        ],
    },
    "seed-readme": {
        "title": "Proof-of-life implementation, README table",
        "cells": [
            Cell("Wave", "seed-modulation", "ag_news", 92.03),
            Cell("BERT base", "bert", "ag_news", 94.63, published_checkpoint=_BERT_BASE),
            Cell("Wave", "seed-modulation", "dbpedia_14", 98.15),
            Cell("BERT base", "bert", "dbpedia_14", 99.26, published_checkpoint=_BERT_BASE),
            Cell("Wave (384 tokens)", "seed-modulation", "imdb", 87.22, max_length=384),
            Cell("BERT base (128 tokens)", "bert", "imdb", 88.69, max_length=128, published_checkpoint=_BERT_BASE),
        ],
    },
    "seed-glue": {
        "title": "Proof-of-life implementation, GLUE dev (one unseeded run each)",
        "cells": [
            cell
            for task, metric, wave, fnet in (
                ("sst2", "accuracy", 80.5, 79.5),
                ("cola", "mcc", 12.9, 0.0),
                ("mrpc", "accuracy", 69.9, 68.4),
                ("qqp", "accuracy", 79.9, 76.6),
                ("qnli", "accuracy", 59.7, 61.9),
                ("rte", "accuracy", 49.5, 52.7),
                ("mnli", "accuracy", 51.2, 53.4),
                ("stsb", "pearson", 12.6, 10.3),
            )
            for cell in (
                Cell("Wave", "seed-modulation", task, wave, metric=metric),
                Cell("FNet (6 layers, from scratch)", "fnet", task, fnet, metric=metric),
            )
        ],
    },
}


@dataclass
class ReproduceConfig(RunSetConfig):
    """One ``reproduce`` run: the shared run-set fields (``wave_network.runsets.RunSetConfig``; ``models`` is the
    table's own and need not be given) and:

    Args:
        table: a key of ``TABLES``.
        output_dir: run directories (``<dataset>__<model>__seed<seed>``, shared with ``compare``).
        report_dir: where ``reproduce_<table>.{json,md}`` go; ``None`` uses ``output_dir``.
        seed: the seed of every run.
        data_dir: where the data sets are; ``max_train_samples``: a subsample of every training set. Budget cuts
            (``epochs``, ``model_epochs`` with ``MODEL`` or ``DATASET/MODEL`` keys, ``max_train_samples``) are
            marked on every cell they touch.
        datasets: run only these data sets of the table (the other cells are marked not run).
    """

    table: str = ""
    output_dir: str = "runs/reproduce"
    seed: int = 42
    data_dir: str | None = None
    max_train_samples: int | None = None
    datasets: list[str] | None = None

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(f"ReproduceConfig.table: unknown {self.table!r}; choose from {', '.join(TABLES)}")
        if isinstance(self.datasets, str):
            self.datasets = [d.strip() for d in self.datasets.split(",") if d.strip()]
        table_models = list(dict.fromkeys(cell.model for cell in TABLES[self.table]["cells"]))
        if not self.models:
            self.models = table_models
        elif sorted(self.models) != sorted(table_models):
            raise ValueError(f"ReproduceConfig.models: {self.table} runs {', '.join(table_models)}")
        self.check_run_set()


def _groups(cells: list[Cell]) -> dict[tuple[str, int], list[str]]:
    """Cells that one ``compare`` run covers: the same data set and max length."""
    groups: dict[tuple[str, int], list[str]] = {}
    for cell in cells:
        models = groups.setdefault((cell.dataset, cell.max_length), [])
        if cell.model not in models:
            models.append(cell.model)
    return groups


def _our_value(run_dir: Path, metric: str) -> float | None:
    results = json.loads((run_dir / RESULTS).read_text())
    value = results["metrics"].get(f"test_{metric}")
    return None if value is None else 100 * value


def reproduce(cfg: ReproduceConfig) -> dict[str, Any]:
    """Run the table's configurations and write ``reproduce_<table>.{json,md}``; returns the JSON record."""
    from .compare import CompareConfig, compare
    from .data import DataConfig, load_splits

    table = TABLES[cfg.table]
    outcomes: dict[tuple[str, int], dict[str, Any]] = {}
    for (dataset, max_length), models in _groups(table["cells"]).items():
        if cfg.datasets is not None and dataset not in cfg.datasets:
            outcomes[(dataset, max_length)] = {"status": "not run", "reason": "not selected (--datasets)"}
            continue
        data = DataConfig(dataset=dataset, data_dir=cfg.data_dir, max_length=max_length, seed=cfg.seed,
                          max_train_samples=cfg.max_train_samples)  # fmt: skip
        try:
            provenance = load_splits(data).provenance
        except DataError as exc:
            logger.warning("%s: data not found; its cells are not run", dataset)
            outcomes[(dataset, max_length)] = {"status": "not run", "reason": str(exc).splitlines()[0]}
            continue
        shared = cfg.shared() | {
            "models": models,
            "report_dir": str(cfg.report_path / "reproduce_runs"),
            "model_epochs": epochs_for_dataset(cfg.model_epochs, dataset, models),
            "model_overrides": {k: v for k, v in cfg.model_overrides.items() if k in models},
            "quiet": True,
        }
        result = compare(CompareConfig(**shared, data=data, seed=cfg.seed))
        outcomes[(dataset, max_length)] = {"status": "ok", "rows": {r["model"]: r for r in result.rows},
                                           "provenance": provenance}  # fmt: skip
    cells = [_cell_record(cell, outcomes[(cell.dataset, cell.max_length)], cfg) for cell in table["cells"]]
    record = {"table": cfg.table, "title": table["title"], "seed": cfg.seed, "cells": cells}
    directory = cfg.report_path
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"reproduce_{cfg.table}.json").write_text(json.dumps(record, indent=2) + "\n")
    (directory / f"reproduce_{cfg.table}.md").write_text(reproduce_markdown(record))
    return record


def _cell_record(cell: Cell, outcome: dict[str, Any], cfg: ReproduceConfig) -> dict[str, Any]:
    record: dict[str, Any] = {
        "row": cell.row, "model": cell.model, "dataset": cell.dataset, "metric": cell.metric,
        "max_length": cell.max_length, "published": cell.published, "ours": None, "notes": [],
    }  # fmt: skip
    if outcome["status"] != "ok":
        record["notes"].append(f"not run: {outcome['reason']}")
        return record
    row = outcome["rows"][cell.model]
    if row["status"] != "ok":
        record["notes"].append(f"not run: {cell.model} failed ({row.get('error')})")
        return record
    record["ours"] = _our_value(Path(row["run_dir"]), cell.metric)
    provenance = outcome["provenance"]
    if provenance.get("subset_note"):
        record["notes"].append(provenance["subset_note"])
    if "GLUE dev" in (provenance.get("test_role") or ""):
        record["notes"].append("GLUE dev set as test; selection on a split of the training data")
    if cell.published_checkpoint and row.get("checkpoint") and row["checkpoint"] != cell.published_checkpoint:
        record["notes"].append(f"{row['checkpoint']} here, {cell.published_checkpoint} published")
    epochs = epochs_for_dataset(cfg.model_epochs, cell.dataset, [cell.model]).get(cell.model, cfg.epochs)
    if epochs is not None:
        record["notes"].append(f"{epochs} epoch(s) instead of the recipe's")
    return record
