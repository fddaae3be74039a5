"""Bad input: every case raises one ``DataError`` subclass whose message names the file, row, column and
value."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from wave_network.data import (
    ColumnNotFoundError,
    DataConfig,
    DataConfigError,
    DataError,
    DataFileNotFoundError,
    EmptyDatasetError,
    EncodingError,
    InvalidLabelError,
    MalformedRowError,
    TokenizerNotFoundError,
    get_tokenizer,
    load_splits,
)

GOOD = "label,text\n" + "".join(f"{i % 2},text number {i}\n" for i in range(20))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("WAVE_NETWORK_DATA_DIR", raising=False)


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.csv"
    path.write_text(GOOD, encoding="utf-8")
    return path


def load(train: Path, test: Path | None = None, **fields):
    return load_splits(
        DataConfig(
            train_file=str(train),
            test_file=str(test) if test else None,
            cache_dir=str(train.parent / "c"),
            **fields,
        )
    )


def test_missing_file(tmp_path, good):
    with pytest.raises(DataFileNotFoundError, match=r"absent\.csv: no such file"):
        load(good, tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("field", "value", "suggestion"),
    [
        ("label_column", "lable", "label"),
        ("text_columns", ("txet",), "text"),
        ("label_column", "Label", "label"),
    ],
)
def test_misspelt_column_suggests_the_closest(good, field, value, suggestion):
    with pytest.raises(ColumnNotFoundError) as caught:
        load(good, **{field: value})
    message = str(caught.value)
    assert str(good) in message and repr(value if isinstance(value, str) else value[0]) in message
    assert f"Did you mean {suggestion!r}?" in message and f"Set DataConfig.{field}" in message


def test_missing_text_column_without_a_close_match(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("label,zzz\n0,a\n1,b\n", encoding="utf-8")
    with pytest.raises(ColumnNotFoundError, match="no column 'text'; the columns are 'label', 'zzz'"):
        load(path)


def test_empty_texts_are_dropped_counted_and_reported(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(GOOD + '0,""\n1,   \n0,\n', encoding="utf-8")
    splits = load(path, path)
    assert splits.provenance["dropped_empty"] == {"train": 3, "test": 3}
    assert len(splits.test) == 20
    assert "Dropped 3 of 23 train row(s) with an empty text." in splits.provenance["notices"]


def test_all_texts_empty_is_an_error(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("label,text\n0,\n1, \n", encoding="utf-8")
    with pytest.raises(EmptyDatasetError, match="all 2 rows have an empty text"):
        load(path)


def test_too_few_rows_to_carve_the_splits_names_the_file(tmp_path):
    """Found by the fuzz test's random draws: two rows leave one for validation after the test split."""
    path = tmp_path / "two.csv"
    path.write_text("text,label\nhello,a\nworld,b\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path}: cannot hold out 25% of 1 row"):
        load_splits(DataConfig(dataset="two", train_file=str(path), val_fraction=0.25))


def test_label_outside_the_label_set_names_file_row_column_value(tmp_path, good):
    bad = tmp_path / "bad_label.csv"
    bad.write_text("label,text\n0,fine\n1,fine too\n7,not fine\n", encoding="utf-8")
    with pytest.raises(InvalidLabelError) as caught:
        load(good, bad)
    message = str(caught.value)
    assert f"{bad}, row 3, column 'label': label '7' is not in the label set {{'0', '1'}}" in message
    assert caught.value.row == 3 and caught.value.value == "7"


def test_label_outside_given_label_names(tmp_path, good):
    bad = tmp_path / "bad_name.csv"
    bad.write_text("label,text\nneg,fine\nneutral,hmm\n", encoding="utf-8")
    with pytest.raises(InvalidLabelError, match=r"row 2, column 'label': label 'neutral' is not in the label set"):
        load(good, bad, label_names=("neg", "pos"))


