"""The run directory, the unit of record of a training run:

config.json              fully resolved TrainConfig + model config + environment
metrics.jsonl            one JSON object per line: step logs, validations, epoch summaries
results.json             final metrics, resources, versions, provenance
best/                    best-validation model (save_pretrained format) + tokenizer
last/                    resume state: model, tokenizer, optimizer, scheduler, RNG, counters
training_curves.png, confusion_matrix.png   figures drawn from the records by wave_network.reporting.report_run
.lock                    while a run writes the directory: who holds it (see ``RunDirLock``)
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CONFIG = "config.json"
RUN_CONFIG = "run.yaml"  # the resolved configuration as a file `train --config` accepts (config_files)
METRICS = "metrics.jsonl"
RESULTS = "results.json"
BEST = "best"
LAST = "last"
TRAINING_CURVES = "training_curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"
LOCK = ".lock"
# Written by the run-sets (wave_network.runsets) beside a run's own files.
ERROR = "error.json"  # why a run in a child process failed
SETUP = "analysis_setup.json"  # a suite's own record of what else defines the run, compared on reuse
LATENCY = "latency.json"  # compare's inference latency of the best checkpoint

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are then not protected from a second writer
    fcntl = None


class RunDirError(ValueError):
    """A run directory cannot be used: another process holds it, or it cannot be created or written."""


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

    def remove_if_empty(self) -> bool:
        """Remove the directory when nothing but a lock file is in it (a run that failed before writing
        anything); returns whether it was removed."""
        if not self.path.is_dir() or any(p.name != LOCK for p in self.path.iterdir()):
            return False
        shutil.rmtree(self.path, ignore_errors=True)
        return True

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


class RunDirLock:
    """An exclusive lock on a run directory, held by the one process that writes it for the whole run.

    ``fcntl.flock`` on ``<run dir>/.lock``: the kernel drops it when the holder exits, however it exits (a
    ``kill -9`` leaves no stale lock). The file names the holder (pid, host, start time, command) so that a
    second writer is refused with a message saying who has the directory. ``release`` deletes the file; an
    ``acquire`` that raced with a deletion finds its inode gone and tries again.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.file = self.path / LOCK
        self._handle: Any = None

    def acquire(self) -> RunDirLock:
        if fcntl is None:
            return self
        while True:
            try:
                handle = self.file.open("a+", encoding="utf-8")
            except OSError as error:
                raise RunDirError(f"cannot write to the run directory {self.path}: {error.strerror}") from error
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise RunDirError(
                    f"run directory {self.path} is in use by {holder}; two runs writing one directory would "
                    "mix their records. Wait for that run to finish, or choose another output directory"
                ) from None
            if self._same_file(handle):
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        command = " ".join(sys.argv) or "python"
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} (since {started}: {command})\n")
        handle.flush()
        self._handle = handle
        return self

    def _same_file(self, handle: Any) -> bool:
        try:
            return os.fstat(handle.fileno()).st_ino == os.stat(self.file).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        if self._handle is None:
            return
        self.file.unlink(missing_ok=True)  # before unlocking: a waiting acquire then sees a deleted inode
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None
