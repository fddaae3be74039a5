"""A fixed-seed run gives the results it gave before the code was reorganised (issue 19: no behaviour change).

``tests/data/fixed_seed.json`` was written by ``python tests/fixed_seed.py --write`` before the run-set, CLI and
capability refactoring. On the machine kind that wrote it (same CPU model, kernel capability and torch version)
every metric, loss and the checkpoint's tensors must be bit-identical; on another CPU, floating-point kernels differ
in their last bits, so numbers are compared to a relative 1e-4 and the tensors' digest is not compared.
"""

import json
import math

from fixed_seed import GOLDEN, fingerprint, machine


def _close(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_fixed_seed_runs_match_the_recorded_fingerprint(tmp_path):
    golden = json.loads(GOLDEN.read_text())
    now = fingerprint(tmp_path)
    if machine() == golden["machine"]:
        assert now["runs"] == golden["runs"]
    else:
        for run in (*golden["runs"].values(), *now["runs"].values()):
            run.pop("weights_sha256")
        _close(now["runs"], golden["runs"], "runs")
