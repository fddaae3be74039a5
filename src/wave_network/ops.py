"""Wave operations of the Wave Network (arXiv 2411.02674, section 3), as pure functions on real tensors.

Shapes: B batch, T tokens, D width. A complex tensor is carried as a pair ``(re, im)`` of real tensors of the same
shape, so everything here runs under bf16 autocast and exports to ONNX (no complex dtype).

Closed form (see ``docs/math.md``): with the global semantics G_k = sqrt(sum_j w_jk^2) and the phase
alpha_jk = atan2(sqrt(1 - (w_jk/G_k)^2), w_jk/G_k) of the paper, cos(alpha) = w/G and sin(alpha) >= 0, hence

    Z_jk = G_k exp(i alpha_jk) = w_jk + i sqrt(G_k^2 - w_jk^2).

The phase therefore lies in [0, pi] (the paper says (-pi, pi]); no atan2, exp or complex number is needed.

Numerical safety. ``G_k^2 - w_jk^2`` is zero when token j holds all of dimension k's energy (always for a one-token
text) and the derivative of sqrt is infinite at zero. Below a threshold ``eps * G_k^2`` the difference is rounding
noise, so the square root is set to exactly zero there with a zero gradient ("double where"); above it the exact
value and gradient are used, bounded by 1 / (2 sqrt(eps) G_k). An all-zero dimension (G_k = 0) gives Z = 0, the limit
of G exp(i alpha) as G -> 0 whatever the phase.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ComplexPair",
    "global_semantics",
    "global_semantics_sq",
    "token2wave",
    "interference",
    "modulation",
    "modulation_real",
    "magnitude",
    "masked_mean",
    "wave_modulation",
    "embed_tokens",
    "set_compile",
    "compile_enabled",
    "traceable",
    "DEFAULT_EPS",
]

ComplexPair = tuple[Tensor, Tensor]

# Relative threshold below which G^2 - w^2 is treated as zero. fp32 rounding noise in G^2 - w^2 is ~1e-7 G^2, so
# anything below 1e-6 G^2 carries no information, and the gradient of the square root stays under 500 / G.
DEFAULT_EPS = 1e-6


def _safe_sqrt(x: Tensor, threshold: Tensor | float) -> Tensor:
    """sqrt(x) where x > threshold, exactly 0 elsewhere, with a finite gradient everywhere.

    ``threshold`` must be > 0 wherever x can be 0, so the clamped square root never sees 0 and its gradient stays
    finite; the comparison then zeroes both the value and the gradient below the threshold.
    """
    return torch.where(x > threshold, x.clamp(min=threshold).sqrt(), 0.0)


def _compute_dtype(x: Tensor) -> torch.dtype:
    # Sums of squares lose too much in 16-bit floats; the wave math is elementwise and cheap, so run it in fp32.
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def global_semantics_sq(
    w: Tensor, attention_mask: Tensor | None = None, w_sq: Tensor | None = None, segments: Tensor | None = None
) -> Tensor:
    """Squared global semantics G^2 per text and dimension (paper Eq. 1): the sum of squares over real tokens.

    ``w`` is (B, T, D); ``attention_mask`` (B, T) with 1 for real tokens and 0 for padding. Padding is excluded
    here, after every bias has been added to ``w``, so the result does not depend on how much padding a batch has.
    ``w_sq`` may pass a precomputed ``w * w``. Returns (B, 1, D).

    ``segments`` (B, T) ids (the segment ids of a sentence pair) give sentence-level global semantics (paper
    Figure 6(a)): each token gets the G of its own segment, summed over the real tokens of that segment only.
    Returns (B, T, D) then.
    """
    w_sq = w * w if w_sq is None else w_sq  # (B, T, D)
    mask = torch.ones(w.shape[:2], device=w.device) if attention_mask is None else attention_mask
    if segments is None:
        if attention_mask is None:
            return w_sq.sum(dim=-2, keepdim=True)  # (B, 1, D)
        return torch.bmm(mask.unsqueeze(1).to(w_sq.dtype), w_sq)  # (B, 1, D)
    g_sq = torch.zeros_like(w_sq)  # (B, T, D)
    for segment in range(int(segments.max()) + 1 if segments.numel() else 0):
        member = (segments == segment).to(w_sq.dtype)  # (B, T)
        per_segment = torch.bmm((member * mask.to(w_sq.dtype)).unsqueeze(1), w_sq)  # (B, 1, D)
        g_sq = g_sq + member.unsqueeze(-1) * per_segment  # (B, T, D)
    return g_sq


def local_semantics_sq(w_sq: Tensor, attention_mask: Tensor | None, radius: int) -> Tensor:
    """Local global semantics G_t^2 per token and dimension: the sum of squares over the real tokens within
    ``radius`` positions of t (t - radius ... t + radius), an order-aware variant of paper Eq. 1 (beyond the paper;
    issue 20's order-aware mixing). ``w_sq`` is (B, T, D) squares; returns (B, T, D). A windowed sum, computed by
    average pooling times the window (no prefix-sum cancellation); padding contributes nothing."""
    if attention_mask is not None:
        w_sq = w_sq * attention_mask.unsqueeze(-1).to(w_sq.dtype)  # (B, T, D)
    width = 2 * radius + 1
    pooled = torch.nn.functional.avg_pool1d(
        w_sq.transpose(1, 2), kernel_size=width, stride=1, padding=radius, count_include_pad=True
    )  # (B, D, T)
    return pooled.transpose(1, 2) * width  # (B, T, D)


def token2wave(
    w: Tensor,
    attention_mask: Tensor | None = None,
    eps: float = DEFAULT_EPS,
    hold_global: bool = False,
    segments: Tensor | None = None,
    local_radius: int | None = None,
) -> ComplexPair:
    """Token2Wave (paper section 3.1): the complex token Z = G exp(i alpha) in closed form, as (Re, Im).

    Re Z = w, Im Z = sqrt(G^2 - w^2) with G taken over the real tokens of each text. Both parts are (B, T, D) in
    fp32 (or the input dtype when that is fp32/fp64). Values at padded positions are defined but meaningless; the
    caller keeps them out of anything that mixes tokens.

    ``hold_global=True`` gives the same values but treats G as a constant in the backward pass, so the gradient
    reaching ``w`` is the part that flows through each token's own phase (used by the gradient analysis of the
    follow-up paper, arXiv 2411.06989, to split gradients into magnitude and phase paths). ``segments`` takes G
    per segment of a sentence pair (see ``global_semantics_sq``); ``local_radius`` takes it over each token's
    window of neighbours (``local_semantics_sq``), so the phase depends on word order.
    """
    w = w.to(_compute_dtype(w))
    w_sq = w * w  # (B, T, D)
    if local_radius is not None:
        g_sq = local_semantics_sq(w_sq, attention_mask, local_radius)  # (B, T, D)
    else:
        g_sq = global_semantics_sq(w, attention_mask, w_sq, segments)  # (B, 1, D), or (B, T, D) per segment
    if hold_global:
        g_sq = g_sq.detach()
    # A threshold, not a value: no gradient flows through it (saves a reduction over T in the backward pass).
    threshold = (eps * g_sq + torch.finfo(w.dtype).tiny).detach()  # like g_sq; > 0 even for an all-zero dimension
    im = _safe_sqrt(g_sq - w_sq, threshold)  # (B, T, D)
    return w, im


def global_semantics(w: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """Global semantics G (paper Eq. 1), (B, 1, D), with a finite gradient for all-zero dimensions."""
    g_sq = global_semantics_sq(w.to(_compute_dtype(w)), attention_mask)
    return _safe_sqrt(g_sq, torch.finfo(g_sq.dtype).tiny)


def interference(z1: ComplexPair, z2: ComplexPair) -> ComplexPair:
    """Wave interference (paper section 3.2): Z + Z' = (w + w') + i (s + s')."""
    return z1[0] + z2[0], z1[1] + z2[1]


def modulation(z1: ComplexPair, z2: ComplexPair) -> ComplexPair:
    """Wave modulation (paper section 3.2): Z * Z' = G G' exp(i (alpha + alpha')).

    In closed form Re = w w' - s s' and Im = w s' + w' s. Its magnitude G G' is the same for every token of a text.
    """
    (a, b), (c, d) = z1, z2
    return a * c - b * d, a * d + b * c


def modulation_real(z1: ComplexPair, z2: ComplexPair) -> Tensor:
    """Re(Z * Z') = w w' - s s' alone, for the real-part read-out (skips computing the imaginary part)."""
    return z1[0] * z2[0] - z1[1] * z2[1]


def magnitude(z: ComplexPair) -> Tensor:
    """|Z| = sqrt(Re^2 + Im^2), with a finite gradient where Z = 0."""
    sq = z[0].pow(2) + z[1].pow(2)
    return _safe_sqrt(sq, torch.finfo(sq.dtype).tiny)


def masked_mean(x: Tensor, attention_mask: Tensor | None) -> Tensor:
    """Mean over real tokens: (B, T, D) -> (B, D). Padded positions never contribute, whatever their values."""
    if attention_mask is None:
        return x.mean(dim=1)
    m = attention_mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)  # (B, D)


