"""Hashed n-gram embeddings and the sparse-embedding optimiser: the hash against a plain-Python reference, the
embedding sum against an independent reconstruction, sparse clipping against torch's dense clipping, lazy Adam
leaving untouched rows alone, the schedule reaching both optimisers, and a save/load round trip."""

import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from wave_network import WaveConfig, WaveForSequenceClassification
from wave_network.ngrams import hashed_ngram_ids, reference_ngram_ids
from wave_network.training.optim import HybridAdam, build_optimizer, clip_gradients

SMALL = dict(hidden_size=8, ffn_dim=8, num_labels=3, max_position_embeddings=16, vocab_size=50, dropout=0.0)


def batch(seed=0, B=4, T=9):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (B, T), generator=g)
    lengths = torch.tensor([T, T - 3, 2, 1])[:B]
    mask = (torch.arange(T) < lengths[:, None]).long()
    return ids * mask, mask  # padding id 0 after each text


@pytest.mark.parametrize("order", [2, 3, 4])
def test_hash_matches_the_plain_python_reference(order):
    ids, mask = batch()
    got = hashed_ngram_ids(ids, mask, order, buckets=97)
    for row in range(ids.shape[0]):
        want = reference_ngram_ids(ids[row].tolist(), mask[row].tolist(), order, 97)
        assert got[row].tolist() == want
    assert got.min() >= 0 and got.max() <= 97
    assert (got[:, : order - 1] == 0).all()  # no n-gram before n tokens
    assert (got[mask == 0] == 0).all()  # no n-gram reaching into padding


def test_hash_separates_orders_and_order_of_tokens():
    ids = torch.tensor([[5, 7, 9]])
    two = hashed_ngram_ids(ids, None, 2, buckets=2**20)
    three = hashed_ngram_ids(ids, None, 3, buckets=2**20)
    swapped = hashed_ngram_ids(torch.tensor([[7, 5, 9]]), None, 2, buckets=2**20)
    assert two[0, 1] != swapped[0, 1] and two[0, 2] != three[0, 2]
    assert hashed_ngram_ids(ids[:, :1], None, 2, buckets=10).tolist() == [[0]]  # shorter than the order


def test_ngram_embeddings_add_the_hashed_rows_to_each_token():
    cfg = WaveConfig(**SMALL, ngram_orders=[2, 3], ngram_buckets=31, position_embedding="none")
    model = WaveForSequenceClassification(cfg).eval()
    emb = model.wave.embeddings
    with torch.no_grad():  # the table starts at zero; give it distinct rows
        emb.ngram_embeddings.weight[1:].normal_()
    ids, mask = batch()
    got = emb(ids, attention_mask=mask)
    want = emb.word_embeddings.weight[ids].clone()
    for row in range(ids.shape[0]):
        for order in (2, 3):
            rows = reference_ngram_ids(ids[row].tolist(), mask[row].tolist(), order, 31)
            want[row] += emb.ngram_embeddings.weight[torch.tensor(rows)]
    torch.testing.assert_close(got, want)
    assert torch.all(emb.ngram_embeddings.weight[0] == 0)  # "no n-gram" row


@pytest.mark.parametrize("bad", [{"ngram_orders": [1], "ngram_buckets": 8}, {"ngram_orders": [2]},
                                 {"ngram_buckets": 8}, {"ngram_orders": [2, 2], "ngram_buckets": 8}])  # fmt: skip
def test_config_rejects_inconsistent_ngram_settings(bad):
    with pytest.raises(ValueError, match="ngram"):
        WaveConfig(**SMALL, **bad)


def _twin_models():
    """The same weights with dense and with sparse embedding gradients."""
    torch.manual_seed(0)
    cfg = dict(SMALL, ngram_orders=[2], ngram_buckets=13)
    dense = WaveForSequenceClassification(WaveConfig(**cfg))
    sparse = WaveForSequenceClassification(WaveConfig(**cfg, sparse_embeddings=True))
    sparse.load_state_dict(dense.state_dict())
    return dense, sparse


