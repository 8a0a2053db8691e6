"""A DataLoader worker that dies, raises or hangs ends the run within seconds, with one message.

Each case runs ``detector train --num-workers 2`` in a subprocess whose training dataset
misbehaves in worker 1 from the start of epoch 2 (when the validation loader's persistent
workers are running too: a killed worker used to leave the run waiting for them forever).
The subprocess has a timeout, so a hang fails the test instead of hanging it.
"""
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detector.cli.main import main
from detector.models.checkpoint import load_checkpoint
from tests.conftest import prepared_folder_corpus

# Runs the CLI with CropDataset.__getitem__ sabotaged in worker 1 from epoch 2 (epoch index 1).
DRIVER = r'''
import os, signal, sys, time
from pathlib import Path

import torch.utils.data
from detector.data import loader

mode, mark = sys.argv[1], Path(sys.argv[2])
real = loader.CropDataset.__getitem__


def sabotaged(self, k):
    worker = torch.utils.data.get_worker_info()
    if self.epoch == 1 and worker is not None and worker.id == 1:
        mark.write_text(f"{os.getpid()} {time.monotonic()}")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "raise":
            raise KeyError("sabotaged clip")
        while True:   # hang
            time.sleep(60)
    return real(self, k)


loader.CropDataset.__getitem__ = sabotaged
from detector.cli.main import main
sys.exit(main(sys.argv[3:]))
'''
ENDS_WITHIN_S = 30   # from the worker's failure (or the SIGTERM) to the process's exit; a loaded 2-core machine
HOLDS = re.compile(r"last\.pt holds epoch 2, step (\d+)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("worker_failure")
    return prepared_folder_corpus(root, "60/20/20", n_per_class=8), root


def _start(corpus, run: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    manifest, root = corpus
    mark = run.parent / f"{run.name}.mark"
    command = [sys.executable, "-c", DRIVER, mode, str(mark), "train", "--manifest", str(manifest), "--out", str(run),
               "--cache-dir", str(root / "cache"), "--frontend", "logmel", "--launder", "off", "--crop-s", "0.5",
               "--batch-size", "2", "--epochs", "2", "--max-steps-per-epoch", "3", "--device", "cpu", "--amp", "off",
               "--num-workers", "2"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), mark


def _wait_for_mark(process: subprocess.Popen, mark: Path, timeout: float = 240) -> tuple[int, float]:
    """``(pid, monotonic time)`` the sabotaged worker wrote when it misbehaved."""
    deadline = time.monotonic() + timeout
    while not mark.exists() or len(mark.read_text().split()) < 2:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} before the sabotage: {process.communicate()[1][-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the sabotaged worker never ran")
        time.sleep(0.05)
    pid, when = mark.read_text().split()
    return int(pid), float(when)


def _finish(process: subprocess.Popen, since: float) -> tuple[str, float]:
    """stderr and the seconds from ``since`` (monotonic) to the exit; a hang fails the test."""
    try:
        _, stderr = process.communicate(timeout=ENDS_WITHIN_S + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"still running {ENDS_WITHIN_S + 30} s later (hung): {stderr[-3000:]}")
    return stderr, time.monotonic() - since


def _the_message(stderr: str, prefix: str) -> str:
    """The run's one message: the only line starting with ``prefix``, and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in re.split(r"[\r\n]", stderr) if prefix in line]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0][lines[0].index(prefix):]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return True


def _position(run: Path) -> dict:
    saved = load_checkpoint(run / "last.pt")
    assert saved["state"]["epoch"] == 1
    return saved["position"]


def test_a_killed_worker_stops_the_run_with_one_message_and_last_pt_holds_the_position(corpus, tmp_path):
    run = tmp_path / "run"
    process, mark = _start(corpus, run, "kill")
    pid, killed = _wait_for_mark(process, mark)
    stderr, seconds = _finish(process, killed)
    assert process.returncode == 2, stderr[-3000:]
    assert seconds < ENDS_WITHIN_S
    message = _the_message(stderr, "detector train: error:")
    assert re.search(rf"DataLoader worker 1 \(pid {pid}\) was killed by SIGKILL in epoch 2 at step \d+, most likely "
                     r"by the kernel's out-of-memory killer .*: use fewer workers \(--num-workers 1; this loader had "
                     r"2\) or --cache-on-device\. ", message), message
    step = int(HOLDS.search(message).group(1))
    assert _position(run) == {**_position(run), "epoch": 1, "step": step}
    resume = message.split("resume with: ")[1].split()
    assert resume[:2] == ["detector", "train"] and resume[-3:] == ["--resume", "--num-workers", "1"]
    assert main(resume[1:]) == 0, "the command the message gives resumes the run"
    assert load_checkpoint(run / "last.pt")["state"]["epoch"] == 2


def test_a_worker_that_raises_stops_the_run_naming_the_error(corpus, tmp_path):
    run = tmp_path / "run"
    process, mark = _start(corpus, run, "raise")
    _, raised = _wait_for_mark(process, mark)
    stderr, seconds = _finish(process, raised)
    assert process.returncode == 2, stderr[-3000:]
    assert seconds < ENDS_WITHIN_S
    message = _the_message(stderr, "detector train: error:")
    assert re.search(r"DataLoader worker 1 raised KeyError: 'sabotaged clip' \(at <string>:\d+ in sabotaged\) in "
                     r"epoch 2 at step \d+\. ", message), message
    assert "--num-workers" not in message, "no memory advice for an exception"
    assert _position(run)["step"] == int(HOLDS.search(message).group(1))


def test_sigterm_while_a_worker_is_stuck_stops_the_run_and_ends_the_worker(corpus, tmp_path):
    run = tmp_path / "run"
    process, mark = _start(corpus, run, "hang")
    stuck, _ = _wait_for_mark(process, mark)
    time.sleep(1.0)   # the main process is waiting for the stuck worker's batch by now
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stderr, seconds = _finish(process, sent)
    assert process.returncode == 130, stderr[-3000:]
    assert seconds < ENDS_WITHIN_S
    message = _the_message(stderr, "detector train: interrupted:")
    assert re.search(r"interrupted in epoch 2 at step \d+; .*last\.pt holds epoch 2, step \d+: rerun with --resume",
                     message), message
    assert _position(run)["step"] == int(HOLDS.search(message).group(1))
    assert _gone(stuck), "the stuck worker (which ignores SIGTERM) was killed, not left behind"
