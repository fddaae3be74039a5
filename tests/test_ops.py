"""Closed-form wave operations against the float64 paper reference (tests/wave_reference.py)."""

import pytest
import torch

from wave_network import ops
from wave_reference import reference_interference, reference_modulation, reference_token2wave

TOL64 = dict(rtol=1e-10, atol=1e-10)


def random_case(B=3, T=7, D=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(B, T, D, generator=g, dtype=dtype)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 4:] = 0  # a padded row
    mask[2, 1:] = 0  # a one-token text
    return w, mask


def special_inputs():
    """Random texts plus the edge cases the math must survive: one token, an all-zero dimension, a dominant token."""
    w, mask = random_case()
    w[0, :, 2] = 0.0  # all-zero dimension in text 0
    w[1, 0, 3] = 50.0  # one token dominates dimension 3 of text 1
    return w, mask


def as_complex(pair):
    return torch.complex(pair[0], pair[1])


def masked(x, mask):
    return x * mask.unsqueeze(-1).to(x.dtype)


def test_token2wave_matches_paper_reference():
    w, mask = special_inputs()
    z = as_complex(ops.token2wave(w, mask))
    ref = reference_token2wave(w, mask)
    torch.testing.assert_close(masked(z, mask), masked(ref, mask), **TOL64)


def test_token2wave_one_token_text_is_the_token_itself():
    # n = 1: G = |w|, alpha = 0 (w > 0) or pi (w < 0), so Z = w exactly with no imaginary part.
    w = torch.tensor([[[1.5, -2.0, 0.0]]], dtype=torch.float64)
    re, im = ops.token2wave(w)
    torch.testing.assert_close(re, w)
    torch.testing.assert_close(im, torch.zeros_like(w))


def test_global_semantics_matches_reference_and_ignores_padding():
    w, mask = special_inputs()
    g = ops.global_semantics(w, mask)
    expected = torch.sqrt((masked(w, mask) ** 2).sum(1, keepdim=True))
    torch.testing.assert_close(g, expected, **TOL64)
    w2 = w.clone()
    w2[1, 4:] = 1e3  # garbage at padded positions
    torch.testing.assert_close(ops.global_semantics(w2, mask), g, **TOL64)


@pytest.mark.parametrize("op,ref", [(ops.interference, reference_interference), (ops.modulation, reference_modulation)])
def test_wave_combination_matches_reference(op, ref):
    w1, mask = special_inputs()
    w2 = torch.randn_like(w1) * 0.5 + 0.1
    z = as_complex(op(ops.token2wave(w1, mask), ops.token2wave(w2, mask)))
    expected = ref(reference_token2wave(w1, mask), reference_token2wave(w2, mask))
    torch.testing.assert_close(masked(z, mask), masked(expected, mask), **TOL64)


def test_magnitude_matches_complex_abs():
    w1, mask = special_inputs()
    z = ops.modulation(ops.token2wave(w1, mask), ops.token2wave(w1.flip(-1), mask))
    torch.testing.assert_close(ops.magnitude(z), as_complex(z).abs(), **TOL64)


def test_phase_lies_in_zero_to_pi():
    w, mask = random_case(seed=3)
    _, im = ops.token2wave(w, mask)
    assert (im >= 0).all()


def test_modulation_magnitude_is_the_same_for_every_token():
    """Documented property: |Z Z'| = G G', so reading modulation back through |.| discards token identity."""
    w1, _ = random_case(B=3, T=6, D=4, seed=1)
    w2, _ = random_case(B=3, T=6, D=4, seed=2)
    mag = ops.magnitude(ops.modulation(ops.token2wave(w1), ops.token2wave(w2)))  # (B, T, D)
    expected = ops.global_semantics(w1) * ops.global_semantics(w2)  # (B, 1, D)
    torch.testing.assert_close(mag, expected.expand_as(mag), **TOL64)


