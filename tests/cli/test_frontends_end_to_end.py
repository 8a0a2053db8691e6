"""Every front-end through every command that touches a model: train, evaluate, ablate, predict,
export (the exported file maps waveforms to predict's scores, front-end inside)."""
import csv
import json

import numpy as np
import pytest
import soundfile
import torch

from detector.cli.main import main
from tests.conftest import prepared_folder_corpus, synthetic_clip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("frontends")
    return prepared_folder_corpus(root, "50/25/25", n_per_class=6), root / "cache"


@pytest.mark.parametrize("frontend, format", [
    ("logmel", "torchscript"), ("logmel", "onnx"),   # ONNX swaps log-mel's torch STFT for nnAudio's
    ("seed-image", "torchscript"), ("seed-thresholded", "torchscript"), ("lfcc", "torchscript"),
    ("cqt", "torchscript"),   # the default: test_predict_ablate exports it to ONNX too
])
def test_a_frontend_trains_evaluates_ablates_predicts_and_exports(frontend, format, corpus, tmp_path):
    manifest, cache = corpus
    common = ["--manifest", str(manifest), "--cache-dir", str(cache), "--device", "cpu"]
    run = tmp_path / "run"
    assert main(["train", *common, "--out", str(run), "--frontend", frontend, "--epochs", "1", "--batch-size", "4",
                 "--crop-s", "1.0", "--max-steps-per-epoch", "1", "--amp", "off"]) == 0
    checkpoint = run / "best.pt"
    assert main(["evaluate", *common, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "eval"),
                 "--conditions", "clean,lowpass:4000"]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics["per_condition"]) == {"clean", "lowpass:4000"} and 0 <= metrics["eer"] <= 1
    assert main(["ablate", *common, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "ablate"),
                 "--conditions", "clean,resample:8000"]) == 0
    assert len(json.loads((tmp_path / "ablate" / "ablation.json").read_text())) == 2

    clip = synthetic_clip(np.random.default_rng(5), "spoof", 2.3, 16000).astype(np.float32)
    soundfile.write(tmp_path / "clip.wav", clip, 16000, subtype="FLOAT")
    assert main(["predict", "--checkpoint", str(checkpoint), str(tmp_path / "clip.wav"), "--device", "cpu",
                 "--out", str(tmp_path / "scores.csv")]) == 0
    predicted = float(next(csv.DictReader(open(tmp_path / "scores.csv")))["score"])
    exported = tmp_path / f"model.{format}"
    assert main(["export", "--checkpoint", str(checkpoint), "--format", format, "--out", str(exported)]) == 0
    if format == "torchscript":
        score = torch.jit.load(str(exported))(torch.from_numpy(clip)[None])[0].item()
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
        score = float(session.run(["score"], {"wave": clip[None]})[0][0])
    assert score == pytest.approx(predicted, abs=1e-4)
