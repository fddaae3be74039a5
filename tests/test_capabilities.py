"""Capabilities instead of duck typing: every registered model states exactly the capabilities it has (and the
registry knows them before building it), the problem types live in one enum whose stored form is the plain string,
one device resolver, one data-preparation entry point, and no source file probes a capability by name."""

import ast
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml

import test_baselines
import test_models
import wave_network
from wave_network import count_parameters
from wave_network.capabilities import CountsFittedParameters, FitsWithoutGradients, NeedsTextStatistics
from wave_network.data import DataConfig, get_tokenizer, load_splits, prepare, tokenize_splits
from wave_network.devices import resolve_device
from wave_network.presets import list_presets
from wave_network.problem_types import TASK_NAMES, ProblemType
from wave_network.registry import create_model, fits_without_gradients, list_models
from wave_network.runsets import setup_differences as _setup_differences
from wave_network.training import TrainConfig
from wave_network.training.rundir import to_jsonable

SRC = Path(wave_network.__file__).parent
PROTOCOLS = (FitsWithoutGradients, NeedsTextStatistics, CountsFittedParameters)
CLASSICS = ("fasttext", "majority", "nbsvm", "tfidf")  # fitted by a library call, in one pass


def expected_capabilities(name: str) -> set:
    if name in CLASSICS:
        return {FitsWithoutGradients, CountsFittedParameters}
    if name in list_presets():  # the wide path's statistics (a no-op for the presets without one)
        return {NeedsTextStatistics}
    return set()  # BERT, one Transformer layer, FNet: gradients, nn.Parameters, nothing to count first


def build(name: str) -> torch.nn.Module:
    if name in list_presets():
        return test_models.tiny(name)
    if name in test_baselines.GRADIENT_BASELINES:
        return test_baselines.tiny(name)
    return create_model(name, num_labels=2, vocab_size=50)  # a classic, unfitted: an empty shell


# --- the protocols ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_exactly_its_capabilities(name):
    model = build(name)
    assert {p for p in PROTOCOLS if isinstance(model, p)} == expected_capabilities(name)
    # the registry knows it before building (what TrainConfig.resolved asks for the learning rate)
    assert fits_without_gradients(name) == (FitsWithoutGradients in expected_capabilities(name))


