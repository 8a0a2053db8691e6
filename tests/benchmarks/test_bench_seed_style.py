"""The seed-style baseline re-creates the PNG workflow faithfully: file in, file out, images of the size the
seed's tight ``savefig`` writes."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from benchmarks import seed_style_baseline as base

SR = 16000


@pytest.fixture()
def clip(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(SR)).astype(np.float32)
    path = tmp_path / "clip.flac"
    soundfile.write(path, wave, SR)
    return path


def test_png_is_the_axes_box_of_a_10x5_inch_figure_at_300_dpi(clip, tmp_path):
    """``savefig(bbox_inches="tight", pad_inches=0)`` with the axes off keeps only the axes box
    (matplotlib's default subplot box, 0.125-0.9 x 0.11-0.88 of 3000 x 1500): no white margin."""
    from PIL import Image

    target = tmp_path / "clip.png"
    base.spectrogram_png(clip, target)
    with Image.open(target) as image:
        assert image.size == base.PNG_SIZE == (2325, 1155)
        pixels = np.asarray(image.convert("RGB"))
    for edge in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]):
        assert not (edge == 255).all()


def test_png_at_224_is_the_resized_rgb_image(clip, tmp_path):
    from PIL import Image

    target = tmp_path / "clip.png"
    base.spectrogram_png(clip, target)
    resized = base.png_at_224(target)
    assert resized.shape == (224, 224, 3) and resized.dtype == np.uint8
    with Image.open(target) as image:
        expected = np.asarray(image.convert("RGB").resize((224, 224), Image.BILINEAR))
    assert np.array_equal(resized, expected)


def test_png_loader_gives_imagenet_normalised_224_tensors(clip, tmp_path):
    from PIL import Image

    path = tmp_path / "x.png"
    Image.fromarray(np.full((150, 300, 4), 128, dtype=np.uint8)).save(path)
    image, label = base.PngDataset([path], [1])[0]
    assert image.shape == (3, 224, 224) and label == 1
    expected = (128 / 255 - np.array(base.IMAGENET_MEAN)) / np.array(base.IMAGENET_STD)
    np.testing.assert_allclose(image.mean(dim=(1, 2)).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("condition", ["clean", "reverb:rt60=0.3", "noise:white:snr=10..10.5", "resample:8000",
                                       "lowpass:7000", "mp3:64k"])
def test_launder_file_writes_a_wav_of_the_input_length(condition, clip, tmp_path):
    if condition.startswith("mp3") and not base.ffmpeg_available():
        with pytest.raises(FileNotFoundError, match="need the ffmpeg program"):
            base.launder_file(condition, clip, tmp_path / "out.wav", tmp_path, np.random.default_rng(0))
        return
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    soundfile.write(noise_dir / "white.wav", np.random.default_rng(1).uniform(-0.5, 0.5, 3 * SR), SR)
    target = tmp_path / "out.wav"
    base.launder_file(condition, clip, target, noise_dir, np.random.default_rng(0))
    out, rate = soundfile.read(target, dtype="float32")
    assert rate == SR and abs(len(out) - SR) <= (1200 if condition.startswith("mp3") else 0)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0 and np.abs(out).max() > 0


def test_noise_is_mixed_at_the_drawn_snr(clip, tmp_path):
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    soundfile.write(noise_dir / "white.wav", np.random.default_rng(1).uniform(-0.5, 0.5, 3 * SR), SR)
    target = tmp_path / "out.wav"
    base.noise_file(clip, target, noise_dir / "white.wav", 10.0, np.random.default_rng(0))
    clean, _ = soundfile.read(clip, dtype="float64")
    noisy, _ = soundfile.read(target, dtype="float64")
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)   # 16-bit WAV quantisation


def test_unknown_condition_is_refused(clip, tmp_path):
    with pytest.raises(ValueError, match="no file-based version"):
        base.launder_file("mulaw", clip, tmp_path / "x.wav", tmp_path, np.random.default_rng(0))
