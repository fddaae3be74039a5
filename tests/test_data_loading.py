"""Data sets by name, local files and the hub's parquet layout: what loads, from where, and how it is
split."""

from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

import datasets
import pandas as pd
import pytest

from wave_network.data import (
    CLASSIFICATION,
    REGRESSION,
    DataConfig,
    DataConfigError,
    DataError,
    DatasetNotFoundError,
    list_datasets,
    load_splits,
    locate_dataset,
    sources,
)
from wave_network.data.catalog import GLUE_TASKS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason=f"the project's shared real data is not at {SHARED} (../shared/data beside the checkout)",
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("WAVE_NETWORK_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("wave_cache"))


def frame(n: int = 40, pair: bool = False, labels=("neg", "pos")) -> pd.DataFrame:
    """``n`` rows whose text names its class, classes in turn."""
    rows = {"label": [labels[i % len(labels)] for i in range(n)]}
    rows["text"] = [f"example {i} is {rows['label'][i]}" for i in range(n)]
    if pair:
        rows["text_b"] = [f"second {i}" for i in range(n)]
    return pd.DataFrame(rows)


def write(df: pd.DataFrame, path: Path) -> Path:
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        df.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        df.to_csv(path, sep="\t", index=False)
    elif name.endswith(".jsonl"):
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)
    return path


def test_list_datasets_names_every_catalogued_set():
    names = [name for name, _ in list_datasets()]
    assert names[:5] == ["ag_news", "ag_news_sample", "dbpedia_14", "imdb", "sst2"]
    assert set(GLUE_TASKS) <= set(names)
    assert all(description for _, description in list_datasets())


def test_bundled_sample_loads_offline_with_provenance(cache):
    splits = load_splits(DataConfig(dataset="ag_news_sample", cache_dir=cache))
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (3999, 1000, 7600)
    assert splits.label_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert splits.problem_type == CLASSIFICATION and splits.num_labels == 4 and not splits.has_pair
    assert splits.train.column_names == ["text", "label"]
    prov = splits.provenance
    assert prov["source"] == "bundled" and prov["test_role"] == "official test split"
    assert prov["subset_note"].startswith("AG News, 4,999-row train subset")
    assert prov["rows"] == {
        "train_file": 4999,
        "test_file": 7600,
        "train": 3999,
        "validation": 1000,
        "test": 7600,
    }
    json.dumps(prov)  # the provenance goes into results.json
    # The official test file has no header: class 3 (Business) -> id 2; title and description joined by one
    # space.
    first = splits.test[0]
    assert first["label"] == 2
    assert first["text"].startswith("Fears for T N pension after talks Unions representing workers")


