"""Resampling filters of the laundering conditions, designed once on the host (NumPy, float64).

Conditions that leave the model's rate and come back (``resample:RATE``, the
telephone channel) run on the device as FFT-domain resamplers: the spectrum is
multiplied by the response of a Kaiser-windowed sinc low-pass and cut to (or
zero-padded from) the other rate's bins (:func:`.functional.fft_resample`).
Nothing above the lower rate's Nyquist survives a cut, so an FFT-domain
resampler does not alias. Its round trip (down and back up, or up and back
down, with nothing done at the other rate) is therefore exactly a zero-phase
filter at the model's rate, whose response is the product of the two legs'
(:func:`round_trip_ir`); ``resample:RATE`` runs as that one filter.

Two designs, both :class:`KaiserSinc`:

- :data:`DOWN_UP` for an intermediate rate below the model's: torchaudio's
  ``sinc_interp_kaiser`` kernel with 24 zero crossings, roll-off 0.95, beta 10
  (the filter these conditions have always used). Round trip measured with
  tones at 16 kHz: flat within 0.01 dB to 0.8 x the low rate's Nyquist,
  -1.9 dB at 0.9 x, -12 dB at 0.95 x, -39 dB at 1.0 x and -101 dB at 1.05 x
  (torchaudio's own round trip: the same to 0.001 dB up to 0.95 x, and
  -57 dB at 1.05 x, where its resampler aliases).
- :data:`UP_DOWN` for an intermediate rate above the model's. Going up and
  back down needs one band limit only, the model's own Nyquist: images of a
  component at ``f`` appear at ``model_rate - f`` and fold back onto ``f``
  coherently, so the round trip's response is ``H(f)**2 + H(model_rate - f)**2``
  (computed as such, see :func:`round_trip_ir`), which is 0.5 (-6 dB) at the
  Nyquist whatever the filter. Cutoff at the model's Nyquist with 64 zero
  crossings: within 0.1 dB to 7.7 kHz at 16 kHz, -0.9 dB at 7.8 kHz,
  -3.6 dB at 7.9 kHz. (With ``DOWN_UP``'s roll-off of 0.95 applied to the
  model's rate, as torchaudio does, ``resample:22050`` was a 7.4 kHz
  low-pass: -12 dB at 7.6 kHz, -17 dB at 7.7 kHz.) The response does not
  depend on the intermediate rate: a real converter differs between 22.05 and
  44.1 kHz only through its filters. Rates within the filter's transition
  above the model's (16 to ~16.6 kHz at 16 kHz) would alias at the
  intermediate rate; that aliasing is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Oversampling of the continuous kernel when two legs are composed (see round_trip_ir): at 16 x the
# model's rate, the kernel's spectrum folds only its Kaiser sidelobes (below -100 dB) onto the band.
COMPOSE_OVERSAMPLING = 16


@dataclass(frozen=True)
class KaiserSinc:
    """A Kaiser-windowed sinc low-pass: torchaudio's ``sinc_interp_kaiser`` kernel as a function of time.

    ``h(t) = 2 fc sinc(2 fc t) I0(beta sqrt(1 - (2 fc t / W)**2)) / I0(beta)`` for
    ``|2 fc t| <= W`` (``W`` = ``zero_crossings``, ``sinc(x) = sin(pi x) / (pi x)``),
    0 elsewhere; ``fc = rolloff * min(rate_a, rate_b) / 2`` Hz.

    Attributes:
        zero_crossings: ``W``, half the kernel's length in zero crossings (sharper transition when larger).
        rolloff: cutoff as a fraction of the lower rate's Nyquist.
        beta: Kaiser window shape (stop-band depth against transition width).
    """

    zero_crossings: int
    rolloff: float
    beta: float

    def cutoff_hz(self, rate_a: int, rate_b: int) -> float:
        """``fc`` in Hz for a conversion between ``rate_a`` and ``rate_b`` Hz."""
        return self.rolloff * min(rate_a, rate_b) / 2

    def kernel(self, cutoff_hz: float, sample_rate: float) -> np.ndarray:
        """``h(n / sample_rate) / sample_rate`` for every ``n`` where it is non-zero: ``(2 k + 1,)`` float64.

        Centred (tap ``k`` is ``t = 0``), symmetric, DC gain ~1: a zero-phase FIR
        filter at ``sample_rate`` Hz.
        """
        half = math.floor(self.zero_crossings * sample_rate / (2 * cutoff_hz))
        u = 2 * cutoff_hz * np.arange(-half, half + 1) / sample_rate   # time in zero crossings
        window = np.i0(self.beta * np.sqrt(np.clip(1 - (u / self.zero_crossings) ** 2, 0, None))) / np.i0(self.beta)
        return 2 * cutoff_hz / sample_rate * np.sinc(u) * window


DOWN_UP = KaiserSinc(zero_crossings=24, rolloff=0.95, beta=10.0)
UP_DOWN = KaiserSinc(zero_crossings=64, rolloff=1.0, beta=10.0)


def leg_kernel(rate_a: int, rate_b: int) -> np.ndarray:
    """One leg's zero-phase kernel (``DOWN_UP`` design) at the higher of ``rate_a``, ``rate_b`` Hz.

    For :func:`.functional.fft_resample`, both directions.
    """
    return DOWN_UP.kernel(DOWN_UP.cutoff_hz(rate_a, rate_b), max(rate_a, rate_b))


@lru_cache(maxsize=None)
def round_trip_ir(sample_rate: int, rate: int) -> np.ndarray:
    """Impulse response of the FFT-domain round trip ``sample_rate -> rate -> sample_rate``: ``(2 k + 1,)``, centred.

    The two legs' kernels, both the continuous ``h`` of the design (``DOWN_UP``
    below ``sample_rate``, ``UP_DOWN`` above), compose to ``h * h`` (the
    autoconvolution) in continuous time; sampling it at ``sample_rate`` folds
    its spectrum about the Nyquist, which is the coherent image term of an
    up-and-down trip (see the module docstring). ``h * h`` is computed on a grid
    ``COMPOSE_OVERSAMPLING`` times finer and decimated. ``rate == sample_rate``:
    no conversion, the unit impulse. Cached: do not modify the returned array.
    """
    if rate == sample_rate:
        return np.ones(1)
    design = DOWN_UP if rate < sample_rate else UP_DOWN
    fine = design.kernel(design.cutoff_hz(sample_rate, rate), sample_rate * COMPOSE_OVERSAMPLING)
    composed = np.convolve(fine, fine)   # centre at len(fine) - 1
    centre = len(fine) - 1
    reach = centre // COMPOSE_OVERSAMPLING * COMPOSE_OVERSAMPLING
    taps = composed[centre - reach: centre + reach + 1: COMPOSE_OVERSAMPLING]
    return COMPOSE_OVERSAMPLING * taps   # decimation keeps the DC gain at 1


def round_trip_irs(sample_rate: int, rates: tuple[int, ...]) -> np.ndarray:
    """:func:`round_trip_ir` of each rate, zero-padded on both sides to one length.

    Returns:
        ``(len(rates), 2 k + 1)`` float64, every row centred on tap ``k``.
    """
    irs = [round_trip_ir(sample_rate, rate) for rate in rates]
    half = max(len(ir) for ir in irs) // 2
    return np.stack([np.pad(ir, half - len(ir) // 2) for ir in irs])
