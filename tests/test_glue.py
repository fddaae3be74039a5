"""GLUE: task selection, seeds, metrics per task, missing data reported and skipped, one end-to-end run."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wave_network.cli import app
from wave_network.data.catalog import GLUE_TASKS
from wave_network.glue import GLUE_METRICS, SMALL_TASKS, GlueConfig, run_glue

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "glue").is_dir(), reason=f"no GLUE data at {SHARED / 'glue'}")
TINY = {"hidden_size": 16, "ffn_dim": 16, "max_position_embeddings": 64}


def test_every_task_has_its_glue_metric():
    assert set(GLUE_METRICS) == set(GLUE_TASKS)
    assert GLUE_METRICS["cola"] == ("mcc",) and GLUE_METRICS["stsb"] == ("pearson", "spearman")
    assert GLUE_METRICS["mrpc"] == ("accuracy", "f1") and GLUE_METRICS["qqp"] == ("accuracy", "f1")


def test_config_expands_tasks_adds_majority_and_seeds_small_tasks():
    cfg = GlueConfig(models="paper-modulation", tasks="all", seeds=[7])
    assert cfg.tasks == list(GLUE_TASKS) and cfg.models == ["paper-modulation", "majority"]
    for task in SMALL_TASKS:
        assert cfg.task_seeds(task) == [7, 8, 9]
    assert cfg.task_seeds("sst2") == [7]
    with pytest.raises(ValueError, match="unknown"):
        GlueConfig(tasks="sst5")
    with pytest.raises(ValueError, match="small_task_seeds"):
        GlueConfig(small_task_seeds=1)


@needs_shared
def test_glue_end_to_end_with_a_missing_task(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # ../shared/data as in CI
    cfg = GlueConfig(
        models=["paper-modulation"], tasks=["sst2", "qqp"], max_length=32, max_train_samples=120, epochs=1,
        model_overrides={"paper-modulation": TINY}, output_dir=str(tmp_path / "runs"),
        report_dir=str(tmp_path / "report"), precision="fp32", num_threads=1, compile=False,
    )  # fmt: skip
    result = run_glue(cfg)
    assert result.tasks["qqp"]["status"] == "not found" and "qqp" in result.tasks["qqp"]["error"]
    sst2 = result.tasks["sst2"]
    assert sst2["status"] == "ok" and sst2["train_subset"]
    for model in ("paper-modulation", "majority"):
        entry = sst2["models"][model]
        assert entry["seeds_ok"] == 1 and 0.0 <= entry["accuracy"]["mean"] <= 1.0
    table = result.markdown_path.read_text()
    assert "sst2 acc." in table and "not found" in table
    saved = json.loads(result.json_path.read_text())
    assert saved["tasks"]["sst2"]["models"]["majority"]["runs"][0]["status"] == "ok"
    assert result.plot_path.exists()


def test_glue_cli_rejects_unknown_tasks():
    out = CliRunner().invoke(app, ["glue", "--tasks", "squad"])
    assert out.exit_code == 2 and "unknown" in out.output


def test_reproduce_tables_cover_the_published_numbers():
    from wave_network.reproduce import TABLES

    assert set(TABLES) == {"paper-table1", "paper-table2", "seed-readme", "seed-glue"}
    table2 = TABLES["paper-table2"]["cells"]
    assert len(table2) == 9 and {c.dataset for c in table2} == {"ag_news", "dbpedia_14", "imdb"}
    assert [c.published for c in TABLES["paper-table1"]["cells"]] == [90.36, 91.29, 71.68]
    assert {c.model for c in TABLES["seed-glue"]["cells"]} == {"seed-modulation", "fnet"}


@needs_shared
def test_reproduce_marks_subsets_and_cells_not_run(tmp_path, monkeypatch):
    from wave_network.reproduce import ReproduceConfig, reproduce

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    cfg = ReproduceConfig(
        table="seed-readme", datasets=["ag_news"], max_train_samples=120, epochs=1,
        model_overrides={"seed-modulation": TINY, "bert": {"checkpoint": "scratch", "hidden_size": 16,
                         "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16}},
        output_dir=str(tmp_path / "runs"), precision="fp32", num_threads=1, compile=False,
    )  # fmt: skip
    record = reproduce(cfg)
    cells = {(c["model"], c["dataset"]): c for c in record["cells"]}
    wave = cells[("seed-modulation", "ag_news")]
    assert wave["ours"] is not None and wave["published"] == 92.03
    assert any("subset" in note for note in wave["notes"]) and any("epoch" in note for note in wave["notes"])
    assert cells[("bert", "imdb")]["ours"] is None and "not run" in cells[("bert", "imdb")]["notes"][0]
    assert (tmp_path / "runs" / "reproduce_seed-readme.md").read_text().count("not run") >= 4


def test_epochs_can_be_cut_per_data_set():
    from wave_network.compare import epochs_for_dataset
    from wave_network.reproduce import ReproduceConfig

    cuts = {"bert": 2, "imdb/bert": 1, "imdb/fnet": 1, "sst2/paper-modulation": 3}
    assert epochs_for_dataset(cuts, "imdb", ["bert", "paper-modulation"]) == {"bert": 1}
    assert epochs_for_dataset(cuts, "sst2", ["bert", "paper-modulation"]) == {"bert": 2, "paper-modulation": 3}
    assert epochs_for_dataset(cuts, "ag_news", ["fnet"]) == {}
    with pytest.raises(ValueError, match="not run"):
        GlueConfig(models="paper-modulation", model_epochs={"cola/bert": 1})
    with pytest.raises(ValueError, match="ReproduceConfig.model_epochs: names models not run"):
        ReproduceConfig(table="paper-table1", model_epochs={"ag_news/fnet": 1})
    assert "cola/fnet" in GlueConfig(models="fnet", model_epochs={"cola/fnet": 1}).model_epochs


@needs_shared
def test_compare_cli_prints_correlations_for_a_regression_task(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    out = CliRunner().invoke(app, ["compare", "-d", "stsb", "--models", "majority", "--max-train-samples", "100",
                                   "--max-length", "32", "--output-dir", str(tmp_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "Pearson" in out.output and "majority" in out.output
