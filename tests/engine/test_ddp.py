"""DDP with every option: --freeze-epochs, a signal on one rank mid-epoch, resume (2 gloo processes, CPU)."""
import os
import signal
import socket

import pytest
import torch
import torch.multiprocessing

from detector.engine.train import TrainingInterrupted, train
from detector.launder import LaunderChain
from detector.models.checkpoint import load_checkpoint
from tests.conftest import prepared_folder_corpus
from tests.engine.test_reliability import _config


def _ddp_config(manifest, root):
    config = _config(manifest, root, epochs=2, steps=3)
    config.train.batch_size, config.model.freeze_epochs = 8, 1   # epoch 1 trains the head only
    return config


def _worker(rank: int, world_size: int, port: int, manifest, root, run, resume: bool, signal_at: int) -> None:
    """One torchrun-like process; rank 1 sends itself SIGTERM at its ``signal_at``-th laundering call."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    if signal_at and rank == 1:
        real, calls = LaunderChain.forward, []

        def forward(self, *args):
            calls.append(1)
            if len(calls) == signal_at:
                os.kill(os.getpid(), signal.SIGTERM)
            return real(self, *args)

        LaunderChain.forward = forward
    try:
        train(_ddp_config(manifest, root), run, resume=resume)
    except TrainingInterrupted as stopped:
        (run / f"interrupted-{rank}").write_text(str(stopped))


def _torchrun(manifest, root, run, resume=False, signal_at=0):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(_worker, args=(2, port, manifest, root, run, resume, signal_at), nprocs=2)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return prepared_folder_corpus(tmp_path_factory.mktemp("ddp"), "60/20/20", n_per_class=16)


def test_ddp_with_frozen_epoch_interrupted_on_one_rank_resumes_like_the_uninterrupted_run(manifest, tmp_path):
    root = manifest.parent
    _torchrun(manifest, root, tmp_path / "straight")
    # rank 1's 3rd laundering call: epoch 2 (unfrozen, DDP rebuilt), step 1; both ranks stop at the same step
    _torchrun(manifest, root, tmp_path / "split", signal_at=3)
    messages = {(tmp_path / "split" / f"interrupted-{rank}").read_text() for rank in (0, 1)}
    assert len(messages) == 1 and "interrupted in epoch 2" in messages.pop()
    position = load_checkpoint(tmp_path / "split" / "last.pt")["position"]
    assert position["epoch"] == 1 and 1 <= position["step"] <= 2
    _torchrun(manifest, root, tmp_path / "split", resume=True)
    straight, resumed = (load_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "split"))
    assert [row["backbone_frozen"] for row in resumed["state"]["history"]] == [1, 0]
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    for before, after in zip(straight["state"]["history"], resumed["state"]["history"]):
        assert (before["val_eer"], before["val_loss"]) == (after["val_eer"], after["val_loss"])
        assert before["train_loss"] == pytest.approx(after["train_loss"], rel=1e-12)

    # One process, same global batch and data order: BatchNorm normalises over each rank's half
    # batch under DDP and the ranks draw their own laundering and dropout, so the runs agree
    # closely, not bitwise.
    single = train(_ddp_config(manifest, root), tmp_path / "single")
    for ddp_row, single_row in zip(straight["state"]["history"], single.history):
        assert ddp_row["val_loss"] == pytest.approx(single_row["val_loss"], abs=0.1)
