"""What the Trainer needs from torch.distributed, and nothing when not distributed.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) :func:`init` starts the process group
(NCCL on CUDA, gloo on CPU); the Trainer then wraps the model in DDP, shards data with a
``DistributedSampler``, averages losses and gathers predictions across ranks, and writes files
only on rank 0.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as tdist
from torch import Tensor, nn
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler

__all__ = [
    "distributed_sampler",
    "gather_sharded",
    "init",
    "is_distributed",
    "is_main",
    "mean_over_ranks",
    "rank",
    "shutdown",
    "world_size",
    "wrap",
]


def init() -> bool:
    """Start the process group when launched by torchrun; returns whether the run is distributed."""
    if is_distributed():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    tdist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def shutdown() -> None:
    """End a torchrun run cleanly: wait for every rank, then destroy the process group.

    Call it at the end of a distributed script; exiting with the group alive can abort a rank
    ("terminate called without an active exception") while another still communicates.
    """
    if is_distributed():
        tdist.barrier()
        tdist.destroy_process_group()


def is_distributed() -> bool:
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def rank() -> int:
    return tdist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return tdist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 (or not distributed): the process that writes files."""
    return rank() == 0


def wrap(model: nn.Module) -> nn.Module:
    """DDP-wrap the model when distributed."""
    if not is_distributed():
        return model
    device_ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def distributed_sampler(
    data: Dataset[Any], *, shuffle: bool, seed: int, epoch: int
) -> DistributedSampler[Any]:
    sampler: DistributedSampler[Any] = DistributedSampler(data, shuffle=shuffle, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return sampler


def mean_over_ranks(total: float, count: int) -> float:
    """Sample-weighted mean of a per-rank sum over all ranks."""
    if not is_distributed():
        return total / max(count, 1)
    buffer = torch.tensor([total, float(count)], dtype=torch.float64)
    tdist.all_reduce(buffer)
    return float(buffer[0] / buffer[1].clamp(min=1))


def gather_sharded(values: Tensor, total: int) -> Tensor:
    """Reassemble per-rank outputs of an unshuffled ``DistributedSampler`` in dataset order.

    Rank ``r`` saw samples ``r, r + W, r + 2W, ...`` of the dataset padded (by wrapping around) to
    a multiple of the world size ``W``; the padding is dropped, so every sample counts once.
    """
    if not is_distributed():
        return values
    parts = [torch.zeros_like(values) for _ in range(world_size())]
    tdist.all_gather(parts, values.contiguous())
    interleaved = torch.stack(parts, dim=1).reshape(-1, *values.shape[1:])
    return interleaved[:total]