# Elements of one chunk of the fused modulation (about 8 MB in fp32): small enough that a chunk's temporaries stay
# in cache and never reach the size (32 MB) above which glibc maps fresh, page-faulting memory for every tensor.
_CHUNK_ELEMENTS = 1 << 21


# WAVE_NETWORK_COMPILE=0 runs the kernels eagerly from the start (a machine without a C++ compiler, a short-lived
# process for which compiling costs more than it saves); set_compile changes it at run time.
def env_allows_compile() -> bool:
    """``False`` when the environment variable WAVE_NETWORK_COMPILE is 0 (false, no, off): then no run compiles,
    whatever its config says."""
    return os.environ.get("WAVE_NETWORK_COMPILE", "1").strip().lower() not in ("0", "false", "no", "off")


_COMPILE = {"enabled": env_allows_compile(), "failed": None}


def set_compile(enabled: bool) -> None:
    """Run the fused wave kernels through ``torch.compile`` (default; one fused loop instead of a dozen tensor
    passes, about 7x faster on a CPU) or eagerly. Compilation needs a C++ compiler on CPU and Triton on CUDA;
    where it fails, the kernels fall back to eager mode with one warning, with the same results."""
    _COMPILE["enabled"] = bool(enabled)


def compile_enabled() -> bool:
    """Whether the fused wave kernels are compiled (``set_compile``, and compilation has not failed here)."""
    return _COMPILE["enabled"] and _COMPILE["failed"] is None


