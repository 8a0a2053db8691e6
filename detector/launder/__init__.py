"""Laundering: batched, seeded audio degradations (noise, reverb, resampling, ...) on the device.

Conditions are named by strings (see :mod:`.catalogue`); a :class:`LaunderChain`
applies one drawn at random per example. All attacks take ``(batch, 1, time)``
float32 waveforms and an explicit ``torch.Generator``.
"""

from .attacks import AddNoise, AddReverb, Attack, Identity, ResampleRoundTrip
from .catalogue import FAMILIES, describe_families, parse_condition
from .chain import LaunderChain
from .noise import NOISE_COLOURS, NoiseBank
from .sampling import Choice, Uniform

__all__ = [
    "AddNoise",
    "AddReverb",
    "Attack",
    "Choice",
    "FAMILIES",
    "Identity",
    "LaunderChain",
    "NOISE_COLOURS",
    "NoiseBank",
    "ResampleRoundTrip",
    "Uniform",
    "describe_families",
    "parse_condition",
]
