"""The in-memory Python API (``TextClassifier``, ``train_supervised``): training from lists and DataFrames, the
predictions in every shape, save/load, clear errors; and the README's "Use it from Python" snippets, run as
written."""

import csv
import gzip
import random
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wave_network import TextClassifier, ops, train_supervised

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = {"max_length": 24, "epochs": 2, "num_threads": 1, "compile": False, "overrides": {"hidden_size": 32}}
POSITIVE = "great wonderful superb lovely fine excellent".split()
NEGATIVE = "awful terrible bad boring dull poor".split()
FILLER = "the movie plot actor scene film story was is and a".split()


def reviews(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts whose one sentiment word decides the label: any working classifier gets them right."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(6)] + [rng.choice(POSITIVE if positive else NEGATIVE)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if positive else "neg")
    return texts, labels


@pytest.fixture(scope="module")
def clf():
    texts, labels = reviews(400, seed=0)
    return train_supervised(texts, labels, eval_data=reviews(100, seed=1), **TINY)


def test_fit_from_lists_learns_and_reports_the_eval_data(clf):
    assert clf.classes_ == ["neg", "pos"]
    assert clf.results_["metrics"]["test_accuracy"] > 0.9
    assert clf.run_dir_ is None  # trained in a temporary directory, removed once loaded


def test_predictions_in_every_shape(clf):
    texts = ["a superb film", "dull and boring", "lovely"]
    assert clf.predict(texts) == ["pos", "neg", "pos"]
    assert clf.predict("a superb film") == "pos"
    probs = clf.predict_proba(texts)
    assert probs.shape == (3, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert clf.predict_proba("lovely").shape == (2,)
    top = clf.predict_top_k(texts, k=2)
    assert [row[0][0] for row in top] == ["pos", "neg", "pos"]
    assert all(len(row) == 2 and row[0][1] >= row[1][1] for row in top)
    assert clf.predict_top_k("lovely", k=-1, threshold=0.5) == [("pos", pytest.approx(probs[2, 1]))]
    assert clf.predict(pd.Series(texts)) == ["pos", "neg", "pos"]
    assert clf.predict(np.array(texts)) == ["pos", "neg", "pos"]
    assert clf.logits([]).shape == (0, 2)


def test_score_and_evaluate_match_labels_by_name(clf):
    texts, labels = reviews(60, seed=2)
    assert clf.score(texts, labels) > 0.9
    metrics = clf.evaluate(texts, labels)
    assert metrics["accuracy"] == clf.score(texts, labels) and "f1_macro" in metrics
    with pytest.raises(ValueError, match=r"label 'meh' \(first in row 1\) is not one the model knows"):
        clf.evaluate(["fine"], ["meh"])


def test_save_and_load_round_trip(clf, tmp_path):
    path = clf.save(tmp_path / "saved")
    for name in ("model.safetensors", "config.json", "tokenizer.json", "README.md", "modeling_wave.py"):
        assert (path / name).exists(), name
    card = (path / "README.md").read_text()
    assert "test_accuracy" in card and "trust_remote_code=True" in card
    loaded = TextClassifier.load(path)
    texts = ["a superb film", "dull and boring"]
    assert np.allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.max_length == 24


def test_fit_from_a_dataframe_keeps_its_run_directory(tmp_path):
    texts, labels = reviews(300, seed=3)
    frame = pd.DataFrame({"review": texts, "sentiment": labels})
    out = tmp_path / "run"
    model = TextClassifier("paper-modulation", output_dir=out, **TINY | {"epochs": 1})
    model.fit(frame, text_column="review", label_column="sentiment")
    assert model.run_dir_ == out and (out / "results.json").exists() and (out / "data" / "train.jsonl").exists()
    assert (out / "best" / "README.md").exists()
    assert TextClassifier.load(out).predict(["lovely"]) == model.predict(["lovely"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["a", "b"], ["x"]), "2 texts but 1 labels"),
        ((["a", "b"], ["x", None]), "row 2: the label is missing"),
        ((["a", 3], ["x", "y"]), "row 2: expected a text"),
        ((pd.DataFrame({"body": ["a"], "label": ["x"]}),), "no text column 'text'"),
        ((["a"],), "no labels"),
        (([], []), "no texts"),
    ],
)
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TextClassifier(**TINY).fit(*args)


def test_an_unfitted_classifier_says_so():
    with pytest.raises(RuntimeError, match="not trained yet"):
        TextClassifier().predict(["a text"])


def _readme_snippets() -> list[str]:
    section = README.read_text().split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def _ag_news_csvs(directory: Path) -> None:
    """train.csv and test.csv as a user would have them (text, label), from the bundled AG News rows."""
    data = resources.files("wave_network") / "resources" / "data" / "ag_news_sample"
    names = (data / "classes.txt").read_text().split()
    with gzip.open(data / "test.csv.gz", "rt") as handle:
        rows = [(f"{title}. {body}", names[int(label) - 1]) for label, title, body in csv.reader(handle)]
    pd.DataFrame(rows[:300], columns=["text", "label"]).to_csv(directory / "train.csv", index=False)
    pd.DataFrame(rows[300:400], columns=["text", "label"]).to_csv(directory / "test.csv", index=False)


def test_readme_snippets_run_as_written(tmp_path, monkeypatch, capsys):
    snippets = _readme_snippets()
    assert len(snippets) == 3
    _ag_news_csvs(tmp_path)
    monkeypatch.chdir(tmp_path)
    # The snippets train the defaults on one thread, with the kernels run eagerly; the code is run as written.
    defaults = TextClassifier.__init__.__kwdefaults__ | {"num_threads": 1}
    monkeypatch.setattr(TextClassifier.__init__, "__kwdefaults__", defaults)
    monkeypatch.setitem(ops._COMPILE, "enabled", False)  # eager kernels: the same values, no compile time
    for snippet in snippets:
        exec(compile(snippet, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "label" in out and (tmp_path / "my-classifier" / "README.md").exists()
    assert (tmp_path / "my-wave" / "tokenizer.json").exists()
