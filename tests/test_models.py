"""Every registered Wave preset on a tiny odd-sized config (batch 3, seq 7, width 12, vocab 50)."""

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from wave_network import (
    WaveConfig,
    WaveForSequenceClassification,
    WaveModel,
    count_parameters,
    create_model,
    get_preset,
    list_presets,
)

B, T, D, V, C = 3, 7, 12, 50, 3


def tiny(name, **overrides):
    ffn = 0 if get_preset(name).model.get("ffn_dim", 768) == 0 else 13
    # Weights on the scale of the random biases below, so token-dependent terms are not swamped by them.
    fields = dict(hidden_size=D, ffn_dim=ffn, max_position_embeddings=16, dropout=0.0, initializer_range=0.3,
                  token_embeddings_from=None)  # fmt: skip
    fields.update(overrides)
    torch.manual_seed(0)
    model = create_model(name, num_labels=C, vocab_size=V, **fields)
    with torch.no_grad():  # non-zero biases everywhere, so padding leaks would show
        for n, p in model.named_parameters():
            if n.endswith("bias"):
                p.normal_(0, 0.5)
    return model.eval()


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 4:] = 0
    mask[2, 1:] = 0  # one-token text
    ids = ids * mask
    return ids, mask


PRESETS = list_presets()


@pytest.mark.parametrize("name", PRESETS)
def test_shapes_and_finite(name):
    model = tiny(name)
    ids, mask = batch()
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2]))
    assert out.logits.shape == (B, C)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    feats = model.wave(input_ids=ids, attention_mask=mask)
    assert feats.last_hidden_state.shape == (B, T, D)
    assert feats.pooler_output.shape == (B, D)


@pytest.mark.parametrize("name", PRESETS)
def test_every_parameter_gets_a_finite_gradient(name):
    model = tiny(name).train()
    ids, mask = batch()
    ids[0, 3] = ids[0, 0]  # repeated tokens and a dominant token below
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2]))
    out.loss.backward()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == (["ngram_bag.weights.weight"] if model.config.bag_fit else [])  # only bag_fit's table freezes
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad is not None, n
        grad = p.grad.to_dense() if p.grad.is_sparse else p.grad  # sparse embedding tables (wave-ngram)
        assert torch.isfinite(grad).all(), n
        assert grad.abs().sum() > 0, n


@pytest.mark.parametrize("name", PRESETS)
def test_dominant_token_stays_finite(name):
    model = tiny(name).train()
    ids, mask = batch()
    with torch.no_grad():
        model.get_input_embeddings().weight[ids[0, 0]] *= 1e4
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2]))
    out.loss.backward()
    assert torch.isfinite(out.logits).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(torch.isfinite(g.to_dense() if g.is_sparse else g).all() for g in grads)


@pytest.mark.parametrize("name", PRESETS)
def test_extra_padding_leaves_logits_unchanged(name):
    model = tiny(name)
    ids, mask = batch()
    pad = torch.zeros(B, 5, dtype=torch.long)
    longer = model(input_ids=torch.cat([ids, pad], 1), attention_mask=torch.cat([mask, pad], 1)).logits
    torch.testing.assert_close(longer, model(input_ids=ids, attention_mask=mask).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", PRESETS)
def test_batch_of_one_equals_its_row(name):
    model = tiny(name)
    ids, mask = batch()
    full = model(input_ids=ids, attention_mask=mask).logits
    for i in range(B):
        n = int(mask[i].sum())
        alone = model(input_ids=ids[i : i + 1, :n], attention_mask=mask[i : i + 1, :n]).logits
        torch.testing.assert_close(alone[0], full[i], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", PRESETS)
def test_save_pretrained_round_trip(name, tmp_path):
    model = tiny(name)
    ids, mask = batch()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    for loader in (WaveForSequenceClassification, AutoModelForSequenceClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert torch.equal(loaded(input_ids=ids, attention_mask=mask).logits, model(ids, mask).logits)


def test_auto_classes_are_registered(tmp_path):
    config = WaveConfig(vocab_size=V, hidden_size=D, ffn_dim=0)
    config.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), WaveConfig)
    assert isinstance(AutoModel.from_config(config), WaveModel)
    assert isinstance(AutoModelForSequenceClassification.from_config(config), WaveForSequenceClassification)


def test_token_type_embeddings_change_the_output():
    model = tiny("paper-modulation", type_vocab_size=2)
    ids, mask = batch()
    seg = torch.zeros_like(ids)
    seg[:, 3:] = 1
    a = model(input_ids=ids, attention_mask=mask).logits
    b = model(input_ids=ids, attention_mask=mask, token_type_ids=seg).logits
    assert not torch.allclose(a[0], b[0])


@pytest.mark.parametrize(
    "problem,labels",
    [
        ("regression", torch.tensor([0.1, 2.0, -1.0])),
        ("multi_label_classification", torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0]])),
    ],
)
def test_problem_types_compute_their_loss(problem, labels):
    num = 1 if problem == "regression" else C
    model = create_model(
        "paper-modulation", num_labels=num, vocab_size=V, hidden_size=D, ffn_dim=8, problem_type=problem
    )
    ids, mask = batch()
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (B, num) and torch.isfinite(out.loss)


