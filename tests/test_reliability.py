"""What a hostile user meets at the command line (issue 21): every bad input, damaged file, shared directory or
misleading option ends in a one-line named error (exit code 2) or an explicit notice, never a traceback or a
silent reinterpretation. ``reliability_cases.py`` lists each case with the test here that covers it; it is the
source of ``docs/reliability.md``."""

import json
import random
import re

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


def flat(output):
    """The console output as one line (rich wraps long messages, after a hyphen too)."""
    return " ".join(re.sub(r"-\s*\n\s*", "-", output).split())


def assert_named_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error:" in result.output, result.output
    for fragment in fragments:
        assert fragment in flat(result.output), (fragment, result.output)


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


# Case 3: one-class and header-only training files.
def test_one_class_training_data_is_refused_before_training(tmp_path):
    result = train_cli(tmp_path, news_rows(labels=("sports",)))
    assert_named_error(result, "train.csv, column 'label': every training row has the label 'sports'", "two classes")
    assert not (tmp_path / "run").exists()  # no unloadable best/, no empty directory


def test_a_header_only_file_says_it_has_no_rows(tmp_path):
    result = train_cli(tmp_path, [])
    assert_named_error(result, "train.csv: the file has no rows, only the header line")
    import pandas as pd

    (tmp_path / "blank.jsonl").write_text("\n\n")
    pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)}).to_parquet(
        tmp_path / "e.parquet"
    )
    for name in ("blank.jsonl", "e.parquet"):
        result = runner.invoke(app, ["train", "--train-file", str(tmp_path / name), *FAST, "-o", str(tmp_path / "r")])
        assert_named_error(result, f"{name}: the file has no rows")


# Case 4: --set values are checked against the field's type and range before any work.
@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("foo_bar=3", "--set foo_bar is not a field"),
        ("num_layer=2", "did you mean 'num_layers'?"),
        ("residual=maybe", "--set residual='maybe'; expected true or false"),
        ("num_layers=1.5", "--set num_layers=1.5; expected an integer"),
        ("num_layers=abc", "--set num_layers='abc'; expected an integer"),
        ("num_layers=0", "--set num_layers must be >= 1"),
        ("dropout=1.5", "--set dropout must be in [0, 1)"),
        ("ngram_orders=[2, 2]", "--set ngram_orders must be distinct orders"),
    ],
)
def test_set_values_are_validated_before_any_work(tmp_path, pair, message):
    result = train_cli(tmp_path, news_rows(), "--set", pair)
    assert_named_error(result, message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "model,pair,message",
    [
        ("tfidf", "c=0.5", "--set c is not a field of 'tfidf'; did you mean 'C'?"),
        ("tfidf", "C=strong", "--set C='strong' for 'tfidf'; expected a number"),
        ("bert", "hiden_dropout_prob=0.2", "did you mean 'hidden_dropout_prob'?"),
        ("fnet", "num_layers=2", "--set num_layers is not a field of 'fnet'; did you mean 'num_hidden_layers'?"),
        ("transformer-1layer", "freeze_embeddings=maybe", "expected true or false"),
    ],
)
def test_set_values_of_baselines_are_validated_before_any_work(tmp_path, model, pair, message):
    """The baselines' --set fields (their builder's parameters and their config class's fields) are checked like
    the Wave presets': an unknown name or a value of the wrong type stops the run before any data is read."""
    args = ["train", "--train-file", str(write_rows(tmp_path / "train.csv", news_rows())), "-m", model]
    result = runner.invoke(app, [*args, "--quiet", "--set", pair, "-o", str(tmp_path / "run")])
    assert_named_error(result, message)
    assert not (tmp_path / "run").exists()


