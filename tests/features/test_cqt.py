"""The multi-rate constant-Q front-end: parity with nnAudio's direct CQT (the earlier front-end) and
with a direct constant-Q transform written here in NumPy, on tones, a chirp and speech, at several
sample rates and hops; any length; old checkpoints load."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from nnAudio.features import CQT

from detector.config import FeatureConfig
from detector.features import LogCQT
from detector.features.common import standardise
from detector.features.cqt import BINS_PER_OCTAVE, F_MIN_HZ, MAGNITUDE_FLOOR, ConstantQ, Q, bin_count, fft_length

DEMO = Path(__file__).resolve().parents[2] / "detector" / "data" / "demo_corpus"
TOLERANCE_DB = 0.2       # interior cells within RANGE_DB of the clip's peak
RANGE_DB = 60.0


def _chirp(sample_rate: int, seconds: float = 3.0, low: float = 60.0, high: float = 7500.0) -> np.ndarray:
    """An exponential sweep from ``low`` to ``high`` Hz, amplitude 0.5."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    rate = np.log(high / low) / seconds
    return 0.5 * np.sin(2 * np.pi * low * (np.exp(rate * t) - 1) / rate)


def _tones(sample_rate: int, seconds: float = 3.0) -> dict[str, np.ndarray]:
    """Tones on and between bin centres, low, middle and near Nyquist."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    hertz = (41.0, F_MIN_HZ * 2 ** (29 / 12), 440.0, 1234.5, 3000.0, 0.96 * sample_rate / 2)
    return {f"tone {h:.0f} Hz": 0.5 * np.sin(2 * np.pi * h * t) for h in hertz}


def _speech(sample_rate: int) -> dict[str, np.ndarray]:
    """Three packaged demo clips (bona fide and spoof), resampled with scipy when the rate differs."""
    from scipy.signal import resample_poly

    clips = {}
    for path in sorted(DEMO.rglob("*.flac"))[::150][:3]:
        audio, rate = sf.read(path, dtype="float64")
        if rate != sample_rate:
            audio = resample_poly(audio, sample_rate, rate)
        clips[f"speech {path.parent.name}/{path.stem}"] = audio
    assert len(clips) == 3
    return clips


def _nnaudio(sample_rate: int, hop: int) -> CQT:
    return CQT(sr=sample_rate, hop_length=hop, fmin=F_MIN_HZ, n_bins=bin_count(sample_rate),
               bins_per_octave=BINS_PER_OCTAVE, output_format="Magnitude", verbose=False)


def _compare(reference: np.ndarray, ours: np.ndarray, margin: int) -> tuple[float, float]:
    """``(worst dB difference, share of frames with the same peak bin)`` over the interior frames'
    cells within ``RANGE_DB`` of the reference's peak."""
    reference, ours = reference[:, margin:-margin], ours[:, margin:-margin]
    ref_db, our_db = (20 * np.log10(np.maximum(x, 1e-12)) for x in (reference, ours))
    loud = ref_db > ref_db.max() - RANGE_DB
    loud_frames = loud.any(axis=0)
    same_peak = (reference.argmax(axis=0) == ours.argmax(axis=0))[loud_frames].mean()
    return float(np.abs(ref_db - our_db)[loud].max()), float(same_peak)


@pytest.mark.parametrize("sample_rate, hop", [(16000, 160), (22050, 256), (8000, 100)])
def test_matches_nnaudio_direct_cqt_on_tones_a_chirp_and_speech(sample_rate, hop):
    """Interior frames (beyond nnAudio's reflection padding of half its longest kernel) agree within
    0.2 dB on every cell within 60 dB of the clip's peak, and every frame's peak bin is the same."""
    reference, ours = _nnaudio(sample_rate, hop), ConstantQ(sample_rate, hop)
    margin = reference.kernel_width // 2 // hop + 2
    signals = {"chirp 60 Hz-7.5 kHz": _chirp(sample_rate, high=min(7500.0, 0.45 * sample_rate)),
               **_tones(sample_rate), **_speech(sample_rate)}
    for name, signal in signals.items():
        wave = torch.tensor(signal, dtype=torch.float32)[None]
        with torch.no_grad():
            expected, produced = reference(wave)[0].numpy(), ours(wave)[0].numpy()
        assert produced.shape == expected.shape, name
        worst_db, same_peak = _compare(expected, produced, margin)
        assert worst_db <= TOLERANCE_DB, f"{name}: {worst_db:.3f} dB"
        assert same_peak == 1.0, f"{name}: peak bins agree on {same_peak:.1%} of frames"


def _direct_cqt(signal: np.ndarray, sample_rate: int, hop: int, frames: list[int]) -> np.ndarray:
    """The constant-Q transform by its definition, at the full rate: for bin ``k`` at
    ``f_k = F_MIN_HZ * 2 ** (k / 12)``, a periodic Hann window of ``N_k = ceil(Q * sr / f_k)`` samples
    starting ``ceil(N_k / 2)`` samples before the frame's centre, modulated to ``f_k``, divided by the
    window's sum and multiplied by ``sqrt(N_k)`` (librosa's normalisation). ``(bins, len(frames))``."""
    bins = bin_count(sample_rate)
    out = np.zeros((bins, len(frames)))
    for k in range(bins):
        frequency = F_MIN_HZ * 2 ** (k / BINS_PER_OCTAVE)
        length = int(np.ceil(Q * sample_rate / frequency))
        n = np.arange(length)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / length)
        kernel = window * np.exp(2j * np.pi * frequency * n / sample_rate) / window.sum() * np.sqrt(length)
        for column, frame in enumerate(frames):
            start = frame * hop - (length + 1) // 2
            out[k, column] = abs(np.dot(signal[start:start + length], kernel))
    return out