def test_interference_magnitude_differs_between_tokens():
    w1, _ = random_case(B=3, T=6, D=4, seed=1)
    w2, _ = random_case(B=3, T=6, D=4, seed=2)
    mag = ops.magnitude(ops.interference(ops.token2wave(w1), ops.token2wave(w2)))
    assert (mag.std(dim=1) > 1e-3).all()


def closed_form_layer(w1, w2, mask):
    return ops.magnitude(ops.interference(ops.token2wave(w1, mask), ops.token2wave(w2, mask))), ops.modulation(
        ops.token2wave(w1, mask), ops.token2wave(w2, mask)
    )[0]


def test_gradcheck_float64_closed_form():
    w1, mask = random_case(B=3, T=4, D=3, seed=5)
    w2 = torch.randn_like(w1)
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: closed_form_layer(a, b, mask), (w1, w2), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("case", ["one_token", "dominant", "zero_dim"])
def test_gradients_finite_at_the_edges(case):
    w = torch.randn(2, 5, 4, dtype=torch.float32)
    mask = torch.ones(2, 5, dtype=torch.long)
    if case == "one_token":
        mask[:, 1:] = 0
    elif case == "dominant":
        w[:, 0, :] = 1e4
        w[:, 1:, :] = 1e-4
    else:
        w[:, :, 1] = 0.0
    w.requires_grad_(True)
    re, im = ops.modulation(ops.token2wave(w, mask), ops.token2wave(w * 0.7 + 0.1, mask))
    mag = ops.magnitude(ops.interference(ops.token2wave(w, mask), ops.token2wave(-w, mask)))
    (re.sum() + im.sum() + mag.sum()).backward()
    assert torch.isfinite(w.grad).all()


def test_bf16_autocast_matches_fp32():
    torch.manual_seed(0)
    x = torch.randn(4, 11, 32)
    mask = torch.ones(4, 11, dtype=torch.long)
    mask[0, 6:] = 0
    lin_a, lin_b = torch.nn.Linear(32, 32), torch.nn.Linear(32, 32)

    def run():
        z = ops.modulation(ops.token2wave(lin_a(x), mask), ops.token2wave(lin_b(x), mask))
        return torch.cat(z, -1)

    fp32 = run()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = run()
    assert bf16.dtype == torch.float32  # the wave math itself runs in fp32 under autocast
    # bf16 has an 8-bit mantissa: relative error of the projections ~ 2^-8, so compare at 2e-2 of the scale.
    scale = fp32.abs().max()
    assert ((bf16 - fp32).abs().max() / scale) < 2e-2


def test_masked_mean_ignores_padding():
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    out = ops.masked_mean(x, mask)
    torch.testing.assert_close(out[0], x[0, :2].mean(0))
    torch.testing.assert_close(out[1], x[1].mean(0))


def test_modulation_real_part_matches_reference():
    w1, mask = special_inputs()
    w2 = torch.randn_like(w1) * 0.5 + 0.1
    re = ops.modulation_real(ops.token2wave(w1, mask), ops.token2wave(w2, mask))
    expected = reference_modulation(reference_token2wave(w1, mask), reference_token2wave(w2, mask)).real
    torch.testing.assert_close(masked(re, mask), masked(expected, mask), **TOL64)


def test_sentence_level_global_semantics_matches_the_reference_per_segment():
    w, mask = special_inputs()
    segments = torch.zeros_like(mask)
    segments[0, 3:] = 1  # a pair: tokens 0-2 and 3-6
    segments[1, 2:4] = 1  # a pair followed by padding
    z = as_complex(ops.token2wave(w, mask, segments=segments))
    expected = torch.zeros_like(z)
    for b in range(w.shape[0]):  # the paper's equations applied to each sentence on its own
        for s in (0, 1):
            keep = (segments[b] == s) & (mask[b] == 1)
            if keep.any():
                expected[b, keep] = reference_token2wave(w[b : b + 1, keep])[0]
    torch.testing.assert_close(masked(z, mask), masked(expected, mask), **TOL64)
    # a single text (every segment id 0) is the text-level Token2Wave
    single = as_complex(ops.token2wave(w, mask, segments=torch.zeros_like(mask)))
    torch.testing.assert_close(masked(single, mask), masked(as_complex(ops.token2wave(w, mask)), mask), **TOL64)


