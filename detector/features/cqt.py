"""Constant-Q front-end: a multi-rate constant-Q transform, log magnitude.

Semitone bins (12 per octave) from C1 (32.7 Hz, librosa's default ``fmin``) up to the last
bin centre below Nyquist (96 bins at 16 kHz, top centre 7.90 kHz): vocoder artefacts sit high
as well as low. Frames every ``FeatureConfig.hop_length`` samples, centred. As for log-mel, the
natural-log magnitude is standardised per example (zero mean, unit variance), so the
backbone sees the same scale whichever spectrogram it gets.

Why multi-rate: the direct transform (nnAudio's ``CQT``, this front-end until now) convolves
the clip with every bin's kernel at the full rate; C1's is 8,223 taps, 1.26 G multiply-adds per
4 s clip, a third of ResNet-18's own training step. Here each octave is computed from the clip
low-passed and decimated by 2 per octave below the top three (Brown and Puckette 1992;
Schörkhuber and Klapuri 2010; librosa's ``cqt``), so no octave's kernels are longer than the
third's, 257 taps (about 20 M multiply-adds per 4 s clip and one FFT, 1/60 of the direct form).

The bins are nnAudio's (and librosa's): bin ``k`` at ``f_k = F_MIN_HZ * 2 ** (k / 12)``
convolves a periodic Hann window of ``ceil(Q * rate / f_k)`` samples, ``Q = 1 / (2 ** (1/12) - 1)``,
modulated to ``f_k`` and scaled to unit L1 norm, and is multiplied by ``sqrt`` of its full-rate
length (librosa's normalisation). Each octave is computed at a rate where its bins lie between
an eighth and a quarter of Nyquist (``OCTAVE_MARGIN``). Every lower rate is taken from one FFT
of the clip: the spectrum below that rate's Nyquist frequency, unchanged up to half of it (where
the bins and what their side lobes hear lie) and tapered to zero above, so nothing folds.
Decimation stops where the hop would stop being a whole number of samples (5 times for hop
160): the octaves below are computed at that rate with longer kernels.

Clips are padded with zeros (not reflected, which nnAudio did and which needs clips longer
than the longest kernel), so frames within half a kernel of either end differ from nnAudio's;
the others match it within 0.2 dB (``tests/features/test_cqt.py``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from detector.config import FeatureConfig
from detector.utils.runtime import float32_region

from .common import check_waveform, standardise

F_MIN_HZ = 440.0 * 2.0 ** ((24 - 69) / 12)   # C1
BINS_PER_OCTAVE = 12
Q = 1.0 / (2.0 ** (1.0 / BINS_PER_OCTAVE) - 1.0)
MAGNITUDE_FLOOR = 1e-5                       # before the log (-100 dB), the log-mel floor on amplitude
# Each octave is computed at a rate whose Nyquist is 2 ** OCTAVE_MARGIN times above its top bin
# (4x: bins between 1/8 and 1/4 of Nyquist): a full-rate kernel also hears, through its side
# lobes, what lies an octave or two above it, and with a margin of one octave instead, cells
# 55-60 dB below a speech clip's peak moved by up to 0.4 dB.
OCTAVE_MARGIN = 2
# Decimation is done in the frequency domain, from one FFT of the clip: each lower rate keeps the
# spectrum below its Nyquist frequency (nothing folds), tapered by a half cosine from TAPER_START
# of that Nyquist up to it, after zero padding of GUARD_SAMPLES_PER_STEP per unit of the largest
# decimation, so the circular convolution's ringing stays in the padding.
TAPER_START = 0.5
GUARD_SAMPLES_PER_STEP = 64
NNAUDIO_BUFFERS = ("lenghts", "cqt_kernels_real", "cqt_kernels_imag")   # the earlier front-end's (sic)


def bin_count(sample_rate: int) -> int:
    """Bins from ``F_MIN_HZ`` whose centres stay below Nyquist."""
    return math.ceil(BINS_PER_OCTAVE * math.log2(sample_rate / 2 / F_MIN_HZ))


def bin_frequencies(sample_rate: int) -> np.ndarray:
    """``(bins,)`` centre frequencies in Hz, lowest first."""
    return F_MIN_HZ * 2.0 ** (np.arange(bin_count(sample_rate)) / BINS_PER_OCTAVE)


def octave_kernels(frequencies: np.ndarray, decimation: int, sample_rate: int) -> tuple[np.ndarray, int]:
    """The kernels of bins at ``frequencies`` (Hz) for the signal decimated by ``2 ** decimation``.

    Each kernel samples, at the decimated rate, the same continuous window as the full-rate
    kernel: a periodic Hann window of ``length = ceil(Q * sample_rate / f)`` full-rate samples
    starting ``ceil(length / 2)`` samples before the frame's centre (nnAudio's and librosa's
    centring), modulated to ``f``. Rounding a length at the lower rate instead would move the
    window's spectral nulls, where a neighbouring bin's response is most sensitive.

    The decimated signal is taken as :meth:`ConstantQ._decimated` gives it, ``2 ** decimation``
    times the low-passed clip, hence the kernels' extra factor ``2 ** -decimation``.

    Returns ``((2 * n, 1, width), left)``: real parts then imaginary parts, such that frame ``t``
    is ``conv1d(pad(x, left), kernels, stride=hop)[..., t]``; each kernel has unit L1 norm times
    ``sqrt(length)`` (librosa's normalisation).
    """
    step = 2 ** decimation
    lengths = np.ceil(Q * sample_rate / frequencies).astype(int)
    starts = -((lengths + 1) // 2)                       # full-rate samples from the frame centre
    firsts = -(-starts // step)                         # first decimated tap inside each window
    lasts = -(-(starts + lengths) // step)              # one past the last
    left = int(-firsts.min())
    kernels = np.zeros((len(frequencies), int(lasts.max()) + left), dtype=np.complex128)
    for row, (frequency, length, start, first, last) in enumerate(zip(frequencies, lengths, starts, firsts, lasts)):
        position = np.arange(first, last) * step         # full-rate samples from the frame centre
        window = 0.5 - 0.5 * np.cos(2 * np.pi * (position - start) / length)
        kernel = window * np.exp(2j * np.pi * frequency / sample_rate * position)
        kernels[row, first + left:last + left] = kernel / np.abs(kernel).sum() * np.sqrt(length) / step
    return np.concatenate([kernels.real, kernels.imag])[:, None, :], left


def fft_length(samples: int, step: int, power_of_two: bool = False) -> int:
    """The FFT length for ``samples``: a multiple of ``step`` (a power of 2) whose quotient has no
    prime factor above 5 (a fast size), or, with ``power_of_two``, the next power of 2 (ONNX
    Runtime's DFT scored other lengths up to 0.03 away from PyTorch's)."""
    samples = int(samples)   # under torch.jit.trace a traced size: the trace keeps the length it saw
    if power_of_two:
        return max(1 << (samples - 1).bit_length(), step)
    units = -(-samples // step)
    while not _five_smooth(units):
        units += 1
    return units * step


def _five_smooth(number: int) -> bool:
    for prime in (2, 3, 5):
        while number % prime == 0:
            number = number // prime
    return number == 1


class ConstantQ(torch.nn.Module):
    """Multi-rate constant-Q magnitude.

    Input ``(batch, time)`` float32 at ``sample_rate`` Hz; output ``(batch, bins, 1 + time //
    hop_length)`` float32 magnitudes (nnAudio's ``CQT(output_format="Magnitude")`` scale: a
    full-scale sine at a bin's centre gives about ``sqrt(length) / 2``), bins lowest first.
    Kernels are built once as buffers; the forward pass reads only shapes, never data.
    """

    def __init__(self, sample_rate: int, hop_length: int):
        super().__init__()
        self.sample_rate, self.hop_length = sample_rate, hop_length
        self.power_of_two_fft = False          # the ONNX export sets it (see fft_length)
        frequencies = bin_frequencies(sample_rate)
        twos = (hop_length & -hop_length).bit_length() - 1      # decimate while the hop stays whole
        # Octaves counted from the top: the top three at the full rate, then one halving per octave.
        octave = (len(frequencies) - 1 - np.arange(len(frequencies))) // BINS_PER_OCTAVE
        level = np.minimum(np.maximum(octave - OCTAVE_MARGIN, 0), twos)
        self.levels: list[int] = []                             # decimations, one per kernel set, fewest first
        self.lefts: list[int] = []
        for decimation in sorted(set(level.tolist())):
            kernels, left = octave_kernels(frequencies[level == decimation], decimation, sample_rate)
            self.register_buffer(f"kernels_{decimation}", torch.tensor(kernels, dtype=torch.float32),
                                 persistent=False)
            self.levels.append(decimation)
            self.lefts.append(left)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints of the direct (nnAudio) CQT hold its fixed kernels as buffers; this
        # transform builds its own, so they are dropped, not refused (the features agree within
        # 0.2 dB away from the clip's ends).
        for name in NNAUDIO_BUFFERS:
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        frames, parts = 1 + wave.shape[-1] // self.hop_length, []
        for decimation, left, signal in zip(self.levels, self.lefts, self._decimated(wave)):
            kernels = getattr(self, f"kernels_{decimation}")
            hop = self.hop_length >> decimation
            right = max((frames - 1) * hop + kernels.shape[-1] - left - signal.shape[-1], 0)
            response = _strided_correlation(torch.nn.functional.pad(signal, (left, right)), kernels, hop)
            parts.append(response[..., :frames].unflatten(1, (2, -1)))      # (batch, real | imaginary, bins, frames)
        return torch.cat(parts[::-1], dim=2).square().sum(dim=1).sqrt()

    def _decimated(self, wave: torch.Tensor) -> list[torch.Tensor]:
        """``(batch, time)`` -> per entry of :attr:`levels` ``d``, ``(batch, 1, ceil(time / 2 ** d))``: the
        clip low-passed below the rate's Nyquist frequency and sampled every ``2 ** d`` samples
        (sample ``m`` at input sample ``m * 2 ** d``), times ``2 ** d`` (the inverse FFT's scale,
        folded into that level's kernels), from one FFT (shapes only, no host read)."""
        time, step = wave.shape[-1], 2 ** self.levels[-1]
        length = fft_length(time + GUARD_SAMPLES_PER_STEP * step, step, self.power_of_two_fft)
        spectrum = torch.fft.rfft(wave, n=length) if step > 1 else None
        signals = []
        for decimation in self.levels:
            if decimation == 0:
                signals.append(wave[:, None])
                continue
            nyquist_bin = length >> (decimation + 1)
            fraction = torch.arange(nyquist_bin + 1, device=wave.device, dtype=torch.float32) / nyquist_bin
            taper = 0.5 + 0.5 * torch.cos(torch.pi * ((fraction - TAPER_START) / (1 - TAPER_START)).clamp(0, 1))
            low = torch.fft.irfft(spectrum[..., : nyquist_bin + 1] * taper, n=length >> decimation)
            signals.append(low[:, None, : -(-time // 2 ** decimation)])
        return signals


def _strided_correlation(signal: torch.Tensor, kernels: torch.Tensor, stride: int) -> torch.Tensor:
    """``conv1d(signal, kernels, stride=stride)`` for one input channel: ``(batch, 1, n)`` and
    ``(channels, 1, width)`` -> ``(batch, channels, frames)``, as a matrix product over a strided
    view of the signal. With one input channel, oneDNN's convolution ran 4-7x slower on the CPU."""
    batch, width = signal.shape[0], kernels.shape[-1]
    frames = signal.unfold(-1, width, stride).reshape(-1, width)   # (batch * frames, width): one copy
    return (frames @ kernels[:, 0].T).view(batch, -1, kernels.shape[0]).transpose(1, 2)


class LogCQT(torch.nn.Module):
    """Input ``(batch, 1, time)`` float32 at ``sample_rate`` Hz; output ``(batch, 1, bins,
    1 + time // hop_length)`` float32 (``bins = bin_count(sample_rate)``), the standardised
    natural log of the constant-Q magnitude (unitless). Every input length works."""

    channels = 1

    def __init__(self, sample_rate: int = 16000, config: FeatureConfig | None = None):
        super().__init__()
        config = config or FeatureConfig()
        self.sample_rate = sample_rate
        self.cqt = ConstantQ(sample_rate, config.hop_length)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        check_waveform(wave, "LogCQT")
        with float32_region(wave.device):
            magnitude = self.cqt(wave[:, 0].float())
            return standardise(torch.log(magnitude.clamp_min(MAGNITUDE_FLOOR))).unsqueeze(1)
