"""RawBoost (Tak et al., ICASSP 2022), batched on the device: its three algorithms and their combinations.

H. Tak, M. Kamble, J. Patino, M. Todisco, N. Evans, "RawBoost: A Raw Data Boosting and
Augmentation Method applied to Automatic Speaker Verification Anti-Spoofing", ICASSP 2022. The
behaviour and defaults are the authors' code's (github.com/TakHemlata/RawBoost-antispoofing,
``RawBoost.py`` and ``data_utils_rawboost.py``), re-derived here as batched tensor operations:

1. **LnL, linear and non-linear convolutive noise**:
   ``y[n] = sum_{j=1..N_f} sum_i b_j[i] x^j[n - i]``, each ``b_j`` a cascade of ``bands``
   Hamming-windowed FIR band-stop filters (``scipy.signal.firwin(c, [fc - bw/2, fc + bw/2],
   window="hamming")``, ``c`` taps made odd), scaled to ``10**(g_j/20)`` over its peak gain on
   ``scipy.signal.freqz``'s 512 frequencies. ``g_1`` is the linear term's gain; the non-linear terms'
   ``g_j`` (``j >= 2``) are uniform between ``gain_lo - bias_lo`` and ``gain_hi - bias_hi`` (the code's
   ``minG - minBiasLinNonLin`` .. ``maxG - maxBiasLinNonLin``: -5 .. -20 dB by default). Then, as
   the code does (the paper does not say), the mean is removed and the result is scaled down when
   its peak exceeds 1.
2. **ISD, impulsive signal-dependent noise**: ``beta`` uniform in ``[0, P]`` %; ``floor(time *
   beta / 100)`` uniformly chosen samples become ``x[n] (1 + g_sd f_r[n])``, ``f_r`` the product of
   two uniforms on [-1, 1]; then scaled down when the peak exceeds 1.
3. **SSI, stationary signal-independent noise**: white Gaussian noise through one notch cascade
   (as in 1), added at an SNR uniform in ``snr`` dB.

4-7 are series: 4 = 1+2+3, 5 = 1+2, 6 = 1+3, 7 = 2+3 (each stage's own peak scaling kept, as the code
chains them); 8 = 1 and 2 in parallel: ``LnL(x) + ISD(x)``, summed (not averaged) and scaled down
when its peak exceeds 1, as the code's ``normWav(feature1 + feature2, 0)``.

Filtering aligns as the code's ``filterFIR``: a cascade of ``M`` taps (``M`` odd) is applied
causally and the output read from sample ``(M + 1) / 2`` on, one sample past the linear-phase
centre ``(M - 1) / 2`` (an advance of one sample that the code has; kept for parity). Samples past
either end of the clip are zeros.

How it is batched: the host draws only scalars per example and filter (centre, width, taps, gain,
SNR, percentage, bank offsets); the device designs every band-stop filter in closed form (the
windowed-sinc ``firwin`` computes), each centred in a slot of ``width`` taps (the most a draw can
give) so that every cascade has the same length and delay, cascades them by a short FFT (which
also gives the ``freqz`` grid for the peak gain), and filters by one long FFT per power of ``x``.
ISD's random positions and ``f_r`` come from a fixed device bank (a random permutation of
``ISD_BANK_LENGTH`` ranks and as many ``f_r`` values) read from a drawn offset: the ``k`` smallest
ranks of a crop are ``k`` uniformly chosen positions. SSI's white noise is a crop of the white
noise bank. Nothing is read back to the host.
"""

from __future__ import annotations

import math

import torch

from . import functional as F
from .attacks import Attack, Params
from .noise import NoiseBank
from .sampling import Choice, Uniform

# The code's data_utils_rawboost.process_Rawboost_feature: algorithm -> stages in series ("lnl|isd" = parallel).
ALGORITHMS: dict[int, tuple[str, ...]] = {
    1: ("lnl",), 2: ("isd",), 3: ("ssi",), 4: ("lnl", "isd", "ssi"), 5: ("lnl", "isd"), 6: ("lnl", "ssi"),
    7: ("isd", "ssi"), 8: ("lnl|isd",),
}
# The code moves a band edge at or below 0 Hz to 1/1000 Hz, one at or above Nyquist to Nyquist - 1/1000 Hz.
EDGE_HZ = 1e-3
# scipy.signal.freqz's default: the response at k pi / 512, k = 0..511, where the code finds the peak gain.
FREQZ_POINTS = 512
# ISD's bank of ranks and f_r values: 2**20 samples (65 s at 16 kHz), distinct positions for any crop that long.
ISD_BANK_LENGTH = 2**20


