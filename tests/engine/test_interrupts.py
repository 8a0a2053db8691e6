"""Ctrl-C and SIGTERM are requests: wherever one lands, resume gives the weights of an uninterrupted run.

Each case sends SIGTERM (or two) to this very process from inside one function of the
training run, at a chosen call, then resumes and compares every tensor of the final state
dict with a run that was never interrupted, bitwise (CPU).
"""
import os
import signal
from pathlib import Path

import pytest
import torch

import detector.engine.train as train_module
import detector.utils.io as io_utils
from detector.engine.train import TrainingAborted, TrainingInterrupted, train
from detector.launder import LaunderChain
from detector.models.checkpoint import load_checkpoint
from detector.models.detector import Detector
from tests.conftest import prepared_folder_corpus
from tests.engine.test_reliability import _config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A manifest, its cache, and the final weights of the uninterrupted run."""
    root = tmp_path_factory.mktemp("interrupts")
    manifest = prepared_folder_corpus(root, "60/20/20", n_per_class=16)
    train(_run_config(manifest, root), root / "straight")
    return manifest, root, load_checkpoint(root / "straight" / "last.pt")["model"]


def _run_config(manifest, root):
    return _config(manifest, root, epochs=2, steps=2)


def _send(signals: int) -> None:
    for _ in range(signals):
        os.kill(os.getpid(), signal.SIGTERM)


def _signal_in(monkeypatch, owner, name: str, nth: int, after: bool = False, signals: int = 1) -> None:
    """Make ``owner.name`` send the signal(s) at its ``nth`` call, before it runs or ``after`` it returns."""
    real, calls = getattr(owner, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == nth and not after:
            _send(signals)
        result = real(*args, **kwargs)
        if len(calls) == nth and after:
            _send(signals)
        return result

    monkeypatch.setattr(owner, name, wrapper)


def _signal_writing_last_pt(monkeypatch, nth: int, signals: int) -> None:
    """Send the signal(s) from inside the ``nth`` write of last.pt, between two chunks of the file."""
    real_save, saves = train_module.save_checkpoint, []

    def save(path, state):
        saves.extend([1] if Path(path).name == "last.pt" else [])
        if len(saves) == nth and Path(path).name == "last.pt":
            _signal_in(monkeypatch, io_utils._ErrorRecorder, "write", 2, signals=signals)
        real_save(path, state)
        monkeypatch.setattr(io_utils._ErrorRecorder, "write", real_write)

    real_write = io_utils._ErrorRecorder.write
    monkeypatch.setattr(train_module, "save_checkpoint", save)


# (where, how to arm it); the training run has 2 epochs of 2 steps.
CASES = {
    "inside laundering, epoch 2": lambda m: _signal_in(m, LaunderChain, "forward", 3),
    "after the forward pass": lambda m: _signal_in(m, Detector, "forward", 1, after=True),
    "after the last optimizer step, before the step is counted": lambda m: _signal_in(m, train_module, "train_step",
                                                                                       4, after=True),
    "during validation": lambda m: _signal_in(m, train_module, "score_loader", 1),
    "during the write of last.pt": lambda m: _signal_writing_last_pt(m, 1, signals=1),
}
ABORTS = {   # a second signal stops at once; what last.pt held before stays
    "twice inside laundering, epoch 2": lambda m: _signal_in(m, LaunderChain, "forward", 3, signals=2),
    "twice during a write of last.pt, which completes first": lambda m: _signal_writing_last_pt(m, 1, signals=2),
}


def _resume_matches_straight(corpus, run):
    manifest, root, straight = corpus
    state = train(_run_config(manifest, root), run, resume=True)
    assert [row["epoch"] for row in state.history] == [1, 2]
    resumed = load_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)


@pytest.mark.parametrize("where", CASES)
def test_a_signal_anywhere_stops_at_a_consistent_point_and_resume_is_exact(corpus, tmp_path, monkeypatch, where):
    manifest, root, _ = corpus
    CASES[where](monkeypatch)
    with pytest.raises(TrainingInterrupted, match="rerun with --resume"):
        train(_run_config(manifest, root), tmp_path / "run")
    monkeypatch.undo()
    assert "state" in load_checkpoint(tmp_path / "run" / "last.pt")
    _resume_matches_straight(corpus, tmp_path / "run")


@pytest.mark.parametrize("where", ABORTS)
def test_a_second_signal_aborts_at_once_and_leaves_the_last_complete_last_pt(corpus, tmp_path, monkeypatch, where):
    manifest, root, _ = corpus
    ABORTS[where](monkeypatch)
    with pytest.raises(TrainingAborted, match="second signal \\(SIGTERM\\): stopped at once; .*last.pt holds the "
                                              "end of epoch 1"):
        train(_run_config(manifest, root), tmp_path / "run")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["state"]["epoch"] == 1
    assert not list((tmp_path / "run").glob(".*.tmp")), "the torn temporary file is removed"
    _resume_matches_straight(corpus, tmp_path / "run")


def test_a_signal_before_training_starts_stops_at_once(corpus, tmp_path, monkeypatch):
    manifest, root, _ = corpus
    _signal_in(monkeypatch, train_module, "load_corpus", 1)
    with pytest.raises(TrainingAborted, match="SIGTERM before training started: stopped at once; no .*last.pt"):
        train(_run_config(manifest, root), tmp_path / "run")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_old_checkpoint_with_generator_states_and_a_non_fused_optimizer_resumes(corpus, tmp_path, monkeypatch):
    """A last.pt of the previous version: generator states in the position, AdamW saved as non-fused."""
    manifest, root, _ = corpus
    _signal_in(monkeypatch, LaunderChain, "forward", 3)
    with pytest.raises(TrainingInterrupted):
        train(_run_config(manifest, root), tmp_path / "run")
    monkeypatch.undo()
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    rng_state = torch.zeros(16, dtype=torch.uint8)
    saved["position"].update(launder_rng=rng_state, torch_rng=rng_state)
    for group in saved["optimizer"]["param_groups"]:
        group.update(fused=None, foreach=None)
    torch.save(saved, tmp_path / "run" / "last.pt")
    _resume_matches_straight(corpus, tmp_path / "run")
