"""What a run cost and what it ran on: parameter counts, peak memory, library versions, git commit, device."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from ..params import count_parameters


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """``total``, ``embedding``, ``non_embedding`` and ``trainable`` parameter counts."""
    return count_parameters(model).as_dict()


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh CUDA peak-memory window (the CPU peak RSS cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, float | str]:
    """Peak memory in MiB of this process and what it measures.

    On CUDA it is ``torch.cuda.max_memory_allocated`` since the last ``reset_peak_memory`` (tensors only, no
    allocator cache or CUDA context). On CPU it is the peak resident set size from ``getrusage``, which covers
    the whole process lifetime (Python, libraries, data set), not the training alone.
    """
    if device.type == "cuda":
        return {
            "peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20,
            "peak_memory_kind": "cuda_allocated",
        }
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_bytes = rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB, macOS bytes
    return {"peak_memory_mb": rss_bytes / 2**20, "peak_memory_kind": "cpu_peak_rss_process_lifetime"}


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of the libraries a result depends on."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in (
        "wave-network",
        "torch",
        "transformers",
        "datasets",
        "tokenizers",
        "scikit-learn",
        "numpy",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_commit(path: str | Path | None = None) -> dict[str, str | bool | None]:
    """``commit`` of the git checkout holding ``path`` (default: this package's source) and whether its
    working tree had uncommitted changes (``dirty``); both ``None`` outside a git repository."""
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def describe_device(device: torch.device) -> str:
    """Human-readable name of the device, e.g. ``"cuda:0 (NVIDIA H100 80GB HBM3)"`` or ``"cpu (x86_64, 2
    threads)"``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
