"""Front-ends: a waveform batch ``(batch, 1, time)`` float32 -> the backbone's input, inside the model.

- ``logmel`` (:class:`LogMel`): standardised log-mel, ``(batch, 1, n_mels, frames)``;
- ``seed-image`` (:class:`SeedImage`): the seed research code's magma spectrogram image,
  ImageNet-normalised, ``(batch, 3, 224, 224)``;
- ``seed-thresholded``: the same image of the thesis's band-thresholded spectrogram;
- ``lfcc`` (:class:`LFCC`): the ASVspoof baseline's LFCC with deltas, ``(batch, 1, 60, frames)``;
- ``cqt`` (:class:`LogCQT`): standardised log constant-Q magnitude, ``(batch, 1, 96, frames)`` at 16 kHz.

:func:`build_frontend` picks one by ``FeatureConfig.frontend``; each has a ``channels``
attribute, the number of input channels the backbone's stem takes.
"""
from __future__ import annotations

import torch

from detector.config import FRONTENDS, IMAGE_FRONTENDS, FeatureConfig

from .cqt import LogCQT
from .lfcc import LFCC
from .logmel import LOG_FLOOR, MEL_BACKENDS, LogMel, mel_power
from .seed_image import SeedImage, image_uint8

__all__ = ["FRONTENDS", "IMAGE_FRONTENDS", "LFCC", "LOG_FLOOR", "MEL_BACKENDS", "LogCQT", "LogMel", "SeedImage",
           "build_frontend", "image_uint8", "mel_power"]


def build_frontend(config: FeatureConfig | None, sample_rate: int) -> torch.nn.Module:
    """The front-end named by ``config.frontend`` for waveforms at ``sample_rate`` Hz."""
    config = config or FeatureConfig()
    if config.frontend == "logmel":
        return LogMel(sample_rate, config)
    if config.frontend in IMAGE_FRONTENDS:
        return SeedImage(sample_rate, thresholded=config.frontend == "seed-thresholded")
    if config.frontend == "lfcc":
        return LFCC(sample_rate)
    if config.frontend == "cqt":
        return LogCQT(sample_rate, config)
    raise ValueError(f"unknown front-end {config.frontend!r}; valid: {', '.join(FRONTENDS)}")
