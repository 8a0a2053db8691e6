"""Front-ends: a waveform batch ``(batch, 1, time)`` float32 -> the backbone's input, inside the model.

- ``logmel`` (:class:`LogMel`): standardised log-mel, ``(batch, 1, n_mels, frames)``.

:func:`build_frontend` picks one by ``FeatureConfig.frontend``; each has a ``channels``
attribute, the number of input channels the backbone's stem needs.
"""
from __future__ import annotations

import torch

from detector.config import FeatureConfig

from .logmel import LOG_FLOOR, MEL_BACKENDS, LogMel, mel_power

FRONTENDS = ("logmel",)

__all__ = ["FRONTENDS", "LOG_FLOOR", "MEL_BACKENDS", "LogMel", "build_frontend", "mel_power"]


def build_frontend(config: FeatureConfig | None, sample_rate: int) -> torch.nn.Module:
    """The front-end named by ``config.frontend`` for waveforms at ``sample_rate`` Hz."""
    config = config or FeatureConfig()
    if config.frontend == "logmel":
        return LogMel(sample_rate, config)
    raise ValueError(f"unknown front-end {config.frontend!r}; valid: {', '.join(FRONTENDS)}")
