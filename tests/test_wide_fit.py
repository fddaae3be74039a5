"""The wide path's closed-form start (``WaveConfig.bag_fit``): its logits against scikit-learn's logistic regression
and LinearSVC fitted on features built independently (plain-Python hashes, scikit-learn's TF-IDF, NumPy's NBSVM
ratios), C, the SVM's temperature and the weighting chosen on validation, the frozen table staying put through
training, a fitted model saved and loaded with the weighting it chose, and the configuration's errors."""

import json

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from wave_network import WaveConfig, WaveForSequenceClassification
from wave_network.ngrams import reference_ngram_ids
from wave_network.wide_fit import C_GRID, SVM_C_GRID, fit_wide_path, temperature_for

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
@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_nb_fit_equals_one_classifier_per_class_on_nbsvm_features(num_labels, loss):
    """No validation split: C = 1 and, for the SVM, its raw margins (temperature 1), NBSVM exactly."""
    texts, labels = corpus(seed=3, n=80, num_labels=num_labels)
    config = WaveConfig(**BASE, num_labels=num_labels, bag_weighting="nb", bag_fit_loss=loss)
    model = WaveForSequenceClassification(config)
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
        if loss == "logistic":
            reference = LogisticRegression(C=1.0, max_iter=1000)
        else:
            reference = LinearSVC(C=1.0, max_iter=1000, random_state=0)
        reference.fit(features(train, ratio), y == c)
        scores.append(reference.decision_function(features(test, ratio)))
    got = model_logits(model, held_out)
    if num_labels == 2:  # one fit shared by the two columns: the logit difference is the class-1 fit's
        np.testing.assert_allclose(got[:, 1] - got[:, 0], scores[1], atol=2e-3, rtol=1e-3)
    else:
        np.testing.assert_allclose(got, np.stack(scores, 1), atol=2e-3, rtol=1e-3)


def test_svm_fit_equals_linear_svc_on_tfidf_features_then_its_temperature_is_fitted_on_validation():
    texts, labels = corpus(seed=11, n=60, num_labels=3)
    val_texts, val_labels = corpus(seed=12, n=40, num_labels=3)
    config = WaveConfig(**BASE, num_labels=3, bag_weighting="tfidf", bag_fit_loss="squared_hinge")
    model = WaveForSequenceClassification(config)
    model.fit_text_statistics(texts, labels, validation=(val_texts, val_labels))
    train = counts(texts)
    seen = train.sum(0) > 0
    tfidf = TfidfTransformer(sublinear_tf=True).fit(train[:, seen])
    svm = LinearSVC(C=1.0, max_iter=1000, random_state=0).fit(tfidf.transform(train[:, seen]), labels)
    margins = svm.decision_function(tfidf.transform(counts(val_texts)[:, seen]))
    # the temperature, by brute force: the grid point of least validation log loss
    grid = np.exp(np.linspace(-3, 4, 2001))
    y = np.array(val_labels)

    def cross_entropy(t):
        z = t * margins - (t * margins).max(1, keepdims=True)
        return (np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]).mean()

    t_best = grid[int(np.argmin([cross_entropy(t) for t in grid]))]
    got = model_logits(model, val_texts)
    t = float((got * margins).sum() / (margins * margins).sum())  # the one scalar between the two
    np.testing.assert_allclose(got, t * margins, atol=2e-3, rtol=1e-3)
    assert t == pytest.approx(t_best, rel=1e-2)
    assert t == pytest.approx(temperature_for(margins, y), rel=1e-3)


def test_temperature_minimises_the_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4))
    labels = np.where(rng.random(200) < 0.7, logits.argmax(1), rng.integers(0, 4, 200))
    t = temperature_for(logits, labels)

    def loss(scale):
        z = scale * logits
        z = z - z.max(1, keepdims=True)
        return float((np.log(np.exp(z).sum(1)) - z[np.arange(200), labels]).mean())

    assert loss(t) <= min(loss(t * 0.98), loss(t * 1.02))
    assert t > 1.0  # labels agree with the argmax 70 % of the time: sharper than the unit scale


def test_the_weighting_is_chosen_on_validation_and_travels_with_the_saved_model(tmp_path):
    """bag_fit_weightings: each weighting is fitted, the one more accurate on validation kept and written to the
    config; a model directory saved after the fit loads into a model built from the unfitted configuration."""
    from wave_network.training.checkpoint import load_weights

    texts, labels = corpus(seed=13, n=80, num_labels=3)
    val_texts, val_labels = corpus(seed=14, n=40, num_labels=3)
    accuracy = {}
    for weighting in ("nb", "tfidf"):
        alone = WaveForSequenceClassification(WaveConfig(**BASE, num_labels=3, bag_weighting=weighting))
        alone.fit_text_statistics(texts, labels, validation=(val_texts, val_labels))
        accuracy[weighting] = (model_logits(alone, val_texts).argmax(1) == np.array(val_labels)).mean()
    want = "tfidf" if accuracy["tfidf"] > accuracy["nb"] else "nb"  # the earlier one on ties
    config = WaveConfig(**BASE, num_labels=3, bag_weighting="nb", bag_fit_weightings=["nb", "tfidf"])
    model = WaveForSequenceClassification(config)
    model.fit_text_statistics(texts, labels, validation=(val_texts, val_labels))
    assert model.config.bag_weighting == want == model.ngram_bag.weighting
    reference = WaveForSequenceClassification(WaveConfig(**BASE, num_labels=3, bag_weighting=want))
    reference.fit_text_statistics(texts, labels, validation=(val_texts, val_labels))
    np.testing.assert_allclose(model_logits(model, val_texts), model_logits(reference, val_texts), atol=1e-6)
    model.save_pretrained(tmp_path / "fitted")
    fresh = WaveForSequenceClassification(config)  # as a resumed run builds it: before any fit
    load_weights(fresh, tmp_path / "fitted")
    np.testing.assert_allclose(model_logits(fresh, val_texts), model_logits(model, val_texts), atol=1e-6)
    loaded = WaveForSequenceClassification.from_pretrained(tmp_path / "fitted")
    assert loaded.config.bag_weighting == want
    np.testing.assert_allclose(model_logits(loaded, val_texts), model_logits(model, val_texts), atol=1e-6)
    without_validation = WaveForSequenceClassification(config)  # nothing to choose on: the first weighting
    without_validation.fit_text_statistics(texts, labels)
    assert without_validation.config.bag_weighting == "nb"


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
    svm = fit_wide_path(model.ngram_bag, texts, labels, (val_texts, val_labels), None, "squared_hinge")
    assert svm.c in SVM_C_GRID and svm.temperature > 0


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
    with pytest.raises(ValueError, match="bag_fit_loss='hinge'"):
        WaveConfig(**BASE, num_labels=2, bag_fit_loss="hinge").validate()
    with pytest.raises(ValueError, match="bag_fit_weightings has 'idf'"):
        WaveConfig(**BASE, num_labels=2, bag_fit_weightings=["nb", "idf"]).validate()
    with pytest.raises(ValueError, match="set bag_fit=True"):
        WaveConfig(**(BASE | dict(bag_fit=False)), num_labels=2, bag_fit_weightings=["nb"]).validate()
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