def test_a_fitted_classic_counts_its_estimator_not_its_parameters():
    model = create_model("majority", num_labels=3, vocab_size=50)
    ids = torch.randint(1, 50, (6, 5))
    model.fit_batches([{"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 2] * 3)}])
    assert list(model.parameters()) == []
    assert count_parameters(model) == model.fitted_parameter_count()
    assert count_parameters(model).total == 3  # one log frequency per class


def test_a_model_states_a_capability_by_having_the_method():
    class Counter(torch.nn.Module):  # inherits no protocol: the protocols are structural
        def fit_batches(self, batches):
            self.seen = len(batches)

    assert isinstance(Counter(), FitsWithoutGradients)
    assert not isinstance(torch.nn.Linear(2, 2), FitsWithoutGradients)


# --- what the training configuration makes of them ---------------------------------------------------------------


@pytest.mark.parametrize("name", CLASSICS)
def test_a_model_fitted_without_gradients_has_no_learning_rate(name):
    cfg = TrainConfig(model=name).resolved()
    assert cfg.learning_rate is None and (cfg.epochs, cfg.batch_size) == (1, 256)
    assert "learning_rate" in cfg.unread_fields()
    json.dumps(to_jsonable(cfg.to_dict()))  # config.json takes the None


def test_a_gradient_model_still_takes_its_learning_rate_and_reads_every_field():
    cfg = TrainConfig(model="paper-modulation").resolved()
    assert cfg.learning_rate == 1e-3 and cfg.unread_fields() == ()


def _stored_run(directory: Path, cfg: TrainConfig, **changes) -> Path:
    train = to_jsonable(cfg.resolved().to_dict()) | changes
    (directory / "config.json").write_text(json.dumps({"train": train}))
    return directory


def test_compare_reuses_a_classic_run_written_with_the_old_placeholder_learning_rate(tmp_path):
    classic = TrainConfig(model="tfidf", seed=3)
    assert _setup_differences(_stored_run(tmp_path, classic, learning_rate=1.0), classic) == []
    assert _setup_differences(_stored_run(tmp_path, classic, seed=4), classic) == ["seed"]
    wave = TrainConfig(model="paper-modulation")
    assert _setup_differences(_stored_run(tmp_path, wave, learning_rate=1.0), wave) == ["learning_rate"]


# --- problem types ------------------------------------------------------------------------------------------------


def test_problem_types_are_their_plain_values():
    classifiers = ("single_label_classification", "multi_label_classification", "regression")
    assert ProblemType.classifier_values() == classifiers  # Hugging Face's problem_type values
    assert ProblemType.values() == (*classifiers, "masked_lm")  # and pre-training's objective
    for member in ProblemType:
        assert ProblemType(member.value) is member
        assert member == member.value and hash(member) == hash(member.value)
        assert str(member) == f"{member}" == member.value
        assert json.loads(json.dumps({"problem_type": member})) == {"problem_type": member.value}
    assert TASK_NAMES == {"classification": ProblemType.SINGLE_LABEL, "regression": ProblemType.REGRESSION}


def test_a_problem_type_member_is_stored_as_its_plain_value():
    cfg = DataConfig(problem_type=ProblemType.REGRESSION)
    assert type(cfg.problem_type) is str and cfg.problem_type == "regression"
    assert "problem_type: regression" in yaml.safe_dump(asdict(cfg))  # safe_dump refuses enum members


# --- one device resolver -----------------------------------------------------------------------------------------


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = torch.device("cpu")
    assert resolve_device("auto") == resolve_device("auto", 2) == resolve_device("cpu") == cpu
    assert resolve_device(cpu) is cpu
    with pytest.raises(ValueError, match=r"^TrainConfig.device='cuda' but torch.cuda.is_available\(\) is False$"):
        resolve_device("cuda", 0, option="TrainConfig.device")
    with pytest.raises(ValueError, match=r"^device='cuda:1' but"):
        resolve_device("cuda:1")


def test_resolve_device_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # torch.device() itself needs no GPU
    assert resolve_device("auto") == torch.device("cuda")  # no index: the current device (inference)
    assert resolve_device("auto", 1) == resolve_device("cuda", 1) == torch.device("cuda", 1)  # torchrun rank 1
    assert resolve_device("cuda:2", 1) == torch.device("cuda", 2)  # an explicit index wins
    assert resolve_device("cpu", 1) == torch.device("cpu")


# --- one data-preparation entry point ----------------------------------------------------------------------------


def test_prepare_is_load_splits_then_tokenize_splits(tmp_path):
    cfg = DataConfig(dataset="ag_news_sample", max_length=32, max_train_samples=100, cache_dir=str(tmp_path))
    tokenizer = get_tokenizer(cfg.tokenizer)
    before = tokenize_splits(load_splits(cfg), tokenizer, cfg.max_length, cache_dir=cfg.cache_dir)
    after, default_tokenizer = prepare(cfg)
    assert default_tokenizer.name_or_path == tokenizer.name_or_path
    for split in ("train", "validation", "test"):
        old, new = getattr(before, split), getattr(after, split)
        assert new._fingerprint == old._fingerprint  # the same cache entry
        for column in ("input_ids", "attention_mask", "token_type_ids", "labels"):
            assert new[column] == old[column], (split, column)
    assert (after.label_names, after.problem_type, after.max_length) == (before.label_names, before.problem_type, 32)
    assert after.provenance == before.provenance
    assert prepare(cfg, tokenizer)[1] is tokenizer  # a saved model's own tokenizer is used as given


# --- nothing probes a capability by name, nothing spells a problem type out ----------------------------------


def _trees():
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC), ast.parse(path.read_text(encoding="utf-8"))


def test_no_source_probes_a_capability_by_attribute_name():
    hooks = {"fit_batches", "fit_text_statistics", "fitted_parameter_count"}
    probes = [
        f"{path}:{node.lineno}"
        for path, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and any(isinstance(a, ast.Constant) and a.value in hooks for a in node.args)
    ]
    assert probes == [], "use isinstance(model, <wave_network.capabilities protocol>)"


def test_problem_type_strings_are_written_only_in_the_enum():
    values = set(ProblemType.values())
    literals = [
        f"{path}:{node.lineno}"
        for path, tree in _trees()
        if path.name != "problem_types.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in values
    ]
    assert literals == [], "use wave_network.problem_types.ProblemType"
