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
from .resample import leg_kernel
from .sampling import Choice, Uniform

# Butterworth order of the low-pass condition (the laundered-ASVspoof study's).
LOWPASS_ORDER = 5
LOWPASS_GRID_HZ = 25.0   # a cutoff range is designed at this spacing (a drawn cutoff is at most 12.5 Hz off)
# Telephone channel: ITU-T G.712 pass band, 8 kHz sampling, G.711 mu-law.
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE = 8000
# STFT size of codecsim: 32 ms at 16 kHz, the scale of an MP3/AAC frame (23-26 ms).
CODECSIM_N_FFT = 512
# An IIR filter runs as an FFT convolution with its impulse response, cut where the discarded tail's
# absolute sum falls to IR_TAIL: no output sample of a signal within [-1, 1] can change by more.
IR_TAIL = 1e-7


def butter_sos(order: int, cutoff_hz: float | Sequence[float], sample_rate: int, btype: str = "lowpass") -> np.ndarray:
    """``scipy.signal.butter(order, cutoff_hz, btype, fs=sample_rate, output="sos")`` with a clear error."""
    edges = np.atleast_1d(np.asarray(cutoff_hz, dtype=float))
    if not ((edges > 0).all() and (edges < sample_rate / 2).all()):
        raise ValueError(f"Butterworth {btype}: cutoff {cutoff_hz} Hz must lie in (0, {sample_rate / 2:g}) Hz "
                         f"(the Nyquist frequency at {sample_rate} Hz)")
    return scipy.signal.butter(order, cutoff_hz, btype=btype, fs=sample_rate, output="sos")


