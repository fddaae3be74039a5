"""The bundled WordPiece tokenizer, tokenized splits (no padding, truncation, pairs, disk cache) and
``encode_texts`` for prediction."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import tokenizers
import torch

from wave_network.data import (
    DataConfig,
    encode_texts,
    get_tokenizer,
    load_splits,
    make_dataloader,
    tokenize_splits,
)
from wave_network.data import tokenization as tokenization_module

CLS, SEP, PAD = 101, 102, 0
SHARED_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "bert_wordpiece" / "tokenizer.json.gz"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def tokenizer():
    return get_tokenizer()


@pytest.fixture
def pair_splits(tmp_path):
    lines = ["label\tpremise\thypothesis"]
    lines += [f"{i % 3}\t{'word ' * (1 + i % 9)}\thello world {i}" for i in range(60)]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = DataConfig(train_file=str(path), text_columns=("premise", "hypothesis"), cache_dir=str(tmp_path / "c"))
    return load_splits(cfg)


def test_bundled_tokenizer_is_bert_base_uncased_wordpiece(tokenizer):
    assert tokenizer.name_or_path == "bert-base-uncased"
    assert len(tokenizer) == 30522 and tokenizer.pad_token_id == PAD
    assert tokenizer("Hello World!")["input_ids"] == [CLS, 7592, 2088, 999, SEP]
    assert get_tokenizer("google-bert/bert-base-uncased").get_vocab() == tokenizer.get_vocab()


@pytest.mark.skipif(not SHARED_TOKENIZER.is_file(), reason=f"{SHARED_TOKENIZER} (shared data) is absent")
def test_bundled_tokenizer_matches_an_independent_tokenizer_json(tokenizer):
    """The shared tokenizer.json was serialised by Hugging Face for a model with the bert-base-uncased
    vocabulary; our tokenizer is rebuilt from vocab.txt alone. They must agree on real text, accents and CJK
    included."""
    reference = tokenizers.Tokenizer.from_str(gzip.decompress(SHARED_TOKENIZER.read_bytes()).decode("utf-8"))
    reference.no_truncation()
    reference.no_padding()
    texts = [line for line in (SHARED_TOKENIZER.parents[1] / "ag_news" / "classes.txt").read_text().splitlines()]
    texts += [
        "Fears for T N pension after talks",
        "Café naïve résumé",
        "東京 is big",
        "unaffable don't  #39;s",
    ]
    for text in texts:
        assert tokenizer(text)["input_ids"] == reference.encode(text).ids, text


def test_other_tokenizers_load_from_a_local_directory(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path / "tok")
    loaded = get_tokenizer(str(tmp_path / "tok"))
    assert loaded("a sentence")["input_ids"] == tokenizer("a sentence")["input_ids"]


def test_tokenized_splits_are_unpadded_with_lengths(tokenizer, tmp_path):
    splits = load_splits(DataConfig(dataset="ag_news_sample", max_eval_samples=300, cache_dir=str(tmp_path)))
    tokenized = tokenize_splits(splits, tokenizer, max_length=32, cache_dir=tmp_path)
    for ds in (tokenized.train, tokenized.validation, tokenized.test):
        assert ds.column_names == ["input_ids", "attention_mask", "token_type_ids", "labels", "length"]
    rows = tokenized.validation[:300]
    assert all(n == len(ids) <= 32 for n, ids in zip(rows["length"], rows["input_ids"], strict=True))
    assert all(ids[0] == CLS and ids[-1] == SEP and PAD not in ids for ids in rows["input_ids"])
    assert all(set(mask) == {1} for mask in rows["attention_mask"])
    assert rows["labels"] == splits.validation["label"]
    stats = tokenized.provenance["tokenization"]
    assert stats["max_length"] == 32 and stats["splits"]["validation"]["at_max_length"] == rows["length"].count(32)
    assert tokenized.num_labels == 4 and tokenized.pad_token_id == PAD and tokenized.vocab_size == 30522


def test_sentence_pairs_are_cls_a_sep_b_sep(tokenizer, pair_splits, tmp_path):
    tokenized = tokenize_splits(pair_splits, tokenizer, max_length=64, cache_dir=tmp_path)
    row, text = tokenized.test[0], pair_splits.test[0]
    a = tokenizer(text["text"], add_special_tokens=False)["input_ids"]
    b = tokenizer(text["text_pair"], add_special_tokens=False)["input_ids"]
    assert row["input_ids"] == [CLS, *a, SEP, *b, SEP]
    assert row["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)


def test_pairs_truncate_to_max_length(tokenizer, pair_splits, tmp_path):
    tokenized = tokenize_splits(pair_splits, tokenizer, max_length=8, cache_dir=tmp_path)
    lengths = tokenized.train["length"]
    assert max(lengths) == 8 and all(ids.count(SEP) == 2 for ids in tokenized.train["input_ids"])


def test_tokenization_is_cached_on_disk_by_fingerprint_tokenizer_and_length(
    tokenizer, pair_splits, tmp_path, monkeypatch
):
    first = tokenize_splits(pair_splits, tokenizer, max_length=16, cache_dir=tmp_path)
    files = {f["filename"] for f in first.train.cache_files}
    assert any(Path(f).parent == tmp_path / "tokenized" for f in files)

    def fail(*_):
        raise AssertionError("tokenized again instead of reading the cache")

    monkeypatch.setattr(tokenization_module._Encode, "__call__", fail)
    again = tokenize_splits(pair_splits, get_tokenizer(), max_length=16, cache_dir=tmp_path)
    assert again.train["input_ids"] == first.train["input_ids"]
    with pytest.raises(AssertionError, match="tokenized again"):
        tokenize_splits(pair_splits, tokenizer, max_length=17, cache_dir=tmp_path)


def test_encode_texts_keeps_order_and_pads_per_batch(tokenizer):
    texts = ["short", "a somewhat longer text here", "mid length text", "x"]
    batches = list(encode_texts(tokenizer, texts, max_length=6, batch_size=3))
    assert [b["input_ids"].shape for b in batches] == [torch.Size([3, 6]), torch.Size([1, 3])]
    first = batches[0]
    assert first["input_ids"].dtype == torch.long
    assert first["input_ids"][0].tolist() == [CLS, tokenizer.vocab["short"], SEP, PAD, PAD, PAD]
    assert first["attention_mask"][0].tolist() == [1, 1, 1, 0, 0, 0]
    assert first["input_ids"][1, -1].item() == SEP  # truncated to max_length, [SEP] kept
    pairs = next(encode_texts(tokenizer, ["a"], text_pairs=["b"]))
    assert pairs["token_type_ids"].tolist() == [[0, 0, 0, 1, 1]]


def test_regression_labels_reach_the_batch_as_float(tokenizer, tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("score,text\n" + "".join(f"{i / 4},text {i}\n" for i in range(20)), encoding="utf-8")
    splits = load_splits(DataConfig(train_file=str(path), label_column="score", cache_dir=str(tmp_path)))
    tokenized = tokenize_splits(splits, tokenizer, max_length=8, cache_dir=tmp_path)
    batch = next(iter(make_dataloader(tokenized.train, 4, shuffle=False, seed=0, pad_token_id=PAD)))
    assert batch["labels"].dtype == torch.float32 and tokenized.num_labels == 1
