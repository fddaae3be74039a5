"""Complexity analysis of the follow-up paper (arXiv 2411.06989): measured time and peak memory of one layer's
forward + backward pass as the sequence length and the width grow, against the predicted orders.

The paper states O(n d^2) time per wave layer against O(n^2 d + n d^2) per attention layer, and that a wave layer
keeps no n x n attention map in memory. Three layers are measured with the same width D, the same feed-forward
(4 D, as in BERT) and post-LayerNorm, so they differ only in token mixing:

* ``wave``: ``WaveBlock`` in the paper's Eq. 8 form (modulation, residual), mixing cost O(n d^2);
* ``attention``: a BERT encoder layer (``transformers.BertLayer``, D/64 heads), O(n^2 d + n d^2); by default the
  eager implementation, which stores the n x n attention probabilities as BERT does (``attention="sdpa"`` uses
  PyTorch's fused kernel instead, which does not);
* ``fnet``: an FNet encoder layer (``transformers.FNetLayer``), O(n d log n + n d^2).

Each point runs in a fresh process, so its peak memory is its own: on CUDA the peak allocated bytes
(``torch.cuda.max_memory_allocated``) above what was allocated before the pass; on CPU the growth of the process's
peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) over the resident set before the pass. Both
are also compared with ``saved_mb``, the bytes autograd saves for the backward pass (counted by
``torch.autograd.graph.saved_tensors_hooks``, device independent). Time is the median of repeated passes after one
warm-up pass, in fp32. Slopes are least-squares fits of log(value) on log(n) (or log(D)) over the long end of
the range (the points at or above a quarter of the largest), where the leading term dominates.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "LAYER_KINDS",
    "PREDICTED",
    "ComplexityConfig",
    "build_layer",
    "fit_slope",
    "measure_point",
    "run_complexity",
]

LAYER_KINDS = ("wave", "attention", "fnet")
# Predicted exponents of time in n (at fixed D, for large n) and in D (at fixed n, for large D).
PREDICTED = {
    "length": {"wave": 1.0, "attention": 2.0, "fnet": 1.0},
    "width": {"wave": 2.0, "attention": 2.0, "fnet": 2.0},
}


@dataclass
class ComplexityConfig:
    """One complexity sweep.

    Args:
        kinds: layer kinds to measure (``LAYER_KINDS``).
        lengths: sequence lengths of the length sweep, at width ``width``.
        widths: widths of the width sweep, at length ``width_sweep_length``.
        width: D of the length sweep (768, the paper's).
        width_sweep_length: n of the width sweep.
        batch_size: texts per pass.
        attention: ``"eager"`` (materialises the n x n map, as BERT) or ``"sdpa"`` (fused kernel).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        num_threads: CPU threads (``None``: torch's default).
        min_repeats, min_seconds: time at least this many passes and at least this long (after a warm-up pass).
        seed: weight initialisation and inputs.
    """

    kinds: list[str] = field(default_factory=lambda: list(LAYER_KINDS))
    lengths: list[int] = field(default_factory=lambda: [64, 128, 256, 512, 1024, 2048, 4096])
    widths: list[int] = field(default_factory=lambda: [128, 256, 512, 1024, 2048])
    width: int = 768
    width_sweep_length: int = 512
    batch_size: int = 1
    attention: str = "eager"
    device: str = "auto"
    num_threads: int | None = None
    min_repeats: int = 3
    min_seconds: float = 1.0
    seed: int = 0

    def __post_init__(self):
        unknown = [k for k in self.kinds if k not in LAYER_KINDS]
        if unknown:
            raise ValueError(f"ComplexityConfig.kinds: unknown {unknown}; choose from {list(LAYER_KINDS)}")
        if self.attention not in ("eager", "sdpa"):
            raise ValueError(f"ComplexityConfig.attention must be 'eager' or 'sdpa', got {self.attention!r}")
        if any(n < 2 for n in self.lengths) or any(d < 64 or d % 64 for d in [*self.widths, self.width]):
            raise ValueError("ComplexityConfig: lengths must be >= 2 and widths multiples of 64 (64-wide heads)")


def build_layer(kind: str, width: int, attention: str = "eager"):
    """One encoder layer of ``kind`` at width ``width`` with a 4 * width feed-forward; returns ``(layer, forward)``
    where ``forward(x)`` maps (B, T, D) to (B, T, D)."""
    import torch

    ffn = 4 * width
    if kind == "wave":
        from ..configuration_wave import WaveConfig
        from ..layers import WaveBlock

        config = WaveConfig(
            hidden_size=width, ffn_dim=ffn, wave_mode="modulation", readout="real", residual=True, dropout=0.0
        )
        layer = WaveBlock(config)
        return layer, lambda x: layer(x, None)
    if kind == "attention":
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer

        config = BertConfig(
            hidden_size=width,
            num_attention_heads=width // 64,
            intermediate_size=ffn,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        config._attn_implementation = attention
        layer = BertLayer(config)
    elif kind == "fnet":
        from transformers import FNetConfig
        from transformers.models.fnet.modeling_fnet import FNetLayer

        layer = FNetLayer(FNetConfig(hidden_size=width, intermediate_size=ffn, hidden_dropout_prob=0.0))
    else:
        raise ValueError(f"unknown layer kind {kind!r}; choose from {list(LAYER_KINDS)}")

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = layer(x)
        return out[0] if isinstance(out, tuple) else out

    return layer, forward


def _rss_mb(field_name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _release_freed_memory() -> bool:
    """glibc only: return freed heap memory to the OS and serve every allocation above 64 KiB with its own mapping,
    so the resident set follows what is alive and its peak measures the pass. False where that is not possible."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3
        libc.malloc_trim(0)
        return bool(libc.mallopt(m_mmap_threshold, 64 * 1024))
    except (OSError, AttributeError):
        return False


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_point(
    kind: str,
    length: int,
    width: int,
    batch_size: int = 1,
    attention: str = "eager",
    device: str = "cpu",
    num_threads: int | None = None,
    min_repeats: int = 3,
    min_seconds: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Time and memory of forward + backward of one layer on a (batch_size, length, width) input.

    Runs in the calling process; ``run_complexity`` calls it in a fresh process per point."""
    import torch

    if num_threads:
        torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    dev = torch.device(device)
    layer, forward = build_layer(kind, width, attention)
    layer.to(dev).train()
    x = torch.randn(batch_size, length, width, device=dev, requires_grad=True)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def step() -> None:
        forward(x).float().pow(2).mean().backward()
        layer.zero_grad(set_to_none=True)
        x.grad = None

    step()  # warm-up: kernels chosen, buffers allocated
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward(x)
    del out
    saved_mb = sum(saved.values()) / 2**20

    times = []
    started = time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - started < min_seconds:
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50:
            break

    # Memory last, so the timed passes run with the allocator's default behaviour.
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        step()
        sync()
        peak_mb = (torch.cuda.max_memory_allocated(dev) - before) / 2**20
        memory_kind = "cuda_peak_allocated"
    else:
        exact = _release_freed_memory()
        before = _rss_mb("VmRSS")
        if not _reset_peak_rss():
            exact = False
        step()
        peak_mb = _rss_mb("VmHWM") - before
        memory_kind = "cpu_peak_rss_growth" if exact else "cpu_peak_rss_growth_approximate"
    return {
        "kind": kind,
        "length": length,
        "width": width,
        "batch_size": batch_size,
        "time_ms": 1000 * statistics.median(times),
        "time_ms_min": 1000 * min(times),
        "repeats": len(times),
        "peak_mb": peak_mb,
        "memory_kind": memory_kind,
        "saved_mb": saved_mb,
        "device": str(dev),
        "threads": torch.get_num_threads(),
    }


def fit_slope(xs: list[float], ys: list[float], tail_from: float | None = None) -> float | None:
    """Least-squares slope of log(y) on log(x) over the points with x >= ``tail_from`` (default: a quarter of the
    largest x); ``None`` with fewer than two usable points."""
    if tail_from is None:
        tail_from = max(xs) / 4 if xs else 0
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if x >= tail_from and y is not None and y > 0]
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def run_complexity(cfg: ComplexityConfig, progress: Any = None) -> dict[str, Any]:
    """Both sweeps for every kind in ``cfg``; each point in a fresh process. Returns the points and, per kind and
    sweep, ``time_slope`` and ``memory_slope`` (and ``saved_slope``) with the predicted exponent beside them.

    ``progress(done, total, point)`` is called after each point. A point that fails (out of memory) is recorded with
    its error and left out of the fits."""
    from ..devices import resolve_device

    device = str(resolve_device(cfg.device, option="ComplexityConfig.device"))
    jobs = [("length", k, n, cfg.width) for k in cfg.kinds for n in cfg.lengths]
    jobs += [("width", k, cfg.width_sweep_length, d) for k in cfg.kinds for d in cfg.widths]
    points: list[dict[str, Any]] = []
    context = multiprocessing.get_context("spawn")
    for i, (sweep, kind, n, d) in enumerate(jobs):
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            future = pool.submit(
                measure_point,
                kind,
                n,
                d,
                cfg.batch_size,
                cfg.attention,
                device,
                cfg.num_threads,
                cfg.min_repeats,
                cfg.min_seconds,
                cfg.seed,
            )
            try:
                point = future.result()
            except Exception as exc:  # an out-of-memory point must not lose the sweep
                point = {"kind": kind, "length": n, "width": d, "error": f"{type(exc).__name__}: {exc}"}
        point["sweep"] = sweep
        points.append(point)
        if progress is not None:
            progress(i + 1, len(jobs), point)
    fits: dict[str, dict[str, Any]] = {}
    for kind in cfg.kinds:
        fits[kind] = {}
        for sweep, axis in (("length", "length"), ("width", "width")):
            ok = [p for p in points if p["sweep"] == sweep and p["kind"] == kind and "error" not in p]
            xs = [p[axis] for p in ok]
            fits[kind][sweep] = {
                "time_slope": fit_slope(xs, [p["time_ms"] for p in ok]),
                "memory_slope": fit_slope(xs, [p["peak_mb"] for p in ok]),
                "saved_slope": fit_slope(xs, [p["saved_mb"] for p in ok]),
                "predicted_time_slope": PREDICTED[sweep][kind],
                "fit_from": max(xs) / 4 if xs else None,
            }
        # The headline numbers the issue asks for: slopes over the long-sequence end of the length sweep.
        fits[kind]["time_slope"] = fits[kind]["length"]["time_slope"]
        fits[kind]["memory_slope"] = fits[kind]["length"]["memory_slope"]
    return {"config": asdict(cfg), "device": device, "points": points, "fits": fits}
