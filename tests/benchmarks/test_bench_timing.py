"""The benchmarks' one clock: warm-up calls untimed, the median of the timed ones (on a fake timer,
so the assertions do not depend on how busy the machine is)."""
import pytest
import torch

from benchmarks import timing
from benchmarks.pipeline import time_stage

CPU = torch.device("cpu")


@pytest.fixture
def fake_timer(monkeypatch):
    """A timer that moves only when the code under test says work took time."""
    now = [0.0]

    class FakeTime:
        @staticmethod
        def perf_counter():
            return now[0]

    monkeypatch.setattr(timing, "time", FakeTime)
    return now


def test_clock_skips_warmup_calls_and_takes_the_median(fake_timer):
    durations = iter([30.0, 1.0, 5.0, 2.0])   # the first (slow) call is the warm-up
    calls = []

    def work():
        calls.append(1)
        fake_timer[0] += next(durations)

    assert timing.clock(work, CPU, repeats=3, warmup=1) == 2.0
    assert len(calls) == 4


def test_time_stage_counts_clips_over_all_batches(fake_timer):
    batches = [(torch.zeros(4, 1, 8),), (torch.zeros(6, 1, 8),)]
    steps = []

    def step(batch):
        steps.append(batch[0].shape[0])
        fake_timer[0] += 0.5   # half a second per batch: a pass over both takes 1 s

    assert time_stage(step, batches, CPU, warmup=1, repeats=3) == 10.0   # 10 clips per second
    assert steps == [4] + [4, 6] * 3