_TRACEABLE = {"depth": 0}


@contextmanager
def traceable() -> Iterator[None]:
    """Within it the fused kernels (``wave_modulation``, ``embed_tokens``) run as the plain tensor operations
    they are built from, for a tracer such as ``torch.onnx.export``: the custom autograd Functions, their
    ``torch.compile`` and the Python loop over batch chunks are skipped, since a tracer would either not see
    through them or record the export batch's chunk count (so a fixed batch size) into the graph. The same values
    (the same formula functions run, on the whole batch at once). Meant for forward passes: gradients, if any,
    are plain autograd's, without the memory saving and without ``embed_tokens``' padding-row and sparse
    handling. ``torch.export``-based tracing and ``torch.jit.trace`` are detected without it."""
    _TRACEABLE["depth"] += 1
    try:
        yield
    finally:
        _TRACEABLE["depth"] -= 1


def _plain_kernels() -> bool:
    """Whether the fused kernels run as plain tensor operations (``traceable``)."""
    return _TRACEABLE["depth"] > 0 or torch.compiler.is_exporting() or torch.jit.is_tracing()


def _without_autocast(device: torch.device):
    """The kernels' fp32 math is specified without autocast; no context at all when autocast is off, so a tracer
    records no autocast region."""
    enabled = torch.is_autocast_enabled(device.type)
    return torch.autocast(device.type, enabled=False) if enabled else nullcontext()


