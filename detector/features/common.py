"""Helpers shared by the front-ends: input check and per-example standardisation."""
from __future__ import annotations

import torch

NORM_EPS = 1e-5


def check_waveform(wave: torch.Tensor, name: str) -> None:
    """Refuse anything but a ``(batch, 1, time)`` waveform batch, naming the front-end."""
    if wave.dim() != 3 or wave.shape[1] != 1:
        raise ValueError(f"{name} expects (batch, 1, time), got {tuple(wave.shape)}")


def standardise(features: torch.Tensor) -> torch.Tensor:
    """Per example, over all but the batch axis: zero mean and unit variance (same shape and units-free)."""
    dims = tuple(range(1, features.dim()))
    mean = features.mean(dim=dims, keepdim=True)
    std = features.std(dim=dims, keepdim=True)
    return (features - mean) / (std + NORM_EPS)
