"""Numerical checks of detector.launder.functional against references (scipy) and definitions."""

import math

import numpy as np
import pytest
import scipy.signal
import torch

from detector.launder import functional as F

SR = 16000


def _wave(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """Seeded speech-like test batch: modulated tones plus a little noise, peak 0.5."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    f0 = 100 + 200 * torch.rand(batch, 1, 1, generator=g)
    tones = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t + torch.rand(batch, 1, 1, generator=g))
    wave = tones * envelope + 0.05 * torch.randn(batch, 1, length, generator=g)
    return (0.5 * wave / wave.abs().amax(-1, keepdim=True)).float()


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


def test_next_fast_len_is_smallest_5_smooth_at_least_n():
    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 3000):
        expected = next(m for m in range(n, 2 * n + 2) if smooth(m))
        assert F.next_fast_len(n) == expected, n


@pytest.mark.parametrize("length, ir_len", [(16000, 4801), (1000, 3000), (997, 1)])
def test_fft_convolve_matches_scipy_fftconvolve_truncated(length, ir_len):
    wave = _wave(3, length)
    ir = torch.randn(3, 1, ir_len, generator=torch.Generator().manual_seed(1)) / math.sqrt(ir_len)
    out = F.fft_convolve(wave, ir)
    assert out.shape == wave.shape and out.dtype == torch.float32
    for i in range(3):
        ref = scipy.signal.fftconvolve(wave[i, 0].double().numpy(), ir[i, 0].double().numpy())[:length]
        np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-5)


def test_fft_convolve_broadcasts_one_ir_and_keeps_direct_path_delay():
    wave = _wave(2, 2000)
    ir = torch.zeros(1, 1, 50)
    ir[..., 7] = 1.0
    out = F.fft_convolve(wave, ir)
    torch.testing.assert_close(out[..., 7:], wave[..., :-7], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[..., :7], torch.zeros(2, 1, 7), atol=1e-6, rtol=0)


@pytest.mark.parametrize("bank_rows", [2, 9])   # fewer rows than the batch (spectra gathered), more (rows gathered)
def test_fft_convolve_with_an_index_uses_each_examples_row_of_the_bank(bank_rows):
    wave = _wave(5, 3000)
    bank = torch.randn(bank_rows, 1, 40, generator=torch.Generator().manual_seed(4))
    index = torch.tensor([1, 0, 1, 1, 0])
    torch.testing.assert_close(F.fft_convolve(wave, bank, index=index), F.fft_convolve(wave, bank[index]),
                               atol=1e-6, rtol=0)


def test_fft_convolve_with_a_delay_centres_a_zero_phase_filter():
    wave = _wave(2, 2000)
    ir = torch.tensor([0.25, 0.5, 0.25]).view(1, 1, 3)   # centred on tap 1
    out = F.fft_convolve(wave, ir, delay=1)
    padded = torch.nn.functional.pad(wave, (1, 1))
    expected = 0.25 * padded[..., :-2] + 0.5 * padded[..., 1:-1] + 0.25 * padded[..., 2:]
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("length", [16000, 15999, 1001])
def test_istft_without_host_sync_equals_torch_istft(length):
    window = torch.hann_window(512)
    spec = torch.stft(_wave(3, length).view(3, -1), 512, 128, window=window, return_complex=True)
    spec = spec * torch.rand(spec.shape, generator=torch.Generator().manual_seed(5))   # not an STFT any more
    reference = torch.istft(spec, 512, 128, window=window, length=length)
    torch.testing.assert_close(F.istft(spec, window, 128, length), reference, atol=1e-6, rtol=0)


def test_spectral_quantise_is_the_quantised_magnitude_with_the_phase_kept():
    # The definition, written the direct way: magnitude snapped to the step in dB, phase kept, bins above the
    # cutoff zeroed, torch.istft.
    wave = _wave(3, 8000)
    window = torch.hann_window(512)
    step_db, cutoff_hz = torch.tensor([3.0, 6.0, 12.0]), torch.tensor([4000.0, 6000.0, 8000.0])
    spec = torch.stft(wave.view(3, -1), 512, 128, window=window, return_complex=True)
    step = step_db.view(-1, 1, 1)
    quantised_db = torch.round(20 * torch.log10(spec.abs().clamp_min(1e-7)) / step) * step
    keep = (torch.fft.rfftfreq(512, 1 / SR).view(1, -1, 1) <= cutoff_hz.view(-1, 1, 1)).float()
    reference = torch.istft(torch.polar(10 ** (quantised_db / 20) * keep, spec.angle()), 512, 128, window=window,
                            length=8000)
    out = F.spectral_quantise(wave, step_db, cutoff_hz, SR, window)
    torch.testing.assert_close(out.view(3, -1), reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0, 35.0])
def test_mix_at_snr_realises_requested_snr_within_0p1_db(snr):
    wave = _wave(4, 8000)
    noise = (torch.randn(4, 1, 8000, generator=torch.Generator().manual_seed(2))
             * torch.tensor([0.01, 1, 3, 0.2]).view(4, 1, 1))
    snr_db = torch.tensor([snr, snr + 1, snr + 2.5, snr - 3])
    mixed = F.mix_at_snr(wave, noise, snr_db)
    realised = 10 * torch.log10(wave.square().mean(-1) / (mixed - wave).square().mean(-1)).view(-1)
    assert (realised - snr_db).abs().max() < 0.1


def test_mix_at_snr_on_silence_is_finite():
    silence = torch.zeros(2, 1, 1000)
    out = F.mix_at_snr(silence, torch.randn(2, 1, 1000), torch.tensor([0.0, 20.0]))
    assert torch.isfinite(out).all()
    assert out.abs().max() < 1e-3  # noise follows the (floored) signal level
    out = F.mix_at_snr(_wave(2, 1000), torch.zeros(2, 1, 1000), torch.tensor([0.0, 20.0]))
    assert torch.isfinite(out).all()


def test_resample_round_trip_matches_scipy_resample_poly_in_passband():
    # Tones up to 0.75 x the Nyquist of the lower rate. The two resamplers use
    # different filters (torchaudio Kaiser sinc vs scipy's Kaiser FIR), so they
    # agree only where both are flat: measured 47..81 dB SNR between them up to
    # 0.8 x Nyquist (scipy's own ripple limits it to ~51 dB), dropping to ~20 dB
    # at 0.9 x where the transition bands differ. 40 dB is the asserted floor.
    length = 16000
    t = np.arange(length) / SR
    edge = slice(800, -800)  # both pad the ends differently; compare the interior
    for low in (8000, 11025, 22050, 44100):
        nyquist = min(low, SR) / 2
        x = sum(0.15 * np.sin(2 * np.pi * frac * nyquist * t + frac) for frac in (0.05, 0.2, 0.45, 0.6, 0.75))
        out = F.resample_round_trip(torch.from_numpy(x).float().view(1, 1, -1), SR, low)
        assert out.shape == (1, 1, length)
        g = math.gcd(SR, low)
        ref = scipy.signal.resample_poly(scipy.signal.resample_poly(x, low // g, SR // g), SR // g, low // g)[:length]
        assert _snr_db(ref[edge], out.view(-1).double().numpy()[edge]) > 40, low


@pytest.mark.parametrize("colour, exponent", [("white", 0.0), ("pink", 1.0), ("brown", 2.0)])
def test_coloured_noise_has_requested_spectral_slope(colour, exponent):
    noise = F.coloured_noise(4, 2**15, exponent, torch.Generator().manual_seed(3), SR)
    assert noise.shape == (4, 1, 2**15)
    torch.testing.assert_close(noise.square().mean(-1), torch.ones(4, 1))
    freqs, power = scipy.signal.welch(noise.view(4, -1).numpy(), fs=SR, nperseg=2048)
    band = (freqs >= 100) & (freqs <= 6000)
    slope = np.polyfit(np.log10(freqs[band]), np.log10(power.mean(0)[band]), 1)[0]
    assert abs(slope + exponent) < 0.1, (colour, slope)


def test_limit_peak_scales_only_examples_over_full_scale():
    wave = torch.stack([torch.full((1, 10), 0.5), torch.linspace(-2, 1, 10).view(1, 10)])
    out = F.limit_peak(wave)
    torch.testing.assert_close(out[0], wave[0])
    torch.testing.assert_close(out[1], wave[1] / 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(2, 100), r"expected shape \(batch, 1, time\)"),
        (torch.zeros(2, 2, 100), r"expected shape \(batch, 1, time\)"),
        (torch.zeros(2, 1, 100, dtype=torch.float64), "expected dtype torch.float32"),
        (np.zeros((2, 1, 100), dtype=np.float32), "expected a torch.Tensor"),
        (torch.zeros(2, 1, 0), "zero-length"),
    ],
)
def test_check_waveform_rejects_bad_input_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        F.check_waveform(bad)
