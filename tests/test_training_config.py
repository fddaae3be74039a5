"""``TrainConfig``: preset defaults, validation naming the field, round trip through JSON."""

import json

import pytest

from wave_network.data import DataConfig
from wave_network.training import TrainConfig


def test_train_config_takes_the_paper_defaults_from_the_preset():
    cfg = TrainConfig(model="paper-modulation").resolved()
    assert (cfg.learning_rate, cfg.epochs, cfg.batch_size, cfg.eval_batch_size) == (1e-3, 4, 64, 64)
    explicit = TrainConfig(model="paper-modulation", learning_rate=0.01, batch_size=8).resolved()
    assert (explicit.learning_rate, explicit.epochs, explicit.batch_size) == (0.01, 4, 8)


def test_train_config_without_preset_needs_explicit_hyperparameters(monkeypatch):
    from wave_network import registry

    monkeypatch.setitem(registry._SPECS, "some-baseline", registry.ModelSpec("some-baseline", lambda **kwargs: None))
    with pytest.raises(ValueError, match="TrainConfig.learning_rate"):
        TrainConfig(model="some-baseline").resolved()
    cfg = TrainConfig(model="some-baseline", learning_rate=2e-5, epochs=1, batch_size=4).resolved()
    assert cfg.eval_batch_size == 4


def test_train_config_rejects_an_unknown_model_suggesting_the_closest():
    with pytest.raises(ValueError, match="did you mean 'paper-modulation'"):
        TrainConfig(model="paper-modulaton")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("learning_rate", 0.0),
        ("epochs", 0),
        ("batch_size", 2.5),
        ("warmup_ratio", 1.0),
        ("weight_decay", -0.1),
        ("max_grad_norm", -1.0),
        ("precision", "fp16"),
        ("device", "tpu"),
        ("tracker", "neptune"),
        ("eval_every", 0),
        ("log_every", True),
        ("early_stopping_patience", 0),
        ("max_steps", -3),
        ("model_overrides", ["hidden_size"]),
    ],
)
def test_train_config_rejects_invalid_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_train_config_round_trips_through_a_dict():
    cfg = TrainConfig(model_overrides={"hidden_size": 8}, data=DataConfig(dataset="ag_news_sample", max_length=16))
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match="unknown TrainConfig fields: bogus"):
        TrainConfig.from_dict({"bogus": 1})


def test_preset_early_stopping_and_label_smoothing_fill_only_what_the_config_leaves_unset():
    cfg = TrainConfig(model="wave-wide").resolved()
    assert (cfg.epochs, cfg.early_stopping_patience, cfg.label_smoothing) == (20, 4, 0.1)
    explicit = TrainConfig(model="wave-wide", early_stopping_patience=9, label_smoothing=0.0).resolved()
    assert (explicit.early_stopping_patience, explicit.label_smoothing) == (9, 0.0)
    paper = TrainConfig(model="paper-modulation").resolved()
    assert (paper.early_stopping_patience, paper.label_smoothing) == (None, 0.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.0)