@needs_shared
@pytest.mark.parametrize(
    ("name", "train_rows", "test_rows", "is_subset"),
    [
        ("ag_news", 4999, 7600, True),
        ("dbpedia_14", 13842, 5000, True),
        ("imdb", 25000, 25000, False),
        ("sst2", 67349, 872, False),
    ],
)
def test_named_dataset_loads_from_shared_data(name, train_rows, test_rows, is_subset, cache, monkeypatch):
    monkeypatch.chdir(REPO)  # ../shared/data relative to the working directory, as in CI
    splits = load_splits(DataConfig(dataset=name, cache_dir=cache))
    assert len(splits.train) + len(splits.validation) == train_rows
    assert len(splits.validation) == -(-train_rows * 2 // 10)  # ceil(20%)
    assert len(splits.test) == test_rows
    prov = splits.provenance
    assert prov["source"] == "local" and prov["location"].startswith(str(SHARED.resolve()))
    assert (prov["subset_note"] is not None) == is_subset
    assert locate_dataset(name) is not None
    assert set(splits.test["label"]) == set(range(splits.num_labels))


@needs_shared
@pytest.mark.parametrize(
    ("name", "train_rows", "test_rows", "labels", "pair"),
    [
        ("cola", 8551, 1043, ["unacceptable", "acceptable"], False),
        ("mrpc", 3668, 408, ["not_equivalent", "equivalent"], True),
        ("rte", 2490, 277, ["entailment", "not_entailment"], True),
        ("wnli", 635, 71, ["not_entailment", "entailment"], True),
        ("stsb", 5749, 1500, [], True),
    ],
)
def test_glue_tasks_load_from_the_glue_download_layout(name, train_rows, test_rows, labels, pair, cache, monkeypatch):
    monkeypatch.chdir(REPO)
    splits = load_splits(DataConfig(dataset=name, cache_dir=cache))
    assert len(splits.train) + len(splits.validation) == train_rows
    assert len(splits.test) == test_rows
    assert splits.label_names == labels and splits.has_pair == pair
    assert splits.provenance["test_role"].startswith("GLUE dev set")
    if name == "stsb":
        assert splits.problem_type == "regression"
        # the 0-5 similarity scaled to [0, 1]: the first dev pair scores 5.000, the second 4.750
        assert splits.test["label"][:2] == pytest.approx([1.0, 0.95])
        assert 0.0 <= min(splits.test["label"]) and max(splits.test["label"]) <= 1.0
        assert splits.provenance["target_range"] == [0.0, 5.0]
    else:
        assert set(splits.test["label"]) == {0, 1}


@needs_shared
def test_rte_names_map_to_the_hub_ids(cache, monkeypatch):
    monkeypatch.chdir(REPO)
    splits = load_splits(DataConfig(dataset="rte", cache_dir=cache))
    # the first dev pair of the GLUE download is labelled not_entailment (id 1, as in nyu-mll/glue)
    first = splits.test[0]
    assert first["text"].startswith("Dana Reeve, the widow of the actor Christopher Reeve")
    assert first["label"] == 1


def test_split_is_stratified_80_20(cache):
    splits = load_splits(DataConfig(dataset="ag_news_sample", cache_dir=cache))
    full = collections.Counter(splits.train["label"]) + collections.Counter(splits.validation["label"])
    validation = collections.Counter(splits.validation["label"])
    for label, count in full.items():
        assert abs(validation[label] - count * 0.2) <= 1
    assert splits.provenance["split"] == {"validation_fraction": 0.2, "by": "rows", "seed": 42, "stratified": True}
    assert not set(splits.train["text"]) & set(splits.validation["text"])


def _phrase_bank(n_sentences: int = 40) -> pd.DataFrame:
    """SST-style training rows: sentences, every contiguous phrase of each, and phrases shared by sentences."""
    rows, seen = [], set()
    for k in range(n_sentences):
        words = [f"w{k}a", f"w{k}b", "the", "film", f"w{k}c"] + (["really"] if k % 3 == 0 else [])
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                text = " ".join(words[i:j])
                if text not in seen:
                    seen.add(text)
                    rows.append({"sentence": text + " ", "label": k % 2})
    rows.append({"sentence": "w0a w0b the film w0c really ", "label": 0})  # a sentence in two rows
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)


def test_sentence_split_validates_on_whole_unseen_sentences(tmp_path, cache):
    _phrase_bank().to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "test.csv").write_text("sentence,label\nsome new text,0\nanother one,1\n")
    cfg = DataConfig(train_file=str(tmp_path / "train.csv"), test_file=str(tmp_path / "test.csv"),
                     val_split="sentences", cache_dir=cache)  # fmt: skip
    splits = load_splits(cfg)
    all_rows = [t.split() for t in pd.read_csv(tmp_path / "train.csv")["sentence"]]

    def contains(long, short):  # brute force: is `short` a contiguous run of the words of `long`?
        return any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1))

    sentences = [r for r in all_rows if not any(len(o) > len(r) and contains(o, r) for o in all_rows)]
    assert len(sentences) == 41 and len({tuple(r) for r in sentences}) == 40
    validation = [t.split() for t in splits.validation["text"]]
    train = [t.split() for t in splits.train["text"]]
    assert all(v in sentences for v in validation)
    assert len({tuple(v) for v in validation}) == 8  # ceil(0.2 x 40) distinct whole sentences
    twice = "w0a w0b the film w0c really".split()
    assert (validation.count(twice), train.count(twice)) in ((2, 0), (0, 2))  # never split between the sides
    training_sentences = [r for r in sentences if r not in validation]
    for row in train:  # every training row is one of the training sentences or occurs in one
        assert any(contains(s, row) for s in training_sentences)
    # ...and every phrase of a training sentence is kept, including those shared with validation sentences
    assert len(train) == sum(any(contains(s, r) for s in training_sentences) for r in all_rows)
    assert ["the", "film"] in train
    left_out = len(all_rows) - len(train) - len(validation)
    assert left_out > 0 and splits.provenance["split"]["by"] == "sentences"
    assert f"{left_out:,} phrase(s) found only in them" in splits.provenance["notes"][0]
    labels = dict(zip(splits.validation["text"], splits.validation["label"], strict=True))
    assert collections.Counter(labels.values()) == {0: 4, 1: 4}  # stratified


