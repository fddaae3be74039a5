"""Experiment tracking hangs off the loop as a callback, and a tracking library is imported in one module
only, only when chosen."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wave_network
from wave_network.data import DataConfig
from wave_network.training import TrainConfig, callbacks, train
from wave_network.training.tracking import create_tracker

TRACKING_LIBS = ("wandb", "mlflow", "tensorboard", "tensorboardX")


def tiny_config(output_dir, **fields):
    return TrainConfig(
        model="paper-modulation",
        model_overrides={"hidden_size": 8, "ffn_dim": 8, "max_position_embeddings": 32},
        data=DataConfig(
            dataset="ag_news_sample",
            max_length=16,
            max_train_samples=64,
            max_eval_samples=32,
            cache_dir=str(Path(output_dir).parent / "cache"),
        ),
        learning_rate=1e-3,
        epochs=1,
        batch_size=16,
        precision="fp32",
        num_threads=1,
        log_every=1,
        quiet=True,
        output_dir=str(output_dir),
        **fields,
    )


def test_only_tracking_py_imports_a_tracking_library():
    package = Path(wave_network.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(wandb|mlflow|tensorboard|tensorboardX|torch\.utils\.tensorboard)\b")
    importers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(pattern.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    }
    assert importers == {"training/tracking.py"}


def test_a_run_without_tracker_imports_no_tracking_library(tmp_path):
    # Stand-in packages that record being imported, so the check works whether or not the real ones are
    # installed.
    fakes = tmp_path / "fakes"
    for name in TRACKING_LIBS:
        (fakes / name).mkdir(parents=True)
        (fakes / name / "__init__.py").write_text(
            f"import os\nopen(os.environ['IMPORT_LOG'], 'a').write('{name}\\n')\n"
        )
    log = tmp_path / "imports.log"
    log.write_text("")
    script = (
        "import json, sys\n"
        "from wave_network.training import TrainConfig, train\n"
        "train(TrainConfig.from_dict(json.loads(sys.argv[1])))\n"
        f"leaked = [m for m in {TRACKING_LIBS!r} + ('torch.utils.tensorboard',) if m in sys.modules]\n"
        "assert not leaked, leaked\n"
    )
    cfg = json.dumps(tiny_config(tmp_path / "run", max_steps=2).to_dict())
    env = os.environ | {
        "IMPORT_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(fakes), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run([sys.executable, "-c", script, cfg], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert log.read_text() == ""
    assert (tmp_path / "run" / "results.json").exists()


@pytest.mark.parametrize(
    ("kind", "module"), [("tensorboard", "torch.utils.tensorboard"), ("wandb", "wandb"), ("mlflow", "mlflow")]
)
def test_missing_tracking_library_names_the_pip_extra(tmp_path, monkeypatch, kind, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ImportError, match=re.escape(f"pip install 'wave-network[{kind}]'")):
        create_tracker(kind, tmp_path, "run")


class RecordingTracker:
    def __init__(self):
        self.params, self.metrics, self.closed = None, [], False

    def log_params(self, params):
        self.params = params

    def log_metrics(self, metrics, step):
        self.metrics.append((step, metrics))

    def close(self):
        self.closed = True


def test_tracker_callback_receives_config_step_epoch_and_test_metrics(tmp_path, monkeypatch):
    tracker = RecordingTracker()
    created = []

    def fake_create(kind, run_dir, run_name):
        created.append(kind)
        return tracker

    monkeypatch.setattr(callbacks, "create_tracker", fake_create)
    train(tiny_config(tmp_path / "run", tracker="mlflow"))
    assert created == ["mlflow"]
    assert tracker.params["train"]["tracker"] == "mlflow"
    names = {name for _, metrics in tracker.metrics for name in metrics}
    assert {"train_loss", "train_lr", "val_accuracy", "test_accuracy", "test_f1_macro"} <= names
    assert [step for step, m in tracker.metrics if "train_loss" in m and "train_lr" in m] == [1, 2, 3, 4]
    assert tracker.closed