def slot_width(max_taps: float) -> int:
    """Slot length for band-stop filters: the most taps :func:`odd_taps` gives for draws <= ``max_taps``."""
    top = int(max_taps)
    return top + 1 - top % 2


def odd_taps(draw: torch.Tensor) -> torch.Tensor:
    """The code's tap count from a uniform draw: ``int(draw)``, plus one when even (so the filter has a centre)."""
    taps = torch.floor(draw)
    return taps + (torch.remainder(taps, 2) == 0).to(taps.dtype)


def bandstop_taps(fc: torch.Tensor, bw: torch.Tensor, taps: torch.Tensor, width: int, sample_rate: int) -> torch.Tensor:
    """Hamming-windowed band-stop FIRs, as ``scipy.signal.firwin(taps, [f1, f2], window="hamming", fs=sample_rate)``.

    The ideal band-stop response (all-pass minus the band ``[f1, f2]``, ``f1 = fc - bw/2``,
    ``f2 = fc + bw/2``, edges kept inside ``(0, Nyquist)`` as the code does) times a symmetric
    Hamming window of ``taps`` points, scaled to unit gain at 0 Hz. One tap is the identity.

    Args:
        fc, bw: ``(...)`` Hz.
        taps: ``(...)`` odd tap counts, at most ``width``.
        width: odd slot length; each filter is centred on its tap ``(width - 1) / 2``.

    Returns:
        ``(..., width)``, zero outside each filter's own ``taps``.
    """
    nyquist = sample_rate / 2
    low = fc - bw / 2
    high = fc + bw / 2
    low = torch.where(low <= 0, EDGE_HZ, low).unsqueeze(-1) / nyquist
    high = torch.where(high >= nyquist, nyquist - EDGE_HZ, high).unsqueeze(-1) / nyquist
    m = torch.arange(width, device=fc.device, dtype=fc.dtype) - (width - 1) / 2
    half = (taps.unsqueeze(-1) - 1) / 2
    ideal = torch.sinc(m) - high * torch.sinc(high * m) + low * torch.sinc(low * m)
    # Hamming over the filter's own taps: 0.54 - 0.46 cos(2 pi k / (taps - 1)), k = m + half.
    window = 0.54 + 0.46 * torch.cos(math.pi * m / half.clamp_min(0.5))
    fir = ideal * window * (m.abs() <= half)
    return fir / fir.sum(dim=-1, keepdim=True)


