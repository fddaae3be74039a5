"""Data-parallel training under torchrun (2 CPU processes, gloo) matches one process with the same global
batch size."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from wave_network.data import DataConfig
from wave_network.training import Callback, TrainConfig, train

WORKER = """
import json, sys
from test_training_ddp import RecordBatches
from wave_network.training import Callback, TrainConfig, train
train(TrainConfig.from_dict(json.loads(open(sys.argv[1]).read())), callbacks=[RecordBatches(sys.argv[2])])
"""


class RecordBatches(Callback):
    """Writes, per step, a fingerprint (sum of token ids) of every example this process trained on."""

    def __init__(self, path_prefix):
        self.path_prefix, self.steps, self.current = path_prefix, [], []

    def on_train_begin(self, ctx):
        def hook(module, args, kwargs):
            if module.training:
                self.current += kwargs["input_ids"].sum(dim=1).tolist()

        ctx.model.register_forward_pre_hook(hook, with_kwargs=True)

    def on_step_end(self, ctx, logs):
        self.steps.append(self.current)
        self.current = []

    def on_close(self, ctx):
        with open(f"{self.path_prefix}{ctx.dist.rank}.json", "w") as fh:
            json.dump(self.steps, fh)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def config(output_dir, cache_dir):
    return TrainConfig(
        model="paper-modulation",
        model_overrides={"hidden_size": 16, "ffn_dim": 16, "dropout": 0.0, "max_position_embeddings": 64},
        data=DataConfig(
            dataset="ag_news_sample",
            max_length=32,
            max_train_samples=96,
            max_eval_samples=41,
            cache_dir=cache_dir,
        ),
        learning_rate=1e-2,
        epochs=1,
        batch_size=16,  # global: 8 examples per process under torchrun
        eval_batch_size=16,
        max_steps=6,
        precision="fp32",
        log_every=1,
        num_threads=1,
        quiet=True,
        output_dir=str(output_dir),
    )


def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    cache = str(tmp_path / "cache")
    single = train(config(tmp_path / "single", cache), callbacks=[RecordBatches(str(tmp_path / "single_rank"))])

    cfg_file = tmp_path / "ddp.json"
    cfg_file.write_text(json.dumps(config(tmp_path / "ddp", cache).to_dict()))
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, str(worker), str(cfg_file), str(tmp_path / "ddp_rank")],
        env=env | {"PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(__file__), env.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"torchrun wall time: {time.perf_counter() - start:.1f} s")

    # Each process trained on its own half of every global batch; the halves make up the one-process batch.
    one = json.loads((tmp_path / "single_rank0.json").read_text())
    rank0, rank1 = (json.loads((tmp_path / f"ddp_rank{r}.json").read_text()) for r in (0, 1))
    assert [len(s) for s in one] == [16] * 6
    assert [len(s) for s in rank0] == [len(s) for s in rank1] == [8] * 6
    for whole, half0, half1 in zip(one, rank0, rank1, strict=True):
        assert sorted(half0 + half1) == sorted(whole)

    ddp_dir = tmp_path / "ddp"
    results = json.loads((ddp_dir / "results.json").read_text())
    assert results["resources"]["world_size"] == 2
    # Only rank 0 writes: every step is logged once, with the same global loss as the single process.
    ddp_steps = [r for r in read_jsonl(ddp_dir / "metrics.jsonl") if r["type"] == "step"]
    one_steps = [r for r in read_jsonl(single.run_dir / "metrics.jsonl") if r["type"] == "step"]
    assert [r["step"] for r in ddp_steps] == [r["step"] for r in one_steps] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(ddp_steps, one_steps, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
        assert a["lr"] == b["lr"]
    # Validation and test predictions are gathered from both processes; the example the sampler repeats to
    # split the odd last batch (41 = 2 * 16 + 9) is counted once.
    m = results["metrics"]
    for split in ("val", "test"):
        assert sum(map(sum, m[f"{split}_confusion_matrix"])) == 41
        assert m[f"{split}_confusion_matrix"] == single.metrics[f"{split}_confusion_matrix"]
        assert m[f"{split}_loss"] == pytest.approx(single.metrics[f"{split}_loss"], rel=1e-5)
    a = load_file(ddp_dir / "last" / "model.safetensors")
    b = load_file(single.run_dir / "last" / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[name] - b[name]).abs().max().item() for name in a)
    print(f"largest weight difference after 6 AdamW steps: {worst:.2e}")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