def test_unlabelled_glue_style_test_set_gets_a_hint(tmp_path, good):
    bad = tmp_path / "test.csv"
    bad.write_text("label,text\n-1,no label\n", encoding="utf-8")
    with pytest.raises(InvalidLabelError, match="-1 marks an unlabelled example"):
        load(good, bad)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".jsonl"])
def test_non_utf8_file_names_offset_and_line(tmp_path, good, suffix):
    rows = b"label,text\n0,fine\n1,caf\xe9 au lait\n" if "csv" in suffix else b'{"label": 0, "text": "caf\xe9"}\n'
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(gzip.compress(rows) if suffix.endswith(".gz") else rows)
    with pytest.raises(EncodingError) as caught:
        load(path)
    offset = rows.index(b"\xe9")
    assert f"{path} is not valid UTF-8" in str(caught.value)
    assert f"byte offset {offset}" in str(caught.value)
    assert caught.value.line == rows[:offset].count(b"\n") + 1


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            "label,text,source\n0,a,x\n1,b\n0,c,z\n",
            r"row 2 \(line 3\): expected 3 fields \(label, text, source\), found 2",
        ),
        ("label,text\n0,a\n1,b,extra\n", r"row 2 \(line 3\): expected 2 fields \(label, text\), found 3"),
        ('label,text\n0,a\n1,"never closed\n', r"EOF inside string"),
    ],
    ids=["truncated", "extra-field", "open-quote"],
)
def test_malformed_csv_row_names_file_and_row(tmp_path, rows, expected):
    path = tmp_path / "broken.csv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(MalformedRowError, match=expected) as caught:
        load(path)
    assert str(path) in str(caught.value)


def test_malformed_json_line_names_file_and_row(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{"text": "b" "label": 1}\n', encoding="utf-8")
    with pytest.raises(MalformedRowError, match=r"broken\.jsonl, row 2: cannot be parsed"):
        load(path)


def test_truncated_gzip_is_reported(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(GOOD.encode())[:-20])
    with pytest.raises(MalformedRowError, match="cannot be read as gzip"):
        load(path)


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="unsupported file type"):
        load(path)


def test_errors_are_one_hierarchy_of_value_errors_and_keep_their_cause(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('label,text\n0,a\n1,"never closed\n', encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load(path)
    assert isinstance(caught.value, DataError)
    assert caught.value.__cause__ is not None  # the library error is chained, not lost
    assert "Traceback" not in str(caught.value) and len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"max_length": 1}, "max_length"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": 0}, "val_fraction"),
        ({"seed": "1"}, "seed"),
        ({"max_train_samples": 0}, "max_train_samples"),
        ({"max_eval_samples": -3}, "max_eval_samples"),
        ({"text_columns": ("a", "b", "c"), "train_file": "x.csv"}, "text_columns"),
        ({"label_names": ("a", "a")}, "label_names"),
        ({"problem_type": "multi_label"}, "problem_type"),
        ({"test_file": "test.csv"}, "test_file"),
        ({"dataset": "ag_news", "label_column": "class"}, "label_column"),
        ({"dataset": "ag_news_sample", "data_dir": "/data"}, "data_dir"),
        ({"dataset": ""}, "dataset"),
    ],
)
def test_data_config_names_the_bad_field(fields, name):
    with pytest.raises(DataConfigError, match=rf"^DataConfig\.{name}="):
        DataConfig(**fields)


def test_data_config_round_trips_through_a_dict():
    cfg = DataConfig(dataset="sst2", max_length=64, seed=3, cache_dir=Path("/tmp/c"))
    again = DataConfig(**{k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items()})
    assert again == cfg and again.cache_dir == "/tmp/c"
    assert DataConfig(train_file="a.csv", text_columns="body").text_columns == ("body",)


def test_unknown_tokenizer_offline(tmp_path):
    with pytest.raises(TokenizerNotFoundError, match="could not be loaded"):
        get_tokenizer(str(tmp_path / "no-such-tokenizer"))
