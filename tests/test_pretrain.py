"""Pre-training (issue 20): the masking collator, the masked-token head and its fused loss against plain references,
the corpus (training texts only, no validation, dev or test text), ``wave-network pretrain`` end to end and the warm
start of a classifier (``train --init-from``)."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForMaskedLM
from typer.testing import CliRunner

from wave_network import ops
from wave_network.cli import app
from wave_network.data import DataConfig, MaskingCollator, get_tokenizer, load_splits
from wave_network.data.corpus import pretraining_corpus
from wave_network.modeling_wave import WaveForMaskedLM
from wave_network.pretrain import PRETRAIN_CONFIG, PretrainConfig, pretrain
from wave_network.problem_types import IGNORE_INDEX
from wave_network.registry import create_masked_lm, create_model, load_pretrained_wave
from wave_network.training.metrics import masked_lm_metrics

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "glue").is_dir(), reason=f"no GLUE data at {SHARED / 'glue'}")
TINY = {"hidden_size": 32, "ffn_dim": 64}
SPECIAL = (0, 100, 101, 102, 103)  # [PAD], [UNK], [CLS], [SEP], [MASK]


def _rows(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": [101, *torch.randint(1000, 2000, (n,), generator=g).tolist(), 102]} for n in lengths]


def _collator(**kwargs):
    return MaskingCollator(pad_token_id=0, mask_token_id=103, vocab_size=30522, special_ids=SPECIAL, **kwargs)


def test_masking_collator_chooses_real_tokens_at_the_rate_and_splits_80_10_10():
    torch.manual_seed(0)
    rows = _rows([200] * 64 + [3, 1])
    batch = _collator()(rows)
    ids_before = torch.zeros_like(batch["input_ids"])
    for i, row in enumerate(rows):
        ids_before[i, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
    chosen = batch["labels"] != IGNORE_INDEX
    assert torch.equal(batch["labels"][chosen], ids_before[chosen])  # a label is the original id
    assert not chosen[batch["attention_mask"] == 0].any()  # never padding
    assert not torch.isin(ids_before[chosen], torch.tensor(SPECIAL)).any()  # never [CLS] or [SEP]
    assert chosen.any(dim=1).all()  # every text contributes, the 1-token one too
    rate = chosen[:64].float().mean() * 202 / 200  # of the maskable tokens of the long texts
    assert 0.13 < rate < 0.17
    replaced = batch["input_ids"][chosen]
    as_mask = (replaced == 103).float().mean()
    kept = (replaced == ids_before[chosen]).float().mean()
    assert 0.76 < as_mask < 0.84 and 0.07 < kept < 0.13
    unchanged = ~chosen & (batch["attention_mask"] == 1)
    assert torch.equal(batch["input_ids"][unchanged], ids_before[unchanged])


def test_masking_collator_fixed_seed_repeats_and_global_rng_does_not():
    rows = _rows([30, 50, 70])
    fixed = _collator(fixed_seed=7)
    first, again = fixed(rows), fixed(rows)
    assert torch.equal(first["labels"], again["labels"]) and torch.equal(first["input_ids"], again["input_ids"])
    free = _collator()
    assert not torch.equal(free(rows)["labels"], free(rows)["labels"])
    with pytest.raises(ValueError, match="mask_prob"):
        _collator(mask_prob=0.0)


def _mlm(**overrides):
    torch.manual_seed(0)
    return create_masked_lm("wave-wide", vocab_size=300, **TINY, dropout=0.0, **overrides)


def test_masked_lm_loss_matches_the_full_vocabulary_reference():
    """The head's loss on the masked tokens only equals cross-entropy over every position's logits with
    ignore_index (the textbook form), in eval and in training (the fused kernel, plain and compiled)."""
    model = _mlm()
    torch.manual_seed(1)
    ids = torch.randint(5, 300, (3, 12))
    mask = torch.ones_like(ids)
    mask[2, 8:] = 0
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[0, 3], labels[1, [1, 5]], labels[2, 7] = ids[0, 3], ids[1, [1, 5]], ids[2, 7]
    model.eval()
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V)
        reference = F.cross_entropy(full.reshape(-1, 300).double(), labels.reshape(-1), ignore_index=IGNORE_INDEX)
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (4, 300)
    torch.testing.assert_close(out.loss.double(), reference, rtol=1e-5, atol=1e-6)
    model.train()
    for compiled in (False, True):
        ops.set_compile(compiled)
        try:
            model.zero_grad()
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
        finally:
            ops.set_compile(ops.env_allows_compile())
        torch.testing.assert_close(loss.double(), reference, rtol=1e-5, atol=1e-6)
        assert model.decoder.weight.grad is not None and model.decoder.weight.grad.abs().sum() > 0


def test_masked_lm_gradient_matches_the_plain_head():
    model = _mlm()
    model.train()
    h = torch.randn(6, 32, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(300, (6,))
    model.double()
    loss = ops.masked_token_loss(h, model.transform, model.decoder, targets)
    (grad,) = torch.autograd.grad(loss, h)
    reference = F.cross_entropy(model.decoder(model.transform(h)), targets)
    (expected,) = torch.autograd.grad(reference, h)
    torch.testing.assert_close(grad, expected)


def test_masked_lm_metrics():
    m = masked_lm_metrics(6.0, 3, 4, prefix="val")
    assert m == {"val_loss": 1.5, "val_perplexity": pytest.approx(4.4816890703), "val_accuracy": 0.75}
    with pytest.raises(ValueError, match="no maskable token"):
        masked_lm_metrics(0.0, 0, 0, prefix="val")


@needs_shared
def test_corpus_holds_training_texts_only(tmp_path):
    tok = get_tokenizer()
    corpus = pretraining_corpus(
        ["rte"], tok, max_length=512, val_fraction=0.05, cache_dir=str(tmp_path), holdout_seeds=(42, 43)
    )
    decoded = set()
    for split in (corpus.train, corpus.validation):
        for ids in split["input_ids"]:
            assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and len(ids) <= 512
            decoded.add(tok.decode(ids[1:-1]))
    forbidden = set()
    for seed in (42, 43):
        splits = load_splits(
            DataConfig(dataset="rte", data_dir=str(SHARED / "glue"), seed=seed, cache_dir=str(tmp_path))
        )
        for column in ("text", "text_pair"):
            forbidden |= set(splits.validation[column]) | set(splits.test[column])
    assert not decoded & {tok.decode(tok(t, add_special_tokens=False)["input_ids"]) for t in forbidden}
    source = corpus.provenance["sources"][0]
    assert source["dataset"] == "rte" and source["validation_or_test_texts_excluded"] > 0
    assert corpus.test is None and corpus.mask_prob == 0.15
    # a long text becomes several windows whose bodies, joined, are its ids
    long = " ".join(["wave"] * 70)
    windows = pretraining_corpus.__globals__["_windows"]([long], tok, 32)
    body = [i for w in windows["input_ids"] for i in w[1:-1]]
    assert len(windows) == 3 and body == tok(long, add_special_tokens=False)["input_ids"]


@needs_shared
def test_pretrain_then_init_from(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    cfg = PretrainConfig(
        datasets=("wnli",),
        cache_dir=str(tmp_path / "cache"),
        model_overrides=TINY,
        max_length=32,
        max_texts=200,
        max_steps=4,
        batch_size=16,
        compile=False,
        output_dir=str(tmp_path / "pre"),
        quiet=True,
    )
    result = pretrain(cfg)
    assert result.monitor == "val_loss" and set(result.metrics) >= {"val_loss", "val_accuracy", "val_perplexity"}
    saved = json.loads((result.run_dir / PRETRAIN_CONFIG).read_text())
    assert saved["corpus"]["sources"][0]["dataset"] == "wnli"
    mlm = AutoModelForMaskedLM.from_pretrained(result.run_dir / "best")
    assert isinstance(mlm, WaveForMaskedLM) and not (result.run_dir / "best" / "README.md").exists()

    classifier = create_model("wave-wide", num_labels=2, **TINY, type_vocab_size=2)
    done = load_pretrained_wave(classifier, result.run_dir)
    assert done["initialised"] == ["wave.embeddings.token_type_embeddings.weight"]
    for name, tensor in mlm.wave.state_dict().items():
        torch.testing.assert_close(classifier.wave.state_dict()[name], tensor)
    with pytest.raises(ValueError, match="hidden_size 32 .this model: 256."):
        load_pretrained_wave(create_model("wave-wide", num_labels=2), result.run_dir)
    with pytest.raises(FileNotFoundError, match="no saved Wave model"):
        load_pretrained_wave(classifier, tmp_path)

    runner = CliRunner()
    common = ["-d", "wnli", "--max-length", "32", "--max-steps", "2", "--no-compile", "-q", "--batch-size", "16"]
    bad = runner.invoke(app, ["train", "-m", "wave-wide", *common, "--init-from", str(result.run_dir),
                              "-o", str(tmp_path / "bad")])  # fmt: skip
    assert bad.exit_code == 2 and "--set overrides" in bad.output
    good = runner.invoke(app, ["train", "-m", "wave-wide", *common, "--set", "hidden_size=32", "--set", "ffn_dim=64",
                               "--init-from", str(result.run_dir), "-o", str(tmp_path / "good")])  # fmt: skip
    assert good.exit_code == 0, good.output
    recorded = json.loads((tmp_path / "good" / "config.json").read_text())["train"]
    assert recorded["init_from"] == str(result.run_dir)


def test_pretrain_refuses_a_baseline_and_no_data_sets():
    with pytest.raises(ValueError, match="Wave preset"):
        PretrainConfig(model="bert")
    with pytest.raises(ValueError, match="at least one"):
        PretrainConfig(datasets=())
    with pytest.raises(ValueError, match="Wave preset"):
        create_masked_lm("tfidf")
