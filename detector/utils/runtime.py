"""Device, mixed precision and seeding: the few decisions every command makes the same way."""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch

from detector.utils.errors import UserError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here; use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: valid devices are auto, cpu, cuda, cuda:N")
    return device


def upload(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The one way a training step moves host data to the device: the parameters it draws on the
    host (laundering, augmentation) and the DataLoader's batch.

    On CUDA the host tensor is pinned first (nothing to do for a batch the DataLoader pinned), so
    that the copy is queued and the host goes on: a copy from pageable memory may wait for the
    device's queue, which is a synchronisation in the step. Tests check that no other
    host-to-device copy enters the step (``tests/engine/test_host_copies.py``).
    """
    if tensor.device.type == "cpu" and device.type == "cuda" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None = float32) and whether a gradient scaler is needed (float16)."""

    dtype: torch.dtype | None
    device_type: str

    @classmethod
    def resolve(cls, amp: str, device: torch.device) -> "Precision":
        """``auto``: bf16 on the CPU and on GPUs with native bf16, else float32.

        bf16 has float32's exponent range, so it needs no gradient scaler (whose skipped
        steps and scale bookkeeping fp16 needs); fp16 is used only when asked for. A GPU
        without native bf16 (before Ampere) emulates it slowly, so ``auto`` trains in
        float32 there. The CPU keeps bf16, the precision of every measured CPU result.
        """
        if amp == "auto":
            native_bf16 = device.type == "cpu" or torch.cuda.is_bf16_supported(including_emulation=False)
            amp = "bf16" if native_bf16 else "off"
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}
        if amp not in dtypes:
            raise ValueError(f"--amp {amp}: valid values are auto, bf16, fp16, off")
        if amp == "fp16" and device.type == "cpu":
            raise ValueError("--amp fp16 is for CUDA; on the CPU use bf16 or off")
        return cls(dtypes[amp], device.type)

    @classmethod
    def for_scoring(cls, amp: str, device: torch.device) -> "Precision":
        """Precision of evaluation, ablation and prediction: ``auto`` is float32 there.

        Published scores should not depend on a speed setting. With the head in float32, a bf16
        backbone still moves each score a little: on the demo model's 110 test clips, by 0.024 at
        most (median 0.15 % of the score, up to 4 % near zero), against scores in -7..4. Scoring
        costs a fraction of training, so float32 is the default; ``--amp bf16`` trades that
        exactness for speed.
        """
        return cls.resolve("off" if amp == "auto" else amp, device)

    @property
    def needs_scaler(self) -> bool:
        return self.dtype == torch.float16

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "off"}[self.dtype]

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seeds(seed: int, epoch: int, step: int, rank: int) -> tuple[int, int]:
    """Seeds of one training step's laundering and dropout streams, from ``(seed, epoch, step, rank)``.

    Two unrelated 64-bit seeds (a NumPy ``SeedSequence`` hash): the laundering generator and
    the dropout generator are both Mersenne Twisters on the CPU, and one seed for both would
    correlate the dropout masks with the laundering draws. Deriving every step's streams from
    its coordinates means a run resumed at any step needs no saved generator state.
    """
    words = [value % 2**64 for value in (seed, epoch, step, rank)]
    launder, dropout = np.random.SeedSequence(words).generate_state(2, np.uint64)
    return int(launder), int(dropout)


def float32_region(device: torch.device):
    """A context computing in float32 even inside an autocast region (for front-ends, heads, scores).

    Only devices with an autocast mode (CPU, CUDA) get ``autocast(enabled=False)``; on others,
    such as the ``meta`` device that the no-sync tests trace a step on, there is no autocast
    to leave.
    """
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()
