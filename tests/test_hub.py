"""Hub-ready model directories: every ``save_pretrained`` of a Wave model carries its tokenizer, a model card and its
own code (``auto_map``), so ``AutoModelForSequenceClassification.from_pretrained(DIR, trust_remote_code=True)`` and
``pipeline(...)`` work where this package is not installed (checked in a subprocess that cannot import it)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from wave_network import WaveConfig, WaveForSequenceClassification, create_model
from wave_network.data import get_tokenizer
from wave_network.model_card import render_model_card

CODE_FILES = ("modeling_wave.py", "configuration_wave.py", "layers.py", "ops.py", "ngrams.py")


@pytest.fixture(scope="module", params=["paper-modulation", "wave-nb"])
def saved(request, tmp_path_factory):
    model = create_model(request.param, num_labels=3, hidden_size=32)
    model.config.id2label = {0: "World", 1: "Sports", 2: "Business"}
    model.config.label2id = {v: k for k, v in model.config.id2label.items()}
    path = tmp_path_factory.mktemp(request.param)
    model.eval().save_pretrained(path)
    return model, path


def test_save_pretrained_writes_a_self_contained_directory(saved):
    _, path = saved
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json", *CODE_FILES} <= names
    config = json.loads((path / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_wave.WaveConfig",
        "AutoModelForSequenceClassification": "modeling_wave.WaveForSequenceClassification",
    }
    card = (path / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag" in card and "`World`, `Sports`, `Business`" in card


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """A paper-modulation and a wave-nb directory (the latter's code path includes the hashed n-grams)."""
    out = []
    for name in ("paper-modulation", "wave-nb"):
        model = create_model(name, num_labels=3, hidden_size=32).eval()
        model.config.id2label = {0: "World", 1: "Sports", 2: "Business"}
        path = tmp_path_factory.mktemp(f"remote-{name}")
        model.save_pretrained(path)
        out.append((model, path))
    return out


def test_loads_without_the_package_through_remote_code(both, tmp_path):
    texts = ["Stocks rallied on Wall Street", "The striker scored twice"]
    batch = get_tokenizer()(texts, padding=True, return_tensors="pt")
    paths = [str(path) for _, path in both]
    script = textwrap.dedent(
        f"""
        import json, sys
        class Hide:  # the package is not installed, as far as this process can tell
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "wave_network":
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
        out = []
        for path in {paths!r}:
            model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
            # the saved ops.py, eager: compiling its kernels costs more than this test (compiled = eager: test_ops)
            sys.modules[type(model).__module__.rsplit(".", 1)[0] + ".ops"].set_compile(False)
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
            batch = tokenizer({texts!r}, padding=True, return_tensors="pt")
            with torch.no_grad():
                logits = model(**batch).logits.tolist()
            classify = pipeline("text-classification", model=path, trust_remote_code=True)
            labels = [r["label"] for r in classify({texts!r}, truncation=True)]
            out.append({{"logits": logits, "labels": labels, "module": type(model).__module__}})
        assert not any(m.split(".")[0] == "wave_network" for m in sys.modules)
        print(json.dumps(out))
        """
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for (model, _), got in zip(both, json.loads(done.stdout.strip().splitlines()[-1]), strict=True):
        with torch.no_grad():
            expected = model(**batch).logits
        assert got["module"].startswith("transformers_modules.")
        assert torch.allclose(torch.tensor(got["logits"]), expected, atol=1e-5)
        assert got["labels"] == [model.config.id2label[int(i)] for i in expected.argmax(-1)]


def test_with_the_package_the_local_classes_load_and_stay_registered(saved):
    _, path = saved
    assert type(AutoModelForSequenceClassification.from_pretrained(path)) is WaveForSequenceClassification
    # Where the package is installed, its own classes serve trust_remote_code=True too, and stay registered.
    remote = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)
    assert type(remote) is WaveForSequenceClassification
    assert type(AutoConfig.from_pretrained(path)) is WaveConfig
    assert type(AutoModelForSequenceClassification.from_pretrained(path)) is WaveForSequenceClassification


def test_a_given_tokenizer_is_saved_and_an_odd_vocabulary_warns(tmp_path, caplog):
    tokenizer = get_tokenizer()
    tokenizer.model_max_length = 77
    create_model("paper-modulation", num_labels=2, hidden_size=16).save_pretrained(tmp_path / "a", tokenizer=tokenizer)
    assert json.loads((tmp_path / "a" / "tokenizer_config.json").read_text())["model_max_length"] == 77
    model = WaveForSequenceClassification(WaveConfig(vocab_size=100, hidden_size=16, num_labels=2))
    with caplog.at_level("WARNING"):
        model.save_pretrained(tmp_path / "b")
    assert not (tmp_path / "b" / "tokenizer.json").exists() and "pass tokenizer=" in caplog.text


def test_a_run_card_reports_the_selection_and_the_test_metrics():
    config = WaveConfig(num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    results = {
        "model": "wave-nb",
        "dataset": "imdb",
        "seed": 42,
        "epochs_completed": 6,
        "precision": "bf16",
        "device": "cpu",
        "metrics": {"val_accuracy": 0.91, "test_accuracy": 0.905, "test_confusion_matrix": [[1, 0], [0, 1]]},
        "selection": {"monitor": "val_accuracy", "best_epoch": 2},
        "command": ["wave-network", "train", "-m", "wave-nb", "-d", "imdb"],
    }
    card = render_model_card(config, results)
    assert "| test_accuracy | 0.9050 |" in card and "epoch 2" in card and '- "imdb"' in card
    assert "confusion" not in card and "wave-network train -m wave-nb -d imdb" in card
