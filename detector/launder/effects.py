"""Filters and simple effects as attacks: low-pass, gain, clipping, telephone band, codec-like, polarity, shift.

Same contract as :mod:`.attacks`: ``sample`` draws ``(batch,)`` parameter
tensors, ``apply`` is batched, deterministic and free of host syncs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal
import torch

from . import functional as F
from .attacks import Attack, Params
from .sampling import Choice, Uniform

# Butterworth order of the low-pass condition (the laundered-ASVspoof study's).
LOWPASS_ORDER = 5
LOWPASS_GRID_HZ = 25.0   # a cutoff range is designed at this spacing (a drawn cutoff is at most 12.5 Hz off)
# Telephone channel: ITU-T G.712 pass band, 8 kHz sampling, G.711 mu-law.
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE = 8000


def butter_sos(order: int, cutoff_hz: float | Sequence[float], sample_rate: int, btype: str = "lowpass") -> np.ndarray:
    """``scipy.signal.butter(order, cutoff_hz, btype, fs=sample_rate, output="sos")`` with a clear error."""
    edges = np.atleast_1d(np.asarray(cutoff_hz, dtype=float))
    if not ((edges > 0).all() and (edges < sample_rate / 2).all()):
        raise ValueError(f"Butterworth {btype}: cutoff {cutoff_hz} Hz must lie in (0, {sample_rate / 2:g}) Hz "
                         f"(the Nyquist frequency at {sample_rate} Hz)")
    return scipy.signal.butter(order, cutoff_hz, btype=btype, fs=sample_rate, output="sos")


def lowpass_cutoffs(cutoff_hz: Uniform | Choice) -> tuple[float, ...]:
    """The cutoffs, in Hz, a :class:`LowPass` designs for a condition's ``cutoff``.

    Alternatives ``a|b`` are taken as they are. A range ``lo..hi`` becomes evenly spaced points
    at most ``LOWPASS_GRID_HZ`` apart from ``lo`` up to and including ``hi``, each equally likely:
    coefficients are designed once per point (with scipy), not per example.
    """
    if isinstance(cutoff_hz, Choice):
        return cutoff_hz.options
    steps = int(np.ceil((cutoff_hz.high - cutoff_hz.low) / LOWPASS_GRID_HZ))
    return tuple(float(c) for c in np.linspace(cutoff_hz.low, cutoff_hz.high, steps + 1))


class LowPass(Attack):
    """Butterworth low-pass (``scipy.signal.butter(order, cutoff, fs=sample_rate, output="sos")`` + ``sosfilt``).

    Params: ``cutoff_hz`` ``(batch,)``; a value that is not one of ``cutoffs_hz``
    uses the nearest. Coefficients of every candidate are designed once with
    scipy and kept as a buffer; each example gathers its own, and the cascade
    runs batched (:func:`functional.sos_filter`). Causal, like ``sosfilt``
    (the study's filter), so the output has the filter's group delay.

    Args:
        cutoffs_hz: candidate cutoffs in Hz (below Nyquist).
        order: filter order (default 5).
    """

    param_keys = ("cutoff_hz",)
    sos: torch.Tensor
    candidates: torch.Tensor

    def __init__(self, cutoffs_hz: Sequence[float], order: int = LOWPASS_ORDER, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        cutoffs_hz = tuple(float(c) for c in cutoffs_hz)
        super().__init__(name or f"lowpass:{'|'.join(f'{c:g}' for c in cutoffs_hz)}", sample_rate)
        designs = [butter_sos(order, c, sample_rate) for c in cutoffs_hz]
        self.cutoff_hz = Choice(cutoffs_hz)
        self.register_buffer("sos", torch.from_numpy(np.stack(designs)), persistent=False)  # float64
        self.register_buffer("candidates", torch.tensor(cutoffs_hz), persistent=False)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"cutoff_hz": self.cutoff_hz.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        nearest = (params["cutoff_hz"].unsqueeze(1) - self.candidates).abs().argmin(dim=1)
        return F.sos_filter(wave, self.sos[nearest])


class Gain(Attack):
    """Change the level by ``gain_db`` per example (then peak-limited to [-1, 1], see :class:`Attack`).

    Params: ``gain_db`` ``(batch,)``.
    """

    param_keys = ("gain_db",)

    def __init__(self, gain_db: Uniform | Choice, sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or f"gain:db={gain_db.spec}", sample_rate)
        self.gain_db = gain_db

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"gain_db": self.gain_db.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.apply_gain(wave, params["gain_db"])


class Clip(Attack):
    """Hard clipping at a fraction of each example's peak (see :func:`functional.hard_clip`).

    Params: ``level`` ``(batch,)`` in (0, 1].
    """

    param_keys = ("level",)

    def __init__(self, level: Uniform | Choice, sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or f"clip:level={level.spec}", sample_rate)
        self.level = level

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"level": self.level.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.hard_clip(wave, params["level"])


class MuLaw(Attack):
    """8-bit mu-law companding round trip (G.711 quantisation) at the model's rate. No parameters."""

    def __init__(self, sample_rate: int = 16000, name: str = "mulaw") -> None:
        super().__init__(name, sample_rate)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.mu_law_round_trip(wave)


class Telephone(Attack):
    """Narrow-band telephone channel: 300-3400 Hz band-pass (Butterworth order 4), 8 kHz round trip, mu-law.

    Order of operations is the channel's: band-limiting filter, sampling at
    8 kHz, G.711 mu-law quantisation at 8 kHz, back to the model rate.
    Deterministic; no parameters.
    """

    sos: torch.Tensor

    def __init__(self, sample_rate: int = 16000, name: str = "telephone") -> None:
        super().__init__(name, sample_rate)
        self.register_buffer("sos", torch.from_numpy(butter_sos(4, TELEPHONE_BAND_HZ, sample_rate, "bandpass")),
                             persistent=False)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        band = F.sos_filter(wave, self.sos)
        low = F.AF.resample(band, self.sample_rate, TELEPHONE_RATE, **F.RESAMPLE_FILTER)
        low = F.mu_law_round_trip(low)
        return F.AF.resample(low, TELEPHONE_RATE, self.sample_rate, **F.RESAMPLE_FILTER)[..., : wave.shape[-1]]


class CodecSim(Attack):
    """On-device codec-like degradation for training (NOT a real codec; see :func:`functional.spectral_quantise`).

    Params: ``step_db`` ``(batch,)`` log-magnitude quantisation step,
    ``cutoff_hz`` ``(batch,)`` bandwidth.
    """

    param_keys = ("step_db", "cutoff_hz")

    def __init__(self, step_db: Uniform | Choice, cutoff_hz: Uniform | Choice, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        super().__init__(name or f"codecsim:step={step_db.spec}:cutoff={cutoff_hz.spec}", sample_rate)
        self.step_db = step_db
        self.cutoff_hz = cutoff_hz

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"step_db": self.step_db.sample(batch, generator), "cutoff_hz": self.cutoff_hz.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.spectral_quantise(wave, params["step_db"], params["cutoff_hz"], self.sample_rate)


class Polarity(Attack):
    """Invert the polarity with probability ``p`` per example (torch-audiomentations ``PolarityInversion``).

    Params: ``invert`` ``(batch,)`` bool.
    """

    param_keys = ("invert",)

    def __init__(self, p: float = 1.0, sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or f"polarity:p={p:g}", sample_rate)
        self.p = p

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"invert": torch.rand(batch, generator=generator) < self.p}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.polarity(wave, params["invert"])


class Shift(Attack):
    """Circular time shift by a fraction of the length (torch-audiomentations ``Shift`` with rollover).

    Params: ``fraction`` ``(batch,)`` in [-1, 1]; the shift in samples is
    ``round(fraction * time)`` of the waveform it is applied to.
    """

    param_keys = ("fraction",)

    def __init__(self, fraction: Uniform | Choice, sample_rate: int = 16000, name: str | None = None) -> None:
        super().__init__(name or f"shift:fraction={fraction.spec}", sample_rate)
        self.fraction = fraction

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"fraction": self.fraction.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.time_shift(wave, torch.round(params["fraction"] * wave.shape[-1]).long())


class AddColouredNoise(Attack):
    """Noise with power ~ ``1 / f**decay``, ``decay`` drawn per example (torch-audiomentations ``AddColoredNoise``).

    Batched and seeded, unlike the library's version (a Python loop over
    examples drawing from the global RNG): white noise is cropped from a fixed
    white bank (see :class:`NoiseBank`), shaped per example in the frequency
    domain, and mixed at ``snr_db``.

    Params: ``decay`` ``(batch,)``, ``snr_db`` ``(batch,)``, ``offset`` ``(batch,)`` long.
    Defaults of the parser (``colored:snr=3..30:decay=-2..2``) are the library's.
    """

    param_keys = ("decay", "snr_db", "offset")

    def __init__(self, decay: Uniform | Choice, snr_db: Uniform | Choice, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        from .noise import NoiseBank

        super().__init__(name or f"colored:snr={snr_db.spec}:decay={decay.spec}", sample_rate)
        self.decay = decay
        self.snr_db = snr_db
        self.bank = NoiseBank.coloured(["white"], sample_rate)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        index = torch.zeros(batch, dtype=torch.long)
        return {"decay": self.decay.sample(batch, generator), "snr_db": self.snr_db.sample(batch, generator),
                "offset": self.bank.sample_offsets(index, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        length = wave.shape[-1]
        index = torch.zeros_like(params["offset"])
        white = self.bank.crop(index, params["offset"], length)
        freqs = torch.fft.rfftfreq(length, 1.0 / self.sample_rate, device=wave.device)
        gain = freqs.clamp_min(20.0).pow(-params["decay"].view(-1, 1, 1) / 2.0) * (freqs > 0)
        noise = torch.fft.irfft(torch.fft.rfft(white) * gain, n=length)
        return F.mix_at_snr(wave, noise, params["snr_db"])
