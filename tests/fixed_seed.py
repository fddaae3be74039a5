"""A fixed-seed fingerprint of the training path, to show that a refactoring changes no result.

``fingerprint(root)`` trains three small runs (a Wave preset, the recommended ``wave-nb`` and a classic baseline) on
the bundled AG News sample with fixed seeds, fp32, eager kernels and deterministic algorithms, and returns what a
run produces: every metric of ``results.json``, the training losses of ``metrics.jsonl`` and a SHA-256 of the best
checkpoint's tensors (a classic baseline's pickled estimator is not byte-stable across processes: its metrics stand
for it). ``python tests/fixed_seed.py --write`` stores it as ``tests/data/fixed_seed.json``;
``tests/test_fixed_seed.py`` compares a fresh run against that file bit for bit on the machine kind that wrote it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "data" / "fixed_seed.json"

RUNS: dict[str, dict[str, Any]] = {
    "paper-modulation": {"model_overrides": {"hidden_size": 32, "ffn_dim": 32}, "learning_rate": 1e-2},
    "wave-nb": {"model_overrides": {"hidden_size": 32}},
    "tfidf": {},
}
COMMON = {
    "epochs": 2,
    "batch_size": 16,
    "precision": "fp32",
    "seed": 7,
    "deterministic": True,
    "compile": False,
    "num_threads": 1,
    "quiet": True,
}
DATA = {"dataset": "ag_news_sample", "max_length": 32, "max_train_samples": 240, "seed": 7}
# Keys of results.json["metrics"] that hold numbers (the confusion matrix is a list and is compared too).
_SKIP_METRICS = ("tokens_per_s", "_time", "_seconds")


def _tensor_digest(directory: Path) -> str:
    import torch
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    for file in sorted(directory.glob("*.safetensors")):
        tensors = load_file(str(file))
        for name in sorted(tensors):
            digest.update(name.encode())
            digest.update(tensors[name].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def machine() -> dict[str, str]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}


def fingerprint(root: Path) -> dict[str, Any]:
    """Train the fixed-seed runs under ``root`` and return their fingerprint."""
    from wave_network.data import DataConfig
    from wave_network.training import TrainConfig, train

    runs = {}
    for model, extra in RUNS.items():
        cfg = TrainConfig(model=model, data=DataConfig(**DATA), output_dir=str(root / model), **COMMON, **extra)
        result = train(cfg)
        metrics = {k: v for k, v in result.results["metrics"].items() if not any(s in k for s in _SKIP_METRICS)}
        records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
        losses = [r[k] for r in records for k in ("loss", "train_loss", "val_loss") if k in r]
        runs[model] = {
            "metrics": metrics,
            "best_epoch": result.best_epoch,
            "losses": losses,
            "weights_sha256": _tensor_digest(result.run_dir / "best"),
        }
    return {"machine": machine(), "runs": runs}


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"store the fingerprint in {GOLDEN}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = fingerprint(Path(tmp))
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
