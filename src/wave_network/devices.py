"""Which torch device a setting names: the one resolver of ``"auto"``, ``"cpu"`` and ``"cuda"`` that training,
evaluation, prediction, latency and the complexity sweeps share."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device, local_rank: int | None = None, *, option: str = "device") -> torch.device:
    """The device ``name`` means: ``"auto"`` is CUDA when available, else the CPU; any other torch device string
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``) is taken as it is, and a ``torch.device`` is returned unchanged.
    ``local_rank`` gives a CUDA device without an index one (under torchrun each process takes GPU
    ``LOCAL_RANK``); ``None`` leaves it without one.

    Raises:
        ValueError: the name asks for CUDA where ``torch.cuda.is_available()`` is False; the message names the
            setting as ``option`` (``"TrainConfig.device"``).
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    elif name.partition(":")[0] == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option}={name!r} but torch.cuda.is_available() is False")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and local_rank is not None:
        return torch.device("cuda", local_rank)
    return device


__all__ = ["resolve_device"]