def shuffled_order_pooled(model, seed=0):
    """Pooled vectors of one full-length text and of the same tokens in another order ([CLS] stays first)."""
    ids, _ = batch(seed)
    ids = ids[:1].clone()
    mask = torch.ones_like(ids)
    perm = torch.tensor([0] + list(torch.randperm(T - 1, generator=torch.Generator().manual_seed(1)) + 1))
    pooled = [model.wave(input_ids=x, attention_mask=mask).pooler_output for x in (ids, ids[:, perm])]
    return pooled[0], pooled[1]


@pytest.mark.parametrize("name", PRESETS)
def test_without_positions_the_model_is_order_blind(name):
    # n-gram embeddings encode local order themselves; without them and without positions, order is invisible
    model = tiny(name, position_embedding="none", pooling="mean", ngram_orders=[], ngram_buckets=0)
    a, b = shuffled_order_pooled(model)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_ngram_embeddings_see_word_order_without_positions():
    model = tiny("wave-ngram", position_embedding="none", pooling="mean")
    with torch.no_grad():  # the table starts at zero (unseen n-grams add nothing); give it trained-like rows
        model.wave.embeddings.ngram_embeddings.weight[1:].normal_(std=0.3)
    a, b = shuffled_order_pooled(model)
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("kind", ["learned", "sinusoidal"])
def test_with_positions_word_order_matters(name, kind):
    model = tiny(name, position_embedding=kind, pooling="mean")
    a, b = shuffled_order_pooled(model)
    # LayerNormed features are O(1); a permutation moves them by far more than rounding (1e-6).
    assert (a - b).abs().max() > 1e-3


def test_modulation_read_through_magnitude_is_token_independent():
    """Documented property of seed-modulation: every real token leaves the wave layer with the same vector."""
    model = tiny("seed-modulation")
    ids, mask = batch()
    hidden = model.wave(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, D)
    torch.testing.assert_close(hidden[0], hidden[0, :1].expand(T, D), rtol=1e-5, atol=1e-5)
    model_i = tiny("seed-modulation", wave_mode="interference")
    hidden_i = model_i.wave(input_ids=ids, attention_mask=mask).last_hidden_state
    assert hidden_i[0].std(dim=0).max() > 1e-3


def test_config_rejects_bad_values_naming_the_field():
    with pytest.raises(ValueError, match="wave_mode"):
        WaveConfig(wave_mode="superposition")
    with pytest.raises(ValueError, match="readout"):
        WaveConfig(readout="phase")
    with pytest.raises(ValueError, match="regression"):
        WaveConfig(problem_type="regression", num_labels=3)


def test_interference_read_through_the_real_part_warns_that_tokens_do_not_mix():
    with pytest.warns(UserWarning, match="tokens do not mix"):
        WaveConfig(wave_mode="interference", readout="real")


def test_parameter_counts_reconcile_the_paper_and_the_proof_of_life():
    paper = count_parameters(create_model("paper-modulation", num_labels=4))
    seed = count_parameters(create_model("seed-modulation", num_labels=4))
    assert paper.non_embedding == 2_366_980  # the paper's "2.4 million parameters"
    assert seed.total == 24_626_692  # the proof-of-life's AG News model
    assert seed.embedding == 30522 * 768


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="paper-modulation"):
        create_model("paper-modulaton")


