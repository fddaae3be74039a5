"""Run configurations as files and dotted overrides (issue 19, item 3): every field is reachable, a misspelt name is
refused with the closest valid one, flags map to the same TrainConfig they always built, and a run directory's
run.yaml is itself a configuration that trains the same run again."""

import json

import pytest
from typer.testing import CliRunner

from wave_network import config_files
from wave_network.cli import app
from wave_network.config_files import ConfigFileError
from wave_network.data import DataConfig
from wave_network.training import TrainConfig

runner = CliRunner()


@pytest.fixture
def captured(monkeypatch):
    """The TrainConfig `wave-network train` would run, without training."""
    seen = []

    def fake_train(cfg):
        seen.append(cfg)

        class Result:
            results = None

        return Result()

    monkeypatch.setattr("wave_network.training.train", fake_train)
    return seen


def test_flags_build_the_train_config_they_always_built(captured):
    args = ["train", "-m", "wave-nb", "-d", "ag_news_sample", "--max-length", "64", "--lr", "3e-4", "--epochs", "2"]
    args += ["--batch-size", "16", "--seed", "7", "--max-train-samples", "100", "--no-compile", "--quiet"]
    args += ["--weight-decay", "0.02", "--warmup-ratio", "0.1", "--set", "hidden_size=64", "--num-threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = TrainConfig(
        model="wave-nb",
        model_overrides={"hidden_size": 64},
        data=DataConfig(dataset="ag_news_sample", max_length=64, seed=7, max_train_samples=100),
        learning_rate=3e-4,
        epochs=2,
        batch_size=16,
        weight_decay=0.02,
        warmup_ratio=0.1,
        seed=7,
        compile=False,
        num_threads=1,
        quiet=True,
    )
    assert captured == [expected]


def test_every_field_is_reachable_with_a_dotted_override(captured):
    sets = [
        "train.max_grad_norm=0.5",
        "train.eval_batch_size=128",
        "train.eval_every=2",
        "train.eval_every_steps=100",
        "train.log_every=10",
        "data.val_fraction=0.1",
        "data.label_names=[World, Sports, Business, Sci/Tech]",
        "model.name=paper-modulation",
        "model.hidden_size=128",
        "train.lr=1e-3",
    ]
    result = runner.invoke(app, ["train", *[x for s in sets for x in ("--set", s)]])
    assert result.exit_code == 0, result.output
    cfg = captured[0]
    assert (cfg.max_grad_norm, cfg.eval_batch_size, cfg.eval_every, cfg.eval_every_steps, cfg.log_every) == (
        0.5,
        128,
        2,
        100,
        10,
    )
    assert cfg.data.val_fraction == 0.1 and cfg.data.label_names == ("World", "Sports", "Business", "Sci/Tech")
    assert cfg.model_overrides == {"hidden_size": 128} and cfg.learning_rate == 1e-3


@pytest.mark.parametrize(
    ("override", "suggestion"),
    [
        ("train.lrr=1", "train.lr"),
        ("data.lr=1", "train.lr"),
        ("model.hiden_size=3", "model.hidden_size"),
        ("trian.epochs=1", "train"),
        ("data.max_len=3", "data.max_length"),
        ("train.warmup=0.1", "train.warmup_ratio"),
    ],
)
def test_a_misspelt_field_is_refused_with_the_closest_valid_name(override, suggestion):
    with pytest.raises(ConfigFileError, match=f"did you mean '{suggestion}'"):
        config_files.resolve(None, {}, [override])
    result = runner.invoke(app, ["train", "--set", override])
    assert result.exit_code == 2 and f"did you mean '{suggestion}'" in result.output


def test_precedence_is_file_then_flags_then_set(tmp_path, captured):
    path = tmp_path / "run.yaml"
    path.write_text("model: wave-nb\ndata:\n  max_length: 100\ntrain:\n  epochs: 3\n  learning_rate: 0.01\n")
    result = runner.invoke(app, ["train", "-c", str(path), "--epochs", "5", "--set", "train.learning_rate=0.002"])
    assert result.exit_code == 0, result.output
    cfg = captured[0]
    assert (cfg.model, cfg.data.max_length, cfg.epochs, cfg.learning_rate) == ("wave-nb", 100, 5, 0.002)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: wave-nb\ntrainn:\n  epochs: 2\n", "unknown section 'trainn'; did you mean 'train'"),
        ("train:\n  epoch: 2\n", "train.epoch is not a field; did you mean 'train.epochs'"),
        ("train: [1, 2]\n", "section 'train' must be a mapping"),
        ("train:\n  epochs: 0\n", "train.epochs=0; expected an integer >= 1"),
        ("model: {name: wave-nb\n", "not valid YAML"),
    ],
)
def test_a_bad_configuration_file_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_run_yaml_round_trips_to_the_same_run(tmp_path):
    first = tmp_path / "first"
    args = ["train", "-m", "tfidf", "--max-train-samples", "80", "--max-length", "24", "--quiet", "-o", str(first)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = first / "run.yaml"
    assert saved.exists()
    sections = config_files.load_file(saved)
    assert sections["train"]["output_dir"] is None and sections["train"]["resume"] is False
    second = tmp_path / "second"
    result = runner.invoke(app, ["train", "--config", str(saved), "-o", str(second)])
    assert result.exit_code == 0, result.output
    one, two = (json.loads((d / "config.json").read_text())["train"] for d in (first, second))
    assert {k: v for k, v in one.items() if k != "output_dir"} == {k: v for k, v in two.items() if k != "output_dir"}
    assert config_files.load_file(second / "run.yaml") == sections
    metrics = [json.loads((d / "results.json").read_text())["metrics"]["test_accuracy"] for d in (first, second)]
    assert metrics[0] == metrics[1]


def test_write_and_resolve_are_inverse():
    cfg = TrainConfig(
        model="paper-modulation",
        model_overrides={"hidden_size": 32, "num_layers": 2},
        data=DataConfig(dataset="ag_news_sample", max_length=40, text_columns=None, max_train_samples=10),
        learning_rate=2e-3,
        max_grad_norm=None,
        seed=3,
    )
    sections = config_files.from_train_config(cfg)
    assert config_files.to_train_config(sections) == cfg


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["glue", "--models", "nope"], "--models: unknown ['nope']"),
        (["compare", "--models", "tfidf", "--epochs-for", "bert=2"], "--epochs-for: names models not run: ['bert']"),
        (["compare", "--models", "tfidf,tfidf"], "--models: names a model twice"),
        (["analyze", "gradients", "--models", "tfidf", "--set", "bert.hidden_size=2"], "--set: names models not run"),
    ],
)
def test_run_set_errors_name_the_flags(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_a_users_own_file_defaults_to_the_recommended_preset():
    from wave_network.config_files import resolve

    assert resolve(None, {"data.dataset": "sst2"}).model == "paper-modulation"  # the papers' data sets
    assert resolve(None, {"data.train_file": "mine.csv"}).model == "wave-nb-fit"
    regression = {"data.train_file": "mine.csv", "data.problem_type": "regression"}
    assert resolve(None, regression).model == "wave-wide"  # wave-nb-fit's per-class fit needs class labels
    assert resolve(None, {"data.train_file": "mine.csv", "model.name": "paper-modulation"}).model == "paper-modulation"
