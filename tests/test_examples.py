"""The scripts of ``examples/`` run as a user runs them (the venv's python, from the repository root) on
the packaged demo corpus, with tiny settings, and produce what they say they do."""
from __future__ import annotations

import csv
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from detector.cli.main import main
from detector.data.demo import demo_manifest
from detector.data.manifest import read_manifest, write_manifest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, cache: Path) -> str:
    """Run ``examples/name`` in a fresh interpreter; return its stdout (stderr shown on failure)."""
    env = {**os.environ, "DETECTOR_CACHE": str(cache)}   # never the user's ~/.cache
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def demo_subset(tmp_path_factory):
    """A few clips of each split of the demo corpus (absolute paths to its files), a tiny checkpoint
    trained on them (``detector train``, 2 steps, log-mel) and the waveform cache: (manifest, best.pt, cache)."""
    root = tmp_path_factory.mktemp("examples")
    demo = read_manifest(demo_manifest())
    rows = []
    for split in ("train", "val", "test"):
        for label in ("bonafide", "spoof"):
            chosen = [r for r in demo.rows if r.split == split and r.label == label][:4]
            rows += [{"path": str(demo.audio_path(r)), "label": r.label, "speaker": r.speaker,
                      "system": r.system, "split": r.split} for r in chosen]
    manifest = root / "manifest.csv"
    write_manifest(rows, manifest)
    cache = root / "cache"
    assert main(["train", "--out", str(root / "run"), "--manifest", str(manifest), "--cache-dir", str(cache),
                 "--frontend", "logmel", "--crop-s", "1.0", "--epochs", "1", "--batch-size", "4",
                 "--max-steps-per-epoch", "2", "--device", "cpu", "--amp", "off", "--launder", "off",
                 "--no-tensorboard"]) == 0
    return manifest, root / "run" / "best.pt", cache


def test_own_training_loop_trains_with_the_chain_and_a_finite_loss(tmp_path):
    out = run_example("own_training_loop.py", "--steps", "2", "--batch-size", "4", "--crop-s", "0.5",
                      "--device", "cpu", cache=tmp_path)
    assert "264 training clips" in out   # the demo corpus's whole train split
    assert "chain: p=0.8; noise:white|pink|babble" in out
    losses = [float(v) for v in re.findall(r"^step \d+/2 loss (\S+)$", out, re.MULTILINE)]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses), out
    assert len(re.findall(r"[+-]\d+\.\d\d\((?:bonafide|spoof)\)", out)) == 4, out   # one score per clip


def test_score_files_writes_one_row_per_clip(demo_subset, tmp_path):
    _, checkpoint, cache = demo_subset
    scores = tmp_path / "scores.csv"
    out = run_example("score_files.py", "--checkpoint", str(checkpoint), "--count", "4", "--device", "cpu",
                      "--out", str(scores), cache=cache)
    rows = list(csv.DictReader(scores.open()))
    assert [r["true_label"] for r in rows] == ["bonafide", "bonafide", "spoof", "spoof"]
    assert all(Path(r["path"]).is_file() and math.isfinite(float(r["score"])) for r in rows)
    assert all(0 <= float(r["probability_bonafide"]) <= 1 and r["label"] in ("bonafide", "spoof") for r in rows)
    # predict() on the array read back gives the score predict_files gave for the file.
    again = float(re.search(r"predict\(\) on the array of \S+: score (\S+)", out).group(1))
    assert again == pytest.approx(float(rows[0]["score"]), abs=2e-3)


def test_custom_condition_is_registered_and_ablated(demo_subset, tmp_path):
    manifest, checkpoint, cache = demo_subset
    out_dir = tmp_path / "ablation"
    out = run_example("custom_condition.py", "--checkpoint", str(checkpoint), "--manifest", str(manifest),
                      "--out", str(out_dir), "--conditions", "clean", "bitcrush:4", "bitcrush:2..3",
                      "--device", "cpu", "--cache-dir", str(cache), cache=cache)
    assert "chain 'p=0.5; bitcrush:4..8; noise:white:snr=10..20': (4, 1, 16000)" in out
    cells = {r["condition"]: r for r in csv.DictReader((out_dir / "ablation.csv").open())}
    assert set(cells) == {"clean", "bitcrush:4", "bitcrush:2..3"}
    assert cells["bitcrush:4"]["family"] == "bitcrush"
    assert all(r["n"] == "8" and 0 <= float(r["eer"]) <= 1 for r in cells.values())   # the 8 test clips
    assert "| bitcrush:4 |" in (out_dir / "ablation.md").read_text()
    assert (out_dir / "ablation_eer.png").stat().st_size > 0
