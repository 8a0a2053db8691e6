"""The cues that leak labels (detector.data.cues) and ``detector inspect --probe``."""
from pathlib import Path

import numpy as np
import pytest
import soundfile

from detector.cli.main import main
from detector.config import DataConfig
from detector.data import load_corpus
from detector.data.cues import CUES, CueProbe, clip_cues, probe_cues
from detector.data.demo import demo_manifest

SR = 16000
BANDWIDTH_CUES = {"bandwidth_hz", "rolloff95_hz", "energy_above_4k", "energy_above_7k"}


def cues_of(x: np.ndarray) -> dict[str, float]:
    return dict(zip(CUES, clip_cues(x, SR)))


def tone(seconds: float, amplitude: float, hz: float = 220.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)


def test_white_noise_fills_the_band_evenly():
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * SR)
    cues = cues_of(noise)
    assert cues["duration_s"] == 2.0
    assert cues["rms_dbfs"] == pytest.approx(-20.0, abs=0.2)
    assert cues["energy_above_4k"] == pytest.approx(0.5, abs=0.02)   # white: half the band
    assert cues["energy_above_7k"] == pytest.approx(1 / 8, abs=0.02)
    assert cues["energy_below_100hz"] == pytest.approx(100 / 8000, abs=0.005)
    assert cues["rolloff95_hz"] == pytest.approx(0.95 * 8000, rel=0.02)
    assert cues["bandwidth_hz"] == 8000
    assert cues["leading_silence_s"] == cues["trailing_silence_s"] == 0.0


def test_band_limit_hum_and_tone_are_placed_in_hz():
    noise = np.random.default_rng(1).standard_normal(2 * SR)
    spectrum = np.fft.rfft(noise)
    spectrum[np.fft.rfftfreq(noise.size, 1 / SR) > 4000] = 0            # brick wall at 4 kHz
    assert 3900 <= cues_of(0.1 * np.fft.irfft(spectrum, noise.size))["bandwidth_hz"] <= 4300
    hum = tone(2.0, 0.1, hz=50.0) + 0.005 * np.random.default_rng(2).standard_normal(2 * SR)
    assert cues_of(hum)["energy_below_100hz"] > 0.9
    one_tone = cues_of(tone(1.0, 0.5))
    assert one_tone["rolloff95_hz"] == pytest.approx(220, abs=SR / 512)   # within a 31 Hz bin
    assert one_tone["peak"] == pytest.approx(0.5, rel=1e-3)


def test_silence_is_measured_in_seconds_and_a_dc_offset_only_as_itself():
    rng = np.random.default_rng(3)
    room = lambda seconds: 1e-3 * rng.standard_normal(int(seconds * SR))   # -60 dBFS: quiet, not digital zero
    clip = np.concatenate([room(0.3), tone(1.0, 0.3) + room(1.0), room(0.5)])
    cues, shifted = cues_of(clip), cues_of(clip + 0.05)
    assert cues["leading_silence_s"] == pytest.approx(0.3, abs=0.02)
    assert cues["trailing_silence_s"] == pytest.approx(0.5, abs=0.02)
    assert cues["dc_offset"] == pytest.approx(0.0, abs=1e-3) and shifted["dc_offset"] == pytest.approx(0.05, abs=1e-3)
    assert {k: v for k, v in shifted.items() if k != "dc_offset"} == pytest.approx(
        {k: v for k, v in cues.items() if k != "dc_offset"}, rel=1e-6, abs=1e-9)


def speechlike(rng: np.random.Generator, plant: str, seconds: float = 1.5) -> np.ndarray:
    """Syllable-like harmonic bursts with pauses, at a random level over a room tone at a random
    level (as in recordings: a fixed one would make tiny side effects of a plant perfect cues);
    ``plant`` changes one property of the clip."""
    n = int(seconds * SR)
    speech, start = np.zeros(n), 0
    while start < n:
        length = min(int(rng.uniform(0.08, 0.25) * SR), n - start)
        t = np.arange(length) / SR
        f0 = rng.uniform(100, 220)
        burst = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 30)) + 0.05 * rng.standard_normal(length)
        speech[start:start + length] = burst * np.hanning(length)
        start += length + int(rng.uniform(0.03, 0.15) * SR)
    speech *= 10 ** (rng.uniform(-35, -15) / 20) / np.sqrt(np.mean(speech**2))
    if plant == "leading_silence":
        speech = np.concatenate([np.zeros(int(0.4 * SR)), speech[:-int(0.4 * SR)]])
    clip = speech + 10 ** (rng.uniform(-75, -60) / 20) * rng.standard_normal(n)
    if plant == "lowpass":   # a band-limited channel: the room tone too
        spectrum = np.fft.rfft(clip)
        spectrum[np.fft.rfftfreq(n, 1 / SR) > 3500] = 0
        clip = np.fft.irfft(spectrum, n)
    return clip + (0.02 if plant == "dc_offset" else 0.0)


