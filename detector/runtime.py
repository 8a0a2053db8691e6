"""Device, mixed precision and seeding: the few decisions every command makes the same way."""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: no CUDA device is available here; use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: valid devices are auto, cpu, cuda, cuda:N")
    return device


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None = float32) and whether a gradient scaler is needed (float16)."""

    dtype: torch.dtype | None
    device_type: str

    @classmethod
    def resolve(cls, amp: str, device: torch.device) -> "Precision":
        if amp == "auto":
            amp = "bf16" if device.type == "cpu" or torch.cuda.is_bf16_supported() else "fp16"
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}
        if amp not in dtypes:
            raise ValueError(f"--amp {amp}: valid values are auto, bf16, fp16, off")
        if amp == "fp16" and device.type == "cpu":
            raise ValueError("--amp fp16 is for CUDA; on the CPU use bf16 or off")
        return cls(dtypes[amp], device.type)

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


def device_generator(device: torch.device, seed: int) -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed`` (laundering draws on the device)."""
    return torch.Generator(device=device).manual_seed(seed)
