"""Crash safety and resume (Ctrl-C, SIGTERM, SIGKILL), non-finite losses, determinism, DDP with torchrun."""
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import detector.engine.train as train_module
from detector.cli.main import main
from detector.config import Config
from detector.data import DeviceCropLoader
from detector.engine.train import train
from detector.models.checkpoint import load_checkpoint
from tests.conftest import write_folder_corpus

DETECTOR = [sys.executable, "-m", "detector"]


@pytest.fixture
def manifest(tmp_path):
    corpus = write_folder_corpus(tmp_path / "corpus", n_per_class=16)
    path = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "folder", "--root", str(corpus), "--out", str(path),
                 "--split", "60/20/20"]) == 0
    return path


def _config(manifest, tmp_path, epochs=2, steps=3, launder="p=0.8; noise:white:snr=0..20") -> Config:
    config = Config()
    config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest), str(tmp_path / "cache"), 0.5
    config.train.epochs, config.train.batch_size, config.train.max_steps_per_epoch = epochs, 4, steps
    config.train.device, config.train.amp, config.train.launder = "cpu", "off", launder
    return config


def _weights(path):
    return load_checkpoint(path)["model"]


def test_nonfinite_losses_are_skipped_and_counted_then_abort_if_persistent(manifest, tmp_path, monkeypatch):
    real_loss = torch.nn.functional.cross_entropy
    calls = []

    def nan_on_second_step(logits, target):
        calls.append(1)
        loss = real_loss(logits, target)
        return loss * float("nan") if len(calls) == 2 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", nan_on_second_step)
    state = train(_config(manifest, tmp_path, epochs=1), tmp_path / "run")
    assert state.history[0]["nonfinite_steps"] == 1
    assert all(torch.isfinite(t).all() for t in _weights(tmp_path / "run" / "last.pt").values())
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda logits, target: logits.sum() * float("inf"))
    monkeypatch.setattr(train_module, "MAX_CONSECUTIVE_NONFINITE", 2)
    with pytest.raises(FloatingPointError, match="3 consecutive steps were skipped for a NaN/infinite loss"):
        train(_config(manifest, tmp_path, epochs=1), tmp_path / "diverged")


def test_deterministic_runs_give_identical_weights_and_metrics(manifest, tmp_path):
    runs = []
    for name in ("a", "b"):
        config = _config(manifest, tmp_path, epochs=1)
        config.train.deterministic = True
        state = train(config, tmp_path / name)
        runs.append((state.history[0]["val_eer"], state.history[0]["train_loss"],
                     _weights(tmp_path / name / "last.pt")))
    assert runs[0][:2] == runs[1][:2]
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])


def test_batches_gathered_from_the_cache_on_the_device_train_the_same_weights(manifest, tmp_path, monkeypatch):
    epochs = []
    monkeypatch.setattr(train_module, "DeviceCropLoader",
                        lambda *args, **kwargs: epochs.append(1) or DeviceCropLoader(*args, **kwargs))
    weights = []
    for on_device in (False, True):
        config = _config(manifest, tmp_path, epochs=1)
        config.data.cache_on_device = on_device
        train(config, tmp_path / f"run-{on_device}")
        weights.append(_weights(tmp_path / f"run-{on_device}" / "last.pt"))
    assert epochs == [1], "the second run read its batches through the DeviceCropLoader"
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def _train_command(manifest, tmp_path, run, *extra):
    return [*DETECTOR, "train", "--manifest", str(manifest), "--out", str(run), "--cache-dir", str(tmp_path / "cache"),
            "--crop-s", "0.5", "--batch-size", "2", "--device", "cpu", "--amp", "off", *extra]


def _wait_for(path, process, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _history_epochs(run):
    with open(run / "history.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_sigkill_mid_epoch_then_resume_continues_from_the_last_save_exactly(manifest, tmp_path):
    run = tmp_path / "run"
    # last.pt is written at every read of the counters (a few times a second), so the kill lands mid-epoch
    command = _train_command(manifest, tmp_path, run, "--epochs", "3", "--save-every-minutes", "1e-6")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(run / "last.pt", process)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    load_checkpoint(run / "last.pt")   # whole: written atomically
    finished = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "resuming" in finished.stdout
    assert _history_epochs(run) == [1, 2, 3]
    assert main(_train_command(manifest, tmp_path, tmp_path / "straight", "--epochs", "3")[3:]) == 0
    straight, resumed = _weights(tmp_path / "straight" / "last.pt"), _weights(run / "last.pt")
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)


def test_sigterm_saves_last_pt_before_exiting(manifest, tmp_path):
    """SIGTERM lands mid-epoch: sent once epoch 2's progress bar shows a finished step (a fixed sleep
    after epoch 1's last.pt could land in validation on busy cores, where no position is needed)."""
    run = tmp_path / "run"
    command = _train_command(manifest, tmp_path, run, "--epochs", "3")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(process.stderr.fileno(), 4096), b"")),
                              daemon=True)
    reader.start()
    deadline = time.time() + 120
    while not re.search(rb"epoch 2/3: *\d+%\|[^|]*\| *[1-9]\d*/", b"".join(chunks)):
        assert process.poll() is None and time.time() < deadline, b"".join(chunks).decode(errors="replace")[-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    reader.join(timeout=10)
    stderr = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 130, stderr
    saved = load_checkpoint(run / "last.pt")
    assert "position" in saved and "rerun with --resume" in stderr
    finished = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert _history_epochs(run) == [1, 2, 3]


def test_torchrun_two_cpu_processes_train_like_one(manifest, tmp_path):
    common = ["--manifest", str(manifest), "--cache-dir", str(tmp_path / "cache"), "--crop-s", "0.5",
              "--batch-size", "8", "--device", "cpu", "--amp", "off", "--epochs", "3", "--launder", "off",
              "--lr", "3e-4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "detector", "train", "--out", str(tmp_path / "ddp"), *common],
                         capture_output=True, text=True, timeout=400, env=env)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("epoch 3:") == 1, "only rank 0 logs"
    assert main(["train", "--out", str(tmp_path / "single"), *common]) == 0
    with open(tmp_path / "ddp" / "history.csv") as handle:
        ddp_history = list(csv.DictReader(handle))
    with open(tmp_path / "single" / "history.csv") as handle:
        single_history = list(csv.DictReader(handle))
    ddp_loss = [float(row["train_loss"]) for row in ddp_history]
    single_loss = [float(row["train_loss"]) for row in single_history]
    assert ddp_loss[-1] < ddp_loss[0], "the loss decreases under DDP"
    # Same global batch and data order; batch-norm statistics are per rank (4 clips, not 8), so
    # the runs agree closely but not bitwise.
    assert ddp_loss == pytest.approx(single_loss, abs=0.15)