def _backward(model):
    ids, mask = batch()
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 1]))
    out.loss.backward()


@pytest.mark.parametrize("max_norm", [1e-3, 1e6])
def test_sparse_clipping_matches_torch_on_the_dense_gradients(max_norm):
    dense, sparse = _twin_models()
    _backward(dense)
    _backward(sparse)
    assert sparse.wave.embeddings.word_embeddings.weight.grad.is_sparse
    want = torch.nn.utils.clip_grad_norm_(list(dense.parameters()), max_norm)
    got = clip_gradients([p for p in sparse.parameters() if p.grad is not None], max_norm)
    torch.testing.assert_close(got, want)
    for (name, p), q in zip(dense.named_parameters(), sparse.parameters(), strict=True):
        grad = q.grad.to_dense() if q.grad.is_sparse else q.grad
        torch.testing.assert_close(grad, p.grad, msg=name)


def test_hybrid_adam_moves_only_touched_rows_and_follows_the_schedule():
    _, model = _twin_models()
    optimizer = build_optimizer(model, lr=1e-2, weight_decay=0.01)
    assert isinstance(optimizer, HybridAdam)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=2, num_training_steps=4)
    table = model.wave.embeddings.word_embeddings.weight
    before = table.detach().clone()
    for _ in range(2):  # the first step runs at the warm-up's learning rate 0
        _backward(model)
        clip_gradients([p for p in model.parameters() if p.grad is not None], 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    ids, _ = batch()
    touched = torch.zeros(table.shape[0], dtype=torch.bool)
    touched[ids.unique()] = True
    touched[0] = False  # the padding row gets no gradient
    moved = (table.detach() != before).any(dim=1)
    assert torch.equal(moved, touched)
    rates = {g["lr"] for g in optimizer.param_groups}
    assert rates == {1e-2} and {g["lr"] for g in optimizer.sparse.param_groups} == rates
    restored = build_optimizer(model, lr=1e-2, weight_decay=0.01)
    restored.load_state_dict(optimizer.state_dict())
    assert restored.param_groups[-1]["lr"] == optimizer.param_groups[-1]["lr"]
    assert len(restored.state) == len(optimizer.state)
    with pytest.raises(ValueError, match="sparse embeddings"):
        restored.load_state_dict(torch.optim.AdamW(model.parameters()).state_dict())


def test_ngram_model_round_trips_through_save_pretrained(tmp_path):
    cfg = WaveConfig(**SMALL, ngram_orders=[2, 3], ngram_buckets=31, sparse_embeddings=True)
    model = WaveForSequenceClassification(cfg).eval()
    model.save_pretrained(tmp_path)
    loaded = WaveForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.ngram_orders == [2, 3] and loaded.config.sparse_embeddings
    ids, mask = batch()
    torch.testing.assert_close(loaded(input_ids=ids, attention_mask=mask).logits,
                               model(input_ids=ids, attention_mask=mask).logits)  # fmt: skip


WIDE = dict(SMALL, bag_ngram_orders=[1, 2], bag_buckets=29, bag_scale=3.0)


def test_wide_path_adds_the_scaled_mean_of_the_texts_ngram_weights():
    torch.manual_seed(0)
    model = WaveForSequenceClassification(WaveConfig(**WIDE)).eval()
    table = model.ngram_bag.weights.weight
    ids, mask = batch()
    with torch.no_grad():
        wave_only = model(input_ids=ids, attention_mask=mask).logits  # the table starts at zero
        table[1:].normal_()
        got = model(input_ids=ids, attention_mask=mask).logits
    for row in range(ids.shape[0]):  # plain-Python reconstruction: mean over every n-gram of the text
        buckets = [b for n in (1, 2) for b in reference_ngram_ids(ids[row].tolist(), mask[row].tolist(), n, 29) if b]
        want = wave_only[row] + 3.0 * sum(table[b] for b in buckets) / len(buckets)
        torch.testing.assert_close(got[row], want)


def test_wide_path_is_counted_as_an_embedding_table_and_trains_sparsely():
    from wave_network.params import count_parameters

    with_wide = WaveForSequenceClassification(WaveConfig(**WIDE, sparse_embeddings=True))
    without = WaveForSequenceClassification(WaveConfig(**SMALL, sparse_embeddings=True))
    a, b = count_parameters(with_wide), count_parameters(without)
    assert a.non_embedding == b.non_embedding and a.embedding == b.embedding + 30 * 3
    optimizer = build_optimizer(with_wide, lr=1e-3, weight_decay=0.01)
    assert isinstance(optimizer, HybridAdam)
    assert any(p is with_wide.ngram_bag.weights.weight for g in optimizer.sparse.param_groups for p in g["params"])


@pytest.mark.parametrize("bad", [{"bag_ngram_orders": [0], "bag_buckets": 8}, {"bag_ngram_orders": [1]},
                                 {"bag_buckets": 8}, {"bag_ngram_orders": [1, 1], "bag_buckets": 8},
                                 {"bag_ngram_orders": [1], "bag_buckets": 8, "bag_scale": 0.0}])  # fmt: skip
def test_config_rejects_inconsistent_wide_path_settings(bad):
    with pytest.raises(ValueError, match="bag_"):
        WaveConfig(**SMALL, **bad)


def test_wide_model_round_trips_through_save_pretrained(tmp_path):
    model = WaveForSequenceClassification(WaveConfig(**WIDE, sparse_embeddings=True)).eval()
    with torch.no_grad():
        model.ngram_bag.weights.weight[1:].normal_()
    model.save_pretrained(tmp_path)
    loaded = WaveForSequenceClassification.from_pretrained(tmp_path).eval()
    assert loaded.config.bag_ngram_orders == [1, 2] and loaded.config.bag_scale == 3.0
    ids, mask = batch()
    torch.testing.assert_close(loaded(input_ids=ids, attention_mask=mask).logits,
                               model(input_ids=ids, attention_mask=mask).logits)  # fmt: skip


def wide_path_share(model, ids, mask):
    """The wide path's logits once its table is random (logits minus those of the zero table), and the table."""
    table = model.ngram_bag.weights.weight
    with torch.no_grad():
        wave_only = model(input_ids=ids, attention_mask=mask).logits
        table[1:].normal_()
        return model(input_ids=ids, attention_mask=mask).logits - wave_only, table


def test_tfidf_wide_path_matches_scikit_learns_tfidf_features():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfTransformer

    torch.manual_seed(0)
    model = WaveForSequenceClassification(WaveConfig(**WIDE, bag_weighting="tfidf")).eval()
    train_ids, train_mask = batch(seed=1)
    texts = [row[: int(m.sum())].tolist() for row, m in zip(train_ids, train_mask, strict=True)]
    model.fit_text_statistics(texts)
    ids, mask = batch(seed=2)
    got, table = wide_path_share(model, ids, mask)

    def counts(all_ids, all_mask):  # (texts, 30) n-gram counts from the plain-Python hash
        out = np.zeros((all_ids.shape[0], 30))
        for row in range(all_ids.shape[0]):
            for n in (1, 2):
                for b in reference_ngram_ids(all_ids[row].tolist(), all_mask[row].tolist(), n, 29):
                    out[row, b] += b > 0
        return out

    seen = counts(train_ids, train_mask).sum(0) > 0  # a TF-IDF vocabulary: the n-grams of the training texts
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts(train_ids, train_mask)[:, seen])
    features = tfidf.transform(counts(ids, mask)[:, seen]).toarray()  # (texts, seen n-grams), L2-normalised rows
    want = 3.0 * torch.tensor(features, dtype=torch.float32) @ table[torch.tensor(np.flatnonzero(seen))]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_training_counts_the_document_frequencies_and_saves_them(tmp_path):
    model = WaveForSequenceClassification(WaveConfig(**WIDE, bag_weighting="tfidf"))
    model.fit_text_statistics([[5, 6], [5, 7], [5]])
    idf = model.ngram_bag.idf
    unigram = hashed_ngram_ids(torch.tensor([[5, 6]]), None, 1, 29)[0]
    assert idf[unigram[0]] == pytest.approx(1.0)  # in every text: ln(4 / 4) + 1
    assert idf[unigram[1]] == pytest.approx(torch.log(torch.tensor(2.0)).item() + 1)  # in one of three
    assert idf[0] == 0
    model.save_pretrained(tmp_path)
    loaded = WaveForSequenceClassification.from_pretrained(tmp_path)
    torch.testing.assert_close(loaded.ngram_bag.idf, idf)


