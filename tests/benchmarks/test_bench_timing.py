"""The benchmarks' one clock: warm-up calls untimed, the median of the timed ones."""
import time

import pytest
import torch

from benchmarks.pipeline import time_stage
from benchmarks.timing import clock

CPU = torch.device("cpu")


def test_clock_skips_warmup_calls_and_takes_the_median():
    durations = iter([0.3, 0.01, 0.05, 0.02])   # the first (slow) call is the warm-up
    calls = []

    def work():
        calls.append(1)
        time.sleep(next(durations))

    seconds = clock(work, CPU, repeats=3, warmup=1)
    assert len(calls) == 4
    assert seconds == pytest.approx(0.02, abs=0.015)


def test_time_stage_counts_clips_over_all_batches():
    batches = [(torch.zeros(4, 1, 8),), (torch.zeros(6, 1, 8),)]
    steps = []

    def step(batch):
        steps.append(batch[0].shape[0])
        time.sleep(0.01)

    rate = time_stage(step, batches, CPU, warmup=1, repeats=2)
    assert steps[:1] == [4] and len(steps) == 1 + 2 * len(batches)
    assert rate == pytest.approx(10 / 0.02, rel=0.5)   # 10 clips per ~20 ms pass