def test_sentence_split_refuses_data_without_sentences_or_with_pairs(tmp_path, cache):
    (tmp_path / "one.csv").write_text("sentence,label\na good film,1\ngood film,1\na good,1\nfilm,0\n")
    (tmp_path / "test.csv").write_text("sentence,label\nsome new text,0\nanother one,1\n")
    with pytest.raises(DataError, match="found 1 whole sentence"):
        load_splits(DataConfig(train_file=str(tmp_path / "one.csv"), test_file=str(tmp_path / "test.csv"),
                               val_split="sentences", cache_dir=cache))  # fmt: skip
    (tmp_path / "pairs.csv").write_text("a,b,label\nx y,z,1\nu v,w,0\nq,r,1\ns,t,0\n")
    with pytest.raises(DataError, match="single texts"):
        load_splits(DataConfig(train_file=str(tmp_path / "pairs.csv"), text_columns=("a", "b"), label_column="label",
                               val_split="sentences", cache_dir=cache))  # fmt: skip
    with pytest.raises(DataConfigError, match="val_split"):
        DataConfig(val_split="phrases")


def test_split_is_deterministic_by_seed(cache):
    first = load_splits(DataConfig(dataset="ag_news_sample", seed=1, cache_dir=cache))
    again = load_splits(DataConfig(dataset="ag_news_sample", seed=1, cache_dir=cache))
    other = load_splits(DataConfig(dataset="ag_news_sample", seed=2, cache_dir=cache))
    assert first.validation["text"] == again.validation["text"]
    assert first.validation._fingerprint == again.validation._fingerprint
    assert first.validation["text"] != other.validation["text"]
    assert first.test["text"] == other.test["text"]  # the test set never depends on the seed


def test_max_train_samples_is_a_stratified_subsample(cache):
    full = load_splits(DataConfig(dataset="ag_news_sample", cache_dir=cache))
    small = load_splits(DataConfig(dataset="ag_news_sample", max_train_samples=400, cache_dir=cache))
    assert len(small.train) == 400
    share = collections.Counter(full.train["label"])
    for label, count in collections.Counter(small.train["label"]).items():
        assert abs(count - 400 * share[label] / len(full.train)) <= 1
    assert set(small.train["text"]) <= set(full.train["text"])
    assert small.validation["text"] == full.validation["text"]  # validation is drawn first and does not change
    assert "train subsampled to 400" in small.provenance["subset_note"]


def test_max_eval_samples_is_recorded(cache):
    splits = load_splits(DataConfig(dataset="ag_news_sample", max_eval_samples=200, cache_dir=cache))
    assert len(splits.validation) == len(splits.test) == 200
    assert "test subsampled to 200 of 7,600 rows" in splits.provenance["subset_note"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".csv.gz", ".jsonl.gz"])
@pytest.mark.parametrize("pair", [False, True])
def test_local_files_with_one_or_two_text_columns(suffix, pair, tmp_path, cache):
    train = write(frame(40, pair), tmp_path / f"train{suffix}")
    test = write(frame(10, pair), tmp_path / f"test{suffix}")
    columns = ("text", "text_b") if pair else ("text",)
    cfg = DataConfig(train_file=str(train), test_file=str(test), text_columns=columns, cache_dir=cache)
    splits = load_splits(cfg)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (32, 8, 10)
    assert splits.has_pair == pair
    assert splits.label_names == ["neg", "pos"]
    row = splits.test[3]
    assert row["text"] == "example 3 is pos" and row["label"] == 1
    if pair:
        assert row["text_pair"] == "second 3"
    assert splits.provenance["source"] == "files"


