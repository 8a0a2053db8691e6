"""Grad-CAM (``detector explain``): for a detector whose decision depends only on one frequency band
(clips that differ only there), the saliency peaks in that band; the command writes one PNG per file
and names an unreadable one."""
import numpy as np
import pytest
import soundfile
import torch

from detector.cli.main import main
from detector.config import Config
from detector.engine.explain import explain, load_explainer, slaney_mel_frequencies
from detector.models.checkpoint import save_checkpoint
from detector.models.detector import Detector

RATE, SECONDS, N_MELS = 16000, 0.3, 128
STEM_THRESHOLD, HEAD_OFFSET = 0.5, 0.05
BAND_HZ = (800.0, 1250.0)


def band_clip(rng: np.random.Generator, bonafide: bool) -> np.ndarray:
    """White noise at a random level; bona fide adds as much power again of noise band-limited to BAND_HZ.
    The band is the classes' only difference."""
    samples = int(SECONDS * RATE)
    wave = rng.standard_normal(samples) * rng.uniform(0.02, 0.1)
    if bonafide:
        spectrum = np.fft.rfft(rng.standard_normal(samples))
        frequencies = np.fft.rfftfreq(samples, 1 / RATE)
        spectrum[(frequencies < BAND_HZ[0]) | (frequencies > BAND_HZ[1])] = 0
        band = np.fft.irfft(spectrum, samples)
        wave = wave + band / band.std() * wave.std()
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def band_model() -> tuple[Detector, Config]:
    """A log-mel (128 bands, so 4 layer4 rows: the band sits in the second) detector whose weights are
    set, not trained, so that its decision depends on the band and on nothing else:

    - the stem's channel 0 averages 7 x 7 pixels and its batch norm subtracts ``STEM_THRESHOLD``, so
      after the ReLU only the band, several standard deviations above the standardised picture's
      mean, is left (white noise averages out below the threshold);
    - every residual block's branch averages 3 x 3 pixels of channel 0 twice; the downsampling
      blocks' shortcut is zero, so layer4's channel 0 is a smoothed, subsampled copy of the band;
    - the head scores ``mean(layer4 channel 0) - HEAD_OFFSET``; everything else is zero.

    Trained instead, 8 steps of 8 clips learn the band (training loss 0.7 -> 1e-5), but layer4's
    receptive field spans the whole 128 x 31 picture and, the picture being standardised, the band
    also darkens every other row: the Grad-CAM of 2 of 4 seeds peaked outside the band."""
    config = Config()
    config.features.frontend, config.features.n_mels = "logmel", N_MELS
    config.data.crop_s = SECONDS
    model = Detector(RATE, config.features, config.model).eval()
    with torch.no_grad():
        for module in model.backbone.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.zero_()
                if module.kernel_size != (1, 1):   # the shortcuts (1 x 1) stay zero
                    size = module.kernel_size[0] * module.kernel_size[1]
                    module.weight[0, 0] = 1.0 / size
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
        model.backbone.bn1.bias[0] = -STEM_THRESHOLD
        linear = model.backbone.fc[1]
        linear.weight.zero_()
        linear.bias.zero_()
        linear.weight[1, 0] = 1.0
        linear.bias[1] = -HEAD_OFFSET
    return model, config


@pytest.fixture(scope="module")
def band_checkpoint(tmp_path_factory):
    model, config = band_model()
    path = tmp_path_factory.mktemp("explain") / "band.pt"
    save_checkpoint(path, {"model": model.state_dict(), "config": config.to_dict(),
                           "calibration": {"scale": 0.5, "offset": 0.0}})
    return path


def test_saliency_peaks_in_the_band_that_separates_the_classes(band_checkpoint):
    detector, features = load_explainer(band_checkpoint, "cpu")
    rng = np.random.default_rng(1)
    for _ in range(3):
        result = explain(detector, features, band_clip(rng, True))
        assert result.score > 0 and result.probability_bonafide > 0.5
        assert result.whole_clip and result.explained_s == pytest.approx(SECONDS)
        assert result.saliency.shape == result.image.shape == (N_MELS, 1 + int(SECONDS * RATE) // 160)
        np.testing.assert_allclose(result.row_hz, slaney_mel_frequencies(N_MELS, 20.0, RATE / 2))
        in_band = (result.row_hz >= BAND_HZ[0]) & (result.row_hz <= BAND_HZ[1])
        per_row = result.saliency.mean(axis=1)
        assert per_row[in_band].mean() > 1.2 * per_row[~in_band].mean(), per_row
        assert in_band[np.argmax(per_row)], result.row_hz[np.argmax(per_row)]
    spoof = explain(detector, features, band_clip(rng, False))
    assert spoof.score < 0 and spoof.probability_bonafide < 0.5   # without the band: spoof


def test_a_clip_longer_than_a_window_is_explained_on_its_first_window(band_checkpoint):
    detector, features = load_explainer(band_checkpoint, "cpu")
    rng = np.random.default_rng(2)
    long = np.concatenate([band_clip(rng, True), band_clip(rng, False)])
    result = explain(detector, features, long)
    assert not result.whole_clip and result.explained_s == pytest.approx(SECONDS)
    assert result.time_extent_s == pytest.approx((-0.005, (1 + int(SECONDS * RATE) // 160 - 0.5) * 0.01))


def test_the_command_writes_one_png_per_file_and_names_an_unreadable_one(band_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(3)
    files = []
    for name, bonafide in (("a", True), ("b", False)):
        files.append(tmp_path / "audio" / f"{name}.wav")
        files[-1].parent.mkdir(exist_ok=True)
        soundfile.write(files[-1], band_clip(rng, bonafide), RATE)
    out = tmp_path / "out"
    assert main(["explain", "--checkpoint", str(band_checkpoint), *map(str, files), "--out", str(out),
                 "--device", "cpu"]) == 0
    pngs = sorted(p.name for p in out.iterdir())
    assert pngs == ["a.png", "b.png"]
    assert all((out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)

    broken = tmp_path / "audio" / "broken.wav"
    broken.write_bytes(b"not audio at all")
    out2 = tmp_path / "out2"
    assert main(["explain", "--checkpoint", str(band_checkpoint), str(files[0]), str(broken),
                 "--out", str(out2), "--device", "cpu"]) == 2
    assert str(broken) in capsys.readouterr().err
    assert not out2.exists() or not any(out2.iterdir())   # every file is read before any PNG is written