@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_matches_a_direct_constant_q_transform_written_in_numpy(sample_rate):
    hop = 160 if sample_rate == 16000 else 441
    signals = {"chirp": _chirp(sample_rate, seconds=2.0), **_speech(sample_rate)}
    ours = ConstantQ(sample_rate, hop)
    for name, signal in signals.items():
        signal = signal[: 2 * sample_rate]
        longest = int(np.ceil(Q * sample_rate / F_MIN_HZ))
        frames = list(range(longest // hop + 1, (len(signal) - longest) // hop, 7))   # whole windows inside
        with torch.no_grad():
            produced = ours(torch.tensor(signal, dtype=torch.float32)[None])[0].numpy()[:, frames]
        expected = _direct_cqt(signal, sample_rate, hop, frames)
        ref_db, our_db = 20 * np.log10(np.maximum(expected, 1e-12)), 20 * np.log10(np.maximum(produced, 1e-12))
        loud = ref_db > ref_db.max() - RANGE_DB
        assert loud.sum() > 100, name
        assert np.abs(ref_db - our_db)[loud].max() <= TOLERANCE_DB, name
        assert (expected.argmax(axis=0) == produced.argmax(axis=0)).all(), name


def test_a_tone_peaks_in_its_semitone_bin_at_its_level():
    """A full-scale sine at bin k's centre gives about sqrt(N_k) / 2 there (nnAudio's scale)."""
    sample_rate = 16000
    t = torch.arange(2 * sample_rate) / sample_rate
    for k in (3, 40, 70, 88):   # below the top bins, whose tone's mirror image above Nyquist is near
        hertz = F_MIN_HZ * 2 ** (k / BINS_PER_OCTAVE)
        magnitude = ConstantQ(sample_rate, 160)(torch.sin(2 * torch.pi * hertz * t)[None])[0, :, 100]
        assert magnitude.argmax().item() == k
        expected = np.sqrt(np.ceil(Q * sample_rate / hertz)) / 2
        assert magnitude[k].item() == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("time", [1, 159, 160, 1000, 8191, 16000])
def test_every_length_gives_its_frames(time):
    """Zero padding: no minimum length, ``1 + time // hop`` frames, finite standardised output."""
    wave = torch.randn(2, 1, time, generator=torch.Generator().manual_seed(time)) * 0.1
    features = LogCQT(16000)(wave)
    assert features.shape == (2, 1, 96, 1 + time // 160)
    assert torch.isfinite(features).all()


def test_log_cqt_is_the_standardised_log_of_the_magnitude():
    wave = torch.randn(2, 1, 24000, generator=torch.Generator().manual_seed(5)) * 0.1
    frontend = LogCQT(16000, FeatureConfig(frontend="cqt"))
    expected = standardise(torch.log(frontend.cqt(wave[:, 0]).clamp_min(MAGNITUDE_FLOOR))).unsqueeze(1)
    torch.testing.assert_close(frontend(wave), expected)


def test_decimation_keeps_the_hop_whole():
    """hop 160 = 32 x 5: five halvings at most; an odd hop allows none."""
    assert ConstantQ(16000, 160).levels == [0, 1, 2, 3, 4, 5]   # the top three octaves at the full rate
    assert ConstantQ(16000, 161).levels == [0]
    assert ConstantQ(16000, 4).levels == [0, 1, 2]


def test_checkpoints_of_the_direct_cqt_still_load():
    """The nnAudio front-end's fixed kernels, saved in older checkpoints, are dropped on load."""
    frontend = LogCQT(16000)
    old_state = {f"cqt.{name}": tensor for name, tensor in _nnaudio(16000, 160).state_dict().items()}
    frontend.load_state_dict(old_state)      # strict: it would name them as unexpected keys
    with pytest.raises(RuntimeError, match="Unexpected key"):
        frontend.load_state_dict({"cqt.something_else": torch.zeros(1)})


@pytest.mark.parametrize("samples", [1, 8000, 66048, 64000 + 2048, 100_003])
def test_fft_lengths_are_fast_sizes_that_hold_the_clip(samples):
    for length in (fft_length(samples, 32), fft_length(samples, 32, power_of_two=True)):
        assert length >= samples and length % 32 == 0
    units = fft_length(samples, 32) // 32
    for prime in (2, 3, 5):
        while units % prime == 0:
            units //= prime
    assert units == 1
    power = fft_length(samples, 32, power_of_two=True)
    assert power & (power - 1) == 0 and power < 2 * max(samples, 32)


def test_the_export_s_power_of_two_ffts_give_the_same_transform():
    """ONNX exports take power-of-2 FFT lengths; only the zero padding after the clip grows."""
    wave = torch.tensor(_chirp(16000, seconds=1.3), dtype=torch.float32)[None]
    default, power_of_two = ConstantQ(16000, 160), ConstantQ(16000, 160)
    power_of_two.power_of_two_fft = True
    torch.testing.assert_close(power_of_two(wave), default(wave), rtol=1e-4, atol=1e-6)
