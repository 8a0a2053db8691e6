"""Timing shared by every benchmark: device names, synchronisation, and one median clock."""
from __future__ import annotations

import platform
import statistics
import time

import torch


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU and the threads torch uses."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"


def synchronise(device: torch.device) -> None:
    """Wait for queued device work (CUDA kernels run asynchronously), so a clock reads finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(fn, device: torch.device, repeats: int = 3, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls, device synchronised."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        fn()
        synchronise(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