def impulse_response(sos: np.ndarray, tail: float = IR_TAIL) -> np.ndarray:
    """Impulse response of a second-order-section cascade (``scipy.signal.sosfilt`` of a unit impulse), float64.

    Cut to the shortest length ``L`` whose discarded tail has ``sum(|h[L:]|) <=
    tail``: that sum bounds the error of the truncated FIR on any signal within
    [-1, 1]. (A rule on the tail's amplitude alone, e.g. cut after the last
    sample above 1e-7 of the peak, does not: near Nyquist the response rings
    long at small amplitude, and for a 7.9 kHz cutoff the tail beyond that
    point still sums to 5e-6, for 7.99 kHz to 8e-5.) Measured lengths at
    16 kHz, Butterworth order 5: 58 taps at 3 kHz, 52 at 4 kHz, 65 at 5.5 kHz,
    141 at 7 kHz, 278 at 7.5 kHz, 1,381 at both 7.9 kHz and 100 Hz; the
    telephone band-pass (order 4, 300-3400 Hz): 415.

    Args:
        sos: ``(sections, 6)`` as ``scipy.signal.butter(..., output="sos")`` returns it (a stable filter).
        tail: the bound on the discarded tail's absolute sum.

    Returns:
        ``(L,)`` float64, causal (tap 0 at delay 0).
    """
    length = 1024
    while True:
        impulse = np.zeros(length)
        impulse[0] = 1.0
        response = scipy.signal.sosfilt(sos, impulse)
        # Long enough once the second half is a hundredth of the budget: a stable response decays
        # geometrically, so what lies beyond the computed part is smaller still.
        if np.abs(response[length // 2:]).sum() <= tail / 100:
            break
        if length >= 2**26:
            raise ValueError(f"impulse_response: the filter has not decayed after {length} samples (unstable?)")
        length *= 2
    remaining = np.cumsum(np.abs(response)[::-1])[::-1]   # remaining[k] = sum(|response[k:]|)
    return response[: int(np.argmax(remaining <= tail))]


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


def _ir_buffer(responses: Sequence[np.ndarray]) -> torch.Tensor:
    """Causal impulse responses zero-padded at the end to one length: ``(len(responses), 1, taps)`` float32."""
    taps = max(len(r) for r in responses)
    return torch.from_numpy(np.stack([np.pad(r, (0, taps - len(r))) for r in responses])).float().unsqueeze(1)


class LowPass(Attack):
    """Butterworth low-pass (``scipy.signal.butter(order, cutoff, fs=sample_rate, output="sos")`` + ``sosfilt``).

    Params: ``cutoff_hz`` ``(batch,)``; a value that is not one of ``cutoffs_hz``
    uses the nearest. Each candidate is designed once with scipy and kept as
    its impulse response (:func:`impulse_response`: float64 design, within
    1e-7 of ``sosfilt`` on any signal in [-1, 1]), a float32 buffer ``irs``
    ``(len(cutoffs_hz), 1, taps)``; each example gathers its row by an
    on-device index and the batch is filtered by one FFT convolution
    (:func:`functional.fft_convolve`): no sample-by-sample recursion and no
    float64 on the device. Causal, like ``sosfilt`` (the study's filter), so
    the output has the filter's group delay.

    Args:
        cutoffs_hz: candidate cutoffs in Hz (below Nyquist).
        order: filter order (default 5).
    """

    param_keys = ("cutoff_hz",)
    irs: torch.Tensor
    candidates: torch.Tensor

    def __init__(self, cutoffs_hz: Sequence[float], order: int = LOWPASS_ORDER, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        cutoffs_hz = tuple(float(c) for c in cutoffs_hz)
        super().__init__(name or f"lowpass:{'|'.join(f'{c:g}' for c in cutoffs_hz)}", sample_rate)
        designs = [impulse_response(butter_sos(order, c, sample_rate)) for c in cutoffs_hz]
        self.cutoff_hz = Choice(cutoffs_hz)
        self.register_buffer("irs", _ir_buffer(designs), persistent=False)
        self.register_buffer("candidates", torch.tensor(cutoffs_hz), persistent=False)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"cutoff_hz": self.cutoff_hz.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        nearest = (params["cutoff_hz"].unsqueeze(1) - self.candidates).abs().argmin(dim=1)
        return F.fft_convolve(wave, self.irs, index=nearest)


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

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.mu_law_round_trip(wave)


class Telephone(Attack):
    """Narrow-band telephone channel: 300-3400 Hz band-pass (Butterworth order 4), 8 kHz round trip, mu-law.

    Order of operations is the channel's: band-limiting filter, sampling at
    8 kHz, G.711 mu-law quantisation at 8 kHz, back to the model rate.
    Deterministic; no parameters. Built once as float32 buffers: the
    band-pass's impulse response ``band_ir`` ``(1, 1, taps)`` (see
    :func:`impulse_response`; applied by FFT convolution) and the resampling
    kernel ``kernel`` (:func:`.resample.leg_kernel`; both legs run as
    FFT-domain resamplers, :func:`functional.fft_resample`).
    """

    band_ir: torch.Tensor
    kernel: torch.Tensor

    def __init__(self, sample_rate: int = 16000, name: str = "telephone") -> None:
        super().__init__(name, sample_rate)
        band = impulse_response(butter_sos(4, TELEPHONE_BAND_HZ, sample_rate, "bandpass"))
        self.register_buffer("band_ir", _ir_buffer([band]), persistent=False)
        self.register_buffer("kernel", torch.from_numpy(leg_kernel(sample_rate, TELEPHONE_RATE)).float(),
                             persistent=False)

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        band = F.fft_convolve(wave, self.band_ir)
        low = F.mu_law_round_trip(F.fft_resample(band, self.kernel, self.sample_rate, TELEPHONE_RATE))
        return F.fft_resample(low, self.kernel, TELEPHONE_RATE, self.sample_rate)[..., : wave.shape[-1]]


class CodecSim(Attack):
    """On-device codec-like degradation for training (NOT a real codec; see :func:`functional.spectral_quantise`).

    Params: ``step_db`` ``(batch,)`` log-magnitude quantisation step,
    ``cutoff_hz`` ``(batch,)`` bandwidth. The STFT's Hann window
    (``CODECSIM_N_FFT`` samples) is a buffer, built once.
    """

    param_keys = ("step_db", "cutoff_hz")
    window: torch.Tensor

    def __init__(self, step_db: Uniform | Choice, cutoff_hz: Uniform | Choice, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        super().__init__(name or f"codecsim:step={step_db.spec}:cutoff={cutoff_hz.spec}", sample_rate)
        self.step_db = step_db
        self.cutoff_hz = cutoff_hz
        self.register_buffer("window", torch.hann_window(CODECSIM_N_FFT), persistent=False)

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        return {"step_db": self.step_db.sample(batch, generator), "cutoff_hz": self.cutoff_hz.sample(batch, generator)}

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        return F.spectral_quantise(wave, params["step_db"], params["cutoff_hz"], self.sample_rate, self.window)


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
