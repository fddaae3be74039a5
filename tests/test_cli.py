"""The real command line, end to end, on the bundled AG News sample: train learns, evaluate and predict read the run
directory, bad input is a clear one-line error."""

import json

import pytest
from typer.testing import CliRunner

from wave_network.cli import app

runner = CliRunner()
TINY = [
    "--set",
    "hidden_size=64",
    "--set",
    "ffn_dim=64",
    "--set",
    "embedding_init_std=0.1",
    "--max-length",
    "48",
    "--num-threads",
    "1",
    "--quiet",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "--max-train-samples",
            "1200",
            "--epochs",
            "4",
            "--lr",
            "3e-3",
            "--batch-size",
            "32",
            "-o",
            str(out),
            *TINY,
        ],
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_a_complete_run_directory(run_dir):
    out, output = run_dir
    for name in ("config.json", "metrics.jsonl", "results.json", "training_curves.png", "confusion_matrix.png"):
        assert (out / name).exists(), name
    assert (out / "best" / "model.safetensors").exists()
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "paper-modulation" and results["dataset"] == "ag_news_sample"
    assert "test accuracy" in output


def test_train_learns_a_real_signal(run_dir):
    out, _ = run_dir
    results = json.loads((out / "results.json").read_text())
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in epochs if r.get("type") == "epoch"]
    assert losses[-1] < losses[0]
    assert results["metrics"]["test_accuracy"] > 0.4  # 4 balanced classes: chance is 0.25


def test_evaluate_and_predict_from_the_run_directory(run_dir, tmp_path):
    out, _ = run_dir
    result = runner.invoke(app, ["evaluate", str(out), "--max-length", "48", "--output", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    stored = json.loads((out / "results.json").read_text())["metrics"]
    assert metrics["test_accuracy"] == pytest.approx(stored["test_accuracy"], abs=2e-3)

    result = runner.invoke(app, ["predict", str(out), "Stocks fell sharply on Wall Street", "The striker scored twice"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    assert lines[0]["label"] in lines[0]["probabilities"]
    assert sum(lines[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)

    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "Oil prices rise"}\n{"text": "New chip unveiled"}\n')
    result = runner.invoke(app, ["predict", str(out), "--input", str(source)])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2


def test_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("txt,label\nhello,1\n")
    result = runner.invoke(
        app,
        [
            "train",
            "--train-file",
            str(bad),
            "--text-column",
            "text",
            "--label-column",
            "label",
            "-o",
            str(tmp_path / "r"),
            "--quiet",
        ],
    )
    assert result.exit_code == 2
    assert "text" in result.output and "Traceback" not in result.output

    result = runner.invoke(app, ["train", "--model", "paper-modulaton", "-o", str(tmp_path / "r2"), "--quiet"])
    assert result.exit_code == 2 and "paper-modulation" in result.output

    result = runner.invoke(app, ["train", "--set", "hidden_size", "--quiet"])
    assert result.exit_code == 2 and "FIELD=VALUE" in result.output

    result = runner.invoke(app, ["train", "--val-split", "phrases", "-o", str(tmp_path / "r3"), "--quiet"])
    assert result.exit_code == 2 and "--val-split" in result.output and "sentences" in result.output


def test_presets_and_datasets_list_everything():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0
    for name in ("paper-modulation", "paper-interference", "seed-modulation", "paper-multilayer"):
        assert name in result.output
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0 and "ag_news_sample" in result.output


def test_python_dash_m_runs_the_same_command_line():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "wave_network", "--help"], capture_output=True, text=True, check=True)
    assert "Usage: wave-network" in out.stdout and "train" in out.stdout
