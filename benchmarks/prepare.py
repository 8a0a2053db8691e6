"""Speed of ``detector prepare``'s stages on synthetic input, in rows (or files) per second.

(a) protocol parsing: a synthetic ASVspoof 2019 LA train protocol of ``--rows`` lines (no audio
    needed: adapters do not touch the files);
(b) speaker-disjoint re-split with two unseen systems, (c) undersampling across systems,
(d) the summary with shortcut warnings, all on those rows;
(e) file checks: ``--files`` synthetic 3 s FLAC clips probed serially and with ``--workers``
    processes (process start-up included, as a user pays it).

Run: ``python -m benchmarks.prepare [--rows 100000] [--files 2000] [--workers 2]``
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.pipeline import record
from detector.data.balance import balance
from detector.data.corpora import load_corpus_rows
from detector.data.splits import assign_splits
from detector.data.summary import summary_text
from detector.data.validate import probe_files


def write_protocol(root: Path, n_rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    protocols = root / "ASVspoof2019_LA_cm_protocols"
    protocols.mkdir(parents=True)
    (root / "ASVspoof2019_LA_train" / "flac").mkdir(parents=True)
    speakers = rng.integers(0, 200, n_rows)
    systems = rng.integers(0, 7, n_rows)       # 0 = bona fide, 1..6 = A01..A06
    lines = [f"LA_{s:04d} LA_T_{i:07d} - {'-' if k == 0 else f'A0{k}'} {'bonafide' if k == 0 else 'spoof'}"
             for i, (s, k) in enumerate(zip(speakers, systems))]
    (protocols / "ASVspoof2019.LA.cm.train.trn.txt").write_text("\n".join(lines) + "\n")


RATES: dict[str, float] = {}
UNITS: dict[str, str] = {}


def timed(label: str, n: int, unit: str, step):
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {n:>8} {unit} in {seconds:6.2f} s = {n / seconds:>10,.0f} {unit}/s")
    RATES[label], UNITS[label] = n / seconds, f"{unit}/s"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "LA"
        write_protocol(root, args.rows)
        rows = timed("(a) parse ASVspoof2019 protocol -> rows", args.rows, "rows",
                     lambda: load_corpus_rows("asvspoof2019", root, Path(folder) / "manifest.csv"))
        timed("(b) speaker-disjoint re-split, 2 unseen", len(rows), "rows",
              lambda: assign_splits(rows, (0.7, 0.15, 0.15), 0, unseen_systems=["A05", "A06"]))
        timed("(c) undersample across systems", len(rows), "rows",
              lambda: balance(rows, "undersample", across_systems=True, seed=0))
        timed("(d) summary + shortcut warnings", len(rows), "rows", lambda: summary_text(rows))

        clips = Path(folder) / "clips"
        clips.mkdir()
        rng = np.random.default_rng(0)
        wave = (0.1 * rng.standard_normal(3 * 16000)).astype(np.float32)
        paths = []
        for i in range(args.files):
            path = clips / f"{i:05d}.flac"
            soundfile.write(path, wave, 16000)
            paths.append(str(path))
        timed("(e) file checks, 1 process", len(paths), "files",
              lambda: probe_files(paths, workers=1, progress=False))
        timed(f"(e) file checks, {args.workers} processes", len(paths), "files",
              lambda: probe_files(paths, workers=args.workers, progress=False))
    if not args.no_write:
        record(RATES, f"CPU {platform.processor() or platform.machine()} x{os.cpu_count()} cores", None,
               benchmark="prepare", unit=UNITS, notes=f"{args.rows} rows, {args.files} files")


if __name__ == "__main__":
    main()
