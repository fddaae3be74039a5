"""The wide path's closed-form start (``WaveConfig.bag_fit``): its logits against scikit-learn's logistic regression
fitted on features built independently (plain-Python hashes, scikit-learn's TF-IDF, NumPy's NBSVM ratios), C chosen
on validation, the frozen table staying put through training, and the configuration's errors."""

import json

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from wave_network import WaveConfig, WaveForSequenceClassification
from wave_network.ngrams import reference_ngram_ids
from wave_network.wide_fit import C_GRID, fit_wide_path

BUCKETS = 29
BASE = dict(hidden_size=8, ffn_dim=8, max_position_embeddings=16, vocab_size=50, dropout=0.0)
BASE |= dict(bag_ngram_orders=[1, 2], bag_buckets=BUCKETS, bag_scale=3.0, bag_fit=True, bag_fit_c=1.0)


def corpus(seed, n, num_labels):
    """n texts of 2-9 token ids whose labels depend on which tokens they hold (so the fit is not trivial)."""
    g = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(torch.randint(0, num_labels, (1,), generator=g))
        length = int(torch.randint(2, 10, (1,), generator=g))
        pool = torch.randint(1 + 10 * label, 21 + 10 * label, (length,), generator=g)  # overlapping ranges
        texts.append(pool.clamp(max=49).tolist())
        labels.append(label)
    return texts, labels


def counts(texts, binary=False):
    """(texts, buckets + 1) uni- and bigram counts from the plain-Python hash."""
    out = np.zeros((len(texts), BUCKETS + 1))
    for row, tokens in enumerate(texts):
        for n in (1, 2):
            for b in reference_ngram_ids(tokens, [1] * len(tokens), n, BUCKETS):
                if b:
                    out[row, b] = 1 if binary else out[row, b] + 1
    return out


def model_logits(model, texts):
    """The wide path's logits plus the head's bias (the wave path's share left out)."""
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(t) for t in texts], batch_first=True)
    mask = (ids > 0).long()
    with torch.no_grad():
        return (model.ngram_bag(ids, mask) + model.classifier.bias).double().numpy()


def test_tfidf_fit_equals_scikit_learns_logistic_regression_on_tfidf_features():
    texts, labels = corpus(seed=1, n=60, num_labels=3)
    model = WaveForSequenceClassification(WaveConfig(**BASE, num_labels=3, bag_weighting="tfidf"))
    model.fit_text_statistics(iter(texts), labels)  # a one-shot stream: the model keeps a copy for the fit
    train = counts(texts)
    seen = train.sum(0) > 0
    tfidf = TfidfTransformer(sublinear_tf=True).fit(train[:, seen])
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(tfidf.transform(train[:, seen]), labels)
    held_out, _ = corpus(seed=2, n=15, num_labels=3)
    want = reference.decision_function(tfidf.transform(counts(held_out)[:, seen]))
    np.testing.assert_allclose(model_logits(model, held_out), want, atol=2e-3, rtol=1e-3)
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(t) for t in held_out], batch_first=True)
    with torch.no_grad():  # before any gradient step the whole model is the linear model: the wave path adds 0
        whole = model.eval()(input_ids=ids, attention_mask=(ids > 0).long()).logits.double().numpy()
    np.testing.assert_allclose(whole, model_logits(model, held_out), atol=1e-6)


@pytest.mark.parametrize("num_labels", [2, 3])
def test_nb_fit_equals_one_logistic_regression_per_class_on_nbsvm_features(num_labels):
    texts, labels = corpus(seed=3, n=80, num_labels=num_labels)
    model = WaveForSequenceClassification(WaveConfig(**BASE, num_labels=num_labels, bag_weighting="nb"))
    model.fit_text_statistics(texts, labels)
    y = np.array(labels)
    train = counts(texts, binary=True)
    seen = train.sum(0) > 0
    held_out, _ = corpus(seed=4, n=15, num_labels=num_labels)
    test = counts(held_out, binary=True)

    def features(x, ratio):
        scaled = x[:, seen] * ratio
        return scaled / np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)

    scores = []
    for c in range(num_labels):
        p = train[y == c][:, seen].sum(0) + 1
        q = train[y != c][:, seen].sum(0) + 1
        ratio = np.log(p / p.sum()) - np.log(q / q.sum())
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(features(train, ratio), y == c)
        scores.append(lr.decision_function(features(test, ratio)))
    got = model_logits(model, held_out)
    if num_labels == 2:  # one fit shared by the two columns: the logit difference is the class-1 fit's
        np.testing.assert_allclose(got[:, 1] - got[:, 0], scores[1], atol=2e-3, rtol=1e-3)
    else:
        np.testing.assert_allclose(got, np.stack(scores, 1), atol=2e-3, rtol=1e-3)