def _segment_matrix(segments: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """(B, K, T) one-hot of each token's segment (K = number of segments), or ``None`` for one segment."""
    if segments is None:
        return None
    k = int(segments.max()) + 1 if segments.numel() else 1
    return torch.nn.functional.one_hot(segments.long(), k).to(dtype).transpose(1, 2)  # (B, K, T)


def _sum_over_tokens(x: Tensor, mask: Tensor | None, members: Tensor | None) -> Tensor:
    """Sum of ``x`` (b, T, E) over the real tokens of each text (b, 1, E), or of each segment (b, K, E)."""
    if members is not None:
        weights = members * mask.unsqueeze(1) if mask is not None else members  # (b, K, T)
        return torch.bmm(weights, x)  # (b, K, E)
    if mask is not None:
        x = x * mask.unsqueeze(-1)
    return x.sum(dim=1, keepdim=True)  # (b, 1, E)


def _per_token(g: Tensor, members: Tensor | None, positions: int) -> Tensor:
    """Per-text (b, 1, E) or per-segment (b, K, E) values given to the first ``positions`` tokens."""
    if members is None:
        return g  # (b, 1, E), broadcasts
    return torch.bmm(members[:, :, :positions].transpose(1, 2), g)  # (b, P, E)


def _roots(w: Tensor, w_sq: Tensor, g_sq: Tensor, members: Tensor | None, eps: float) -> tuple[Tensor, ...]:
    """s = sqrt(G^2 - w^2) as in ``token2wave`` (0 below the threshold), the clamped root and where it is valid."""
    g2 = _per_token(g_sq, members, w.shape[1])  # (b, 1 or P, E)
    threshold = eps * g2 + torch.finfo(w.dtype).tiny
    diff = g2 - w_sq  # (b, P, E)
    ok = diff > threshold
    root = diff.clamp(min=threshold).sqrt()  # (b, P, E), > 0
    return torch.where(ok, root, 0.0), root, ok


def _modulation_forward(ab, mask, members, eps: float, imag: bool, positions: int, out_dtype: torch.dtype):
    """One chunk of ``wave_modulation``: ``ab`` (b, T, 2D) -> Re (b, P, D), Im (b, P, D) or ``None``, and G^2
    (b, K, 2D)."""
    D = ab.shape[-1] // 2
    full = ab.to(_compute_dtype(ab))  # (b, T, 2D)
    sq = full * full
    g_sq = _sum_over_tokens(sq, mask, members)  # (b, K, 2D)
    w = full[:, :positions]  # (b, P, 2D) = [a, b]
    s, _, _ = _roots(w, sq[:, :positions], g_sq, members, eps)  # (b, P, 2D) = [s_a, s_b]
    a, b, s_a, s_b = w[..., :D], w[..., D:], s[..., :D], s[..., D:]
    re = (a * b - s_a * s_b).to(out_dtype)  # (b, P, D)
    im = (a * s_b + b * s_a).to(out_dtype) if imag else None
    return re, im, g_sq


def _modulation_backward(ab, mask, members, g_sq, grad_out, eps: float, imag: bool, hold: bool, positions: int):
    """One chunk of the backward pass of ``wave_modulation`` (see ``_WaveModulation``): the gradients of both
    halves of ``ab``, each (b, T, D). Written per half, without concatenations, which compile to slow loops."""
    D = ab.shape[-1] // 2
    dtype = g_sq.dtype
    full = ab.to(dtype)  # (b, T, 2D)
    w = full[:, :positions]  # (b, P, 2D) = [a, b]
    s, root, ok = _roots(w, w * w, g_sq, members, eps)
    g_re = grad_out[..., :D].to(dtype)  # (b, P, D)
    g_im = grad_out[..., D:].to(dtype) if imag else None
    grads = []
    for x, y, s_y, root_x, ok_x, x_full in (
        (w[..., :D], w[..., D:], s[..., D:], root[..., :D], ok[..., :D], full[..., :D]),
        (w[..., D:], w[..., :D], s[..., :D], root[..., D:], ok[..., D:], full[..., D:]),
    ):
        direct = g_re * y  # (b, P, D)
        h = -g_re * s_y  # dL/ds_x
        if imag:
            direct = direct + g_im * s_y
            h = h + g_im * y
        p = torch.where(ok_x, h / root_x, 0.0)  # (b, P, D); 0 where the root is clamped to 0
        grad = direct - x * p  # (b, P, D)
        if hold:  # G held constant: no path through G^2
            through_g = torch.zeros_like(x_full)
        else:  # the path through G^2 = sum_j m_j x_j^2 reaches every real token of the text (or segment)
            if members is None:
                back = p.sum(dim=1, keepdim=True)  # (b, 1, D)
            else:
                back = torch.bmm(members.transpose(1, 2), torch.bmm(members[:, :, :positions], p))  # (b, T, D)
            through_g = x_full * back if mask is None else x_full * back * mask.unsqueeze(-1)  # (b, T, D)
        if positions == full.shape[1]:
            grads.append((grad + through_g).to(ab.dtype))
        else:
            grads.append(torch.cat((grad + through_g[:, :positions], through_g[:, positions:]), dim=1).to(ab.dtype))
    return grads[0], grads[1]


def _embed_forward(ids, table, positions, keep, scale: float, out_dtype: torch.dtype):
    """Token rows plus positions, dropped out, in ``out_dtype``: (B, T) ids -> (B, T, D), one pass."""
    x = torch.nn.functional.embedding(ids, table)  # (B, T, D)
    if positions is not None:
        x = x + positions  # (T, D) broadcast over the batch
    if keep is not None:
        x = x * keep * scale
    return x.to(out_dtype)


def _embed_backward(grad, ids, keep, scale: float, with_positions: bool, dtype: torch.dtype):
    """The gradient of every (B, T) position in ``dtype`` (fp32 or wider), dropout applied, and its sum over the
    batch (the positions')."""
    g = grad.to(dtype)
    if keep is not None:
        g = g * keep * scale
    return g, (g.sum(0) if with_positions else None)


_COMPILED: dict[str, Any] = {}
# Each kernel compiles once per combination of dtypes, optional inputs and flags (read-out, held G, [CLS] only, ...).
# Past dynamo's default of 8 such versions per function it would run the kernel eagerly from then on, silently, so
# the results of a run would depend on what the process ran before (a notebook that tried several presets, a test
# suite): seen as runs that were bit-identical alone and not after other runs in the same process.
_RECOMPILE_LIMIT = 256


def _masked_token_loss(hidden, dense_w, dense_b, norm_w, norm_b, eps: float, decoder_w, decoder_b, targets):
    """Mean cross-entropy of the masked-token head (linear, GELU, LayerNorm, linear to the vocabulary) on the
    hidden vectors (N, D) of the N masked tokens against their ids (N,). Compiled, the (N, V) logits are cast,
    normalised and differentiated in fused loops instead of five full passes (2.2x faster at N = 1,379,
    V = 30,522 on a 2-core CPU under bf16 autocast)."""
    x = F.gelu(F.linear(hidden, dense_w, dense_b))  # (N, D)
    x = F.layer_norm(x, (x.shape[-1],), norm_w, norm_b, eps)
    logits = F.linear(x, decoder_w, decoder_b)  # (N, V)
    return F.cross_entropy(logits.float(), targets)


def masked_token_loss(hidden: Tensor, transform: nn.Sequential, decoder: nn.Linear, targets: Tensor) -> Tensor:
    """``_masked_token_loss`` with the weights of ``transform`` (Linear, GELU, LayerNorm) and ``decoder``; compiled
    when ``compile_enabled()`` (autograd through the compiled graph), plain tensor operations otherwise."""
    dense, _, norm = transform
    args = (hidden, dense.weight, dense.bias, norm.weight, norm.bias, norm.eps, decoder.weight, decoder.bias, targets)
    return (_masked_token_loss if _plain_kernels() else _kernel("masked_token_loss"))(*args)


def _kernel(name: str):
    """The function ``name``, compiled when ``compile_enabled()``."""
    plain = {
        "forward": _modulation_forward,
        "backward": _modulation_backward,
        "embed_forward": _embed_forward,
        "embed_backward": _embed_backward,
        "masked_token_loss": _masked_token_loss,
    }[name]
    if not compile_enabled():
        return plain
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(plain, dynamic=True)
    compiled = _COMPILED[name]

    config = torch._dynamo.config
    limit = {"recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit": _RECOMPILE_LIMIT}

    def run(*args):
        try:
            with config.patch(**limit):
                return compiled(*args)
        except Exception as error:  # no C++ compiler, no Triton, an unsupported platform: run eagerly
            _COMPILE["failed"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
            warnings.warn(
                f"torch.compile of the fused wave kernels failed ({_COMPILE['failed']}); running them eagerly "
                "(same results, slower). wave_network.ops.set_compile(False) skips the attempt.",
                stacklevel=2,
            )
            return plain(*args)

    return run


class _WaveModulation(torch.autograd.Function):
    """Token2Wave of two variants and their modulation in one pass that saves only its input.

    ``token2wave`` + ``modulation`` through autograd keep about ten (B, T, D) fp32 tensors per layer for the
    backward pass (the squares, G^2 - w^2, the clamped root, its mask, the products) and run a dozen separate
    passes over them. This function saves the projections ``ab`` (B, T, 2D) in their own dtype (bf16 under
    autocast) and G^2 of each variant (B, K, 2D), recomputes the rest in the backward pass, and runs each pass
    chunk by chunk over the batch, compiled into fused loops by ``torch.compile`` (``set_compile``). Same values
    and gradients as the unfused ops (``tests/test_ops.py`` checks both, and gradcheck in float64).

    Backward, for one variant a (the other is symmetric), with s = sqrt(G^2 - a^2) where it passes the threshold
    and the upstream gradients g_re, g_im of Re = a b - s_a s_b and Im = a s_b + b s_a:
        h = dL/ds_a = g_im b - g_re s_b,     p = h / s_a (0 where s_a is clamped to 0),
        dL/da_t = g_re b_t + g_im s_b,t - a_t p_t + m_t a_t sum_{j in t's segment} p_j,
    the last term being the path through G^2 = sum_j m_j a_j^2 (dropped when G is held constant).
    """

    @staticmethod
    def forward(ctx, ab, mask, members, eps, imag, hold, first_only, out_dtype):  # noqa: ANN001
        B, T, D2 = ab.shape
        positions = 1 if first_only else T
        out = torch.empty(B, positions, D2 if imag else D2 // 2, dtype=out_dtype, device=ab.device)
        g_sq = torch.empty(
            B, 1 if members is None else members.shape[1], D2, dtype=_compute_dtype(ab), device=ab.device
        )
        kernel = _kernel("forward")
        # Autocast would run the sums of squares in bf16; the wave math is specified in fp32 (module docstring).
        with torch.autocast(ab.device.type, enabled=False):
            for c in _chunks(B, T * D2):
                re, im, g_sq[c] = kernel(ab[c], _rows(mask, c), _rows(members, c), eps, imag, positions, out_dtype)
                out[c, :, : D2 // 2] = re
                if imag:
                    out[c, :, D2 // 2 :] = im
        ctx.save_for_backward(ab, mask, members, g_sq)
        ctx.settings = (eps, imag, hold, positions)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        ab, mask, members, g_sq = ctx.saved_tensors
        eps, imag, hold, positions = ctx.settings
        grad_ab = torch.empty_like(ab)
        D = ab.shape[-1] // 2
        kernel = _kernel("backward")
        with torch.autocast(ab.device.type, enabled=False):
            for c in _chunks(ab.shape[0], ab.shape[1] * ab.shape[2]):
                grad_ab[c, :, :D], grad_ab[c, :, D:] = kernel(
                    ab[c], _rows(mask, c), _rows(members, c), g_sq[c], grad_out[c], eps, imag, hold, positions
                )
        return grad_ab, None, None, None, None, None, None, None


class _EmbedTokens(torch.autograd.Function):
    """``embed_tokens``: the gather, the position sum, dropout and the cast to the consumer's dtype in one fused pass
    that saves only the ids and the boolean keep mask; the backward pass gives the table's gradient in fp32 (dense,
    or sparse as ``nn.Embedding(sparse=True)`` gives it), never accumulated in 16 bits."""

    @staticmethod
    def forward(ctx, ids, table, positions, keep, scale, out_dtype, padding_idx, sparse):  # noqa: ANN001
        if keep is not None and keep.dtype == torch.bool:
            # The same bytes as uint8: inductor vectorises a uint8 multiplier, not a bool one (63 -> 22 ms for the
            # position sum, dropout and cast of a 64 x 512 x 768 batch on one thread).
            keep = keep.view(torch.uint8)
        with torch.autocast(ids.device.type, enabled=False):
            out = _kernel("embed_forward")(ids, table, positions, keep, scale, out_dtype)
        ctx.save_for_backward(ids, keep)
        ctx.settings = (scale, padding_idx, sparse, table.shape, table.dtype, positions is not None)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001
        ids, keep = ctx.saved_tensors
        scale, padding_idx, sparse, shape, dtype, with_positions = ctx.settings
        with torch.autocast(ids.device.type, enabled=False):
            compute = torch.promote_types(dtype, torch.float32)
            g, grad_positions = _kernel("embed_backward")(grad_out, ids, keep, scale, with_positions, compute)
        flat_ids, rows = ids.reshape(-1), g.reshape(-1, shape[1]).to(dtype)  # (B*T,), (B*T, D)
        grad_table = None
        if ctx.needs_input_grad[1] and sparse:
            if padding_idx is not None:  # nn.Embedding's padding row gets no gradient
                real = flat_ids != padding_idx
                flat_ids, rows = flat_ids[real], rows[real]
            grad_table = torch.sparse_coo_tensor(flat_ids.unsqueeze(0), rows, shape, check_invariants=False)
        elif ctx.needs_input_grad[1]:
            grad_table = torch.zeros(shape, dtype=dtype, device=ids.device).index_add_(0, flat_ids, rows)
            if padding_idx is not None:
                grad_table[padding_idx] = 0
        if grad_positions is not None and not ctx.needs_input_grad[2]:
            grad_positions = None
        return None, grad_table, grad_positions, None, None, None, None, None


def embed_tokens(
    input_ids: Tensor,
    table: Tensor,
    positions: Tensor | None = None,
    keep: Tensor | None = None,
    scale: float = 1.0,
    *,
    out_dtype: torch.dtype | None = None,
    padding_idx: int | None = None,
    sparse: bool = False,
) -> Tensor:
    """``(table[input_ids] + positions) * keep * scale``, cast to ``out_dtype``, as one fused pass (paper section
    4a's embeddings: token lookup plus positional encoding, then dropout).

    ``input_ids`` (B, T); ``table`` (V, D), the token embedding weight; ``positions`` (T, D) or ``None``; ``keep``
    (B, T, D) boolean dropout mask with ``scale`` = 1 / (1 - rate), or ``None`` (no dropout). ``out_dtype``
    (default: the table's): bf16 hands a bf16 linear layer its input without a separate fp32 tensor and cast.
    ``padding_idx`` and ``sparse`` as in ``nn.Embedding``. The same values and gradients as the unfused
    ``nn.Embedding`` + add + dropout (``tests/test_ops.py``); the table's gradient is summed in fp32.
    """
    dtype = out_dtype or table.dtype
    if _plain_kernels():
        with _without_autocast(input_ids.device):
            return _embed_forward(input_ids, table, positions, keep, scale, dtype)
    return _EmbedTokens.apply(input_ids, table, positions, keep, scale, dtype, padding_idx, sparse)


def _chunks(rows: int, row_elements: int) -> list[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(1, row_elements))
    return [slice(start, start + step) for start in range(0, rows, step)]


def _rows(x: Tensor | None, c: slice) -> Tensor | None:
    return None if x is None else x[c]


def wave_modulation(
    ab: Tensor,
    attention_mask: Tensor | None = None,
    eps: float = DEFAULT_EPS,
    *,
    imag: bool = False,
    hold_global: bool = False,
    segments: Tensor | None = None,
    first_only: bool = False,
    out_dtype: torch.dtype | None = None,
) -> Tensor:
    """Token2Wave of both variants and their modulation, fused (paper sections 3.1-3.2).

    ``ab`` (B, T, 2D) holds the two variants side by side: w = ab[..., :D], w' = ab[..., D:] (one GEMM makes
    both). Returns Re(Z Z') = w w' - s s' (B, T, D), or with ``imag`` [Re, Im] (B, T, 2D), Im = w s' + w' s. The
    same values and gradients as ``modulation(token2wave(w), token2wave(w'))``, in a fraction of the memory and
    time (see ``_WaveModulation``). ``hold_global`` and ``segments`` are as in ``token2wave``. ``first_only``
    returns only position 0 (B, 1, ...), with G still taken over every real token: what a [CLS] read-out needs.
    ``out_dtype``: the result's dtype (default: the compute dtype, fp32 for 16-bit inputs).
    """
    dtype = _compute_dtype(ab)
    mask = attention_mask.to(dtype) if attention_mask is not None else None
    members = _segment_matrix(segments, dtype)
    if _plain_kernels():  # what _WaveModulation.forward computes, on the whole batch at once
        with _without_autocast(ab.device):
            positions = 1 if first_only else ab.shape[1]
            re, im, _ = _modulation_forward(ab, mask, members, eps, imag, positions, out_dtype or dtype)
        return re if im is None else torch.cat((re, im), dim=-1)  # (B, T or 1, D or 2D)
    return _WaveModulation.apply(ab, mask, members, eps, imag, hold_global, first_only, out_dtype or dtype)