def test_ngram_table_starts_at_zero():
    model = create_model("wave-ngram", num_labels=C, vocab_size=V, hidden_size=D, ffn_dim=8)
    assert model.wave.embeddings.ngram_embeddings.weight.abs().max() == 0
    assert model.wave.embeddings.word_embeddings.weight.abs().max() > 0


def test_token_embeddings_from_a_pretrained_checkpoint():
    from safetensors import safe_open

    from wave_network.baselines.checkpoints import packaged_checkpoint

    path = packaged_checkpoint()
    if path is None:
        pytest.skip("the offline all-MiniLM-L6-v2 package is not installed")
    model = create_model("paper-modulation", num_labels=2, hidden_size=384, ffn_dim=8, token_embeddings_from="minilm")
    with safe_open(path / "model.safetensors", framework="pt") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight")
    assert torch.equal(model.get_input_embeddings().weight, table)
    with pytest.raises(ValueError, match="hidden_size=384"):
        create_model("paper-modulation", num_labels=2, hidden_size=16, ffn_dim=8, token_embeddings_from="minilm")


def test_wave_nb_is_wave_wide_with_nbsvm_features():
    """The ablation ladder measures wave-nb as `wave-wide --set bag_weighting=nb`: keep the two presets in step."""
    nb, wide = get_preset("wave-nb"), get_preset("wave-wide")
    assert nb.model == {**wide.model, "bag_weighting": "nb"}
    assert nb.training == wide.training


def test_cpu_dropout_keeps_nn_dropouts_distribution():
    """The 15-bit CPU mask: each element zeroed with probability p (binomial, 6 sigma), the rest scaled by
    1 / (1 - p_q) with p_q = p rounded to a multiple of 2^-15 (within 2e-5 of p), gradients through the same mask,
    dtype kept, repeatable under a seed, identity in eval mode."""
    from wave_network.layers import Dropout

    p, n = 0.3, 200_000
    p_q = round(p * 2**15) / 2**15
    assert abs(p_q - p) < 2e-5
    x = torch.rand(n, dtype=torch.float64) + 1.0
    layer = Dropout(p)
    torch.manual_seed(0)
    y = layer(x)
    zeroed = (y == 0).double().mean().item()
    assert abs(zeroed - p) < 6 * (p * (1 - p) / n) ** 0.5
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - p_q))
    torch.manual_seed(0)
    torch.testing.assert_close(layer(x), y)  # same seed, same mask

    leaf = torch.ones(1000, requires_grad=True)
    out = layer(leaf)
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, out.detach())  # d(x * mask * scale)/dx = mask * scale, and x = 1

    assert layer(torch.ones(8, dtype=torch.bfloat16)).dtype == torch.bfloat16
    odd = torch.ones(3, 7, 5)  # a size that is no multiple of the four lanes per draw
    assert layer(odd).shape == odd.shape
    means = torch.stack([(layer(torch.ones(4096)) == 0).double().mean() for _ in range(64)])
    assert abs(means.mean().item() - p) < 6 * (p * (1 - p) / (4096 * 64)) ** 0.5
    torch.testing.assert_close(layer.eval()(x), x)


@pytest.mark.parametrize("name", list_presets())
def test_classifier_pooled_only_path_equals_the_full_model(name):
    """The classifier asks WaveModel for the pooled vector alone ([CLS] presets then run the last block's tail on
    position 0 only): its logits equal the head applied to the full forward pass's pooled vector, and in
    training mode (dropout 0) so do the gradients."""
    for layers in (1, 2):
        model = tiny(name, num_layers=layers).train()
        ids, mask = batch()
        out = model(input_ids=ids, attention_mask=mask)
        full = model.wave(input_ids=ids, attention_mask=mask)
        assert full.last_hidden_state.shape == (B, T, D)
        expected = model.classifier(full.pooler_output)
        if model.ngram_bag is not None:
            expected = expected + model.ngram_bag(ids, mask)
        torch.testing.assert_close(out.logits, expected, rtol=1e-5, atol=1e-6)
        grads = torch.autograd.grad(out.logits.square().sum(), list(model.wave.parameters()), allow_unused=True)
        ref = torch.autograd.grad(expected.square().sum(), list(model.wave.parameters()), allow_unused=True)
        for g, r in zip(grads, ref, strict=True):
            if r is None:
                assert g is None or not g.any()
            else:
                torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-6)