# Case 5: a --max-length the position table cannot cover.
def test_max_length_beyond_the_position_table_is_refused_up_front(tmp_path):
    result = train_cli(tmp_path, news_rows(), "--max-length", "1024")
    assert_named_error(result, "--max-length=1024 is longer than the model's 512 positions", "max_position_embeddings")
    result = train_cli(tmp_path, news_rows(), "--max-length", "80", "--set", "max_position_embeddings=80", out="ok")
    assert result.exit_code == 0, result.output
    bert = ["checkpoint=scratch", "num_hidden_layers=1", "num_attention_heads=1", "intermediate_size=16"]
    args = ["train", "--train-file", str(tmp_path / "train.csv"), "-m", "bert", "--max-length", "1024", "--quiet"]
    result = runner.invoke(app, [*args, *(a for p in bert for a in ("--set", p)), "-o", str(tmp_path / "bert")])
    assert_named_error(result, "--max-length=1024 is longer than the 512 positions of model 'bert'")
    assert not (tmp_path / "bert").exists()


# Case 6: no silent reinterpretation of labels and texts.
def test_fractional_labels_state_the_inferred_task_and_the_flag_overrides_it(tmp_path):
    rows = [(text, 0.5 if label == "sports" else 1.5) for text, label in news_rows()]
    result = train_cli(tmp_path, rows)  # the own-data default, wave-nb-fit, takes class labels only: it says so
    assert_named_error(result, "this data is regression", "Use wave-wide (-m wave-wide) instead")
    result = train_cli(tmp_path, rows, "-m", "wave-wide", out="reg")
    assert result.exit_code == 0, result.output
    assert "Task: regression, inferred from the fractional labels" in flat(result.output)
    result = train_cli(tmp_path, rows, "--task", "classification", out="cls")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "cls" / "config.json").read_text())
    assert config["problem_type"] == "single_label_classification" and config["label_names"] == ["0.5", "1.5"]
    assert "Task:" not in result.output


def test_whole_decimal_labels_are_class_numbers_with_a_notice(tmp_path):
    rows = [(text, "1.0" if label == "sports" else "0.0") for text, label in news_rows()]
    result = train_cli(tmp_path, rows)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["label_names"] == ["0", "1"]
    assert "single-label classification with 2 classes (0, 1)" in flat(result.output)


def test_labels_mixing_numbers_and_names_are_refused(tmp_path):
    rows = [(text, "1" if i % 3 == 0 else label) for i, (text, label) in enumerate(news_rows())]
    result = train_cli(tmp_path, rows)
    assert_named_error(result, "the labels mix numbers ('1') and names ('business', 'sports')")


def test_labels_differing_only_in_case_are_refused_and_spaces_are_counted(tmp_path):
    rows = [(text, "Sports" if i % 4 == 1 else label) for i, (text, label) in enumerate(news_rows())]
    assert_named_error(train_cli(tmp_path, rows), "the labels 'Sports' and 'sports' differ only in case")
    rows = [(text, f" {label}" if i % 4 == 1 else label) for i, (text, label) in enumerate(news_rows())]
    result = train_cli(tmp_path, rows)
    assert result.exit_code == 0, result.output
    assert "Stripped the spaces around 30 train label(s)" in flat(result.output)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["label_names"] == ["business", "sports"]


@pytest.mark.parametrize("values", [[1, 2, 3], [["a", "b"], ["c"], ["d"]]], ids=["ints", "lists"])
def test_a_parquet_text_column_that_is_not_text_is_refused(tmp_path, values):
    import pandas as pd

    frame = pd.DataFrame({"text": values * 20, "label": ["a", "b", "a"] * 20})
    frame.to_parquet(tmp_path / "train.parquet")
    result = runner.invoke(
        app, ["train", "--train-file", str(tmp_path / "train.parquet"), *FAST, "-o", str(tmp_path / "r")]
    )
    kind = "int" if values[0] == 1 else "ndarray"
    assert_named_error(result, "train.parquet, row 1, column 'text': holds", "not text")
    assert kind in result.output or "list" in result.output


def test_dropped_empty_test_texts_are_printed(tmp_path):
    test_rows = [("" if i % 5 else text, label) for i, (text, label) in enumerate(news_rows(100, seed=2))]
    result = train_cli(tmp_path, news_rows(), test_rows=test_rows)
    assert result.exit_code == 0, result.output
    assert "Dropped 80 of 100 test row(s) with an empty text." in flat(result.output)