def write_corpus(root: Path, plant: str, per_class: int = 40) -> Path:
    """A manifest of ``per_class`` clips per class, half train and half test.

    ``plant`` is in the bona fide clips only.
    """
    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    lines = ["path,label,speaker,system,split"]
    for i in range(2 * per_class):
        label = "bonafide" if i % 2 == 0 else "spoof"
        soundfile.write(root / f"{i:03d}.wav", speechlike(rng, plant if label == "bonafide" else "none"), SR,
                        subtype="FLOAT")
        split = "train" if i < per_class else "test"
        lines.append(f"{i:03d}.wav,{label},{'s%d' % (i % 4) if label == 'bonafide' else 'v'},"
                     f"{'-' if label == 'bonafide' else 'tts'},{split}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root / "manifest.csv"


def flagged(probe: CueProbe) -> set[str]:
    return {warning.split(" shortcut:")[0] for warning in probe.warnings()}


@pytest.mark.parametrize("plant, expected", [
    ("none", set()),
    ("leading_silence", {"leading_silence_s"}),
    ("dc_offset", {"dc_offset"}),
    ("lowpass", BANDWIDTH_CUES),
])
def test_the_probe_flags_exactly_the_planted_cue(tmp_path, plant, expected):
    manifest, cache = load_corpus(DataConfig(manifest=str(write_corpus(tmp_path / plant, plant)),
                                             cache_dir=str(tmp_path / "cache")))
    probe = probe_cues(manifest, cache, progress=False)
    assert flagged(probe) == expected
    for cue in expected:   # a shortcut in every split, not just pooled
        assert all(probe.shortcut(probe.aucs(split)[cue], split) for split in ("train", "test")), probe.table_lines()


def test_the_threshold_decides_and_auc_below_half_counts_as_much_as_above():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((40, len(CUES)))
    positive = np.arange(40) % 2 == 0
    values[:, list(CUES).index("peak")] -= 1.2 * positive     # bona fide lower: AUC well below 0.5
    auc = CueProbe(values, positive, np.full(40, "train")).aucs()["peak"]
    assert auc < 0.3
    assert "peak" in flagged(CueProbe(values, positive, np.full(40, "train"), threshold=1 - auc))
    assert "peak" not in flagged(CueProbe(values, positive, np.full(40, "train"), threshold=1 - auc + 0.01))
    with pytest.raises(ValueError, match=r"\[0.5, 1\]"):
        CueProbe(values, positive, np.full(40, "train"), threshold=0.3)


def test_inspect_probe_prints_one_report_with_the_cue_table_and_warnings(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DETECTOR_CACHE", str(tmp_path / "cache"))
    manifest = write_corpus(tmp_path / "corpus", "dc_offset", per_class=12)
    assert main(["inspect", str(manifest), "--probe"]) == 0
    out = capsys.readouterr().out
    assert out.count("warnings:") == 1 and "cues of the audio" in out
    assert "! dc_offset shortcut: the mean sample value" in out
    with pytest.raises(SystemExit):   # argparse: not a max(AUC, 1 - AUC)
        main(["inspect", str(manifest), "--probe", "--probe-threshold", "0.4"])
    assert main(["inspect", str(manifest), "--probe-threshold", "0.9"]) == 2   # needs --probe
    assert "applies to --probe" in capsys.readouterr().err


@pytest.mark.slow
def test_inspect_probe_warns_about_the_demo_corpus_peak_level(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DETECTOR_CACHE", str(tmp_path / "cache"))
    assert main(["inspect", str(demo_manifest()), "--probe"]) == 0
    out = capsys.readouterr().out
    assert "! peak shortcut: the largest absolute sample" in out
