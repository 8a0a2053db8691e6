"""Pure laundering operations on waveform batches.

Every function works on ``(batch, 1, time)`` float32 tensors and takes its
parameters explicitly, as tensors of shape ``(batch,)`` (one value per
example). Functions that need randomness take a ``torch.Generator`` and create
their tensors on ``generator.device``; the others are deterministic. None of
them reads files or synchronises with the host, so they can run inside a
training step on the GPU.
"""

from __future__ import annotations

import math

import torch
import torchaudio.functional as AF

from detector.utils.runtime import upload

from .resample import round_trip_ir

# Floor for mean-square energies, so that silence gives finite gains instead of
# 0/0. 1e-10 is -100 dB re full scale, far below any real recording.
ENERGY_FLOOR = 1e-10

# ln(1000): an amplitude envelope exp(-DECAY_60DB * t / rt60) has fallen by
# 60 dB (a factor of 1000) at t = rt60, which is the definition of RT60.
DECAY_60DB = math.log(1000.0)

def check_waveform(wave: torch.Tensor, where: str = "wave") -> None:
    """Raise ``ValueError`` unless ``wave`` is a float32 ``(batch, 1, time)`` tensor.

    Only metadata (type, dtype, shape) is checked: checking that the values lie
    in [-1, 1] would need a host sync on every call.
    """
    if not isinstance(wave, torch.Tensor):
        raise ValueError(f"{where}: expected a torch.Tensor of shape (batch, 1, time), got {type(wave).__name__}")
    if wave.dtype != torch.float32:
        raise ValueError(f"{where}: expected dtype torch.float32, got {wave.dtype}; convert with wave.float()")
    if wave.dim() != 3 or wave.shape[1] != 1:
        raise ValueError(
            f"{where}: expected shape (batch, 1, time), got {tuple(wave.shape)}; "
            "mono audio needs a channel axis, e.g. wave.unsqueeze(1) for a (batch, time) tensor"
        )
    if wave.shape[0] == 0 or wave.shape[-1] == 0:
        raise ValueError(f"{where}: empty batch or zero-length audio, shape {tuple(wave.shape)}")


def _per_example(value: torch.Tensor | float) -> torch.Tensor | float:
    """View a ``(batch,)`` parameter tensor as ``(batch, 1, 1)`` so it broadcasts over waveforms."""
    return value.reshape(-1, 1, 1) if isinstance(value, torch.Tensor) else value


