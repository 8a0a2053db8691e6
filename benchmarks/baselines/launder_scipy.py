"""Per-clip NumPy/SciPy laundering, one clip at a time, the way research scripts do it (benchmark baseline)."""
from __future__ import annotations

import numpy as np
import scipy.signal


def reverb(clip: np.ndarray, rir: np.ndarray) -> np.ndarray:
    return scipy.signal.fftconvolve(clip, rir)[: len(clip)]


def noise(clip: np.ndarray, noise_clip: np.ndarray, snr_db: float) -> np.ndarray:
    gain = np.sqrt(np.mean(clip ** 2) / np.mean(noise_clip ** 2) / 10 ** (snr_db / 10))
    return clip + gain * noise_clip


def resample(clip: np.ndarray, rate: int, orig: int = 16000) -> np.ndarray:
    g = np.gcd(rate, orig)
    down = scipy.signal.resample_poly(clip, rate // g, orig // g)
    return scipy.signal.resample_poly(down, orig // g, rate // g)[: len(clip)]


def lowpass(clip: np.ndarray, sos: np.ndarray) -> np.ndarray:
    return scipy.signal.sosfilt(sos, clip)