def notch_cascade(fc: torch.Tensor, bw: torch.Tensor, taps: torch.Tensor, bands: torch.Tensor, width: int,
                  sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cascades of band-stop filters (the code's ``genNotchCoeffs`` before its gain), and their peak gain.

    Args:
        fc, bw, taps: ``(..., slots)``: per band (see :func:`bandstop_taps`).
        bands: ``(...)`` long, how many of the ``slots`` each cascade uses (the rest are the identity).
        width: slot length (:func:`slot_width`).

    Returns:
        ``(..., slots * (width - 1) + 1)`` taps, centred on tap ``slots * (width - 1) / 2``, and
        ``(...)`` the largest ``|H|`` on ``scipy.signal.freqz``'s 512 frequencies.
    """
    slots = fc.shape[-1]
    active = torch.arange(slots, device=fc.device) < bands.unsqueeze(-1)
    band = bandstop_taps(fc, bw, torch.where(active, taps, torch.ones_like(taps)), width, sample_rate)
    length = slots * (width - 1) + 1
    n = 2 * FREQZ_POINTS * 2 ** max(0, math.ceil(math.log2(length / (2 * FREQZ_POINTS))))
    spectra = torch.fft.rfft(band, n=n)                  # (..., slots, n // 2 + 1)
    spectrum = spectra[..., 0, :]
    for slot in range(1, slots):
        spectrum = spectrum * spectra[..., slot, :]
    step = n // (2 * FREQZ_POINTS)
    peak = spectrum[..., : n // 2: step].abs().amax(dim=-1)
    return torch.fft.irfft(spectrum, n=n)[..., :length], peak


def _fir_plan(time: int, taps: int) -> tuple[int, int]:
    """FFT size and read offset of the code's ``filterFIR`` for a centred cascade of ``taps`` (odd) taps.

    The output is the linear convolution from sample ``(taps + 1) / 2`` on; the FFT holds the whole
    convolution and the read's last sample, so nothing wraps around.
    """
    return F.next_fast_len(time + taps), (taps - 1) // 2 + 1


def lnl_convolutive_noise(wave: torch.Tensor, fc: torch.Tensor, bw: torch.Tensor, taps: torch.Tensor,
                          bands: torch.Tensor, gain_db: torch.Tensor, width: int, sample_rate: int) -> torch.Tensor:
    """Algorithm 1: ``sum_j b_j * x^j``, mean removed, scaled down when the peak exceeds 1.

    Args:
        wave: ``(batch, 1, time)``.
        fc, bw, taps: ``(batch, N_f, slots)``: each term's bands.
        bands: ``(batch,)`` long, bands used per cascade.
        gain_db: ``(batch, N_f)``: each term's peak gain.

    Returns:
        ``(batch, 1, time)``.
    """
    time = wave.shape[-1]
    order = fc.shape[1]
    cascade, peak = notch_cascade(fc, bw, taps, bands.unsqueeze(1), width, sample_rate)
    cascade = cascade * (10.0 ** (gain_db / 20.0) / peak).unsqueeze(-1)       # (batch, N_f, taps)
    n_fft, delay = _fir_plan(time, cascade.shape[-1])
    power = wave
    total = torch.fft.rfft(power, n=n_fft) * torch.fft.rfft(cascade[:, :1], n=n_fft)
    for j in range(1, order):
        power = power * wave
        total = total + torch.fft.rfft(power, n=n_fft) * torch.fft.rfft(cascade[:, j: j + 1], n=n_fft)
    out = torch.fft.irfft(total, n=n_fft)[..., delay: delay + time]
    return F.limit_peak(out - out.mean(dim=-1, keepdim=True))


def isd_additive_noise(wave: torch.Tensor, percent: torch.Tensor, gain: torch.Tensor, rank: torch.Tensor,
                       impulse: torch.Tensor, most: int) -> torch.Tensor:
    """Algorithm 2: ``floor(time * percent / 100)`` samples of lowest ``rank`` become ``x (1 + gain * impulse)``.

    Args:
        wave: ``(batch, 1, time)``.
        percent: ``(batch,)`` share of the samples, in %.
        gain: ``(batch,)`` ``g_sd``.
        rank: ``(batch, 1, time)`` distinct keys; the lowest are the chosen positions.
        impulse: ``(batch, 1, time)`` ``f_r``.
        most: the most samples any example may change (``floor(time * P / 100)``, a host integer).

    Returns:
        ``(batch, 1, time)``, scaled down when the peak exceeds 1.
    """
    if most <= 0:
        return F.limit_peak(wave)
    count = torch.floor(wave.shape[-1] * (percent / 100.0)).long().clamp(0, most).view(-1, 1, 1)
    lowest = torch.topk(rank, most, dim=-1, largest=False, sorted=True).values
    threshold = lowest.gather(-1, (count - 1).clamp_min(0))
    chosen = (rank <= threshold) & (count > 0)
    return F.limit_peak(wave + gain.view(-1, 1, 1) * wave * impulse * chosen)


def ssi_additive_noise(wave: torch.Tensor, white: torch.Tensor, fc: torch.Tensor, bw: torch.Tensor,
                       taps: torch.Tensor, bands: torch.Tensor, snr_db: torch.Tensor, width: int,
                       sample_rate: int) -> torch.Tensor:
    """Algorithm 3: ``white`` through a notch cascade, added at ``snr_db`` (not peak-scaled, as the code).

    Args:
        wave, white: ``(batch, 1, time)``.
        fc, bw, taps: ``(batch, slots)``.
        bands: ``(batch,)`` long.
        snr_db: ``(batch,)``; the cascade's gain cancels in the mix, so it has none.
    """
    time = wave.shape[-1]
    cascade, _ = notch_cascade(fc, bw, taps, bands, width, sample_rate)
    n_fft, delay = _fir_plan(time, cascade.shape[-1])
    noise = torch.fft.irfft(torch.fft.rfft(white, n=n_fft) * torch.fft.rfft(cascade.unsqueeze(1), n=n_fft),
                            n=n_fft)[..., delay: delay + time]
    return F.mix_at_snr(wave, noise, snr_db)


def isd_bank(length: int = ISD_BANK_LENGTH, seed: int = 0) -> NoiseBank:
    """ISD's fixed bank: entry 0 a random permutation of ``0 .. length - 1`` (ranks, exact in float32),
    entry 1 ``f_r = (2 u - 1)(2 v - 1)``, ``u, v`` uniform on [0, 1). Seeded: the same in every run."""
    generator = torch.Generator().manual_seed(seed)
    ranks = torch.randperm(length, generator=generator).float()
    u, v = torch.rand(2, length, generator=generator, dtype=torch.float64)
    return NoiseBank(("rank", "impulse"), (ranks, ((2 * u - 1) * (2 * v - 1)).float()))


def _bounds(value: Uniform | Choice) -> tuple[float, float]:
    if isinstance(value, Uniform):
        return value.low, value.high
    return min(value.options), max(value.options)


class RawBoost(Attack):
    """One RawBoost algorithm (1-8, see the module docstring) with per-example parameters drawn on the host.

    Params (only those of the algorithm's stages): ``bands`` ``(batch,)`` long (LnL, SSI);
    ``lnl_fc``, ``lnl_bw``, ``lnl_taps`` ``(batch, N_f, slots)``, ``lnl_gain_db`` ``(batch, N_f)``;
    ``isd_percent``, ``isd_gain`` ``(batch,)``, ``isd_offset`` ``(batch,)`` long; ``ssi_fc``,
    ``ssi_bw``, ``ssi_taps`` ``(batch, slots)``, ``ssi_snr_db`` ``(batch,)``, ``ssi_offset``
    ``(batch,)`` long. ``slots`` is the most bands ``bands`` can draw; a band's taps are odd.

    Args:
        algorithm: 1-8.
        bands: notch bands per cascade (integers).
        fc, bw: band centre and width, Hz; ``fc`` at most Nyquist.
        coeffs: taps per band before :func:`odd_taps`.
        gain: the linear term's gain, dB.
        bias: how far below the linear term the non-linear terms sit, dB (see the module docstring).
        nf: ``N_f``, the highest power of ``x`` (1 = linear only).
        p: ISD's largest share of changed samples, %.
        gsd: ISD's ``g_sd``.
        snr: SSI's SNR, dB.
    """

    def __init__(self, algorithm: int, bands: Uniform | Choice, fc: Uniform | Choice, bw: Uniform | Choice,
                 coeffs: Uniform | Choice, gain: Uniform | Choice, bias: Uniform | Choice, nf: int, p: float,
                 gsd: Uniform | Choice, snr: Uniform | Choice, sample_rate: int = 16000,
                 name: str | None = None) -> None:
        super().__init__(name or f"rawboost:{algorithm}", sample_rate)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"{self.name}: algorithm must be one of {sorted(ALGORITHMS)}, got {algorithm!r}")
        low_fc, high_fc = _bounds(fc)
        if not 0.0 <= low_fc <= high_fc <= sample_rate / 2:
            raise ValueError(f"{self.name}: fc must lie in 0..{sample_rate / 2:g} Hz (Nyquist at {sample_rate} Hz), "
                             f"got {fc.spec}")
        if not (nf >= 1 and _bounds(bands)[0] >= 1 and _bounds(coeffs)[0] >= 1 and _bounds(bw)[0] > 0
                and 0.0 <= p <= 100.0):
            raise ValueError(f"{self.name}: need nf >= 1, bands >= 1, coeffs >= 1, bw > 0 and p in 0..100")
        self.algorithm = algorithm
        self.stages = frozenset("|".join(ALGORITHMS[algorithm]).split("|"))
        self.bands, self.fc, self.bw, self.coeffs, self.gain, self.gsd, self.snr = bands, fc, bw, coeffs, gain, gsd, snr
        (gain_lo, gain_hi), (bias_lo, bias_hi) = _bounds(gain), _bounds(bias)
        self.nonlinear_gain_db = (gain_lo - bias_lo, gain_hi - bias_hi)   # the code's (minG - minBias, maxG - maxBias)
        self.nf = int(nf)
        self.p = float(p)
        self.slots = int(_bounds(bands)[1])
        self.width = slot_width(_bounds(coeffs)[1])
        keys: list[str] = []
        if self.stages & {"lnl", "ssi"}:
            keys.append("bands")
        if "lnl" in self.stages:
            keys += ["lnl_fc", "lnl_bw", "lnl_taps", "lnl_gain_db"]
        if "isd" in self.stages:
            keys += ["isd_percent", "isd_gain", "isd_offset"]
            self.isd_bank = isd_bank()
        if "ssi" in self.stages:
            keys += ["ssi_fc", "ssi_bw", "ssi_taps", "ssi_snr_db", "ssi_offset"]
            self.white = NoiseBank.coloured(["white"], sample_rate)
        self.param_keys = tuple(keys)

    def _bands_draw(self, shape: tuple[int, ...], generator: torch.Generator) -> dict[str, torch.Tensor]:
        count = math.prod(shape)
        return {"fc": self.fc.sample(count, generator).view(shape), "bw": self.bw.sample(count, generator).view(shape),
                "taps": odd_taps(self.coeffs.sample(count, generator)).view(shape)}

    def sample(self, batch: int, generator: torch.Generator) -> Params:
        params: Params = {}
        if "bands" in self.param_keys:
            params["bands"] = self.bands.sample(batch, generator).long()
        if "lnl" in self.stages:
            for key, value in self._bands_draw((batch, self.nf, self.slots), generator).items():
                params[f"lnl_{key}"] = value
            low, high = self.nonlinear_gain_db
            nonlinear = low + (high - low) * torch.rand(batch, self.nf - 1, generator=generator)
            params["lnl_gain_db"] = torch.cat([self.gain.sample(batch, generator).unsqueeze(1), nonlinear], dim=1)
        if "isd" in self.stages:
            params["isd_percent"] = self.p * torch.rand(batch, generator=generator)
            params["isd_gain"] = self.gsd.sample(batch, generator)
            params["isd_offset"] = torch.randint(0, ISD_BANK_LENGTH, (batch,), generator=generator)
        if "ssi" in self.stages:
            for key, value in self._bands_draw((batch, self.slots), generator).items():
                params[f"ssi_{key}"] = value
            params["ssi_snr_db"] = self.snr.sample(batch, generator)
            params["ssi_offset"] = self.white.sample_offsets(torch.zeros(batch, dtype=torch.long), generator)
        return params

    def _lnl(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        taps = params["lnl_taps"].clamp(1, self.width)
        return lnl_convolutive_noise(wave, params["lnl_fc"], params["lnl_bw"], taps, params["bands"],
                                     params["lnl_gain_db"], self.width, self.sample_rate)

    def _isd(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        time = wave.shape[-1]
        offset = params["isd_offset"]
        rank = self.isd_bank.crop(torch.zeros_like(offset), offset, time)
        impulse = self.isd_bank.crop(torch.ones_like(offset), offset, time)
        if time > ISD_BANK_LENGTH:   # the crop wraps: repeated ranks, told apart by the lap they are on
            lap = (offset.view(-1, 1, 1) + torch.arange(time, device=wave.device)) // ISD_BANK_LENGTH
            rank = rank.long() * (time // ISD_BANK_LENGTH + 2) + lap
        most = math.floor(time * self.p / 100.0)
        return isd_additive_noise(wave, params["isd_percent"], params["isd_gain"], rank, impulse, most)

    def _ssi(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        offset = params["ssi_offset"]
        white = self.white.crop(torch.zeros_like(offset), offset, wave.shape[-1])
        taps = params["ssi_taps"].clamp(1, self.width)
        return ssi_additive_noise(wave, white, params["ssi_fc"], params["ssi_bw"], taps, params["bands"],
                                  params["ssi_snr_db"], self.width, self.sample_rate)

    def _transform(self, wave: torch.Tensor, params: Params) -> torch.Tensor:
        stages = ALGORITHMS[self.algorithm]
        if stages == ("lnl|isd",):
            return F.limit_peak(self._lnl(wave, params) + self._isd(wave, params))
        for stage in stages:
            wave = getattr(self, f"_{stage}")(wave, params)
        return wave
