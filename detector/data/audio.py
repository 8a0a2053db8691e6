"""Decoding: any file soundfile (libsndfile) reads -> mono float32 at the model's rate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional

MIN_DURATION_S = 0.1


class AudioError(ValueError):
    """A clip that cannot be used; the message names the file and the problem."""


def decode(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read ``path`` and return a mono float32 waveform ``(time,)`` at ``sample_rate`` Hz.

    Channels are averaged; other rates are resampled with torchaudio's windowed-sinc
    resampler. Raises :class:`AudioError` for a missing, undecodable, empty, too short,
    non-finite, silent or out-of-range clip.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found")
    try:
        samples, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(f"{path}: cannot decode as audio ({error})") from None
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: 0 samples after decoding (empty file?)")
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    mono = samples.mean(axis=1)
    peak = float(np.abs(mono).max())
    if peak == 0.0:
        raise AudioError(f"{path}: every sample is zero (silent clip)")
    if peak > 1.0:
        raise AudioError(f"{path}: samples exceed [-1, 1] (peak {peak:.3g}); rescale the file")
    duration_s = mono.shape[0] / file_rate
    if duration_s < MIN_DURATION_S:
        raise AudioError(f"{path}: {duration_s:.3f} s is shorter than the minimum {MIN_DURATION_S} s")
    if file_rate != sample_rate:
        mono = torchaudio.functional.resample(torch.from_numpy(mono), file_rate, sample_rate).numpy()
        # Resampling can overshoot a full-scale clip slightly; keep the [-1, 1] contract.
        np.clip(mono, -1.0, 1.0, out=mono)
    return np.ascontiguousarray(mono, dtype=np.float32)
