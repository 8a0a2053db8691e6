"""Log-mel front-end: shape, float32 under autocast, normalisation, torchaudio vs nnAudio parity."""
import pytest
import torch

from detector.config import FeatureConfig
from detector.features import LogMel


def _speechlike(batch=3, time=32000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(time) / 16000
    tones = torch.sin(2 * torch.pi * 180 * t * (1 + 0.05 * torch.sin(2 * torch.pi * 4 * t)))
    return (0.3 * tones + 0.05 * torch.randn(batch, 1, time, generator=generator)).clamp(-1, 1)


def test_shape_dtype_and_per_example_normalisation():
    features = LogMel(16000)(_speechlike())
    assert features.shape == (3, 1, 80, 32000 // 160 + 1) and features.dtype == torch.float32
    torch.testing.assert_close(features.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(features.std(dim=(1, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)


def test_stays_float32_and_finite_under_autocast_with_silence():
    wave = _speechlike()
    wave[1] = 0.0   # silence: fp16 log-mel would be -inf here
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = LogMel(16000)(wave)
    assert features.dtype == torch.float32 and torch.isfinite(features).all()


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"expects \(batch, 1, time\), got \(2, 16000\)"):
        LogMel(16000)(torch.zeros(2, 16000))


@pytest.mark.parametrize("n_fft, hop, n_mels", [(512, 160, 80), (1024, 256, 64)])
def test_torchaudio_and_nnaudio_backends_agree(n_fft, hop, n_mels):
    wave = _speechlike(time=24000, seed=1)
    settings = dict(n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    reference = LogMel(16000, FeatureConfig(backend="torchaudio", **settings))
    candidate = LogMel(16000, FeatureConfig(backend="nnaudio", **settings))
    power_a, power_b = reference.mel(wave[:, 0]), candidate.mel(wave[:, 0])
    assert power_a.shape == power_b.shape
    # Measured: ~1e-6 of the peak; per bin ~6e-4 relative (nnAudio's STFT is a float32 conv1d).
    assert (power_a - power_b).abs().max() / power_a.abs().max() < 1e-4
    audible = power_a > 1e-6 * power_a.max()
    assert ((power_a - power_b).abs() / power_a)[audible].max() < 1e-3
    torch.testing.assert_close(candidate(wave), reference(wave), atol=2e-3, rtol=0)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="unknown log-mel backend .librosa.; valid: torchaudio, nnaudio"):
        LogMel(16000, FeatureConfig(backend="librosa"))
