"""Order-aware global semantics (issue 20, beyond the paper): G over each token's window of neighbours ("local"),
or the text-level wave modulated by the local one ("text+local"), checked against a float64 reference written
token by token from the paper's polar form, and shown to make the layer see word order."""

import pytest
import torch

from wave_network import ops
from wave_network.configuration_wave import WaveConfig
from wave_network.layers import WaveMixing
from wave_network.modeling_wave import WaveForSequenceClassification
from wave_reference import reference_local_semantics, reference_modulation, reference_token2wave


def _batch(seed: int = 0, b: int = 3, t: int = 9, d: int = 5):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(b, t, d, generator=g, dtype=torch.float64)
    mask = torch.ones(b, t, dtype=torch.long)
    mask[1, min(6, t - 1) :] = 0  # padding
    if b > 2:
        mask[2, 1:] = 0  # a one-token text
    return w, mask


@pytest.mark.parametrize("radius", [1, 2, 4, 20])
def test_local_token2wave_matches_the_polar_reference(radius):
    w, mask = _batch()
    re, im = ops.token2wave(w, mask, local_radius=radius)
    z = reference_token2wave(w, mask, g=reference_local_semantics(w, mask, radius))
    real = mask.bool()
    torch.testing.assert_close(re[real], z.real[real], atol=1e-10, rtol=0)
    torch.testing.assert_close(im[real], z.imag[real], atol=1e-10, rtol=0)


def test_a_window_wider_than_the_text_is_the_text_level_wave():
    w, mask = _batch()
    local = ops.token2wave(w, mask, local_radius=50)
    text = ops.token2wave(w, mask)
    real = mask.bool()
    for a, b in zip(local, text, strict=True):
        torch.testing.assert_close(a[real], b[real], atol=1e-10, rtol=0)


def test_local_gradients_are_finite_and_match_finite_differences():
    w, mask = _batch(seed=1, b=2, t=5, d=3)
    w = (w + 0.5).requires_grad_()  # away from the sqrt's kink at G = |w|

    def f(x):
        re, im = ops.token2wave(x, mask, local_radius=1)
        return (re * im * mask.unsqueeze(-1)).sum()

    assert torch.autograd.gradcheck(f, (w,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("scope", ["local", "text+local"])
def test_the_mixing_layer_matches_the_reference(scope):
    torch.manual_seed(0)
    config = WaveConfig(hidden_size=6, global_semantics=scope, local_window=2, readout="real", wave_mode="modulation")
    layer = WaveMixing(config).double()
    x, mask = _batch(seed=2, d=6)
    out = layer(x, mask)
    a, b = layer.proj_a(x), layer.proj_b(x)
    g_a = reference_local_semantics(a, mask, 2) if scope == "local" else None
    z = reference_modulation(
        reference_token2wave(a, mask, g=g_a), reference_token2wave(b, mask, g=reference_local_semantics(b, mask, 2))
    )
    real = mask.bool()
    torch.testing.assert_close(out[real], z.real[real], atol=1e-9, rtol=0)


def test_local_semantics_make_the_model_see_word_order():
    """Without positions, the paper's text-level G gives a [CLS]-free mean-pooled model that cannot tell a text from
    its reversal; the local one can."""
    ids = torch.tensor([[101, 2023, 3185, 2001, 2025, 2204, 102]])
    reversed_ids = torch.cat([ids[:, :1], ids[:, 1:-1].flip(1), ids[:, -1:]], dim=1)
    outputs = {}
    for scope in ("text", "local", "text+local"):
        torch.manual_seed(0)
        config = WaveConfig(
            vocab_size=30522, hidden_size=16, ffn_dim=16, position_embedding="none", pooling="mean",
            global_semantics=scope, local_window=1, num_labels=2, dropout=0.0,
        )  # fmt: skip
        model = WaveForSequenceClassification(config).eval()
        with torch.no_grad():
            outputs[scope] = (model(input_ids=ids).logits, model(input_ids=reversed_ids).logits)
    forward, backward = outputs["text"]
    assert (forward - backward).abs().max() <= 1e-5 * forward.abs().max()  # the same up to rounding
    for scope in ("local", "text+local"):
        forward, backward = outputs[scope]
        assert (forward - backward).abs().max() > 1e-3 * forward.abs().max(), scope  # rounding: ~1e-7


def test_local_window_is_validated():
    with pytest.raises(ValueError, match="local_window"):
        WaveConfig(global_semantics="local", local_window=0)
    with pytest.raises(ValueError, match="global_semantics"):
        WaveConfig(global_semantics="window")