def test_fused_wave_mixing_equals_the_unfused_ops():
    """WaveMixing's modulation (one D -> 2D GEMM + ops.wave_modulation) against the two projections and
    token2wave + modulation written out."""
    from wave_network import ops

    for readout in ("real", "real_imag"):
        model = tiny("paper-modulation", readout=readout)
        mixing = model.wave.layers[0].mixing
        x = torch.randn(B, T, D)
        _, mask = batch()
        z = ops.modulation(ops.token2wave(mixing.proj_a(x), mask), ops.token2wave(mixing.proj_b(x), mask))
        expected = z[0] if readout == "real" else mixing.readout_proj(torch.cat(z, -1))
        torch.testing.assert_close(mixing(x, mask), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["paper-modulation", "wave-nb", "paper-multilayer"])
def test_matmul_flops_per_token_matches_pytorchs_flop_counter(name):
    """The FLOPs the efficiency benchmark divides by come from the config; PyTorch's FlopCounterMode counts the
    matrix products a real forward + backward runs (the fused kernel sums G's squares without a matrix product)."""
    from torch.utils.flop_counter import FlopCounterMode

    from wave_network.params import matmul_flops_per_token

    model = tiny(name).train()
    ids, mask = batch()
    mask = torch.ones_like(mask)  # every position real: tokens per text = T
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, attention_mask=mask).logits.sum().backward()
    counted = counter.get_total_flops() / (B * T)
    expected = matmul_flops_per_token(model.config, tokens_per_text=T, training=True)
    assert counted == pytest.approx(expected, rel=1e-9)


def test_embeddings_work_in_place_only_on_their_own_lookup():
    """The looked-up embeddings are summed and dropped out in place; a caller's inputs_embeds is left untouched
    and gives the same output as the lookup, and so does a lookup watched by a forward hook."""
    model = tiny("paper-modulation", dropout=0.3).train()
    ids, mask = batch()
    embeddings = model.wave.embeddings
    given = embeddings.word_embeddings(ids).detach().clone().requires_grad_(True)
    kept = given.detach().clone()
    torch.manual_seed(1)
    from_ids = embeddings(ids, attention_mask=mask)
    torch.manual_seed(1)
    from_given = embeddings(ids, inputs_embeds=given, attention_mask=mask)
    assert torch.equal(given.detach(), kept)
    torch.testing.assert_close(from_ids, from_given)
    seen = []
    handle = embeddings.word_embeddings.register_forward_hook(lambda m, i, out: seen.append(out))
    torch.manual_seed(1)
    hooked = embeddings(ids, attention_mask=mask)
    handle.remove()
    torch.testing.assert_close(hooked, from_ids)
    torch.testing.assert_close(seen[0], embeddings.word_embeddings(ids))  # the hook's tensor was not overwritten
    from_ids.sum().backward()
    assert model.wave.embeddings.word_embeddings.weight.grad is not None


@pytest.mark.parametrize("name", ["paper-modulation", "wave-nb"])
def test_fused_embeddings_equal_the_unfused_path_under_bf16_autocast(name, monkeypatch):
    """One training step through the fused embeddings (ops.embed_tokens; bf16 straight into the first projection
    where no residual path keeps them) against the unfused lookup + add + dropout with the same dropout masks:
    the same logits and loss, and the same gradients up to fp32 summation order."""
    from wave_network.layers import WaveEmbeddings

    def step(fused: bool):
        monkeypatch.setattr(WaveEmbeddings, "_fusable", lambda self, i, e: fused and i is not None and e is None)
        torch.manual_seed(0)
        model = tiny(name, dropout=0.3).train()
        ids, mask = batch()
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, attention_mask=mask, labels=torch.arange(B) % 2)
        out.loss.backward()
        grads = {n: p.grad.to_dense() for n, p in model.named_parameters() if p.grad is not None}
        return out, grads

    fused, fused_grads = step(True)
    plain, plain_grads = step(False)
    assert torch.equal(fused.logits, plain.logits)
    assert fused_grads.keys() == plain_grads.keys()
    for key, grad in fused_grads.items():
        torch.testing.assert_close(grad, plain_grads[key], rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")
