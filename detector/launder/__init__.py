"""Laundering: batched, seeded audio degradations (noise, reverb, resampling, codecs, ...) on the device.

Conditions are named by strings (see :mod:`.catalogue`); each family registers itself from
one file of :mod:`.families` (see :mod:`.registry`). A :class:`LaunderChain`
applies one drawn at random per example. All attacks take ``(batch, 1, time)``
float32 waveforms and an explicit ``torch.Generator``. Data that conditions
need beyond their name (corpus babble, noise recordings, impulse responses)
comes from a :class:`LaunderBanks`. Real codecs (``mp3:``, ``vorbis:``,
``opus:``) are host-side: see :mod:`.codec` and :func:`derived_cache`.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # for type checkers and IDEs; at run time the names load on first use (PEP 562)
    from .attacks import AddNoise, AddReverb, AddRoomReverb, Attack, Identity, ResampleRoundTrip
    from .banks import NOISE_TYPES, LaunderBanks, RirBank
    from .catalogue import (
        CATALOGUE_ALL,
        FAMILIES,
        STUDY_CONDITIONS,
        describe_families,
        expand_conditions,
        parse_condition,
    )
    from .chain import LaunderChain
    from .codec import HostCodec, codec_round_trip, derived_cache
    from .effects import AddColouredNoise, Clip, CodecSim, Gain, LowPass, MuLaw, Polarity, Shift, Telephone
    from .noise import NOISE_COLOURS, NoiseBank
    from .registry import NumberKey, WordKey, register_family
    from .sampling import Choice, Uniform

# Loaded lazily so that the torch-free .language (the help texts, ``detector conditions``) can be
# imported without torch.
_LAZY = {
    **dict.fromkeys(("AddNoise", "AddReverb", "AddRoomReverb", "Attack", "Identity", "ResampleRoundTrip"), "attacks"),
    **dict.fromkeys(("NOISE_TYPES", "LaunderBanks", "RirBank"), "banks"),
    **dict.fromkeys(("CATALOGUE_ALL", "FAMILIES", "STUDY_CONDITIONS", "describe_families", "expand_conditions",
                     "parse_condition"), "catalogue"),
    "LaunderChain": "chain",
    **dict.fromkeys(("HostCodec", "codec_round_trip", "derived_cache"), "codec"),
    **dict.fromkeys(("AddColouredNoise", "Clip", "CodecSim", "Gain", "LowPass", "MuLaw", "Polarity", "Shift",
                     "Telephone"), "effects"),
    **dict.fromkeys(("NOISE_COLOURS", "NoiseBank"), "noise"),
    **dict.fromkeys(("NumberKey", "WordKey", "register_family"), "registry"),
    **dict.fromkeys(("Choice", "Uniform"), "sampling"),
}

__all__ = [
    "AddColouredNoise", "AddNoise", "AddReverb", "AddRoomReverb", "Attack", "CATALOGUE_ALL", "Choice", "Clip",
    "CodecSim", "FAMILIES", "Gain", "HostCodec", "Identity", "LaunderBanks", "LaunderChain", "LowPass", "MuLaw",
    "NOISE_COLOURS", "NOISE_TYPES", "NoiseBank", "NumberKey", "Polarity", "ResampleRoundTrip", "RirBank",
    "STUDY_CONDITIONS", "Shift", "Telephone", "Uniform", "WordKey", "codec_round_trip", "derived_cache",
    "describe_families", "expand_conditions", "parse_condition", "register_family",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'detector.launder' has no attribute {name!r}")
    importlib.import_module(f"{__name__}.catalogue")   # registers every family, as the package's import used to
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value   # later lookups skip this function
    return value