def test_c_is_chosen_on_validation_accuracy():
    texts, labels = corpus(seed=5, n=60, num_labels=3)
    val_texts, val_labels = corpus(seed=6, n=30, num_labels=3)
    config = WaveConfig(**(BASE | dict(bag_fit_c=None)), num_labels=3, bag_weighting="tfidf")
    model = WaveForSequenceClassification(config)
    model.ngram_bag.fit_document_frequencies(texts)
    fitted = fit_wide_path(model.ngram_bag, texts, labels, (val_texts, val_labels), None)
    accuracies = {}
    for c in C_GRID:
        again = fit_wide_path(model.ngram_bag, texts, labels, (val_texts, val_labels), c)
        accuracies[c] = again.validation_accuracy
    best = max(accuracies.values())
    assert fitted.c == min(c for c, a in accuracies.items() if a == best)
    assert fitted.validation_accuracy == pytest.approx(best)
    assert fit_wide_path(model.ngram_bag, texts, labels, None, None).c == 1.0  # no validation: the default


def test_a_frozen_fitted_table_stays_put_while_the_wave_path_trains():
    texts, labels = corpus(seed=7, n=40, num_labels=2)
    config = WaveConfig(**BASE, num_labels=2, bag_weighting="nb", bag_trainable=False, sparse_embeddings=True)
    model = WaveForSequenceClassification(config)
    model.fit_text_statistics(texts, labels)
    table = model.ngram_bag.weights.weight.detach().clone()
    assert table.abs().sum() > 0 and not model.ngram_bag.weights.weight.requires_grad
    from wave_network.training.optim import build_optimizer

    optimizer = build_optimizer(model, 1e-2, 0.01)
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(t) for t in texts], batch_first=True)
    head = model.classifier.weight.detach().clone()
    for _ in range(3):
        loss = model(input_ids=ids, attention_mask=(ids > 0).long(), labels=torch.tensor(labels)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert torch.equal(model.ngram_bag.weights.weight, table)
    assert not torch.equal(model.classifier.weight, head)


def test_configuration_errors_say_what_to_set():
    with pytest.raises(ValueError, match="set bag_ngram_orders"):
        WaveConfig(bag_fit=True, num_labels=2).validate()
    with pytest.raises(ValueError, match="this data is regression"):
        WaveConfig(**BASE, num_labels=1, problem_type="regression").validate()
    with pytest.raises(ValueError, match="freezes the wide path at zero"):
        WaveConfig(**(BASE | dict(bag_fit=False)), num_labels=2, bag_trainable=False).validate()
    with pytest.raises(ValueError, match="bag_fit_c must be > 0"):
        WaveConfig(**(BASE | dict(bag_fit_c=0.0)), num_labels=2).validate()
    model = WaveForSequenceClassification(WaveConfig(**BASE, num_labels=2))
    with pytest.raises(ValueError, match="training labels"):
        model.fit_text_statistics([[5, 6], [7]])
    with pytest.raises(ValueError, match="at least two classes"):
        model.fit_text_statistics([[5, 6], [7]], [1, 1])


def test_training_from_the_fit_keeps_epoch_0_when_no_epoch_validates_better(tmp_path):
    """validate_at_start: the fitted linear model is validated as "epoch 0" and stays the selected checkpoint when
    training only makes it worse (here by a learning rate far too large for the wave path)."""
    from wave_network.data import DataConfig
    from wave_network.modeling_wave import WaveForSequenceClassification as Model
    from wave_network.training import TrainConfig, train

    data = DataConfig(dataset="ag_news_sample", max_length=32, max_train_samples=400, max_eval_samples=100,
                      cache_dir=str(tmp_path / "cache"))  # fmt: skip
    overrides = dict(hidden_size=16, ffn_dim=16, max_position_embeddings=64, bag_buckets=4096, bag_fit=True,
                     bag_trainable=False, bag_fit_c=4.0)  # fmt: skip
    cfg = TrainConfig(model="wave-nb", model_overrides=overrides, data=data, learning_rate=3.0, epochs=2,
                      batch_size=32, precision="fp32", num_threads=1, quiet=True, compile=False,
                      validate_at_start=True, output_dir=str(tmp_path / "run"))  # fmt: skip
    result = train(cfg)
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    start = [r for r in records if r["type"] == "eval" and r["step"] == 0]
    epochs = [r for r in records if r["type"] == "epoch"]
    assert len(start) == 1 and start[0]["epoch"] == 0
    assert all(r["val_accuracy"] < start[0]["val_accuracy"] for r in epochs)  # the wave path was wrecked
    assert result.best_epoch == 0
    best = Model.from_pretrained(result.run_dir / "best")
    last = Model.from_pretrained(result.run_dir / "last")
    torch.testing.assert_close(best.ngram_bag.weights.weight, last.ngram_bag.weights.weight)  # frozen
    assert not torch.equal(best.classifier.weight, last.classifier.weight)
