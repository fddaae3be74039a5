"""The run directory, the unit of record of a training run:

config.json              fully resolved TrainConfig + model config + environment
metrics.jsonl            one JSON object per line: step logs, validations, epoch summaries
results.json             final metrics, resources, versions, provenance
best/                    best-validation model (save_pretrained format) + tokenizer
last/                    resume state: model, tokenizer, optimizer, scheduler, RNG, counters
training_curves.png, confusion_matrix.png
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
BEST = "best"
LAST = "last"
TRAINING_CURVES = "training_curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"


def default_run_dir(model: str, dataset: str, root: str | Path = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>`` (names reduced to characters safe in a path)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = [re.sub(r"[^A-Za-z0-9_.-]+", "_", str(part)) for part in (model, dataset)]
    return Path(root) / f"{stamp}-{safe[0]}-{safe[1]}"


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values: NaN and infinities become ``None`` (JSON has no NaN), NumPy/torch scalars and arrays
    become numbers and lists, paths and other objects become strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, type(None), str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.generic, np.ndarray)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.tolist())
    return str(obj)


class RunDir:
    """Paths and writers of one run directory. Only the main process of a distributed run should write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def best(self) -> Path:
        return self.path / BEST

    @property
    def last(self) -> Path:
        return self.path / LAST

    def file(self, name: str) -> Path:
        return self.path / name

    def holds_run(self) -> bool:
        return any((self.path / name).exists() for name in (CONFIG, METRICS, RESULTS, LAST))

    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def append_metrics(self, record: dict[str, Any]) -> None:
        with (self.path / METRICS).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(to_jsonable(record)) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / METRICS
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def truncate_metrics(self, max_step: int) -> None:
        """Drop records written after the checkpoint a resumed run continues from (a hard kill can leave
        some)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= max_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        (self.path / METRICS).write_text(text, encoding="utf-8")
