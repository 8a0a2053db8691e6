"""A guard that records blocking host-to-device copies, for the no-sync tests on the CPU.

The ``meta`` device refuses device-to-host reads, so a step that runs on ``meta`` reads nothing
back; but it accepts host-to-device copies silently, where on CUDA a copy from pageable memory
(``torch.tensor(..., device=d)``, ``cpu_tensor.to(d)``, ``device_tensor.copy_(cpu_tensor)``)
may wait for the device's queue. :class:`HostCopyGuard` records every such copy that is not
made by :func:`detector.utils.runtime.upload`, the documented per-step upload (which pins the
host tensor on CUDA first), naming the line of the project's code that made it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from detector.utils.runtime import upload

PROJECT = Path(__file__).resolve().parents[2]
FACTORIES = (torch.tensor, torch.as_tensor, torch.asarray)


def _is_device(device) -> bool:
    return device is not None and torch.device(device).type != "cpu"


class HostCopyGuard:
    """``with HostCopyGuard() as guard: ...``; then ``guard.copies`` lists ``"what at file:line"``."""

    def __init__(self):
        self.copies: list[str] = []
        self._modes = (_Factories(self), _Copies(self))

    def __enter__(self) -> "HostCopyGuard":
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)

    def record(self, what: str) -> None:
        """Note a host-to-device copy unless :func:`upload` is on the stack."""
        frame, caller = sys._getframe(1), None
        while frame is not None:
            if frame.f_code is upload.__code__:
                return
            path = Path(frame.f_code.co_filename)
            if caller is None and PROJECT in path.parents and path.name != Path(__file__).name:
                where = path.relative_to(PROJECT)
                if where.parts[0] in ("detector", "tests", "benchmarks"):
                    caller = f"{where}:{frame.f_lineno}"
            frame = frame.f_back
        self.copies.append(f"{what} at {caller or 'an unknown place'}")


class _Factories(TorchFunctionMode):
    """``torch.tensor(data, device=d)`` builds on the host and copies below the dispatcher's
    Python layer, so it is caught here, as a call."""

    def __init__(self, guard: HostCopyGuard):
        super().__init__()
        self.guard = guard

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        data = args[0] if args else kwargs.get("data", kwargs.get("obj"))
        if func in FACTORIES and _is_device(kwargs.get("device")) and not (
                isinstance(data, torch.Tensor) and data.device.type != "cpu"):
            self.guard.record(f"torch.{func.__name__}(..., device={kwargs['device']})")
        return func(*args, **kwargs)


class _Copies(TorchDispatchMode):
    """``.to(d)``, ``copy_`` and friends reach the dispatcher as ``_to_copy`` or ``copy_``."""

    def __init__(self, guard: HostCopyGuard):
        super().__init__()
        self.guard = guard

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default:
            if args[0].device.type == "cpu" and _is_device(kwargs.get("device")):
                self.guard.record(f"a {tuple(args[0].shape)} host tensor's .to({kwargs['device']})")
        elif func is torch.ops.aten.copy_.default:
            if args[1].device.type == "cpu" and args[0].device.type != "cpu":
                self.guard.record(f"copy_ of a {tuple(args[1].shape)} host tensor into {args[0].device}")
        return func(*args, **kwargs)
