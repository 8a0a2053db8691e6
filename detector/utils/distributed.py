"""Multi-process training with ``torchrun``: process group set-up and the few collectives we need.

Under ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its own share of every epoch
with DistributedDataParallel; gloo on CPU, NCCL on CUDA. Outside it everything here is a
no-op for a single process, so the training loop has one code path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_local_main(self) -> bool:
        """The first process of its machine (builds machine-local files such as the waveform cache)."""
        return self.local_rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def agree_max(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise maximum of ``values`` over ranks (a host read: use it between steps).

        The tensor goes through ``device`` because NCCL only reduces GPU tensors.
        """
        if not self.enabled:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tensor.tolist()

    def gather_arrays(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Concatenate each array across ranks (every rank gets the whole result)."""
        if not self.enabled:
            return arrays
        gathered: list = [None] * self.world_size
        dist.all_gather_object(gathered, arrays)
        return tuple(np.concatenate([part[i] for part in gathered]) for i in range(len(arrays)))


def init_distributed(device_name: str) -> tuple[Distributed, str]:
    """Join the ``torchrun`` process group if there is one; returns it and the device to use."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed(), device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(rank, world_size, local_rank), device_name


def shutdown_distributed(context: Distributed) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
