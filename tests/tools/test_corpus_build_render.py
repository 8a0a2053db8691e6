"""The corpus builder end to end on a tiny fake prompt package: decode, plan, render, manifest, audit.

Needs FFmpeg (with libgsm) and espeak-ng on PATH, as building any corpus does; the
test says so when they are missing rather than passing without them.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.corpus_build.audit import audit_text
from tools.corpus_build.build import render_all, write_manifest
from tools.corpus_build.hygiene import SAMPLE_RATE, TARGET_LEVEL_DBFS, active_rms
from tools.corpus_build.plan import candidate_jobs, quotas, split_names
from tools.corpus_build.presets import Preset
from tools.corpus_build.sources import SOUNDS, Source, decode_prompts


def _tools_missing() -> str:
    for tool in ("ffmpeg", "espeak-ng"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return "" if "libgsm" in encoders else "ffmpeg has no libgsm encoder"


pytestmark = pytest.mark.skipif(bool(_tools_missing()), reason=_tools_missing() or "tools present")

SOURCES = (Source("fake-wide", "wide", "wide_speaker", "en", "g722", ".g722"),
           Source("fake-narrow", "narrow", "narrow_speaker", "en", "gsm", ".gsm"))
PRESET = Preset(name="tiny", sources=SOURCES, test_only_speakers=(),
                spoof_systems={split: ("espeak", "griffinlim") for split in ("train", "val", "test")},
                tts_voices={"espeak": [("en", "en-us")]}, target_duration_s=(2.0, 2.5),
                pair_tts_with_prompt=True, extra_fields=("condition", "language"))
NAMES = [f"prompt-{i}" for i in range(6)]


def _voiced(seconds: float, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like test signal: harmonics of ``f0`` up to 7 kHz, syllable-rate amplitude modulation."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    harmonics = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
                    for k in range(1, int(7000 / f0)))
    return 0.1 * harmonics * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.002 * rng.standard_normal(t.size)


def _encode(x: np.ndarray, out: Path, codec_args: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
                    *codec_args, str(out)], input=x.astype("<f4").tobytes(), check=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A fake prompt package (6 texts, a wideband and a narrowband speaker), built into a corpus."""
    root = tmp_path_factory.mktemp("src")
    rng = np.random.default_rng(0)
    doc = root / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    with gzip.open(doc / "core-sounds-en.txt.gz", "wt", encoding="utf-8") as f:
        f.write("; transcripts\n")
        f.writelines(f"{name}: this is prompt number {i}, spoken slowly for the builder test\n"
                     for i, name in enumerate(NAMES))
    for name in NAMES:
        _encode(_voiced(3.0, 140, rng), root / SOUNDS / "wide" / f"{name}.g722", ["-c:a", "g722", "-f", "g722"])
        _encode(_voiced(3.0, 210, rng), root / SOUNDS / "narrow" / f"{name}.gsm",
                ["-ar", "8000", "-c:a", "libgsm", "-f", "gsm"])
    scratch, out = tmp_path_factory.mktemp("scratch"), tmp_path_factory.mktemp("corpus")
    prompts = decode_prompts(SOURCES, root, scratch, workers=1)
    groups = candidate_jobs(PRESET, prompts, split_names(prompts))
    rows = render_all(groups, quotas(PRESET, groups), out, scratch, workers=1)
    return prompts, out, write_manifest(PRESET, rows, out)


def _energy_above(x: np.ndarray, hz: float) -> float:
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return float(power[np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE) > hz].sum() / power.sum())


def test_every_prompt_is_decoded_and_measured(built):
    prompts, _, _ = built
    assert len(prompts) == 2 * len(NAMES)
    assert {p.codec for p in prompts} == {"g722", "gsm"}
    assert all(2.0 <= p.duration_s <= 3.05 for p in prompts)


def test_the_corpus_has_both_classes_on_both_channels_with_the_same_treatment(built):
    _, out, manifest = built
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "label", "speaker", "system", "split", "duration_s", "condition", "language"]
    cells = {(r["label"], r["condition"]) for r in rows}
    assert cells == {("bonafide", "g722"), ("bonafide", "gsm"), ("spoof", "g722"), ("spoof", "gsm")}
    assert sum(r["label"] == "bonafide" for r in rows) == sum(r["label"] == "spoof" for r in rows) == 12
    for row in rows:
        x, sr = sf.read(out / row["path"])
        assert sr == SAMPLE_RATE and x.ndim == 1
        assert len(x) / sr == pytest.approx(float(row["duration_s"]), abs=1e-3)
        assert 2.0 <= float(row["duration_s"]) <= 2.5
        assert 20 * np.log10(active_rms(x)) == pytest.approx(TARGET_LEVEL_DBFS, abs=0.3)
        above_4k = _energy_above(x, 4100)
        if row["condition"] == "gsm":     # narrowband: nothing above 4 kHz, whatever the class
            assert above_4k < 1e-3, row["path"]
        elif row["label"] == "bonafide":  # the wideband test signal keeps its upper band through G.722
            assert above_4k > 1e-3, row["path"]


def test_the_audit_reads_the_built_corpus(built):
    _, _, manifest = built
    report = audit_text(str(manifest))
    assert "12 bona fide, 12 spoof clips" in report
    channels = {line.split("|")[1].strip(): [int(line.split("|")[k]) for k in (2, 3)]
                for line in report.splitlines() if line.startswith(("| g722 |", "| gsm |"))}
    # bona fide per channel is fixed; a TTS clip's channel follows the prompt whose text it drew
    assert channels["g722"][0] == channels["gsm"][0] == 6
    assert channels["g722"][1] + channels["gsm"][1] == 12 and min(channels["g722"][1], channels["gsm"][1]) > 0