def test_local_file_without_test_file_holds_out_a_test_split(tmp_path, cache):
    train = write(frame(50), tmp_path / "train.csv")
    splits = load_splits(DataConfig(train_file=str(train), cache_dir=cache))
    assert len(splits.test) == 10 and len(splits.validation) == 8 and len(splits.train) == 32
    assert "held out" in splits.provenance["test_role"]
    texts = [set(s["text"]) for s in (splits.train, splits.validation, splits.test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_integer_labels_and_given_label_names(tmp_path, cache):
    df = frame(40, labels=(0, 1, 2, 3))
    train = write(df, tmp_path / "train.csv")
    names = ("w", "x", "y", "z")
    splits = load_splits(DataConfig(train_file=str(train), test_file=str(train), label_names=names, cache_dir=cache))
    assert splits.label_names == list(names)
    assert splits.test["label"][:4] == [0, 1, 2, 3]


def test_float_labels_mean_regression(tmp_path, cache):
    df = pd.DataFrame({"sentence1": [f"a {i}" for i in range(30)], "sentence2": ["b"] * 30})
    df["score"] = [i / 7 for i in range(30)]
    train = write(df, tmp_path / "train.tsv")
    cfg = DataConfig(train_file=str(train), label_column="score", cache_dir=cache)
    splits = load_splits(cfg)
    assert splits.problem_type == REGRESSION and splits.num_labels == 1 and splits.label_names == []
    assert splits.has_pair  # sentence1 / sentence2 found without text_columns
    assert splits.train.features["label"] == datasets.Value("float32")
    assert splits.provenance["split"]["stratified"] is False


def _hf_parquet(directory: Path, splits=("train", "test"), text="text") -> None:
    features = datasets.Features({text: datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])})
    for split in splits:
        (directory / "data").mkdir(parents=True, exist_ok=True)
        n = 40 if split == "train" else 10
        rows = {text: [f"{split} {i}" for i in range(n)], "label": [i % 2 for i in range(n)]}
        datasets.Dataset.from_dict(rows, features=features).to_parquet(
            directory / "data" / f"{split}-00000-of-00001.parquet"
        )


def test_huggingface_cli_parquet_layout_for_a_named_dataset(tmp_path, cache):
    _hf_parquet(tmp_path)
    splits = load_splits(DataConfig(dataset="ag_news", data_dir=str(tmp_path), cache_dir=cache))
    assert splits.provenance["layout"] == "hf-parquet"
    assert splits.label_names == ["a", "b"]  # from the parquet files' features
    assert len(splits.test) == 10 and splits.test[1] == {"text": "test 1", "label": 1}


def test_huggingface_cli_parquet_layout_for_any_hub_name_and_for_a_directory(tmp_path, cache):
    _hf_parquet(tmp_path / "thing", splits=("train", "validation"), text="sentence")
    by_name = load_splits(DataConfig(dataset="hf:someone/thing", data_dir=str(tmp_path), cache_dir=cache))
    by_path = load_splits(DataConfig(dataset=str(tmp_path / "thing"), cache_dir=cache))
    for splits in (by_name, by_path):
        assert splits.test["text"][:2] == ["validation 0", "validation 1"]
        assert splits.label_names == ["a", "b"]


def test_zhang2015_csv_layout_in_a_data_root(tmp_path, cache):
    root = tmp_path / "ag_news"
    root.mkdir()
    rows = "".join(f'"{1 + i % 4}","Title {i}","Body {i}"\n' for i in range(40))
    (root / "train.csv").write_text(rows, encoding="utf-8")
    (root / "test.csv").write_text(rows[: rows.index('"1","Title 8"')], encoding="utf-8")
    splits = load_splits(DataConfig(dataset="ag_news", data_dir=str(tmp_path), cache_dir=cache))
    assert splits.provenance["layout"] == "zhang2015-csv" and splits.provenance["subset_note"] is None
    assert splits.test[5] == {"text": "Title 5 Body 5", "label": 1}


