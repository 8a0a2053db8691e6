"""LFCC, the ASVspoof 2019/2021 baseline front-end (Sahidullah et al., Interspeech 2015; ``extract_lfcc.m``).

Per the published MATLAB baseline: 20 ms Hamming frames (symmetric window) every 10 ms,
starting at sample 0 with the last partial frame zero-padded (``buffer(..., 'nodelay')``);
power spectrum with a 512-point FFT (at 16 kHz; the next power of two >= the frame
elsewhere); 20 triangular filters on a linear scale, centres evenly spaced over 0..Nyquist
(``trimf``); ``log10(energy + eps)``; orthonormal DCT-II, 20 coefficients kept (c0
included); deltas over 3 frames, ``x[t+1] - x[t-1]`` with the edge frames repeated
(``deltas(x, 3)``), and double deltas of the deltas. The baseline feeds these to its
classifiers as they are, so there is no normalisation here either.
"""
from __future__ import annotations

import numpy as np
import torch

from detector.utils.runtime import float32_region

from .common import check_waveform

WINDOW_S = 0.020
HOP_S = 0.010
N_FILTERS = 20
N_COEFFICIENTS = 20
MATLAB_EPS = float(np.finfo(np.float64).eps)   # added before the log, as the baseline does


def linear_filterbank(sample_rate: int, n_fft: int) -> np.ndarray:
    """``(n_fft // 2 + 1, N_FILTERS)`` triangles with corners on ``linspace(0, Nyquist, N_FILTERS + 2)``."""
    frequencies = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    corners = np.linspace(0.0, sample_rate / 2, N_FILTERS + 2)
    low, centre, high = corners[:-2], corners[1:-1], corners[2:]
    rising = (frequencies[:, None] - low) / (centre - low)
    falling = (high - frequencies[:, None]) / (high - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def dct_matrix(size: int, keep: int) -> np.ndarray:
    """``(size, keep)``: the first ``keep`` orthonormal DCT-II basis vectors (MATLAB's ``dct``) as columns."""
    n = np.arange(size)
    basis = np.cos(np.pi * (2 * n[:, None] + 1) * np.arange(keep) / (2 * size)) * np.sqrt(2.0 / size)
    basis[:, 0] /= np.sqrt(2.0)
    return basis


def deltas(features: torch.Tensor) -> torch.Tensor:
    """``(..., frames)`` -> same shape: ``x[t+1] - x[t-1]``, edge frames repeated (3-frame window)."""
    padded = torch.cat([features[..., :1], features, features[..., -1:]], dim=-1)
    return padded[..., 2:] - padded[..., :-2]


class LFCC(torch.nn.Module):
    """Input ``(batch, 1, time)`` float32 at ``sample_rate`` Hz (``time`` >= one 20 ms frame);
    output ``(batch, 1, 60, frames)`` float32 with ``frames = ceil((time - hop) / hop)``: rows
    0-19 the cepstral coefficients of log10 filter-bank energy, 20-39 their deltas, 40-59 the
    double deltas (per frame; no unit beyond log10 of squared amplitude)."""

    channels = 1

    def __init__(self, sample_rate: int = 16000):
        super().__init__()
        self.sample_rate = sample_rate
        self.window_length = round(WINDOW_S * sample_rate)
        self.hop = round(HOP_S * sample_rate)
        self.n_fft = 1 << (self.window_length - 1).bit_length()
        self.register_buffer("window", torch.hamming_window(self.window_length, periodic=False), persistent=False)
        self.register_buffer("filters", torch.tensor(linear_filterbank(sample_rate, self.n_fft), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("dct", torch.tensor(dct_matrix(N_FILTERS, N_COEFFICIENTS), dtype=torch.float32),
                             persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_waveform(wave, "LFCC")
        with float32_region(wave.device):
            samples = wave[:, 0].float()
            overhang = (samples.shape[-1] - self.window_length) % self.hop
            samples = torch.nn.functional.pad(samples, (0, (self.hop - overhang) % self.hop))
            frames = samples.unfold(-1, self.window_length, self.hop) * self.window   # (batch, frames, window)
            power = torch.fft.rfft(frames, n=self.n_fft).abs().square()
            cepstra = (torch.log10(power @ self.filters + MATLAB_EPS) @ self.dct).transpose(1, 2)
            delta = deltas(cepstra)
            return torch.cat([cepstra, delta, deltas(delta)], dim=1).unsqueeze(1)
