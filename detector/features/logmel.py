"""Log-mel front-end: waveform ``(batch, 1, time)`` -> normalised log-mel ``(batch, 1, n_mels, frames)``.

The spectrogram and the log are computed in float32 even under autocast: in float16 the
small mel energies of quiet frames underflow to zero and their log to -inf.
"""
from __future__ import annotations

import torch
import torchaudio

from detector.config import MEL_BACKENDS, FeatureConfig
from detector.utils.runtime import float32_region

from .common import check_waveform, standardise

LOG_FLOOR = 1e-10          # power floor before the log (-100 dB)


def mel_power(backend: str, sample_rate: int, config: FeatureConfig) -> torch.nn.Module:
    """A module mapping ``(batch, time)`` to mel power ``(batch, n_mels, frames)``.

    Both backends use the Slaney mel scale and Slaney area normalisation (librosa's
    defaults, nnAudio's only mode), a periodic Hann window, centred frames with reflect
    padding, and power 2, so they agree to float32 rounding.
    """
    f_max = config.f_max or sample_rate / 2
    if backend == "torchaudio":
        return torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
            f_min=config.f_min, f_max=f_max, n_mels=config.n_mels, power=2.0, center=True,
            pad_mode="reflect", norm="slaney", mel_scale="slaney")
    if backend == "nnaudio":
        from nnAudio.features import MelSpectrogram  # optional backend: import only when chosen
        return MelSpectrogram(
            sr=sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels,
            fmin=config.f_min, fmax=f_max, power=2.0, center=True, pad_mode="reflect", htk=False,
            norm=1, window="hann", verbose=False)
    raise ValueError(f"unknown log-mel backend {backend!r}; valid: {', '.join(MEL_BACKENDS)}")


class LogMel(torch.nn.Module):
    """Log-mel spectrogram with per-example normalisation (zero mean, unit variance).

    Input ``(batch, 1, time)`` float32 at ``sample_rate`` Hz; output
    ``(batch, 1, n_mels, 1 + time // hop_length)`` float32, unitless (standardised natural-log
    power). ``config.backend`` picks the mel implementation (see :func:`mel_power`).
    """

    channels = 1   # input channels of the backbone's stem

    def __init__(self, sample_rate: int = 16000, config: FeatureConfig | None = None):
        super().__init__()
        config = config or FeatureConfig()
        self.sample_rate = sample_rate
        self.mel = mel_power(config.backend, sample_rate, config)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_waveform(wave, "LogMel")
        with float32_region(wave.device):
            power = self.mel(wave[:, 0].float())
            return standardise(torch.log(power.clamp_min(LOG_FLOOR))).unsqueeze(1)
