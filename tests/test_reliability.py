"""What a hostile user meets at the command line (issue 21): every bad input, damaged file, shared directory or
misleading option ends in a one-line named error (exit code 2) or an explicit notice, never a traceback or a
silent reinterpretation. ``reliability_cases.py`` lists each case with the test here that covers it; it is the
source of ``docs/reliability.md``."""

import json
import random

import pytest
from typer.testing import CliRunner

from wave_network.cli import app
from wave_network.training.rundir import RunDirLock

runner = CliRunner()
TINY = ["--set", "hidden_size=16", "--set", "ffn_dim=16", "--max-length", "32", "--num-threads", "1"]
FAST = [*TINY, "--quiet", "--no-compile", "--epochs", "1", "--batch-size", "32"]
WORDS = {"sports": "goal team match win coach league".split(), "business": "stock market shares profit bank".split()}


def write_rows(path, rows, header=("text", "label")):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def news_rows(n=120, seed=0, labels=("business", "sports")):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = WORDS[label] if label in WORDS else WORDS[("business", "sports")[i % 2]]
        rows.append((" ".join(rng.choice(words) for _ in range(6)), label))
    return rows


def train_cli(tmp_path, train_rows, *extra, test_rows=None, out="run"):
    args = ["train", "--train-file", str(write_rows(tmp_path / "train.csv", train_rows))]
    if test_rows is not None:
        args += ["--test-file", str(write_rows(tmp_path / "test.csv", test_rows))]
    return runner.invoke(app, [*args, *FAST, "-o", str(tmp_path / out), *extra])


def assert_named_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error:" in result.output, result.output
    flat = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, result.output)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    result = train_cli(tmp, news_rows(), test_rows=news_rows(40, seed=1))
    assert result.exit_code == 0, result.output
    return tmp / "run", result.output


# Case 1: two writers of one run directory.
def test_a_second_writer_of_a_run_directory_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = RunDirLock(out).acquire()  # flock: a second open file description conflicts, even in one process
    try:
        result = train_cli(tmp_path, news_rows())
    finally:
        holder.release()
    assert_named_error(result, "is in use by pid", "Wait for that run to finish")
    assert not (out / "metrics.jsonl").exists() and not (out / "config.json").exists()


# Case 2: damaged model files.
@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_a_damaged_checkpoint_is_a_named_error_in_predict_and_evaluate(trained, tmp_path, damage):
    import shutil

    run = shutil.copytree(trained[0], tmp_path / "copy")
    weights = run / "best" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "random": random.randbytes(4096)}[damage])
    result = runner.invoke(app, ["predict", str(run), "stocks fell"])
    assert_named_error(result, "cannot be loaded", "damaged")
    result = runner.invoke(app, ["evaluate", str(run), "--train-file", str(trained[0].parent / "train.csv")])
    assert_named_error(result, "cannot be loaded")


def test_predict_refuses_an_empty_text(trained):
    result = runner.invoke(app, ["predict", str(trained[0]), "stocks fell", "  "])
    assert_named_error(result, "text 2 is empty")


# Case 8: output directory problems.
def test_an_unwritable_output_directory_is_a_named_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = train_cli(tmp_path, news_rows(), out="file/run")
    assert_named_error(result, "cannot create the run directory", "file/run")


def test_a_run_that_fails_before_writing_leaves_no_directory(tmp_path):
    result = train_cli(tmp_path, news_rows(), "--train-file", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2
    result = train_cli(tmp_path, news_rows(), "--text-column", "body")
    assert_named_error(result, "body")
    assert not (tmp_path / "run").exists()