def _texts(seed, n=12, T=9):
    """n token-id lists of random lengths 1..T (ids 1..49)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (n,), generator=g)
    return [torch.randint(1, 50, (int(k),), generator=g).tolist() for k in lengths]


def test_nb_wide_path_matches_an_nbsvm_reference():
    """Wang & Manning's NBSVM features, from plain-Python hashes and NumPy: binarised n-gram presence times each
    class's log-count ratio (one class against the rest, alpha 1), L2-normalised per text and class."""
    import numpy as np

    torch.manual_seed(0)
    model = WaveForSequenceClassification(WaveConfig(**WIDE, bag_weighting="nb")).eval()
    texts = _texts(seed=1)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 1])
    model.fit_text_statistics(texts, labels.tolist())
    ids, mask = batch(seed=2)
    got, table = wide_path_share(model, ids, mask)

    def presence(tokens, keep):  # (30,) 1 where the text holds the bucket's n-gram
        out = np.zeros(30)
        for n in (1, 2):
            for b in reference_ngram_ids(tokens, keep, n, 29):
                out[b] = 1.0
        out[0] = 0.0
        return out

    train = np.stack([presence(t, [1] * len(t)) for t in texts])  # (12, 30)
    seen = train.sum(0) > 0
    want = np.zeros((ids.shape[0], 3))
    for c in range(3):
        p = train[labels == c].sum(0)[seen] + 1
        q = train[labels != c].sum(0)[seen] + 1
        ratio = np.log(p / p.sum()) - np.log(q / q.sum())  # (seen n-grams,)
        for row in range(ids.shape[0]):
            x = presence(ids[row].tolist(), mask[row].tolist())[seen] * ratio
            weights = table.detach()[torch.tensor(np.flatnonzero(seen)), c].numpy()
            want[row, c] = 3.0 * (x / max(np.linalg.norm(x), 1e-12)) @ weights
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32), atol=1e-5, rtol=1e-4)


def test_nb_ratios_are_saved_and_need_labels(tmp_path):
    model = WaveForSequenceClassification(WaveConfig(**WIDE, bag_weighting="nb"))
    with pytest.raises(ValueError, match="training labels"):
        model.fit_text_statistics([[5, 6], [7]])
    with pytest.raises(ValueError, match=r"one class id in \[0, 3\)"):
        model.fit_text_statistics([[5, 6], [7]], [0, 3])
    model.fit_text_statistics([[5, 6], [5, 7], [8]], [0, 1, 1])  # class 2 has no text: finite ratios all the same
    ratio = model.ngram_bag.nb_ratio
    assert torch.isfinite(ratio).all() and (ratio[0] == 0).all()
    model.save_pretrained(tmp_path)
    torch.testing.assert_close(WaveForSequenceClassification.from_pretrained(tmp_path).ngram_bag.nb_ratio, ratio)
    with pytest.raises(ValueError, match="needs class labels"):
        WaveConfig(**WIDE, bag_weighting="nb", problem_type="regression").validate()
    model.config.problem_type = "regression"  # what the trainer sets for a regression data set, then validates
    with pytest.raises(ValueError, match="this data is regression. Use wave-wide"):
        model.config.validate()
