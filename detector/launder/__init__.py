"""Laundering: batched, seeded audio degradations (noise, reverb, resampling, codecs, ...) on the device.

Conditions are named by strings (see :mod:`.catalogue`); each family registers itself from
one file of :mod:`.families` (see :mod:`.registry`). A :class:`LaunderChain`
applies one drawn at random per example. All attacks take ``(batch, 1, time)``
float32 waveforms and an explicit ``torch.Generator``. Data that conditions
need beyond their name (corpus babble, noise recordings, impulse responses)
comes from a :class:`LaunderBanks`. Real codecs (``mp3:``, ``vorbis:``,
``opus:``) are host-side: see :mod:`.codec` and :func:`derived_cache`.
"""

from .attacks import AddNoise, AddReverb, AddRoomReverb, Attack, Identity, ResampleRoundTrip
from .banks import NOISE_TYPES, LaunderBanks, RirBank
from .catalogue import (CATALOGUE_ALL, FAMILIES, STUDY_CONDITIONS, describe_families, expand_conditions,
                        parse_condition)
from .chain import LaunderChain
from .codec import HostCodec, codec_round_trip, derived_cache
from .effects import AddColouredNoise, Clip, CodecSim, Gain, LowPass, MuLaw, Polarity, Shift, Telephone
from .noise import NOISE_COLOURS, NoiseBank
from .registry import register_family
from .sampling import Choice, Uniform

__all__ = [
    "AddColouredNoise", "AddNoise", "AddReverb", "AddRoomReverb", "Attack", "CATALOGUE_ALL", "Choice", "Clip",
    "CodecSim", "FAMILIES", "Gain", "HostCodec", "Identity", "LaunderBanks", "LaunderChain", "LowPass", "MuLaw",
    "NOISE_COLOURS", "NOISE_TYPES", "NoiseBank", "Polarity", "ResampleRoundTrip", "RirBank", "STUDY_CONDITIONS",
    "Shift", "Telephone", "Uniform", "codec_round_trip", "derived_cache", "describe_families",
    "expand_conditions", "parse_condition", "register_family",
]
