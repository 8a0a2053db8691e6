"""``python -m benchmarks.chain_cost``: what the default training chain costs per batch.

Each laundered example should pay for its own condition only. So the chain's cost per batch is
compared with the mean cost of its single conditions, each run on the whole batch and weighted by
the chain's odds (target: at most 1.5x). For reference, the *dense* row is the sum of the single conditions' costs: what
computing every condition on every example and selecting per example (the chain's former GPU
form) costs.
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.results import record
from benchmarks.run import demo_banks, speech_batch, training_chain
from benchmarks.timing import clock, device_name

TARGET_RATIO = 1.5
MEAN = "mean of single conditions (by the chain's odds)"


def measure(device: torch.device, batch_size: int, crop_s: float, repeats: int) -> tuple[dict, dict]:
    """(seconds per batch by stage, notes): the chain, each condition alone, their mean and sum, the ratio."""
    chain = training_chain(device, demo_banks())
    wave = speech_batch(batch_size, crop_s, device)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        seconds = {"default chain": clock(lambda: chain(wave, generator), device, repeats)}
        singles = {condition.name: clock(lambda: condition(wave, generator), device, repeats)
                   for condition in chain.conditions}
    seconds.update({f"alone: {name}": value for name, value in singles.items()})
    # Weighted by the chain's odds (rawboost:5:w=5 launders half of the laundered examples): the
    # cost a chain whose examples pay for their own condition only should have; with equal weights,
    # the plain mean.
    odds = torch.diff(chain.cumulative, prepend=torch.zeros(1)).tolist()
    seconds[MEAN] = sum(weight * value for weight, value in zip(odds, singles.values()))
    seconds["dense form (sum of single conditions)"] = sum(singles.values())
    ratio = seconds["default chain"] / seconds[MEAN]
    notes = {"default chain": f"{ratio:.2f}x the mean of its single conditions by the chain's odds "
                              f"(target <= {TARGET_RATIO}x); p={chain.p:g}"}
    return seconds, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crop-s", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    seconds, notes = measure(device, args.batch_size, args.crop_s, args.repeats)
    for stage, value in seconds.items():
        print(f"{stage:60s} {1000 * value:9.1f} ms  {notes.get(stage, '')}")
    ratio = seconds["default chain"] / seconds[MEAN]
    print(f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}: chain / mean single condition = {ratio:.2f}")
    if not args.no_write:
        record({k: 1000 * v for k, v in seconds.items()}, device_name(device), args, benchmark="chain_cost",
               unit="ms/batch", notes=notes)


if __name__ == "__main__":
    main()
