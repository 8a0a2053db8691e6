"""Front-ends other than log-mel: parity of the seed images with the seed's own rendering
(librosa + matplotlib + PIL, via the benchmarks' seed-style baseline), LFCC parity with the
published definition written here in NumPy/SciPy (the CQT has its own file), and what every front-end
must do inside the model (float32 under autocast, ``meta`` device, any length)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import scipy.signal
import soundfile
import torch

from benchmarks import seed_style_baseline as base
from detector.config import FeatureConfig
from detector.data.demo import DEMO_CORPUS as DEMO
from detector.features import FRONTENDS, LFCC, SeedImage, build_frontend, image_uint8
from detector.features.seed_image import THRESHOLD_BANDS_HZ, THRESHOLD_LEVEL, png_size
from tests.conftest import synthetic_clip


def _demo_clips(count: int) -> list[Path]:
    with open(DEMO / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [DEMO / row["path"] for row in rows[:: len(rows) // count][:count]]


@pytest.fixture(scope="module")
def seed_clips(tmp_path_factory) -> list[Path]:
    """Two demo-corpus clips (one bona fide, one spoof; 16 kHz FLAC) and four synthetic speech-like
    ones as float WAVs: a 1 s clip with 1.5 s of digital silence appended (the 80 dB floor and the
    colour scale's minimum at work), a 0.3 s one (10 frames: each frame is a wide column), and ones
    at 22.05 and 44.1 kHz (other bins' rows; ``librosa.load(sr=None)`` keeps the file's rate)."""
    folder = tmp_path_factory.mktemp("seed-clips")
    rng = np.random.default_rng(3)
    synthetic = {
        "silence_tail.wav": (np.concatenate([synthetic_clip(rng, "bonafide", 1.0, 16000), np.zeros(24000, np.float32)]),
                             16000),
        "short.wav": (synthetic_clip(rng, "spoof", 0.3, 16000), 16000),
        "rate22k.wav": (synthetic_clip(rng, "bonafide", 1.2, 22050), 22050),
        "rate44k.wav": (synthetic_clip(rng, "spoof", 1.0, 44100), 44100),
    }
    for name, (wave, rate) in synthetic.items():
        soundfile.write(folder / name, wave, rate, subtype="FLOAT")
    demo = [path for path in _demo_clips(8) if "bonafide" in path.parts][:1] + \
           [path for path in _demo_clips(8) if "spoof" in path.parts][:1]
    return demo + [folder / name for name in synthetic]


def _thesis_filtering(db: np.ndarray, rate: int) -> np.ndarray:
    """The thesis's filtering and thresholding in NumPy, in place of the seed's ``amplitude_to_db``
    output: the dB spectrogram min-max scaled to 8 bits, then a binary threshold inside each formant band."""
    frequencies = np.arange(base.N_FFT // 2 + 1) * rate / base.N_FFT
    image = (255 * (db - db.min()) / (db.max() - db.min())).astype(np.uint8)
    for low, high in THRESHOLD_BANDS_HZ:
        band = (frequencies >= low) & (frequencies < high)
        image[band] = np.where(image[band] > THRESHOLD_LEVEL, 255, 0)
    return image


def _seed_png_at_224(path: Path, target: Path, thresholded: bool) -> np.ndarray:
    """The seed's pipeline up to the model, run with its own tools: librosa + matplotlib's tight
    ``savefig`` (the baseline's ``spectrogram_png``), then torchvision's ``Resize((224, 224))`` of the
    PIL image; ``(224, 224, 3)`` float 8-bit values. Checks on the way that the PNG is the size
    :func:`png_size` derives and has no white margin."""
    from PIL import Image

    base.spectrogram_png(path, target, _thesis_filtering if thresholded else None)
    with Image.open(target) as image:
        assert image.size == png_size() == base.PNG_SIZE
        full = np.asarray(image.convert("RGB"))
    for edge in (full[0], full[-1], full[:, 0], full[:, -1]):
        assert not (edge == 255).all(), f"{path.name}: a white border row or column in the seed's PNG"
    return base.png_at_224(target).astype(np.float64)


def _ours(path: Path, thresholded: bool) -> np.ndarray:
    wave, rate = base.read(path)
    return image_uint8(SeedImage(rate, thresholded=thresholded), torch.from_numpy(wave)[None, None])[0].astype(float)


@pytest.mark.parametrize("thresholded", [False, True], ids=["seed-image", "seed-thresholded"])
def test_seed_images_match_the_seed_rendering(seed_clips, tmp_path, thresholded):
    """Measured mean |difference| per clip and channel, 8-bit units (librosa 0.11, matplotlib 3.11,
    Pillow 13.0): seed-image 0.03-0.08, seed-thresholded 0.01-0.03, at 16, 22.05 and 44.1 kHz; 99th
    percentile 0 or 1 (PIL rounds each of its two 8-bit passes). The acceptance is a mean of at most
    4 per channel (4/255 in [0, 1] units)."""
    differences = []
    for path in seed_clips:
        reference = _seed_png_at_224(path, tmp_path / "seed.png", thresholded)
        difference = np.abs(_ours(path, thresholded) - reference)
        differences.append((path.name, difference.mean(axis=(0, 1)).max(), np.percentile(difference, 99)))
    assert all(mean <= 4.0 for _, mean, _ in differences), differences
    # A misplaced row or column map (margins, axis scale) shows as whole bands of pixels off by tens.
    assert all(p99 <= 2.0 for _, _, p99 in differences), differences


def test_seed_image_has_no_white_margin_and_is_normalised_like_imagenet():
    """The seed's PNG is the axes box alone (tight bbox, axes off): spectrogram to every edge."""
    wave = torch.from_numpy(synthetic_clip(np.random.default_rng(0), "bonafide", 1.0, 16000))[None, None]
    frontend = SeedImage(16000)
    image = frontend.image(wave)[0]
    white = (image > 1.0 - 1e-3).all(dim=0)                        # magma's brightest colour is not white
    assert not white.any()
    for edge in (image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]):
        assert edge.mean() < 0.8
    mean, std = torch.tensor(base.IMAGENET_MEAN)[:, None, None], torch.tensor(base.IMAGENET_STD)[:, None, None]
    torch.testing.assert_close(frontend(wave)[0], (image - mean) / std)


def test_seed_image_is_per_clip_in_a_batch_and_survives_silence():
    rng = np.random.default_rng(1)
    loud = synthetic_clip(rng, "spoof", 1.0, 16000)
    batch = torch.from_numpy(np.stack([0.01 * loud, np.zeros_like(loud), loud]))[:, None]
    frontend = SeedImage(16000, thresholded=True)
    together = frontend.image(batch)
    for k in range(3):
        torch.testing.assert_close(together[k], frontend.image(batch[k:k + 1])[0], atol=1e-5, rtol=0)
    # dB re each clip's own peak: a 40 dB quieter copy draws the same picture.
    torch.testing.assert_close(together[0], together[2], atol=2e-3, rtol=0)
    # Silence is constant: matplotlib draws it with the colour map's first colour (black).
    assert torch.isfinite(together).all() and together[1, :, 100, 100].max() < 0.02


def test_image_uint8_is_the_rounded_image():
    wave = torch.from_numpy(synthetic_clip(np.random.default_rng(2), "bonafide", 0.8, 16000))[None, None]
    frontend = SeedImage(16000)
    pixels = image_uint8(frontend, wave)
    assert pixels.shape == (1, 224, 224, 3) and pixels.dtype == np.uint8
    expected = (frontend.image(wave)[0].permute(1, 2, 0) * 255).round().numpy()
    assert np.array_equal(pixels[0], expected.astype(np.uint8))


# --------------------------------------------------------------------------- LFCC

def _lfcc_reference(wave: np.ndarray, rate: int) -> np.ndarray:
    """``extract_lfcc.m`` (ASVspoof 2019/2021 LFCC baseline) in float64 NumPy/SciPy: ``(60, frames)``."""
    length = int(0.02 * rate)
    hop = length // 2
    n_fft = 512
    # buffer(speech, length, length / 2, 'nodelay'): frames from sample 0, the last one zero-padded
    starts = range(0, len(wave) - (length - hop), hop)
    frames = np.stack([np.pad(wave[s:s + length], (0, max(0, s + length - len(wave)))) for s in starts])
    frames = frames * scipy.signal.get_window("hamming", length, fftbins=False)
    power = np.abs(np.fft.fft(frames, n_fft, axis=1)[:, : n_fft // 2 + 1]) ** 2
    f = rate / 2 * np.linspace(0, 1, n_fft // 2 + 1)
    corners = np.linspace(f.min(), f.max(), 22)
    filterbank = np.stack([np.maximum(np.minimum((f - corners[i]) / (corners[i + 1] - corners[i]),
                                                 (corners[i + 2] - f) / (corners[i + 2] - corners[i + 1])), 0)
                           for i in range(20)], axis=1)
    static = scipy.fft.dct(np.log10(power @ filterbank + np.finfo(float).eps), type=2, norm="ortho", axis=1)[:, :20]

    def deltas(x):   # rastamat deltas(x, 3) along frames: filter([1 0 -1]) over edge-repeated frames
        padded = np.concatenate([x[:1], x, x[-1:]])
        return scipy.signal.lfilter([1, 0, -1], 1, padded, axis=0)[2:]

    delta = deltas(static)
    return np.concatenate([static, delta, deltas(delta)], axis=1).T


@pytest.mark.parametrize("samples", [16000, 16001, 12345])
def test_lfcc_matches_the_published_definition(samples):
    """Measured max |difference| (float32 vs float64; values up to 4.9): statics 9.5e-7, deltas 1.6e-6,
    double deltas 2.2e-6."""
    wave = synthetic_clip(np.random.default_rng(samples), "bonafide", samples / 16000, 16000)
    ours = LFCC(16000)(torch.from_numpy(wave)[None, None])[0, 0].double().numpy()
    reference = _lfcc_reference(wave.astype(np.float64), 16000)
    assert ours.shape == reference.shape == (60, int(np.ceil((samples - 160) / 160)))
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_lfcc_survives_digital_silence():
    features = LFCC(16000)(torch.zeros(2, 1, 8000))
    assert torch.isfinite(features).all() and features.shape == (2, 1, 60, 49)


# --------------------------------------------------------------------------- every front-end

EXPECTED_SHAPES = {"logmel": (2, 1, 80, 101), "seed-image": (2, 3, 224, 224), "seed-thresholded": (2, 3, 224, 224),
                   "lfcc": (2, 1, 60, 99), "cqt": (2, 1, 96, 101)}


@pytest.mark.parametrize("name", FRONTENDS)
def test_every_frontend_is_float32_under_autocast_and_runs_on_meta(name):
    frontend = build_frontend(FeatureConfig(frontend=name), 16000)
    assert frontend.channels == EXPECTED_SHAPES[name][1]
    wave = torch.from_numpy(np.stack([synthetic_clip(np.random.default_rng(k), "spoof", 1.0, 16000)
                                      for k in range(2)]))[:, None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = frontend(wave)
    assert features.shape == EXPECTED_SHAPES[name] and features.dtype == torch.float32
    assert torch.isfinite(features).all()
    on_meta = frontend.to("meta")(wave.to("meta"))   # no host reads, no data-dependent shapes
    assert on_meta.device.type == "meta" and on_meta.shape == EXPECTED_SHAPES[name]
    with pytest.raises(ValueError, match=r"expects \(batch, 1, time\)"):
        frontend(torch.zeros(2, 16000, device="meta"))


def test_a_trace_follows_the_input_length():
    """Exports trace the model once; the seed image's column map is built from the length, in the graph."""
    frontend = SeedImage(16000).eval()
    traced = torch.jit.trace(frontend, 0.1 * torch.randn(2, 1, 16000), check_trace=False)
    longer = 0.1 * torch.randn(3, 1, 23000)
    torch.testing.assert_close(traced(longer), frontend(longer))


def test_unknown_frontend_is_named():
    with pytest.raises(ValueError, match="unknown front-end 'mfcc'; valid: logmel, seed-image"):
        build_frontend(FeatureConfig(frontend="mfcc"), 16000)


# --------------------------------------------------------------------------- command line

def _training_args(*flags: str):
    import argparse

    from detector.cli.commands.common import add_training_flags

    parser = argparse.ArgumentParser()
    add_training_flags(parser)
    return parser.parse_args(list(flags))


@pytest.mark.parametrize("flags, frontend, backend", [
    ((), "cqt", "torchaudio"),
    (("--frontend", "seed-image"), "seed-image", "torchaudio"),
    (("--frontend", "logmel", "--mel-backend", "nnaudio"), "logmel", "nnaudio"),
    (("--frontend", "nnaudio"), "logmel", "nnaudio"),          # the older spelling keeps its meaning
    (("--frontend", "torchaudio", "--mel-backend", "torchaudio"), "logmel", "torchaudio"),
])
def test_frontend_flags(flags, frontend, backend):
    from detector.cli.commands.common import resolve_config

    features = resolve_config(_training_args(*flags)).features
    assert (features.frontend, features.backend) == (frontend, backend)


def test_old_frontend_spelling_and_mel_backend_must_agree():
    from detector.cli.commands.common import resolve_config

    with pytest.raises(ValueError, match="--frontend nnaudio means --frontend logmel --mel-backend nnaudio"):
        resolve_config(_training_args("--frontend", "nnaudio", "--mel-backend", "torchaudio"))


def test_render_writes_the_model_input_images(tmp_path):
    from PIL import Image

    from detector.cli.main import main
    from tests.launder.corpus import small_corpus

    manifest, cache = small_corpus(tmp_path, n_per_class=1)
    out = tmp_path / "images"
    assert main(["render", "--manifest", str(manifest.path), "--cache-dir", str(cache.folder.parent),
                 "--conditions", "lowpass:4000", "--n", "2", "--out", str(out), "--frontend", "seed-thresholded"]) == 0
    written = sorted(out.glob("*.png"))
    assert len(written) == 4 and sum(path.name.endswith("__lowpass_4000.png") for path in written) == 2
    row = int(cache.valid_rows[0])
    clean = out / f"{manifest.rows[row].utt.replace('/', '__')}__clean.png"
    with Image.open(clean) as image:
        assert image.mode == "RGB" and image.size == (224, 224)
        pixels = np.asarray(image)
    wave = torch.from_numpy(np.array(cache.waveform(row), dtype=np.float32))[None, None]
    assert np.array_equal(pixels, image_uint8(SeedImage(16000, thresholded=True), wave)[0])


# --------------------------------------------------------------------------- in the model

@pytest.mark.parametrize("name", FRONTENDS)
def test_the_detector_maps_waveforms_to_logits_with_every_frontend(name, tmp_path):
    import torchvision

    from detector.config import ModelConfig
    from detector.models.detector import Detector

    imagenet = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(imagenet, tmp_path / "resnet18.pth")
    model = Detector(16000, FeatureConfig(frontend=name), ModelConfig(pretrained=str(tmp_path / "resnet18.pth"))).eval()
    stem = model.backbone.conv1.weight
    # RGB front-ends keep ImageNet's stem as it is; spectrograms get it folded (summed over colours).
    expected = imagenet["conv1.weight"] if name in ("seed-image", "seed-thresholded") else \
        imagenet["conv1.weight"].sum(dim=1, keepdim=True)
    torch.testing.assert_close(stem, expected.contiguous(memory_format=torch.channels_last))
    with torch.no_grad():
        logits = model(0.1 * torch.randn(2, 1, 12000, generator=torch.Generator().manual_seed(0)))
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
