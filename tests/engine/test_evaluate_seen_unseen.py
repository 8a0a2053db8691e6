"""``detector evaluate`` pools the spoof systems and bona fide speakers that the training split
did not hold ("unseen") apart from those it did, reading the training manifest the checkpoint names."""
import json

import numpy as np
import pytest
import soundfile

from detector.config import Config
from detector.engine.evaluate import EvaluationOptions, evaluate
from detector.metrics.detection import detection_metrics
from detector.metrics.report import format_metrics
from detector.models.checkpoint import save_checkpoint
from detector.models.detector import Detector
from tests.conftest import synthetic_clip

# (label, speaker, system, split): train holds tts_a, tts_b and speaker "regular"; test adds
# tts_c and speaker "newcomer"
PLAN = ([("bonafide", "regular", "-", "train")] * 4 + [("spoof", "v1", "tts_a", "train")] * 2
        + [("spoof", "v2", "tts_b", "train")] * 2
        + [("bonafide", "regular", "-", "test")] * 3 + [("bonafide", "newcomer", "-", "test")] * 3
        + [("spoof", "v1", "tts_a", "test")] * 3 + [("spoof", "v3", "tts_c", "test")] * 3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("seen_unseen")
    rng = np.random.default_rng(0)
    lines = ["path,label,speaker,system,split"]
    for i, (label, speaker, system, split) in enumerate(PLAN):
        soundfile.write(root / f"{i:02d}.wav", synthetic_clip(rng, label, 1.0, 16000), 16000)
        lines.append(f"{i:02d}.wav,{label},{speaker},{system},{split}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def checkpoint_trained_on(path, manifest: str):
    """An untrained model whose checkpoint records ``manifest`` as its training data."""
    config = Config()
    config.data.manifest, config.data.crop_s = manifest, 1.0
    model = Detector(config.data.sample_rate, config.features, config.model)
    save_checkpoint(path, {"model": model.state_dict(), "config": config.to_dict()})
    return path


def run(corpus, checkpoint, out) -> dict:
    options = EvaluationOptions(device="cpu", amp="off", cache_dir=str(corpus / "cache"), batch_size=8)
    evaluate(checkpoint, corpus / "manifest.csv", out, options)
    return json.loads((out / "metrics.json").read_text())


def test_unseen_systems_and_speakers_are_pooled_against_all_of_the_other_class(corpus, tmp_path):
    checkpoint = checkpoint_trained_on(tmp_path / "model.pt", str(corpus / "manifest.csv"))
    metrics = run(corpus, checkpoint, tmp_path / "eval")
    trials = [line.split() for line in (tmp_path / "eval" / "scores.txt").read_text().splitlines()]
    score = {int(utt): float(s) for utt, _, _, _, s in trials}
    test = [(i, plan) for i, plan in enumerate(PLAN) if plan[3] == "test"]
    bonafide = lambda speakers: np.array([score[i] for i, p in test if p[0] == "bonafide" and p[1] in speakers])
    spoof = lambda systems: np.array([score[i] for i, p in test if p[0] == "spoof" and p[2] in systems])

    summary = metrics["seen_unseen"]
    assert summary["training_manifest"] == str(corpus / "manifest.csv")
    assert summary["systems"]["unseen"] == {"names": ["tts_c"], **detection_metrics(
        bonafide({"regular", "newcomer"}), spoof({"tts_c"}))}
    assert summary["systems"]["seen"] == {"names": ["tts_a"], **detection_metrics(
        bonafide({"regular", "newcomer"}), spoof({"tts_a"}))}
    assert summary["bonafide_speakers"]["unseen"] == {"names": ["newcomer"], **detection_metrics(
        bonafide({"newcomer"}), spoof({"tts_a", "tts_c"}))}
    assert summary["bonafide_speakers"]["seen"]["names"] == ["regular"]
    assert metrics["per_condition"]["clean"]["seen_unseen"] == summary   # one condition: the same trials
    assert "unseen in training" in format_metrics(metrics) and "spoof systems: unseen 1 EER" in format_metrics(metrics)


def test_an_unreadable_training_manifest_is_reported_not_guessed(corpus, tmp_path):
    missing = str(tmp_path / "gone" / "manifest.csv")
    metrics = run(corpus, checkpoint_trained_on(tmp_path / "model.pt", missing), tmp_path / "eval")
    assert set(metrics["seen_unseen"]) == {"training_manifest", "error"}
    assert metrics["seen_unseen"]["training_manifest"] == missing
    assert "cannot read it" in metrics["seen_unseen"]["error"]
    assert "unseen in training: not summarised" in format_metrics(metrics)
