"""Fault injection: a training process killed with SIGKILL at a random step, or while it swaps in a checkpoint
directory, and a write of ``best/`` that fails half-way. ``--resume`` must then end bit-identical to an
uninterrupted run (weights, metrics), and no half-written checkpoint may ever sit where a valid one is read."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from test_training import TIMINGS, read_jsonl, tiny_config
from wave_network.cli import app
from wave_network.training import train

KWARGS = dict(overrides={"dropout": 0.1}, deterministic=True, epochs=2, log_every=3)  # 10 steps per epoch
STEPS = 20


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data_cache"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
    return train(tiny_config(tmp_path_factory.mktemp("full") / "run", cache_dir, **KWARGS)).run_dir


def assert_same_run(resumed: Path, full: Path, note: str) -> None:
    for sub in ("last", "best"):
        a, b = load_file(full / sub / "model.safetensors"), load_file(resumed / sub / "model.safetensors")
        assert a.keys() == b.keys(), note
        assert all(torch.equal(a[k], b[k]) for k in a), f"{note}: {sub}/ differs"

    def strip(records):
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records]

    assert strip(read_jsonl(resumed / "metrics.jsonl")) == strip(read_jsonl(full / "metrics.jsonl")), note
    for leftover in ("last.tmp", "last.old", "best.tmp", "best.old", ".lock"):
        assert not (resumed / leftover).exists(), f"{note}: {leftover} left behind"


def run_child(out: Path, cache_dir: str, mode: str, step: int) -> subprocess.CompletedProcess:
    """Train in a fresh process that kills itself (SIGKILL) at ``step`` (``mode="step"``) or inside the
    ``step``-th swap of ``last/`` into place (``mode="swap"``)."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_faults; "
    code += f"test_faults.child({str(out)!r}, {cache_dir!r}, {mode!r}, {step})"
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def child(out: str, cache_dir: str, mode: str, step: int) -> None:
    from wave_network.training import Callback

    class KillAtStep(Callback):
        def on_step_end(self, ctx, logs):
            if ctx.state.global_step == step:
                os.kill(os.getpid(), signal.SIGKILL)

    class WaitForGo(Callback):  # holds the run open until the test has tried a second writer
        def on_train_begin(self, ctx):
            (Path(out).parent / "started").touch()
            for _ in range(600):
                if (Path(out).parent / "go").exists():
                    return
                time.sleep(0.1)

    if mode == "hold":
        train(tiny_config(out, cache_dir, **KWARGS), callbacks=[WaitForGo()])
        return
    if mode == "swap":  # the worst moment: last/ has stepped aside as last.old, last.tmp not yet renamed
        rename, swaps = Path.rename, []

        def killing_rename(self, target):
            if self.name == "last.tmp":
                swaps.append(self)
                if len(swaps) == step:
                    os.kill(os.getpid(), signal.SIGKILL)
            return rename(self, target)

        Path.rename = killing_rename
    train(tiny_config(out, cache_dir, **KWARGS), callbacks=[KillAtStep()] if mode == "step" else [])


def test_two_processes_with_one_output_directory_the_second_is_refused(tmp_path, cache_dir, uninterrupted):
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_faults; "
    code += f"test_faults.child({str(tmp_path / 'run')!r}, {cache_dir!r}, 'hold', 0)"
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(1200):
            if (tmp_path / "started").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert (tmp_path / "started").exists(), first.communicate()[1][-2000:]
        args = ["train", "--max-train-samples", "320", "--max-length", "32", "--quiet", "-o", str(tmp_path / "run")]
        second = CliRunner().invoke(app, args)
        assert second.exit_code == 2 and f"is in use by pid {first.pid}" in " ".join(second.output.split())
    finally:
        (tmp_path / "go").touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert_same_run(tmp_path / "run", uninterrupted, "the first writer's run")  # untouched by the second


def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, cache_dir, uninterrupted):
    step = random.randrange(1, STEPS)  # epoch 1 (no checkpoint yet: resume starts again) or epoch 2
    note = f"killed at step {step}"
    killed = run_child(tmp_path / "run", cache_dir, "step", step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = train(tiny_config(tmp_path / "run", cache_dir, resume=True, **KWARGS))
    assert_same_run(resumed.run_dir, uninterrupted, note)


def test_sigkill_while_last_is_swapped_in_then_resume_is_bit_identical(tmp_path, cache_dir, uninterrupted):
    killed = run_child(tmp_path / "run", cache_dir, "swap", 2)  # the second save of last/ (end of epoch 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "run" / "last").exists() and (tmp_path / "run" / "last.old").is_dir()
    resumed = train(tiny_config(tmp_path / "run", cache_dir, resume=True, **KWARGS))
    assert_same_run(resumed.run_dir, uninterrupted, "killed while swapping last/")


def test_a_failure_while_writing_best_leaves_no_checkpoint_that_looks_valid(
    tmp_path, cache_dir, uninterrupted, monkeypatch
):
    from wave_network.training import callbacks

    real = callbacks.save_model_dir

    def half_written(model, tokenizer, path):
        real(model, tokenizer, path)
        weights = Path(path) / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(callbacks, "save_model_dir", half_written)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_config(tmp_path / "run", cache_dir, **KWARGS))
    run = tmp_path / "run"
    assert not (run / "best").exists() and (run / "best.tmp" / "model.safetensors").exists()
    result = CliRunner().invoke(app, ["predict", str(run), "stocks fell"])
    assert result.exit_code == 2 and "is a run directory without a best/ checkpoint" in " ".join(result.output.split())

    monkeypatch.setattr(callbacks, "save_model_dir", real)
    resumed = train(tiny_config(run, cache_dir, resume=True, **KWARGS))
    assert_same_run(resumed.run_dir, uninterrupted, "best/ write failed in epoch 1")
