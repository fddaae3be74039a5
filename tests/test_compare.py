"""``compare`` end to end on the bundled AG News sample: a tiny Wave model, two classics and a BERT whose checkpoint
does not exist train in their own processes; the failure becomes a table row, the report files are written, finished
runs are reused, a changed set-up is refused, and the CLI drives the same code."""

import json
import time
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from wave_network.cli import app
from wave_network.compare import CompareConfig, compare
from wave_network.data import DataConfig

runner = CliRunner()
TINY_WAVE = {"hidden_size": 16, "ffn_dim": 16, "max_position_embeddings": 64}
MODELS = ["paper-modulation", "majority", "tfidf", "bert"]
OK = ["paper-modulation", "majority", "tfidf"]


def compare_config(tmp, **fields):
    data = DataConfig(
        dataset="ag_news_sample",
        max_length=32,
        max_train_samples=200,
        max_eval_samples=100,
        cache_dir=str(tmp / "cache"),
    )
    values = dict(
        models=MODELS,
        data=data,
        output_dir=str(tmp / "runs"),
        epochs=1,
        model_overrides={"paper-modulation": TINY_WAVE, "bert": {"checkpoint": "no-such-checkpoint"}},
        precision="fp32",
        num_threads=1,
        compile=False,  # eager kernels in the children: the same values, no compile time
        latency_docs=16,
        quiet=True,
    )
    return CompareConfig(**(values | fields))


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One real comparison: every model in a spawned process (the slow part of this file)."""
    cfg = compare_config(tmp_path_factory.mktemp("compare"))
    return cfg, compare(cfg)


def rows_by_model(result):
    return {row["model"]: row for row in result.rows}


def test_a_failing_model_is_a_row_and_the_others_still_run(compared):
    _, result = compared
    rows = rows_by_model(result)
    assert [row["model"] for row in result.rows] == MODELS
    assert rows["bert"]["status"] == "failed"
    assert "no-such-checkpoint" in rows["bert"]["error"] and "CheckpointNotFoundError" in rows["bert"]["error"]
    for model in OK:
        assert rows[model]["status"] == "ok", rows[model].get("error")
        assert 0.0 <= rows[model]["test_accuracy"] <= 1.0
        assert rows[model]["reused"] is False
    # 4 balanced classes: majority is near chance, TF-IDF on 200 texts is well above it
    assert rows["tfidf"]["test_accuracy"] > rows["majority"]["test_accuracy"] + 0.1


def test_every_finished_row_has_cost_and_latency(compared):
    _, result = compared
    rows = rows_by_model(result)
    for model in OK:
        row = rows[model]
        assert row["params_total"] > 0 and row["params_non_embedding"] >= 0, model
        assert row["train_tokens_per_s"] > 0, model
        assert row["latency_ms_batch1"] > 0 and row["latency_ms_batched"] > 0, model
        assert row["latency_docs"] == {"batch1": 16, "batched": 16}, model
        assert row["latency_precision"] == "fp32" and row["precision"] == "fp32", model
    assert rows["majority"]["params_total"] == 4  # one log-frequency per class
    assert rows["paper-modulation"]["params_total"] > rows["majority"]["params_total"]


def test_the_report_files_hold_every_model(compared):
    cfg, result = compared
    assert result.json_path.exists() and result.markdown_path.exists()
    assert len(result.plot_paths) == 2
    for path in result.plot_paths:
        assert path.exists() and path.suffix == ".png" and path.read_bytes()[:4] == b"\x89PNG"
    record = json.loads(result.json_path.read_text())
    assert record["dataset"] == "ag_news_sample" and record["max_length"] == 32
    assert [row["model"] for row in record["rows"]] == MODELS
    markdown = result.markdown_path.read_text()
    table_rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert len(table_rows) == len(MODELS)
    assert table_rows[MODELS.index("bert")].startswith("| `bert` | failed")
    failed = [line for line in markdown.splitlines() if line.startswith("- `bert` failed:")]
    assert len(failed) == 1 and "no-such-checkpoint" in failed[0]
    for model in OK:
        assert (cfg.run_dir(model) / "results.json").exists(), model
        assert (cfg.run_dir(model) / "training_curves.png").exists(), model  # drawn by report_run after training


def test_a_second_compare_reuses_the_finished_runs(compared, tmp_path):
    cfg, first = compared
    results = {m: cfg.run_dir(m) / "results.json" for m in OK}
    before = {m: path.stat().st_mtime_ns for m, path in results.items()}
    started = time.time()
    again = compare(
        replace(
            cfg,
            models=OK,
            model_overrides={"paper-modulation": TINY_WAVE},
            report_dir=str(tmp_path),
        )
    )
    assert time.time() - started < 30  # no training, no process: reading run directories and plotting
    old, new = rows_by_model(first), rows_by_model(again)
    for model in OK:
        assert new[model]["status"] == "ok" and new[model]["reused"] is True, model
        assert new[model]["test_accuracy"] == old[model]["test_accuracy"], model
        assert results[model].stat().st_mtime_ns == before[model], model


def test_a_changed_setting_for_a_finished_run_is_refused(compared, tmp_path):
    cfg, _ = compared
    overrides = {"paper-modulation": TINY_WAVE}
    changed = replace(cfg, models=["paper-modulation"], model_overrides=overrides, epochs=2, report_dir=str(tmp_path))
    (row,) = compare(changed).rows
    assert row["status"] == "failed"
    assert "different set-up (epochs)" in row["error"] and "--rerun" in row["error"]
    assert (cfg.run_dir("paper-modulation") / "results.json").exists()  # the finished run is left alone


def test_compare_config_rejects_bad_model_lists(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        compare_config(tmp_path, models=["paper-modulation", "bret"], model_overrides={})
    with pytest.raises(ValueError, match="twice"):
        compare_config(tmp_path, models=["tfidf", "majority", "tfidf"], model_overrides={})
    with pytest.raises(ValueError, match="model_overrides: names models not run"):
        compare_config(tmp_path, models=["tfidf"], model_overrides={"bert": {"checkpoint": "minilm"}})
    with pytest.raises(ValueError, match="model_epochs: names models not run"):
        compare_config(tmp_path, models=["tfidf"], model_overrides={}, model_epochs={"bert": 1})
    cfg = compare_config(tmp_path, models="tfidf, paper-modulation", model_overrides={}, model_epochs={"tfidf": 3})
    assert cfg.models == ["tfidf", "paper-modulation"]
    assert cfg.train_config("tfidf").epochs == 3 and cfg.train_config("paper-modulation").epochs == 1


def test_the_compare_command_writes_the_report(tmp_path):
    out = tmp_path / "runs"
    args = ["compare", "--models", "majority,tfidf", "--max-train-samples", "200", "--max-length", "32"]
    args += ["-o", str(out), "--set", "tfidf.C=0.5", "--latency-docs", "16", "--num-threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "tfidf" in result.output and "majority" in result.output
    assert (out / "compare_ag_news_sample.json").exists() and (out / "compare_ag_news_sample.md").exists()
    assert (out / "compare_ag_news_sample_accuracy_vs_time.png").exists()
    rows = json.loads((out / "compare_ag_news_sample.json").read_text())["rows"]
    assert [(r["model"], r["status"]) for r in rows] == [("majority", "ok"), ("tfidf", "ok")]
    stored = json.loads((out / "ag_news_sample__tfidf__seed42" / "config.json").read_text())
    assert stored["train"]["model_overrides"] == {"C": 0.5}


def test_the_compare_command_needs_a_model_prefix_in_set(tmp_path):
    result = runner.invoke(app, ["compare", "--models", "tfidf", "-o", str(tmp_path), "--set", "C=0.5"])
    assert result.exit_code == 2
    assert "MODEL.FIELD=VALUE" in result.output and "'C'" in result.output
    assert not any(tmp_path.iterdir())  # refused before anything ran
