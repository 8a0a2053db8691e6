"""Check every audio file of a manifest once, in parallel worker processes, before training.

What is checked, and why not a full decode: the waveform cache decodes every clip fully
(:func:`detector.data.audio.decode`, which rejects non-finite, silent and out-of-range
samples) the first time a manifest is used, so decoding here as well would double the cost
of preparing a corpus. Instead each file is opened with :func:`detector.data.audio.open_audio`
(exists, is audio, the header is possible and agrees with the data; frame count, rate,
channels -> non-empty, duration: the same checks and messages as decoding) and gets two
short reads: the first
:data:`HEAD_S` seconds (finite samples, and a level estimate for the shortcut warnings) and
the last :data:`TAIL_S` seconds (a truncated or corrupt file fails here). That costs a few
percent of a full decode and catches what goes wrong with downloaded corpora in practice.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from detector.data.audio import MIN_DURATION_S, AudioError, open_audio, quiet_stderr
from detector.utils.io import atomic_write_csv

HEAD_S = 2.0
TAIL_S = 0.25
PARALLEL_MIN_FILES = 4000  # below this, starting worker processes (~2-3 s: they import torch) costs more than it saves


def probe(path: str) -> dict | str:
    """``{"duration_s", "sample_rate", "channels", "level_dbfs"}`` for a good file, else the problem."""
    try:
        handle = open_audio(path)
    except AudioError as error:   # its message is "<path>: <problem>"; the report has a path column
        return str(error).removeprefix(f"{Path(path)}: ")
    try:
        with handle:
            frames, rate, channels = handle.frames, handle.samplerate, handle.channels
            if frames <= 0:
                return "0 samples (empty file?)"
            duration_s = frames / rate
            if duration_s < MIN_DURATION_S:
                return f"{duration_s:.3f} s is shorter than the minimum {MIN_DURATION_S} s"
            tail_frames = min(frames, int(TAIL_S * rate))
            with quiet_stderr():
                head = handle.read(min(frames, int(HEAD_S * rate)), dtype="float32", always_2d=True)
                handle.seek(frames - tail_frames)
                tail = handle.read(tail_frames, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        return f"cannot decode as audio ({error})"
    if tail.shape[0] < tail_frames:
        return f"truncated: the header says {frames} samples, reading stops early"
    if not (np.isfinite(head).all() and np.isfinite(tail).all()):
        return "contains NaN or infinite samples"
    mono = head.mean(axis=1)
    rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) if mono.size else 0.0
    return {"duration_s": duration_s, "sample_rate": rate, "channels": channels,
            "level_dbfs": 20 * math.log10(rms) if rms > 0 else -120.0}


def probe_files(paths: list[str], workers: int | None = None, progress: bool = True
                ) -> tuple[list[dict | str], float]:
    """:func:`probe` every path (in order) in parallel; also returns files per second."""
    workers = workers if workers is not None else min(8, os.cpu_count() or 1)
    bar = dict(total=len(paths), desc="checking audio files", unit="file", disable=not progress, leave=False)
    start = time.perf_counter()
    if workers > 1 and len(paths) >= PARALLEL_MIN_FILES:
        chunk = max(1, min(256, len(paths) // (workers * 8)))
        # spawn, not fork: forking a process that has started torch's thread pools can hang.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(tqdm(pool.map(probe, paths, chunksize=chunk), **bar))
    else:
        results = list(tqdm(map(probe, paths), **bar))
    elapsed = time.perf_counter() - start
    return results, len(paths) / elapsed if elapsed > 0 else float("inf")


def validate_rows(rows: list[dict], manifest_path: str | Path, on_error: str = "fail",
                  report_path: str | Path | None = None, workers: int | None = None, progress: bool = True
                  ) -> tuple[list[dict], list[dict], float]:
    """Check the files of ``rows`` (paths relative to ``manifest_path``'s folder).

    Good rows get ``duration_s``, ``sample_rate`` and ``level_dbfs``. Bad ones are written to
    ``report_path`` (CSV ``path,source,error``; default ``<manifest>.bad.csv``); with
    ``on_error="fail"`` that raises a ValueError naming the first, with ``"skip"`` they are
    left out. Returns ``(good_rows, bad, files_per_second)``.
    """
    if on_error not in ("fail", "skip"):
        raise ValueError(f"--on-error {on_error!r}: expected fail or skip")
    folder = Path(manifest_path).resolve().parent
    results, rate = probe_files([os.path.normpath(folder / row["path"]) for row in rows], workers, progress)
    good, bad = [], []
    for row, result in zip(rows, results):
        if isinstance(result, str):
            bad.append({"path": row["path"], "source": row.get("_where", ""), "error": result})
            continue
        row["duration_s"] = f"{result['duration_s']:.3f}"
        row["sample_rate"] = str(result["sample_rate"])
        row["level_dbfs"] = f"{result['level_dbfs']:.1f}"
        good.append(row)
    report = Path(report_path) if report_path else Path(manifest_path).with_suffix(".bad.csv")
    if bad:
        atomic_write_csv(report, bad, ["path", "source", "error"])
        if on_error == "fail":
            first = bad[0]
            raise ValueError(f"{len(bad)} of {len(rows)} audio file(s) are bad, all listed in {report}; first: "
                             f"{first['path']} ({first['source'] or 'no source line'}): {first['error']}. "
                             f"Fix them or pass --on-error skip to leave them out")
    elif report.exists():
        report.unlink()    # a stale report from an earlier run would mislead
    return good, bad, rate