def next_fast_len(n: int) -> int:
    """Smallest 5-smooth integer (2^a 3^b 5^c) that is >= ``n``.

    FFT libraries (pocketfft on CPU, cuFFT) are fastest on such sizes; padding
    a convolution to one is several times faster than an arbitrary length.
    """
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()  # the next power of two always qualifies
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            quotient = -(-n // power35)  # ceil(n / power35)
            best = min(best, power35 * (1 << (quotient - 1).bit_length()))
            power35 *= 3
        power5 *= 5
    return best


def fft_convolve(wave: torch.Tensor, ir: torch.Tensor, index: torch.Tensor | None = None,
                 delay: int = 0) -> torch.Tensor:
    """Linear convolution of each waveform with its impulse response, via FFT (float32 throughout).

    Args:
        wave: ``(batch, 1, time)`` signals.
        ir: ``(batch, 1, ir_len)`` or ``(1, 1, ir_len)`` impulse responses, or
            with ``index`` a bank ``(n, 1, ir_len)``; a tap at index ``d``
            delays the signal by ``d`` samples.
        index: ``(batch,)`` long, on ``wave.device``: the row of ``ir`` each
            example uses. Only the rows needed are transformed: the whole bank
            when it has fewer rows than the batch (their spectra are then
            gathered), else each example's row.
        delay: the output starts at this sample of the full convolution; a
            centred (zero-phase) filter of ``2 k + 1`` taps passes ``k`` so the
            output stays time-aligned with the input. 0 for causal filters.

    Returns:
        ``(batch, 1, time)``: samples ``delay .. delay + time - 1`` of the full
        linear convolution (with ``delay`` 0, a direct path at delay ``d``
        stays at delay ``d`` and the reverberant tail past the end of the
        input is dropped).
    """
    if wave.dim() != 3 or ir.dim() != 3:
        raise ValueError(
            f"fft_convolve: expected wave (batch, 1, time) and ir (batch, 1, ir_len), "
            f"got {tuple(wave.shape)} and {tuple(ir.shape)}"
        )
    length = wave.shape[-1]
    # The full linear convolution has length + ir_len - 1 samples; any shorter
    # FFT would wrap the tail around onto the start of the output.
    n_fft = next_fast_len(length + ir.shape[-1] - 1)
    if index is not None and ir.shape[0] == 1:
        index = None   # one response for all: broadcast it rather than copy it per example
    if index is not None and ir.shape[0] > wave.shape[0]:
        ir, index = ir.index_select(0, index), None
    response = torch.fft.rfft(ir, n=n_fft)
    if index is not None:
        response = response.index_select(0, index)
    return torch.fft.irfft(torch.fft.rfft(wave, n=n_fft) * response, n=n_fft)[..., delay: delay + length]


def mix_at_snr(wave: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """Add ``noise`` to ``wave``, scaled so each example has the requested SNR.

    Args:
        wave: ``(batch, 1, time)`` clean signals.
        noise: ``(batch, 1, time)`` noise, any level.
        snr_db: ``(batch,)`` signal-to-noise ratio in dB, computed from mean
            squares over the whole example.

    Returns:
        ``(batch, 1, time)`` mixture. Energies are floored at ``ENERGY_FLOOR``,
        so silent signals or silent noise give finite output, never NaN.
    """
    signal_power = wave.square().mean(dim=-1, keepdim=True).clamp_min(ENERGY_FLOOR)
    noise_power = noise.square().mean(dim=-1, keepdim=True).clamp_min(ENERGY_FLOOR)
    target_noise_power = signal_power * 10.0 ** (-_per_example(snr_db) / 10.0)
    return wave + noise * torch.sqrt(target_noise_power / noise_power)


def resample_round_trip(wave: torch.Tensor, orig_rate: int, low_rate: int) -> torch.Tensor:
    """Resample to ``low_rate`` Hz and back to ``orig_rate`` Hz: the band limit a rate conversion leaves.

    The round trip of an FFT-domain resampler (which does not alias), one zero-phase filter
    at ``orig_rate``: :func:`.resample.round_trip_ir` (designed once per pair of
    rates; see :mod:`.resample` for its measured response). ``low_rate`` below
    ``orig_rate``: Kaiser-windowed sinc at 0.95 x the low rate's Nyquist, flat
    within 0.01 dB to 0.8 x, <= -57 dB from 1.05 x on. Above: band-limited at
    ``orig_rate``'s own Nyquist only (within 0.1 dB to 0.96 x of it). Equal:
    unchanged.

    Args:
        wave: ``(batch, 1, time)`` at ``orig_rate`` Hz.

    Returns:
        ``(batch, 1, time)`` at ``orig_rate`` Hz, time-aligned with the input.
    """
    ir = torch.from_numpy(round_trip_ir(orig_rate, low_rate)).float().view(1, 1, -1)
    return fft_convolve(wave, upload(ir, wave.device), delay=ir.shape[-1] // 2)


def fft_resample(wave: torch.Tensor, kernel: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample by the FFT: the spectrum, shaped by ``kernel``'s response, cut to (or padded to) the new rate's bins.

    Cutting drops everything above the lower rate's Nyquist, so nothing
    aliases; ``kernel`` sets the band edge (and removes what a cut would
    otherwise leave abruptly). The signal is zero-padded past its end, by at
    least the kernel's half-length, so that the FFT's circular convolution
    equals the linear one.

    Args:
        wave: ``(batch, 1, time)`` at ``orig_rate`` Hz.
        kernel: ``(2 k + 1,)`` centred zero-phase low-pass at ``max(orig_rate,
            new_rate)`` Hz with unit DC gain, e.g. :func:`.resample.leg_kernel`.

    Returns:
        ``(batch, 1, ceil(time * new_rate / orig_rate))`` at ``new_rate`` Hz,
        time-aligned (sample 0 at the same instant as the input's).
    """
    length = wave.shape[-1]
    common = math.gcd(orig_rate, new_rate)
    up, down = new_rate // common, orig_rate // common
    half = kernel.shape[-1] // 2
    pad = math.ceil(half * orig_rate / max(orig_rate, new_rate))   # the kernel's reach, in input samples
    n_in = down * next_fast_len(-(-(length + pad) // down))   # a multiple of down: n_out is then whole
    n_out = n_in * up // down
    n_high = max(n_in, n_out)
    # The kernel placed circularly around sample 0 (zero phase) on the grid of the higher rate.
    placed = torch.roll(torch.nn.functional.pad(kernel, (0, n_high - kernel.shape[-1])), -half)
    bins = min(n_in, n_out) // 2 + 1
    spectrum = torch.fft.rfft(wave, n=n_in)[..., :bins] * torch.fft.rfft(placed)[:bins]
    # irfft zero-pads the missing bins when going up; n_out / n_in undoes its 1 / n_out normalisation.
    out = torch.fft.irfft(spectrum, n=n_out) * (n_out / n_in)
    return out[..., : -(-length * up // down)]


def exponential_decay_rir(
    noise: torch.Tensor,
    rt60_s: torch.Tensor | float,
    sample_rate: int,
    drr_db: torch.Tensor | float = -10.0,
) -> torch.Tensor:
    """Shape white noise into a synthetic room impulse response (deterministic given ``noise``).

    The reverberant tail is ``noise * exp(-DECAY_60DB * t / rt60_s)`` (60 dB
    of amplitude decay at ``t = rt60_s``); a unit direct-path impulse sits at
    ``t = 0``; the tail is scaled so that direct energy / tail energy equals
    ``drr_db``; the whole response is then normalised to unit energy, so
    reverberation keeps the signal's level on average.

    Args:
        noise: ``(batch, 1, ir_len)`` standard normal samples (sample 0 unused).
        rt60_s: ``(batch,)`` reverberation time in seconds (> 0), or a float.
        sample_rate: Hz.
        drr_db: ``(batch,)`` direct-to-reverberant energy ratio in dB, or a float.

    Returns:
        ``(batch, 1, ir_len)`` impulse responses with unit L2 norm.
    """
    ir_len = noise.shape[-1]
    t = torch.arange(ir_len, device=noise.device, dtype=noise.dtype) / sample_rate
    envelope = torch.exp(-DECAY_60DB * t / _per_example(rt60_s))
    tail = noise * envelope
    tail[..., 0] = 0.0
    tail_energy = tail.square().sum(dim=-1, keepdim=True).clamp_min(ENERGY_FLOOR)
    # Direct path has energy 1, so the tail's energy must be 10^(-drr/10).
    ir = tail * torch.sqrt(10.0 ** (-_per_example(drr_db) / 10.0) / tail_energy)
    ir[..., 0] = 1.0
    return ir / ir.square().sum(dim=-1, keepdim=True).sqrt()


def synthetic_rir(
    rt60_s: torch.Tensor,
    sample_rate: int,
    length: int,
    generator: torch.Generator,
    drr_db: torch.Tensor | float = -10.0,
) -> torch.Tensor:
    """Random synthetic room impulse responses, one per entry of ``rt60_s``.

    Args:
        rt60_s: ``(batch,)`` reverberation times in seconds.
        sample_rate: Hz.
        length: impulse response length in samples.
        generator: source of the noise; tensors are created on its device.
        drr_db: direct-to-reverberant ratio in dB, ``(batch,)`` or a float.

    Returns:
        ``(batch, 1, length)`` unit-energy impulse responses (see
        :func:`exponential_decay_rir`).
    """
    noise = torch.randn(rt60_s.shape[0], 1, length, generator=generator, device=generator.device)
    return exponential_decay_rir(noise, rt60_s, sample_rate, drr_db)


def coloured_noise(
    batch: int,
    length: int,
    exponent: float | torch.Tensor,
    generator: torch.Generator,
    sample_rate: int = 16000,
    min_freq_hz: float = 20.0,
) -> torch.Tensor:
    """Gaussian noise with power spectrum proportional to ``1 / f**exponent``, by FFT shaping.

    ``exponent`` 0 is white, 1 pink, 2 brown (negative: blue, violet); a float,
    or a ``(batch,)`` tensor for one exponent per example. The spectrum is held flat below
    ``min_freq_hz`` (and the DC bin is zero) so pink and brown noise are not
    dominated by inaudible sub-audio drift. Being made in the frequency
    domain, the noise is periodic with period ``length``: it can be cropped
    circularly without a seam.

    Returns:
        ``(batch, 1, length)`` noise with unit RMS per example.
    """
    white = torch.randn(batch, 1, length, generator=generator, device=generator.device)
    return shape_noise(white, _per_example(exponent), sample_rate, min_freq_hz)


def shape_noise(
    white: torch.Tensor,
    exponent: float | torch.Tensor,
    sample_rate: int = 16000,
    min_freq_hz: float = 20.0,
) -> torch.Tensor:
    """Shape white noise ``(..., length)`` to a power spectrum ``~ 1 / f**exponent`` (see :func:`coloured_noise`).

    ``exponent`` is a float or a tensor that broadcasts against ``white`` with the time axis
    last (e.g. ``(batch, 1, 1)``). The noise bank's generated colours (:mod:`.banks`) shape their
    own NumPy-drawn noise here too, so there is one spectral shaping.

    Returns:
        Noise of ``white``'s shape and dtype with unit RMS along the last axis.
    """
    length = white.shape[-1]
    spectrum = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(length, d=1.0 / sample_rate, device=white.device, dtype=white.dtype)
    gain = freqs.clamp_min(min_freq_hz).pow(-exponent / 2.0) * (freqs > 0)
    shaped = torch.fft.irfft(spectrum * gain, n=length)
    return shaped / shaped.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(math.sqrt(ENERGY_FLOOR))


def limit_peak(wave: torch.Tensor) -> torch.Tensor:
    """Scale down any example whose peak exceeds 1, so the batch stays in [-1, 1].

    Scaling (rather than clipping) keeps the attack's own distortion the only
    one: the SNR of a noisy mix and the shape of a reverberant tail survive.

    Args:
        wave: ``(batch, 1, time)``.

    Returns:
        ``(batch, 1, time)``; examples already within [-1, 1] are unchanged.
    """
    peak = wave.abs().amax(dim=-1, keepdim=True)
    return wave / peak.clamp_min(1.0)


def apply_gain(wave: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Multiply each example by ``10 ** (gain_db / 20)``; ``gain_db`` ``(batch,)``."""
    return wave * 10.0 ** (_per_example(gain_db) / 20.0)


def hard_clip(wave: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Clip each example at ``+-level * peak`` (``level`` ``(batch,)`` in (0, 1]), then restore the peak.

    ``level`` is relative to the example's own peak, so ``clip:0.5`` flattens
    everything above half the peak whatever the recording level; the result is
    scaled back to the original peak so only the waveform shape changes.
    """
    peak = wave.abs().amax(dim=-1, keepdim=True).clamp_min(math.sqrt(ENERGY_FLOOR))
    threshold = peak * _per_example(level)
    return torch.maximum(torch.minimum(wave, threshold), -threshold) * (peak / threshold)


def mu_law_round_trip(wave: torch.Tensor, quantization_channels: int = 256) -> torch.Tensor:
    """G.711-style mu-law companding to ``quantization_channels`` levels and back (8-bit for 256)."""
    encoded = AF.mu_law_encoding(wave.clamp(-1.0, 1.0), quantization_channels)
    return AF.mu_law_decoding(encoded, quantization_channels)


def polarity(wave: torch.Tensor, invert: torch.Tensor) -> torch.Tensor:
    """Negate the examples where ``invert`` ``(batch,)`` bool is true."""
    return torch.where(invert.view(-1, 1, 1), -wave, wave)


def time_shift(wave: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Circularly shift each example by ``shift`` ``(batch,)`` long samples (positive: later)."""
    length = wave.shape[-1]
    positions = (torch.arange(length, device=wave.device) - shift.view(-1, 1)) % length
    return torch.gather(wave, -1, positions.unsqueeze(1))


def istft(spec: torch.Tensor, window: torch.Tensor, hop: int, length: int) -> torch.Tensor:
    """``torch.istft(spec, n_fft, hop, window=window, length=length)`` (centred frames) without its host sync.

    ``torch.istft`` reads the window envelope's minimum on the host to check
    it is non-zero (a device sync on every call); here the weighted overlap-add
    is written out with ``fold``, and the envelope is non-zero by construction
    for the windows used (a Hann window at hop ``n_fft // 4``).

    Args:
        spec: ``(batch, n_fft // 2 + 1, frames)`` complex, as ``torch.stft(..., center=True)`` returns it.
        window: ``(n_fft,)`` the analysis window.
        hop: samples between frames.
        length: samples of the output.

    Returns:
        ``(batch, length)``.
    """
    n_fft = window.shape[0]
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * window.view(1, -1, 1)   # (batch, n_fft, frames)
    padded = n_fft + hop * (frames.shape[-1] - 1)

    def overlap_add(columns: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.fold(columns, (1, padded), (1, n_fft), stride=(1, hop)).view(-1, padded)

    envelope = overlap_add(window.square().view(1, -1, 1).expand(1, -1, frames.shape[-1]))
    # The frames were centred (n_fft // 2 samples of padding before sample 0).
    kept = slice(n_fft // 2, n_fft // 2 + length)
    return overlap_add(frames)[:, kept] / envelope[:, kept]


def spectral_quantise(wave: torch.Tensor, step_db: torch.Tensor, cutoff_hz: torch.Tensor, sample_rate: int,
                      window: torch.Tensor) -> torch.Tensor:
    """Codec-like degradation: band-limit and coarsely quantise STFT magnitudes (not a real codec).

    A crude stand-in for perceptual transform codecs (MP3/AAC work on an MDCT
    with a few dB of quantisation noise per band and a bitrate-dependent
    low-pass): magnitudes are quantised in the log domain with a uniform step
    of ``step_db`` dB, bins above ``cutoff_hz`` are zeroed, phases are kept,
    and the signal is resynthesised by overlap-add (hop ``n_fft // 4``, see
    :func:`istft`). Magnitudes are floored at 1e-7 (-140 dB) before the log.

    Args:
        wave: ``(batch, 1, time)``.
        step_db: ``(batch,)`` quantisation step in dB (larger = coarser).
        cutoff_hz: ``(batch,)`` bandwidth in Hz.
        sample_rate: Hz.
        window: ``(n_fft,)`` analysis and synthesis window (a Hann window, on the device).

    Returns:
        ``(batch, 1, time)``.
    """
    batch, _, length = wave.shape
    n_fft = window.shape[0]
    spec = torch.stft(wave.reshape(batch, length), n_fft, n_fft // 4, window=window, return_complex=True)
    step = _per_example(step_db)
    in_steps = 20.0 * torch.log10(spec.abs().clamp_min(1e-7)) / step   # magnitude in dB, in steps
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate, device=wave.device).view(1, -1, 1)
    keep = (freqs <= _per_example(cutoff_hz)).to(spec.real.dtype)
    # Scaling each bin by (quantised / actual magnitude) keeps its phase; 3x cheaper than
    # torch.polar(quantised, spec.angle()) (no atan2, sin, cos).
    gain = torch.exp((torch.round(in_steps) - in_steps) * step * (math.log(10.0) / 20.0)) * keep
    return istft(spec * gain, window, n_fft // 4, length).reshape(batch, 1, length)
