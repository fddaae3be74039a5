"""Process-wide settings of a run: autocast precision, seeds, deterministic algorithms and Ctrl-C handling (the
device comes from ``wave_network.devices``). Each is set for the run and put back afterwards where it is global
state."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import random
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

logger = logging.getLogger("wave_network.training")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bf16 for ``"bf16"``, and for ``"auto"`` where the device has native bf16 (CUDA with
    bf16 support; a CPU with AVX-512 BF16 or AMX, as oneDNN reports it); ``None`` (plain fp32) otherwise."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if _cpu_has_native_bf16() else None


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# mallopt(3) parameters of glibc's malloc.h
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_ALLOCATOR_TUNED: dict[str, bool] = {}


def tune_allocator() -> bool:
    """Bound oneDNN's primitive cache (below), and, opt-in (``WAVE_NETWORK_MALLOC=reuse``), make glibc's malloc
    keep and reuse the memory of freed tensors.

    glibc serves every allocation above 32 MB (a (64, 512, 256) fp32 activation is 33.5 MB) with its own
    ``mmap`` and unmaps it on free, so each such tensor costs page faults and kernel zeroing on first touch: on a
    2-core CPU a fresh 8.4M-element product took 10.5 ms against 2.1 ms into reused memory. With this setting
    (``M_MMAP_MAX=0``: large blocks from the heap; a 2 GB ``M_TRIM_THRESHOLD``: freed heap memory kept for the next
    step) an IMDB-shape training step is faster still than with the transparent huge pages ``wave_network`` turns on
    by default, but the heap fragments as batch shapes vary and the peak RSS of an IMDB run grew from about 2 GB
    to 3.5 GB in 40 steps, so it is off unless asked for. Process-wide, idempotent; returns whether it is set (never
    where the C library is not glibc).
    """
    if "done" in _ALLOCATOR_TUNED:
        return _ALLOCATOR_TUNED["done"]
    # oneDNN keeps a compiled primitive (about 0.2 MB) for every GEMM shape it meets, up to 1,024 of them: each new
    # batch length adds a dozen, and the RSS of a wave-nb IMDB run grew by ~2.3 MB per new length (80 lengths:
    # +180 MB) with no speed gained, since a step reuses only its own dozen. 128 bounds that at no measured cost.
    # Read when oneDNN first builds a primitive; a user's own setting wins.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "128")
    ok = False
    libc = _glibc() if os.environ.get("WAVE_NETWORK_MALLOC") == "reuse" else None
    if libc is not None and hasattr(libc, "mallopt"):
        ok = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    _ALLOCATOR_TUNED["done"] = ok
    return ok


_LIBC: list[Any] = []


def _glibc() -> Any:
    """The C library when it is glibc (``malloc_trim`` and ``mallopt`` exist), else ``None``; loaded once."""
    if not _LIBC:
        libc = None
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            except OSError:
                libc = None
            if libc is not None and not all(hasattr(libc, f) for f in ("malloc_trim", "gnu_get_libc_version")):
                libc = None
            if libc is not None and hasattr(libc, "mallinfo2"):
                libc.mallinfo2.restype = _MallInfo2
        _LIBC.append(libc)
    return _LIBC[0]


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


# Free bytes in the C heap above which ``release_free_memory`` trims it.
TRIM_ABOVE_BYTES = 256 << 20


def release_free_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim(0)``) once more than
    ``TRIM_ABOVE_BYTES`` of it is free; returns whether it trimmed. A no-op where the C library is not glibc 2.33+
    and under ``WAVE_NETWORK_MALLOC=reuse``, whose point is to keep those pages.

    Called after every CPU optimiser step (``loop.TRIM_EVERY_STEPS``) and evaluation batch. Batches of different
    lengths free tensors of different sizes, and glibc (whose mmap threshold rises to 32 MB after the first large
    free) keeps the holes between them in its heap: the RSS of ``wave-nb`` steps at IMDB lengths grew by about
    1.4 GB over 80 steps and stayed flat at one length. Trimming after every step bounded that, but cost about 30%
    of a ``paper-modulation`` step at the AG News shape (2 threads; the pages come back as page faults in the next
    step), so it waits until the free part of the heap is worth it; the check itself (mallinfo2) costs about 30 us.
    """
    if _ALLOCATOR_TUNED.get("done"):
        return False
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return False
    if libc.mallinfo2().fordblks <= TRIM_ABOVE_BYTES:
        return False
    libc.malloc_trim(0)
    return True


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the global generator third-party code draws from)
    torch.manual_seed(seed)


@contextmanager
def deterministic_mode(enabled: bool, device: torch.device) -> Iterator[None]:
    """``torch.use_deterministic_algorithms(True)`` inside the block, restored afterwards."""
    if not enabled:
        yield
        return
    previous = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    if device.type == "cuda":
        # cuBLAS needs a fixed workspace for deterministic results; it must be set before cuBLAS starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]


@contextmanager
def cpu_threads(num_threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(num_threads)`` inside the block (``None``: unchanged)."""
    before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def graceful_interrupt(holder: Any) -> Iterator[None]:
    """The first Ctrl-C sets ``holder.interrupt_requested`` (the loop then stops after the current step and
    saves ``last/``); a second one raises ``KeyboardInterrupt`` at once. Only in the main thread, where Python
    delivers signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if holder.interrupt_requested:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        holder.interrupt_requested = True
        logger.warning("interrupt: stopping after this step and saving last/; press Ctrl-C again to stop at once")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
