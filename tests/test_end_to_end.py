"""Training, resuming, evaluating and the CLI, end to end on a tiny synthetic corpus (CPU)."""
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from detector.cli.main import main
from detector.config import Config
from detector.engine.train import train
from detector.models.checkpoint import CheckpointError, load_checkpoint

FAST = ["--crop-s", "0.5", "--batch-size", "4", "--device", "cpu", "--amp", "off"]


@pytest.fixture
def manifest(tmp_path, folder_corpus):
    path = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "folder", "--root", str(folder_corpus), "--out", str(path),
                 "--split", "50/25/25"]) == 0
    return path


def _config(manifest, cache_dir, epochs=1, steps=2) -> Config:
    config = Config()
    config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest), str(cache_dir), 0.5
    config.train.epochs, config.train.batch_size, config.train.max_steps_per_epoch = epochs, 4, steps
    config.train.device, config.train.amp = "cpu", "off"
    return config


def test_two_step_training_smoke(tmp_path, manifest, cache_dir):
    state = train(_config(manifest, cache_dir), tmp_path / "run")
    assert state.epoch == 1 and len(state.history) == 1
    assert torch.isfinite(torch.tensor(state.history[0]["train_loss"]))
    for name in ("best.pt", "last.pt", "config.toml", "history.csv"):
        assert (tmp_path / "run" / name).is_file(), name
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert saved["state"]["epoch"] == 1 and saved["config"]["data"]["crop_s"] == 0.5


def test_resume_continues_history_and_matches_an_uninterrupted_run(tmp_path, manifest, cache_dir, monkeypatch):
    train(_config(manifest, cache_dir, epochs=2), tmp_path / "straight")
    import detector.engine.train as train_module
    one_epoch = train_module._train_one_epoch
    calls = []

    def interrupted_in_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return one_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "_train_one_epoch", interrupted_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(_config(manifest, cache_dir, epochs=2), tmp_path / "split")
    monkeypatch.undo()
    first_half = load_checkpoint(tmp_path / "split" / "last.pt")
    train(_config(manifest, cache_dir, epochs=2), tmp_path / "split", resume=True)
    straight = load_checkpoint(tmp_path / "straight" / "last.pt")
    resumed = load_checkpoint(tmp_path / "split" / "last.pt")
    assert [row["epoch"] for row in resumed["state"]["history"]] == [1, 2]
    assert resumed["state"]["history"][0] == first_half["state"]["history"][0]
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    with open(tmp_path / "split" / "history.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]


def test_cli_train_then_evaluate_under_conditions(tmp_path, manifest, cache_dir):
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--out", str(run), "--epochs", "2",
                 "--cache-dir", str(cache_dir), "--launder", "p=1; noise:white:snr=5..20", *FAST]) == 0
    assert "launder = \"p=1; noise:white:snr=5..20\"" in (run / "config.toml").read_text()
    out = tmp_path / "eval"
    # the corpus's own channel column: evaluation also reports the EER inside each channel
    rows = manifest.read_text().splitlines()
    with_channels = manifest.with_name("manifest_channels.csv")
    with_channels.write_text("\n".join([rows[0] + ",condition"] + [f"{row},{['wide', 'narrow'][i % 2]}"
                                                                   for i, row in enumerate(rows[1:])]) + "\n")
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--manifest", str(with_channels),
                 "--out", str(out), "--cache-dir", str(cache_dir), "--device", "cpu",
                 "--condition", "clean", "--condition", "noise:white:snr=0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_manifest_condition"]) == {"wide", "narrow"}
    assert set(metrics["per_condition"]["clean"]["per_manifest_condition"]) == {"wide", "narrow"}
    for key in ("eer", "eer_threshold", "roc_auc", "accuracy", "precision", "recall", "f1",
                "confusion_matrix", "n_bonafide", "n_spoof", "per_system", "per_condition"):
        assert key in metrics, key
    assert set(metrics["per_condition"]) == {"clean", "noise:white:snr=0"}
    assert set(metrics["per_system"]) == {"tts_a", "tts_b"}
    bonafide_speakers = {line.split(",")[2] for line in rows[1:] if ",bonafide," in line and ",test," in line}
    assert bonafide_speakers and set(metrics["per_bonafide_speaker"]) == bonafide_speakers
    n_test = metrics["per_condition"]["clean"]["n_bonafide"] + metrics["per_condition"]["clean"]["n_spoof"]
    lines = (out / "scores.txt").read_text().splitlines()
    assert len(lines) == 2 * n_test == metrics["n_bonafide"] + metrics["n_spoof"]
    utt, label, system, condition, score = lines[0].split()
    assert label in ("bonafide", "spoof") and condition == "clean" and float(score) == float(score)
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluation_is_reproducible(tmp_path, manifest, cache_dir):
    train(_config(manifest, cache_dir), tmp_path / "run")
    outputs = []
    for name in ("a", "b"):
        main(["evaluate", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--manifest", str(manifest),
              "--out", str(tmp_path / name), "--cache-dir", str(cache_dir), "--device", "cpu",
              "--condition", "reverb:rt60=0.3..0.9"])
        outputs.append((tmp_path / name / "scores.txt").read_text())
    assert outputs[0] == outputs[1]


def test_cli_reports_user_errors_without_traceback(tmp_path, manifest, cache_dir, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "no manifest given" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--manifest", str(manifest),
                 "--out", str(tmp_path / "e")]) == 2
    assert "missing.pt: checkpoint not found" in capsys.readouterr().err
    (manifest.parent / "bad.csv").write_text("path,label,speaker,system,split\nx.wav,fake,-,-,train\n")
    assert main(["train", "--manifest", str(manifest.parent / "bad.csv"), "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "bad.csv:2: label 'fake'" in capsys.readouterr().err


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "detector-checkpoint-v1", "payload": _RunsCode()}, path)
    with pytest.raises(CheckpointError, match="evil.pt: refused to load"):
        load_checkpoint(path)
    path.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(CheckpointError, match="evil.pt: truncated or not a checkpoint"):
        load_checkpoint(path)


def test_console_entry_point_runs(tmp_path, folder_corpus):
    detector = os.path.join(os.path.dirname(sys.executable), "detector")
    result = subprocess.run([detector, "prepare", "--corpus", "folder", "--root", str(folder_corpus),
                             "--out", str(tmp_path / "m.csv")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and (tmp_path / "m.csv").is_file()
