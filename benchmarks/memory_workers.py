"""Memory of DataLoader workers over a 1,000,000-row cache index: ``python -m benchmarks.run --suite memory_workers``.

Each configuration runs in a fresh child process (``python -m benchmarks.memory_workers --child``)
that builds a synthetic cache index of ``--rows`` rows (64 distinct 2.5-4.5 s int16 clips on disk,
each row pointing at one of them, so the index is full size and the sample file small), keeps a
``Manifest`` of that many rows alive as ``detector train`` does, and draws ``--batches`` training
batches of 4 s random crops through ``make_loader`` with 0 or 4 workers. A thread samples
``/proc/<pid>/smaps_rollup`` of the process and of its worker children every 200 ms.

Memory is PSS (proportional set size: a page shared by n processes counts 1/n in each), so the
sum over the processes is what they take together and a page the workers share copy-on-write
with the main process is not counted five times. The row to watch is the ratio of the peak PSS
of main + 4 workers to the peak PSS of one process doing the same work with no workers
(target <= 1.5). The *full gc in each worker* variant runs ``gc.collect()`` in every worker
before its first item: what a long epoch eventually does, and what would copy the parent's
Python objects into each worker if they were not frozen (``make_loader``'s worker_init_fn);
the *without gc.freeze* variant is that ablation. USS (pages private to one process) of the
workers is reported too.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CLIPS = 64


def _rollup(pid: int) -> dict[str, int]:
    """Pss, Rss and USS (Private_Clean + Private_Dirty) of ``pid`` in kB, from /proc/<pid>/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1])
    return {"pss": values["Pss"], "rss": values["Rss"], "uss": values["Private_Clean"] + values["Private_Dirty"]}


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


