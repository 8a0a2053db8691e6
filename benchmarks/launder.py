"""Laundering throughput: each family batched on the present device vs a per-clip NumPy/SciPy baseline.

Times, on one ``(batch, 1, time)`` batch (default 64 x 64000 = 4 s at 16 kHz):
reverb (shoebox bank, RT60 0.6 s), noise (white at 10 dB), resample (8 kHz),
low-pass (7 kHz, Butterworth 5), each as clips/s of our batched attack and of
the per-clip baseline (:mod:`benchmarks.baselines.launder_scipy`), plus the
study's 29 conditions over the same clips (device conditions batched, MP3 per
clip on the host in both). Each side's time is its best of ``--rounds``
rounds that alternate between the two (each round the median of
``--repeats`` calls), so that a burst of load on a shared machine does not
land on one side only. Rows go to ``benchmarks/RESULTS.md`` via
``benchmarks.pipeline.record``. Run: ``OMP_NUM_THREADS=1 python -m benchmarks.launder``.
"""
from __future__ import annotations

import argparse

import numpy as np
import scipy.signal
import torch

from benchmarks.baselines import launder_scipy as base
from benchmarks.pipeline import record
from benchmarks.timing import clock, device_name
from detector.launder import STUDY_CONDITIONS, LaunderBanks, parse_condition
from detector.utils.runtime import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--crop-s", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per family; the best counts")
    parser.add_argument("--baseline-clips", type=int, default=16, help="clips timed for the per-clip baseline")
    parser.add_argument("--no-study", action="store_true", help="skip the 29-condition pass")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    length = round(args.crop_s * 16000)
    rng = np.random.default_rng(0)
    clips = (0.1 * rng.standard_normal((args.batch_size, length))).astype(np.float32)
    wave = torch.from_numpy(clips)[:, None].to(device)
    generator = torch.Generator().manual_seed(0)   # parameters are drawn on the host
    # Babble/cafe need utterances: the clips themselves stand in for a corpus here.
    banks = LaunderBanks(utterances=list(clips[:16]))
    n_base = min(args.baseline_clips, args.batch_size)

    families = {
        "reverb:rt60=0.6": lambda c, a: base.reverb(c, a.bank.irs[0].cpu().numpy()),
        "noise:white:snr=10..10.5": lambda c, a: base.noise(c, rng.standard_normal(len(c)), 10.0),
        "resample:8000": lambda c, a: base.resample(c, 8000),
        "lowpass:7000": lambda c, a: base.lowpass(c, scipy.signal.butter(5, 7000, fs=16000, output="sos")),
    }
    results = {}
    for name, baseline in families.items():
        attack = parse_condition(name, 16000, banks).to(device)
        rounds = [(clock(lambda: attack(wave, generator), device, args.repeats),
                   clock(lambda: [baseline(c, attack) for c in clips[:n_base]], device, args.repeats))
                  for _ in range(args.rounds)]
        ours = args.batch_size / min(ours_s for ours_s, _ in rounds)
        theirs = n_base / min(theirs_s for _, theirs_s in rounds)
        results[f"launder {name} batched"] = ours
        results[f"launder {name} per-clip scipy"] = theirs
        print(f"{name:28s} batched {ours:9.1f} clips/s   per-clip scipy {theirs:8.1f} clips/s   x{ours / theirs:.1f}")
    if not args.no_study:
        attacks = [parse_condition(name, 16000, banks).to(device) for name in STUDY_CONDITIONS]

        def study_ours():
            for attack in attacks:
                if getattr(attack, "host_side", False):
                    [attack.process(c) for c in clips]
                else:
                    attack(wave, generator)

        rate = args.batch_size * len(attacks) / clock(study_ours, device, 1)
        results["launder study-29 (mp3 on host) clip-conditions"] = rate
        print(f"study 29 conditions: {rate:.1f} clip-conditions/s")
    if not args.no_write:
        record(results, device_name(device), args, benchmark="launder")


if __name__ == "__main__":
    main()
