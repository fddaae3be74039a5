"""Checkpoints on disk: a model directory (``save_pretrained`` format plus the tokenizer, enough for
``predict``) and the resume state of ``last/`` (optimizer, scheduler, RNG states, loop counters)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .progress import hide_library_progress_bars

TRAINER_STATE = "trainer_state.pt"
WEIGHTS = "model.safetensors"


class CheckpointError(ValueError):
    """A saved model or resume state exists but cannot be read (truncated, empty, overwritten by other bytes)."""


def damaged(path: str | Path, error: BaseException) -> CheckpointError:
    """The error for a checkpoint directory whose files fail to load, with the library's reason in one line."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return CheckpointError(
        f"{path}: the saved model cannot be loaded ({type(error).__name__}: {reason}); its files are damaged or "
        "incomplete. Train again, or restore the directory from a copy"
    )


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (when present) CUDA generator states."""
    # The legacy global NumPy generator is what third-party code draws from, so it is the one to restore.
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    """``random.setstate`` needs tuples all the way down (a round trip may turn them into lists)."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def save_model_dir(model: nn.Module, tokenizer: Any, path: str | Path) -> Path:
    """``model.save_pretrained`` (config with ``id2label``, safetensors weights) and the tokenizer beside
    it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with hide_library_progress_bars():
        if tokenizer is not None:  # first: a Wave model's save_pretrained then sees it and adds no default one
            tokenizer.save_pretrained(path)
        model.save_pretrained(path)
    return path


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Copy the weights saved in model directory ``path`` into ``model`` (same architecture), in place."""
    try:
        with hide_library_progress_bars():
            saved = type(model).from_pretrained(path)
    except Exception as error:  # safetensors' SafetensorError derives from Exception only
        raise damaged(path, error) from error
    if hasattr(model, "adopt_fitted_choices"):  # choices made while fitting (a weighting) change the tensors' set
        model.adopt_fitted_choices(saved.config)
    model.load_state_dict(saved.state_dict())
    return model


def replace_dir(write: Any, target: str | Path) -> Path:
    """Write a directory next to ``target`` with ``write(tmp_path)`` and swap it in, so an interruption while
    saving never leaves a half-written ``target`` behind.

    ``target`` only ever names a complete directory: the new one is written as ``<target>.tmp`` (never read), the
    old one steps aside as ``<target>.old`` and the new one is renamed into place. A crash between those two renames
    leaves no ``target`` and a complete ``.old``, which ``recover_dir`` (called by every reader) puts back."""
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    old = target.with_name(target.name + ".old")
    recover_dir(target)
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    write(tmp)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target


def recover_dir(target: str | Path) -> Path:
    """Undo a crash inside ``replace_dir``: a complete ``<target>.old`` without a ``target`` becomes ``target``
    again; a ``<target>.tmp`` may be half-written and is never used."""
    target = Path(target)
    old = target.with_name(target.name + ".old")
    if not target.exists() and old.is_dir():
        old.rename(target)
    return target


def save_resume_state(
    path: str | Path,
    model: nn.Module,
    tokenizer: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    loop_state: dict[str, Any],
) -> Path:
    """Everything ``resume=True`` needs to continue exactly: weights, optimizer, scheduler, RNG, counters."""

    def write(tmp: Path) -> None:
        save_model_dir(model, tokenizer, tmp)
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": capture_rng_state(),
            "loop": loop_state,
        }
        torch.save(state, tmp / TRAINER_STATE)

    return replace_dir(write, path)


def load_resume_state(path: str | Path) -> dict[str, Any]:
    """The dict written by ``save_resume_state`` (model weights are loaded separately with
    ``load_weights``)."""
    file = Path(path) / TRAINER_STATE
    if not file.exists():
        raise FileNotFoundError(f"no resume state at {file}; was the run started with this output_dir?")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated pickle raises anything from EOFError to RuntimeError
        raise damaged(path, error) from error