def test_sentence_level_global_semantics_keeps_each_sentence_to_itself():
    w, mask = random_case()
    segments = torch.zeros_like(mask)
    segments[0, 4:] = 1
    w2 = w.clone()
    w2[0, 4:] = torch.randn(3, w.shape[-1], dtype=w.dtype)  # change only the second sentence of text 0
    first = ops.token2wave(w, mask, segments=segments)[1][0, :4]
    assert torch.equal(first, ops.token2wave(w2, mask, segments=segments)[1][0, :4])
    # with text-level G the first sentence sees the change
    assert not torch.allclose(ops.token2wave(w, mask)[1][0, :4], ops.token2wave(w2, mask)[1][0, :4])


def _unfused_modulation(ab, mask, imag, hold, segments, first_only):
    D = ab.shape[-1] // 2
    za = ops.token2wave(ab[..., :D], mask, hold_global=hold, segments=segments)
    zb = ops.token2wave(ab[..., D:], mask, hold_global=hold, segments=segments)
    z = ops.modulation(za, zb)
    out = torch.cat(z, -1) if imag else z[0]
    return out[:, :1] if first_only else out


FUSED_CASES = [
    (imag, hold, seg, first)
    for imag in (False, True)
    for hold in (False, True)
    for seg in (False, True)
    for first in (False, True)
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_fused_modulation_matches_the_unfused_ops(compiled):
    """Values and gradients of ``wave_modulation`` (eager and through torch.compile) equal those of
    token2wave + modulation on the edge cases (padding, one-token text, all-zero dimension, dominant token), for
    every read-out, G held or not, text- or segment-level G, all positions or [CLS] only."""
    before = ops.compile_enabled()
    ops.set_compile(compiled)
    # Each flag combination compiles its own kernels (a few seconds each): the compiled run takes a covering subset.
    cases = (
        FUSED_CASES
        if not compiled
        else [(False, False, False, False), (True, False, False, True), (True, True, True, False)]
    )
    try:
        for imag, hold, seg, first in cases:
            w1, mask = special_inputs()
            ab = torch.cat((w1, torch.randn_like(w1) * 0.5 + 0.1), -1).requires_grad_(True)
            segments = None
            if seg:
                segments = torch.zeros_like(mask)
                segments[0, 3:] = 1
                segments[1, 2:4] = 1
            out = ops.wave_modulation(ab, mask, imag=imag, hold_global=hold, segments=segments, first_only=first)
            ref = _unfused_modulation(ab, mask, imag, hold, segments, first)
            upstream = torch.randn_like(ref)
            (grad,) = torch.autograd.grad((out * upstream).sum(), ab)
            (ref_grad,) = torch.autograd.grad((ref * upstream).sum(), ab)
            case = dict(imag=imag, hold=hold, segments=seg, first_only=first)
            torch.testing.assert_close(out, ref, **TOL64, msg=lambda m, c=case: f"{c}: {m}")
            torch.testing.assert_close(grad, ref_grad, **TOL64, msg=lambda m, c=case: f"{c}: {m}")
    finally:
        ops.set_compile(before)


@pytest.mark.parametrize("imag", [False, True])
def test_fused_modulation_gradcheck_float64(imag):
    w, mask = random_case(B=3, T=4, D=3, seed=7)
    ab = torch.cat((w, torch.randn_like(w)), -1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: ops.wave_modulation(x, mask, imag=imag), (ab,), eps=1e-6, atol=1e-5)


def test_fused_modulation_bf16_input_computes_in_fp32():
    """bf16 projections (autocast) are widened to fp32 for the wave math, G^2 included, and the result matches the
    unfused ops on the same bf16 values computed in fp32."""
    torch.manual_seed(0)
    ab = torch.randn(4, 9, 16).to(torch.bfloat16)
    mask = torch.ones(4, 9, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ops.wave_modulation(ab, mask, imag=True)
    assert out.dtype == torch.float32
    ref = _unfused_modulation(ab.float(), mask, True, False, None, False)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert ops.wave_modulation(ab, mask, imag=True, out_dtype=torch.bfloat16).dtype == torch.bfloat16


def test_fused_modulation_chunks_do_not_change_the_result(monkeypatch):
    w, mask = random_case(B=5, T=6, D=4, seed=3)
    ab = torch.cat((w, torch.randn_like(w)), -1).requires_grad_(True)
    whole = ops.wave_modulation(ab, mask, imag=True)
    (whole_grad,) = torch.autograd.grad(whole.sum(), ab)
    monkeypatch.setattr(ops, "_CHUNK_ELEMENTS", 1)  # one text per chunk
    chunked = ops.wave_modulation(ab, mask, imag=True)
    (chunked_grad,) = torch.autograd.grad(chunked.sum(), ab)
    torch.testing.assert_close(chunked, whole, **TOL64)
    torch.testing.assert_close(chunked_grad, whole_grad, **TOL64)


def _unfused_embed(ids, table, positions, keep, scale, padding_idx, sparse):
    """The reference: nn.Embedding's lookup and backward, the position sum and dropout as separate ops."""
    x = torch.nn.functional.embedding(ids, table, padding_idx=padding_idx, sparse=sparse)
    if positions is not None:
        x = x + positions
    return x * keep * scale if keep is not None else x


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_embed_tokens_matches_embedding_add_dropout(compiled, sparse):
    """``embed_tokens`` gives nn.Embedding + positions + dropout's values, and the same gradients for the table
    (dense or sparse, none for the padding row, repeated ids summed) and the positions; with dropout or without."""
    before = ops.compile_enabled()
    ops.set_compile(compiled)
    try:
        gen = torch.Generator().manual_seed(0)
        V, D, B, T, pad = 11, 6, 3, 5, 0
        ids = torch.randint(0, V, (B, T), generator=gen)
        ids[0, -2:] = pad
        ids[1, :] = 4  # one id repeated: its gradient rows add up
        for with_positions, with_keep in ((True, True), (True, False), (False, True)):
            table = torch.randn(V, D, dtype=torch.float64, generator=gen).requires_grad_(True)
            positions = torch.randn(T, D, dtype=torch.float64, generator=gen).requires_grad_(True)
            pos = positions if with_positions else None
            keep = torch.rand(B, T, D, generator=gen) > 0.3 if with_keep else None
            scale = 1 / 0.7 if with_keep else 1.0
            out = ops.embed_tokens(ids, table, pos, keep, scale, padding_idx=pad, sparse=sparse)
            ref = _unfused_embed(ids, table, pos, keep, scale, pad, sparse)
            upstream = torch.randn(B, T, D, dtype=torch.float64, generator=gen)
            inputs = (table, positions) if with_positions else (table,)
            grads = torch.autograd.grad((out * upstream).sum(), inputs)
            ref_grads = torch.autograd.grad((ref * upstream).sum(), inputs)
            torch.testing.assert_close(out, ref, **TOL64)
            assert grads[0].is_sparse == sparse
            for got, want in zip(grads, ref_grads, strict=True):
                got = got.to_dense() if got.is_sparse else got
                want = want.to_dense() if want.is_sparse else want
                torch.testing.assert_close(got, want, **TOL64)
            assert torch.all(grads[0].to_dense()[pad] == 0)
    finally:
        ops.set_compile(before)


def test_traceable_kernels_are_plain_ops_with_the_same_values():
    """Inside ``ops.traceable`` (what the ONNX export records) the fused kernels leave their autograd Functions and
    batch chunks and run as plain tensor operations, with the values of the fused path for every read-out, G
    held or not, text- or segment-level G and [CLS] only; exports detect ``torch.export`` tracing by themselves."""
    before = ops.compile_enabled()
    ops.set_compile(False)  # the compiled kernels' values are checked against the eager ones above
    try:
        w, mask = special_inputs()
        ab = torch.cat((w, torch.randn_like(w) * 0.5 + 0.1), -1).requires_grad_(True)
        segments = torch.zeros_like(mask)
        segments[0, 3:] = 1
        for imag, hold, seg, first in FUSED_CASES:
            settings = dict(imag=imag, hold_global=hold, segments=segments if seg else None, first_only=first)
            fused = ops.wave_modulation(ab, mask, **settings)
            with ops.traceable():
                plain = ops.wave_modulation(ab, mask, **settings)
            assert type(fused.grad_fn).__name__ == "_WaveModulationBackward"
            assert "WaveModulation" not in type(plain.grad_fn).__name__
            torch.testing.assert_close(plain, fused, **TOL64)
        table, ids = torch.randn(11, 6, dtype=torch.float64).requires_grad_(True), torch.randint(0, 11, (3, 5))
        fused = ops.embed_tokens(ids, table, table[:5], padding_idx=0)
        with ops.traceable():
            plain = ops.embed_tokens(ids, table, table[:5], padding_idx=0)
        assert type(fused.grad_fn).__name__ == "_EmbedTokensBackward"
        assert "EmbedTokens" not in type(plain.grad_fn).__name__
        torch.testing.assert_close(plain, fused, rtol=0, atol=0)
        assert not ops._plain_kernels()  # the context ends with its block
    finally:
        ops.set_compile(before)


def test_embed_tokens_bf16_output_rounds_once_and_keeps_fp32_gradients():
    """With ``out_dtype=bf16`` the result is the fp32 sum rounded once (what autocast's cast of it gave), and the
    table's gradient is summed in fp32 from a bf16 upstream gradient (no 16-bit accumulation over repeats)."""
    gen = torch.Generator().manual_seed(1)
    table = torch.randn(7, 8, generator=gen).requires_grad_(True)
    positions = torch.randn(4, 8, generator=gen)
    ids = torch.full((64, 4), 3)  # 256 occurrences of one id
    keep = torch.rand(64, 4, 8, generator=gen) > 0.1
    out = ops.embed_tokens(ids, table, positions, keep, 1 / 0.9, out_dtype=torch.bfloat16)
    assert out.dtype == torch.bfloat16
    ref = ((table.detach()[ids] + positions) * keep * (1 / 0.9)).to(torch.bfloat16)
    assert torch.equal(out, ref)
    upstream = torch.randn(64, 4, 8, generator=gen).to(torch.bfloat16)
    (grad,) = torch.autograd.grad(out, table, upstream)
    assert grad.dtype == torch.float32
    want = (upstream.double() * keep * (1 / 0.9)).sum((0, 1))
    torch.testing.assert_close(grad[3].double(), want, rtol=1e-6, atol=1e-6)


def test_compiled_kernels_are_not_dropped_to_eager_after_eight_versions(monkeypatch):
    """dynamo runs a function eagerly once it has compiled 8 versions of it (dtypes, optional inputs, flags), so a
    run's numerics would depend on what the process ran before; the kernels are called with a higher limit."""
    import torch._dynamo

    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    seen = []
    monkeypatch.setattr(ops, "_COMPILED", {"embed_forward": lambda *args: seen.append(getattr(config, name))})
    monkeypatch.setitem(ops._COMPILE, "enabled", True)
    monkeypatch.setitem(ops._COMPILE, "failed", None)
    ops._kernel("embed_forward")()
    assert seen == [ops._RECOMPILE_LIMIT] and ops._RECOMPILE_LIMIT >= 64
    assert getattr(config, name) != ops._RECOMPILE_LIMIT  # only while a kernel runs