class PeakSampler(threading.Thread):
    """Peaks (kB) of the main process's PSS, the workers' summed PSS and USS, and their total PSS."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval, self.done = pid, interval, threading.Event()
        self.peak = {"main_pss": 0, "workers_pss": 0, "workers_uss": 0, "total_pss": 0, "workers": 0}

    def sample(self) -> None:
        try:
            main = _rollup(self.pid)
            workers = [_rollup(child) for child in _children(self.pid)]
        except (FileNotFoundError, ProcessLookupError, KeyError):   # a worker exiting mid-read
            return
        now = {"main_pss": main["pss"], "workers_pss": sum(w["pss"] for w in workers),
               "workers_uss": sum(w["uss"] for w in workers), "workers": len(workers)}
        now["total_pss"] = now["main_pss"] + now["workers_pss"]
        for key, value in now.items():
            self.peak[key] = max(self.peak[key], value)

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            time.sleep(self.interval)


def synthetic_corpus(folder: Path, rows: int):
    """``(manifest, cache)``: ``rows`` manifest rows over ``CLIPS`` distinct int16 clips on disk."""
    from detector.data.cache import SAMPLE_FILES, WaveformCache
    from detector.data.manifest import Manifest, ManifestRow

    rng = np.random.default_rng(0)
    clip_lengths = rng.integers(round(2.5 * SAMPLE_RATE), round(4.5 * SAMPLE_RATE), CLIPS)   # some shorter than 4 s
    clip_offsets = np.concatenate([[0], np.cumsum(clip_lengths)[:-1]])
    path = folder / SAMPLE_FILES["int16"]
    rng.integers(-8000, 8000, int(clip_lengths.sum()), dtype=np.int16).tofile(path)
    samples = np.memmap(path, dtype=np.int16, mode="r")
    which = np.arange(rows) % CLIPS
    cache = WaveformCache(folder, SAMPLE_RATE, clip_offsets[which].astype(np.int64),
                          clip_lengths[which].astype(np.int64), [], samples)
    labels = ("bonafide", "spoof")
    manifest = Manifest(folder / "m.csv", [ManifestRow(f"clips/{i:07d}.flac", labels[i % 2], f"spk{i % 997}",
                                                       "-" if i % 2 == 0 else f"A{i % 19}", "train", i + 2)
                                           for i in range(rows)])
    return manifest, cache


class CollectingDataset:
    """Wraps a dataset; each worker runs a full ``gc.collect()`` before its first item."""

    def __init__(self, dataset):
        self.dataset, self.collected = dataset, False

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, k):
        if not self.collected:
            gc.collect()
            self.collected = True
        return self.dataset[k]


def child(args) -> None:
    import torch

    import detector.data.loader as loader_module
    from detector.data.loader import CropDataset, make_loader

    if args.no_freeze:   # the ablation: workers keep the parent's objects in the collector's reach
        loader_module._freeze_inherited_objects = lambda worker_id: None
    with tempfile.TemporaryDirectory() as folder:
        manifest, cache = synthetic_corpus(Path(folder), args.rows)
        dataset = CropDataset(cache, manifest, np.arange(args.rows), round(args.crop_s * SAMPLE_RATE),
                              random_crop=True)
        source = CollectingDataset(dataset) if args.collect else dataset
        if args.collect:
            source.epoch = dataset.epoch   # make_loader reads the epoch off the dataset it is given
        gc.collect()
        sampler = PeakSampler(os.getpid())
        sampler.start()
        started, crops = time.perf_counter(), 0
        loader = make_loader(source, args.batch_size, True, torch.device("cpu"), args.workers)
        for _, (wave, _) in zip(range(args.batches), loader):
            crops += wave.shape[0]
        seconds = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        del loader
    print("RESULT " + json.dumps({**sampler.peak, "crops": crops, "seconds": seconds}), flush=True)


def measure(rows: int, workers: int, batches: int, batch_size: int, crop_s: float, flags: tuple[str, ...]) -> dict:
    command = [sys.executable, "-m", "benchmarks.memory_workers", "--child", "--rows", str(rows), "--workers",
               str(workers), "--batches", str(batches), "--batch-size", str(batch_size), "--crop-s", str(crop_s)]
    done = subprocess.run(command + list(flags), capture_output=True, text=True, check=True)
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("RESULT ")][-1][7:])


def suite(args, device, report) -> None:
    """The ``memory_workers`` suite of :mod:`benchmarks.run` (CPU only: it measures host memory)."""
    rows, batches = args.index_rows, args.worker_batches
    variants = {"1 process": (0, ()), "4 workers": (4, ()), "4 workers, full gc in each worker": (4, ("--collect",)),
                "4 workers, full gc in each worker, without gc.freeze (ablation)": (4, ("--collect", "--no-freeze"))}
    runs = {}
    for label, (workers, flags) in variants.items():
        print(f"  {label}: {rows} rows, {batches} batches of {args.batch_size} ...", flush=True)
        runs[label] = measure(rows, workers, batches, args.batch_size, args.crop_s, flags)
        print(f"    {json.dumps(runs[label])}", flush=True)
    single = runs["1 process"]["main_pss"]
    results, units, notes = {"1 process: peak PSS": single / 1024}, {}, {}
    for label in list(variants)[1:]:
        run = runs[label]
        results[f"{label}: peak PSS, main + workers"] = run["total_pss"] / 1024
        results[f"{label}: peak PSS of the workers"] = run["workers_pss"] / 1024
        results[f"{label}: peak USS of the workers"] = run["workers_uss"] / 1024
        results[f"{label}: ratio to 1 process (PSS)"] = run["total_pss"] / single
        units[f"{label}: ratio to 1 process (PSS)"] = "x"
        notes[f"{label}: ratio to 1 process (PSS)"] = (
            f"target <= 1.5; {run['workers']} workers seen; sampled every 0.2 s")
    units = {key: units.get(key, "MB") for key in results}
    notes = {key: "; ".join(x for x in (notes.get(key, ""), f"{rows} index rows, {batches} batches")
                            if x) for key in results}
    report("memory_workers", results, device, args, units, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", action="store_true", required=True, help="run one configuration")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crop-s", type=float, default=4.0)
    parser.add_argument("--collect", action="store_true", help="a full gc.collect() in each worker first")
    parser.add_argument("--no-freeze", action="store_true", help="ablation: no gc.freeze() in the workers")
    child(parser.parse_args())


if __name__ == "__main__":
    main()
