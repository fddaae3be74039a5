"""Data-parallel training across processes started by ``torchrun``: process-group set-up, and the few
collectives the loop needs. Outside ``torchrun`` (no ``WORLD_SIZE`` > 1 in the environment) everything is a
no-op."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size`` processes; ``local_rank`` picks its GPU."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files, logs and shows progress; the others stay silent."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (gloo on CPU, NCCL on CUDA) and pin
    this process to its GPU. Reuses a group the caller already initialised."""
    if not launched_by_torchrun():
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    initialised_here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        initialised_here = True
    return DistInfo(dist.get_rank(), local_rank, dist.get_world_size(), initialised_here)


def shutdown(info: DistInfo) -> None:
    """Leave the process group if ``init_distributed`` created it."""
    if info.initialised_here and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` under torchrun (gradients are averaged over processes in
    the backward pass); the model itself otherwise."""
    if not info.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise sum of ``values`` over all processes (in place; returned for convenience)."""
    if info.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_reduce_max(value: float, info: DistInfo) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


@contextmanager
def main_process_first(info: DistInfo) -> Iterator[None]:
    """Rank 0 runs the block (e.g. filling a cache) before the others, which then find the cache filled."""
    if not info.is_main:
        barrier(info)
    yield
    if info.is_main:
        barrier(info)


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def collective_device(info: DistInfo, device: torch.device) -> torch.device:
    """Device that small tensors for collectives must live on (the GPU under NCCL, the CPU under gloo)."""
    return _collective_device() if info.enabled else device