def test_not_found_says_what_where_and_how(tmp_path, cache):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_splits(DataConfig(dataset="imdb", data_dir=str(tmp_path / "nowhere"), cache_dir=cache))
    message = str(caught.value)
    assert "'imdb' was not found" in message
    assert str(tmp_path / "nowhere" / "imdb") in message and str(tmp_path / "nowhere") in message
    assert "train.jsonl[.gz]" in message and "plain_text/train-*.parquet" in message
    assert "huggingface-cli download stanfordnlp/imdb --repo-type dataset --local-dir DIR" in message
    assert "--data-dir" in message


def test_offline_hub_name_lists_every_directory_tried(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("WAVE_NETWORK_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as caught:
        load_splits(DataConfig(dataset="hf:someone/absent", cache_dir=cache))
    message = str(caught.value)
    assert str(tmp_path / "absent") in message and str(tmp_path / "someone" / "absent") in message
    assert "offline (HF_HUB_OFFLINE=1" in message
    assert "huggingface-cli download someone/absent" in message


def test_bundled_files_match_their_provenance_checksums():
    resources = REPO / "src" / "wave_network" / "resources"
    for directory in (resources / "data" / "ag_news_sample", resources / "tokenizers" / "bert-base-uncased"):
        listed = (directory / "PROVENANCE.md").read_text(encoding="utf-8")
        files = [p for p in directory.iterdir() if p.name != "PROVENANCE.md"]
        assert files
        for path in files:
            assert hashlib.sha256(path.read_bytes()).hexdigest() in listed, path


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """No shared data anywhere and the hub allowed, with ``datasets.load_dataset`` faked for hub ids."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    calls = []
    real = datasets.load_dataset

    def fake(path, name=None, **kwargs):
        if path in ("csv", "json", "parquet"):
            return real(path, name, **kwargs)
        calls.append((path, name))
        if path == "unreachable/thing":
            raise ConnectionError("Couldn't reach 'unreachable/thing' on the Hub (LocalEntryNotFoundError)")
        label = datasets.ClassLabel(names=["negative", "positive"])
        features = datasets.Features({"sentence": datasets.Value("string"), "label": label})

        def split(n, unlabelled=False):
            rows = {
                "sentence": [f"s{i}" for i in range(n)],
                "label": [-1 if unlabelled else i % 2 for i in range(n)],
            }
            return datasets.Dataset.from_dict(rows, features=features)

        return datasets.DatasetDict(train=split(30), validation=split(6), test=split(4, unlabelled=True))

    monkeypatch.setattr(datasets, "load_dataset", fake)
    return calls


def test_hub_is_the_last_resort_with_glue_dev_as_the_sst2_test_set(no_local_data, cache):
    splits = load_splits(DataConfig(dataset="sst2", cache_dir=cache))
    assert no_local_data == [("nyu-mll/glue", "sst2")]
    assert splits.provenance["source"] == "hub" and splits.provenance["hub"]["test"] == "validation"
    assert len(splits.test) == 6 and splits.label_names == ["negative", "positive"]


def test_hub_name_outside_the_catalogue(no_local_data, cache):
    splits = load_splits(DataConfig(dataset="hf:someone/reviews", cache_dir=cache))
    assert no_local_data == [("someone/reviews", None)]
    assert splits.train.column_names == ["text", "label"]
    # The hub's test split is unlabelled (-1, as GLUE's), so its validation split is the test set.
    assert len(splits.test) == 6 and splits.provenance["hub"]["test"] == "validation"


def test_unreachable_hub_is_a_not_found_error_with_the_reason(no_local_data, cache):
    with pytest.raises(DatasetNotFoundError, match="Couldn't reach 'unreachable/thing'"):
        load_splits(DataConfig(dataset="hf:unreachable/thing", cache_dir=cache))
