"""Stable values derived from names: seeds from strings (crc32) and file-name slugs.

Python's ``hash`` of a string is salted per process, so anything that must be the same in every
run, worker and machine (a clip's laundering parameters, a corpus build) derives from
``zlib.crc32`` here instead.
"""
from __future__ import annotations

import re
import zlib

# One multiplier per key mixed in: (seed * M1 + crc(key1)) * M2 + crc(key2). Both are primes
# near 10**6, so different (seed, key) pairs rarely collide; the values are fixed forever because
# evaluation parameters and the demo corpus's files are reproduced from them.
KEY_MULTIPLIERS = (1_000_003, 1_000_033)


def stable_seed(seed: int, *keys: str, bits: int = 63) -> int:
    """A seed in ``[0, 2**bits)`` that depends only on ``seed`` and the strings ``keys`` (at most two).

    ``stable_seed(seed, condition, clip_id)`` seeds one clip under one condition;
    ``stable_seed(0, path, bits=32)`` seeds one clip of a corpus build (NumPy takes 32-bit seeds).
    """
    if len(keys) > len(KEY_MULTIPLIERS):
        raise ValueError(f"stable_seed mixes at most {len(KEY_MULTIPLIERS)} keys, got {len(keys)}")
    mixed = seed
    for multiplier, key in zip(KEY_MULTIPLIERS, keys):
        mixed = mixed * multiplier + zlib.crc32(key.encode())
    return mixed % 2**bits


def slug(name: str) -> str:
    """A file or folder name for a condition: ``noise:babble:snr=0..0.5`` -> ``noise_babble_snr=0..0.5``."""
    return re.sub(r"[^A-Za-z0-9.=_-]+", "_", name.strip())