def test_texts_cut_at_max_length_are_counted_and_printed(tmp_path):
    result = train_cli(tmp_path, news_rows(), "--max-length", "5", test_rows=news_rows(40, seed=1))
    assert result.exit_code == 0, result.output
    assert "40 of 40 test texts reach max_length=5 tokens and are cut there (--max-length)." in flat(result.output)


# Case 7: the record says what happened.
def test_a_run_on_a_train_file_is_recorded_under_the_file_name(trained):
    run, output = trained
    results = json.loads((run / "results.json").read_text())
    assert results["dataset"] == "train.csv" and "on train.csv" in output and "ag_news_sample" not in output


def test_resuming_with_changed_options_is_refused_and_leaves_the_record(trained, tmp_path):
    import shutil

    run = shutil.copytree(trained[0], tmp_path / "run")
    before = {name: (run / name).read_text() for name in ("config.json", "results.json", "metrics.jsonl")}
    args = [
        "train",
        "--train-file",
        str(trained[0].parent / "train.csv"),
        "--test-file",
        str(trained[0].parent / "test.csv"),
    ]
    fast = [*FAST[:-4], "--epochs", "2", "--batch-size", "32"]
    result = runner.invoke(app, [*args, *fast, "-o", str(run), "--resume"])
    assert_named_error(result, "was trained with other settings: --epochs 1 (now 2)")
    assert {name: (run / name).read_text() for name in before} == before
    result = runner.invoke(app, [*args, *FAST, "-o", str(run), "--resume"])  # the same options resume
    assert result.exit_code == 0, result.output


def test_a_non_finite_loss_in_epoch_one_does_not_promise_a_checkpoint(tmp_path, monkeypatch):
    from test_training import NaNLossAtStep3
    from wave_network import registry

    def build(num_labels, vocab_size, max_length=None, **overrides):
        config = registry.wave_config_from_preset("paper-modulation", num_labels=num_labels, vocab_size=vocab_size)
        return NaNLossAtStep3(config)

    monkeypatch.setitem(registry._SPECS, "nan-at-step-3", registry.ModelSpec("nan-at-step-3", build))
    monkeypatch.setattr(NaNLossAtStep3, "calls", 0)
    result = train_cli(tmp_path, news_rows(), "--model", "nan-at-step-3", "--lr", "1e-3", "--batch-size", "8")
    assert_named_error(result, "non-finite training loss (nan) at optimiser step 3, epoch 1", "Try a lower --lr")
    assert "--precision fp32" in flat(result.output) and "No last/ checkpoint was written" in flat(result.output)
    assert "holds the state at the end" not in result.output


# Case 9: errors name the flags the user typed.
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs=0; expected an integer >= 1"),
        (["--text-column", "body"], "Set --text-column to one of the columns"),
        (["--label-column", "lable"], "Did you mean 'label'? Set --label-column"),
        (["--warmup-ratio", "1.5"], "--warmup-ratio=1.5"),
        (["--task", "ranking"], "--task 'ranking'; expected classification or regression"),
    ],
)
def test_errors_name_the_flags_the_user_typed(tmp_path, args, message):
    result = train_cli(tmp_path, news_rows(), *args)
    assert_named_error(result, message)
    assert "TrainConfig" not in result.output and "DataConfig" not in result.output


# The table in docs/reliability.md: every case names a test that exists and asserts what the table says.
def test_every_reliability_case_names_a_test_that_asserts_its_message():
    import importlib
    import inspect

    from reliability_cases import CASES

    for case in CASES:
        module, function = case.test.split("::")
        source = inspect.getsource(getattr(importlib.import_module(module), function))
        if case.verbatim:
            assert case.user_sees in source, (case.test, case.user_sees)


def test_the_reliability_page_is_up_to_date():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("reliability_table", root / "scripts" / "reliability_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    page = (root / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert page == table.render(), "run python scripts/reliability_table.py"
