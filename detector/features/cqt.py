"""Constant-Q front-end: nnAudio's CQT (a real convolution with the CQT kernels), log magnitude.

Semitone bins (12 per octave) from C1 (32.7 Hz, librosa's default ``fmin``) up to the last
bin centre below Nyquist (96 bins at 16 kHz, top centre 7.90 kHz): vocoder artefacts sit high
as well as low. Frames every ``FeatureConfig.hop_length`` samples, centred. As for log-mel, the
natural-log magnitude is standardised per example (zero mean, unit variance), so the
backbone sees the same scale whichever spectrogram it gets.
"""
from __future__ import annotations

import math

import torch

from detector.config import FeatureConfig
from detector.utils.runtime import float32_region

from .common import check_waveform, standardise

F_MIN_HZ = 440.0 * 2.0 ** ((24 - 69) / 12)   # C1
BINS_PER_OCTAVE = 12
MAGNITUDE_FLOOR = 1e-5                       # before the log (-100 dB), the log-mel floor on amplitude


def bin_count(sample_rate: int) -> int:
    """Bins from ``F_MIN_HZ`` whose centres stay below Nyquist."""
    return math.ceil(BINS_PER_OCTAVE * math.log2(sample_rate / 2 / F_MIN_HZ))


class LogCQT(torch.nn.Module):
    """Input ``(batch, 1, time)`` float32 at ``sample_rate`` Hz; output ``(batch, 1, bins,
    1 + time // hop_length)`` float32 (``bins = bin_count(sample_rate)``), the standardised
    natural log of the CQT magnitude (unitless).

    nnAudio pads each end by half its longest kernel (``kernel_width // 2`` = 8,192 samples, 0.51 s,
    at 16 kHz) by reflection, which needs a longer input; a shorter one is first extended with silence to
    that length, and only its own ``1 + time // hop_length`` frames are kept.
    """

    channels = 1

    def __init__(self, sample_rate: int = 16000, config: FeatureConfig | None = None):
        super().__init__()
        from nnAudio.features import CQT

        config = config or FeatureConfig()
        self.sample_rate = sample_rate
        self.cqt = CQT(sr=sample_rate, hop_length=config.hop_length, fmin=F_MIN_HZ, n_bins=bin_count(sample_rate),
                       bins_per_octave=BINS_PER_OCTAVE, output_format="Magnitude", verbose=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_waveform(wave, "LogCQT")
        time = wave.shape[-1]
        shortfall = self.cqt.kernel_width // 2 + 1 - time   # shapes only: no host read of the data
        if shortfall > 0:
            wave = torch.nn.functional.pad(wave, (0, shortfall))
        with float32_region(wave.device):
            magnitude = self.cqt(wave[:, 0].float())[..., : 1 + time // self.cqt.hop_length]
            return standardise(torch.log(magnitude.clamp_min(MAGNITUDE_FLOOR))).unsqueeze(1)
