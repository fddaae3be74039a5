"""``wave-network predict`` and ``evaluate --test-file`` as fastText's predict / predict-prob / test: every input
format, fields passed through, top-k and threshold, output files, streaming from stdin, labels matched by name."""

import csv
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from wave_network import TextClassifier, create_model, ops
from wave_network.cli import app

runner = CliRunner()
LABELS = ["World", "Sports", "Business", "Sci/Tech"]
TEXTS = ["Stocks fell sharply on Wall Street", "The striker scored twice", "Rebels seized the capital"]


@pytest.fixture(scope="module", autouse=True)
def eager_kernels():
    ops.set_compile(False)  # untrained, tiny: compiling the kernels would cost more than the tests
    yield
    ops.set_compile(True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model = create_model("paper-modulation", num_labels=4, hidden_size=32).eval()
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {name: i for i, name in enumerate(LABELS)}
    path = tmp_path_factory.mktemp("model")
    model.save_pretrained(path)
    return path


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_csv_input_keeps_its_fields_and_skips_its_header(model_dir, tmp_path):
    path = tmp_path / "in.csv"
    pd.DataFrame({"id": [7, 8], "headline": TEXTS[:2], "label": ["Business", "Sports"]}).to_csv(path, index=False)
    result = runner.invoke(app, ["predict", str(model_dir), "-i", str(path), "--text-column", "headline"])
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert [r["id"] for r in out] == ["7", "8"] and [r["text"] for r in out] == TEXTS[:2]
    assert [r["input_label"] for r in out] == ["Business", "Sports"]  # the true label is kept beside the prediction
    assert all(r["label"] in LABELS and len(r["top_k"]) == 1 for r in out)


def test_jsonl_and_parquet_inputs_with_top_k_and_threshold(model_dir, tmp_path):
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    result = runner.invoke(app, ["predict", str(model_dir), "-i", str(jsonl), "-k", "3"])
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert [r["id"] for r in out] == ["a0", "a1", "a2"]
    for r in out:
        probs = [x["probability"] for x in r["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and r["top_k"][0]["label"] == r["label"]
    parquet = tmp_path / "in.parquet"
    pd.DataFrame({"id": [1, 2, 3], "text": TEXTS}).to_parquet(parquet)
    result = runner.invoke(app, ["predict", str(model_dir), "-i", str(parquet), "-k", "-1", "-t", "0.2"])
    assert result.exit_code == 0, result.output
    for r in lines(result.stdout):
        assert all(x["probability"] >= 0.2 for x in r["top_k"])
        assert {x["label"] for x in r["top_k"]} == {k for k, p in r["probabilities"].items() if p >= 0.2}


def test_output_files(model_dir, tmp_path):
    out_csv = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", str(model_dir), *TEXTS, "-o", str(out_csv)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["text"] for r in rows] == TEXTS
    assert set(rows[0]) == {"text", "label", "probability", *(f"p_{name}" for name in LABELS)}
    assert float(rows[0]["probability"]) == float(rows[0][f"p_{rows[0]['label']}"])
    out_jsonl = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["predict", str(model_dir), *TEXTS, "-o", str(out_jsonl)]).exit_code == 0
    assert len(lines(out_jsonl.read_text())) == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "id,body\n1,hello\n", "no text column 'text' (columns: id, body); name it with --text-column"),
        ("b.jsonl", '{"text": "fine"}\n{"text": \n', "b.jsonl, line 2: not valid JSON"),
        ("c.txt", b"fine\n\xff\xfe bad\n", "c.txt, line 2: not UTF-8 text"),
        ("d.jsonl", '{"text": ""}\n', "line 1: the text in column 'text' is empty"),
    ],
)
def test_bad_input_names_file_and_line(model_dir, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = runner.invoke(app, ["predict", str(model_dir), "-i", str(path)])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_stdin_is_streamed_the_first_answer_comes_before_the_input_ends(model_dir):
    command = [sys.executable, "-m", "wave_network", "predict", str(model_dir), "--device", "cpu"]
    env = os.environ | {"WAVE_NETWORK_COMPILE": "0"}  # a tiny untrained model: compiling would cost the most
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(b"The striker scored twice\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # stdin is still open: this answer was streamed
        assert first["text"] == "The striker scored twice" and first["label"] in LABELS
        proc.stdin.write(b"Stocks fell\n")
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["text"] == "Stocks fell"
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_evaluate_a_file_on_its_own_matches_labels_by_name(model_dir, tmp_path):
    clf = TextClassifier.load(model_dir, device="cpu")
    predicted = clf.predict(TEXTS)
    path = tmp_path / "test.csv"
    # The file's labels appear in another order than the model's: they are matched by name, not by position.
    pd.DataFrame({"text": TEXTS, "topic": predicted[::-1]}).to_csv(path, index=False)
    out = tmp_path / "m.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(model_dir),
            "--test-file",
            str(path),
            "--label-column",
            "topic",
            "-k",
            "2",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    expected = sum(p == t for p, t in zip(predicted, predicted[::-1], strict=True)) / 3
    assert metrics["accuracy"] == pytest.approx(expected) and metrics["examples"] == 3 and metrics["k"] == 2
    assert metrics["recall_at_k"] >= metrics["accuracy"] and metrics["precision_at_k"] == metrics["recall_at_k"] / 2

    pd.DataFrame({"text": TEXTS, "label": ["World", "Cooking", "Sports"]}).to_csv(path, index=False)
    result = runner.invoke(app, ["evaluate", str(model_dir), "--test-file", str(path)])
    assert result.exit_code == 2
    assert "label 'Cooking' (first in row 2) is not one the model knows" in " ".join(result.output.split())


def test_evaluate_a_named_data_set_whose_labels_come_in_another_order(model_dir, tmp_path):
    shuffled = ["Business", "Sci/Tech", "Sports", "World"]
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    rows = [(t, shuffled[i % 4]) for i, t in enumerate(TEXTS * 4)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(train, index=False)
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(test, index=False)
    result = runner.invoke(app, ["evaluate", str(model_dir), "--train-file", str(train), "--test-file", str(test)])
    assert result.exit_code == 0, result.output  # once "trained on labels [...], the data set has [...]"
