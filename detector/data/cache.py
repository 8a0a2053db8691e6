"""The waveform cache: a manifest's clips decoded once into one memory-mapped int16 file.

Layout of ``CACHE_DIR/<key>/``: ``samples.i16`` (every clip's samples, concatenated) and
``index.json`` (offset and length per manifest row, the rows skipped as bad, and the stored
``dtype``). The key
hashes the manifest's bytes, the sample rate, the error policy and each file's size and
modification time, so the cache is rebuilt exactly when one of them changes and reused
by every later run, evaluation and ablation otherwise.

A cache is built in a temporary folder that is renamed into place when complete: a crash
or kill never leaves a torn cache, and a damaged one found later is rebuilt. A full disk
while building is a :class:`~detector.utils.io.WriteError` naming the folder, and leaves
nothing behind.

Long clips are stored whole, however long: decoding streams them in blocks
(:func:`~detector.data.audio.iter_decode`) and clips over ``SPILL_SAMPLES`` go to disk as
they decode, so memory stays bounded by the block size, never by the clip. Training takes
random crops and evaluation slides windows over the whole clip, both straight from the
memory-mapped file; the cost of a two-hour clip is its 230 MB (at 16 kHz) of cache disk.

Quantisation (format version 3). A float32 sample ``x`` in [-1, 1] is stored as
``q = clip(round(x * 32768), -32768, 32767)`` (round half to even) and read back as
``q / 32768``, which is exact in float32. This is the scale libsndfile (``soundfile``) uses for
16-bit PCM, so a 16-bit source at the cache's sample rate round-trips bit-exactly to the
float32 samples ``soundfile.read`` gives for it. Any other source (24-bit, float, resampled)
is off by at most half a step, 1/65536, and ``x = 1.0`` is clipped to 32767/32768 (off by
1/32768): the noise floor of a 16-bit recording (about -101 dBFS RMS). Storing int16 halves the
cache's disk, page cache and host-to-device traffic against float32.

Version-2 caches (float32 in ``samples.f32``, no ``dtype`` in the index) still open: their
``samples`` are float32 and every reader below handles both dtypes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from detector.data.audio import AudioError, iter_decode
from detector.data.manifest import Manifest
from detector.utils.io import WriteError

logger = logging.getLogger(__name__)

CACHE_VERSION = 4   # 4: Kaiser-filtered resampling, silent/constant clips refused; 3: int16 samples; 2: streamed
PARALLEL_MIN_FILES = 200   # below this, worker start-up costs more than it saves
SPILL_SAMPLES = 1 << 20    # a clip longer than this (65 s at 16 kHz) is streamed to disk, not held in memory
INT16_SCALE = 32768        # q = round(x * INT16_SCALE); x = q / INT16_SCALE (see the module docstring)
SAMPLE_FILES = {"int16": "samples.i16", "float32": "samples.f32"}   # stored dtype -> sample file


def quantise(wave: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1] -> int16 ``clip(round(x * 32768), -32768, 32767)``, same shape."""
    return np.clip(np.rint(np.asarray(wave, dtype=np.float32) * INT16_SCALE), -INT16_SCALE,
                   INT16_SCALE - 1).astype(np.int16)


def dequantise(samples: np.ndarray) -> np.ndarray:
    """Stored samples -> float32 in [-1, 1]: int16 ``q`` -> ``q / 32768`` (exact, a new array);
    float32 samples (a version-2 cache) are returned as they are."""
    if samples.dtype == np.int16:
        return samples.astype(np.float32) * np.float32(1 / INT16_SCALE)
    return samples


def default_cache_dir() -> Path:
    return Path(os.environ.get("DETECTOR_CACHE") or Path.home() / ".cache" / "detector")


class BadRowsError(ValueError):
    """Rows of a manifest could not be decoded; ``problems`` lists {"path", "line", "error"}."""

    def __init__(self, manifest: Path, problems: list[dict]):
        self.problems = problems
        shown = "\n".join(f"  line {p['line']}: {p['error']}" for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__(f"{manifest}: {len(problems)} bad clip(s):\n{shown}{more}\n"
                         "Fix or remove them, or pass --on-error skip to skip and report them.")


@dataclass
class WaveformCache:
    """Read-only view of a built cache.

    ``stored(i)`` is a zero-copy slice of manifest row i's samples as stored (int16, or float32
    in a version-2 cache): what the crop loaders read. ``waveform(i)`` is the same clip as
    float32 in [-1, 1], for code that processes whole clips on the host.
    """

    folder: Path
    sample_rate: int
    offsets: np.ndarray      # (rows,) int64, -1 for a skipped row
    lengths: np.ndarray      # (rows,) int64 samples, 0 for a skipped row
    skipped: list[dict]      # {"path", "line", "error"} per skipped row
    samples: np.ndarray      # (total_samples,) memmap: int16 q (x = q / 32768); float32 x in a version-2 cache

    def stored(self, row: int) -> np.ndarray:
        """Samples of manifest row ``row`` as stored, ``(time,)`` at ``sample_rate`` Hz: a memmap slice."""
        if self.offsets[row] < 0:
            raise KeyError(f"manifest row {row} was skipped as bad: it has no audio in the cache")
        start = self.offsets[row]
        return self.samples[start:start + self.lengths[row]]

    def waveform(self, row: int) -> np.ndarray:
        """Samples of manifest row ``row``: float32 ``(time,)`` in [-1, 1] at ``sample_rate`` Hz.

        From an int16 cache this is a new array (4 bytes a sample: 230 MB for an hour at 16 kHz);
        to read part of a long clip, slice :meth:`stored` and :func:`dequantise` the slice.
        """
        return dequantise(self.stored(row))

    @property
    def valid_rows(self) -> np.ndarray:
        return np.flatnonzero(self.offsets >= 0)


def cache_key(manifest: Manifest, sample_rate: int, on_error: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_VERSION} sr={sample_rate} on_error={on_error}\n".encode())
    digest.update(manifest.path.read_bytes())
    for row in manifest.rows:
        try:
            stat = manifest.audio_path(row).stat()
            digest.update(f"{row.path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except (OSError, ValueError):
            digest.update(f"{row.path}\0missing\n".encode())
    return digest.hexdigest()[:24]


def load_or_build_cache(manifest: Manifest, sample_rate: int = 16000, cache_dir: str | Path = "",
                        on_error: str = "fail", workers: int | None = None) -> WaveformCache:
    """Return the cache for ``manifest``, decoding every clip once if it does not exist yet.

    ``on_error="fail"`` raises :class:`BadRowsError` listing every bad clip; ``"skip"`` leaves
    them out, counts them and writes them to ``skipped.json`` in the cache folder.
    """
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = root / cache_key(manifest, sample_rate, on_error)
    if folder.exists():
        try:
            return open_cache(folder)
        except (OSError, ValueError, KeyError) as error:
            logger.warning(f"detector: cache {folder} is damaged ({error}); rebuilding it")
            shutil.rmtree(folder, ignore_errors=True)
    return _build(manifest, sample_rate, folder, on_error, workers)


def open_cache(folder: Path) -> WaveformCache:
    """Open a built cache (int16, or a version-2 float32 one), checking that the index and the sample file agree."""
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    offsets = np.asarray(index["offsets"], dtype=np.int64)
    lengths = np.asarray(index["lengths"], dtype=np.int64)
    expected = int(index["total_samples"])
    dtype = index.get("dtype", "float32")   # version 2 and earlier derived caches: float32, unnamed
    if dtype not in SAMPLE_FILES:
        raise ValueError(f"{folder / 'index.json'}: unknown sample dtype {dtype!r}")
    data_path = folder / SAMPLE_FILES[dtype]
    size = expected * np.dtype(dtype).itemsize
    if data_path.stat().st_size != size:
        raise ValueError(f"{data_path} holds {data_path.stat().st_size} bytes, index expects {size}")
    samples = (np.memmap(data_path, dtype=dtype, mode="r", shape=(expected,))
               if expected else np.zeros(0, dtype=dtype))
    return WaveformCache(folder=folder, sample_rate=int(index["sample_rate"]), offsets=offsets,
                         lengths=lengths, skipped=index["skipped"], samples=samples)


def _decode_one(job: tuple[str, int, str]) -> np.ndarray | str | tuple[str, int]:
    """Worker: decoded samples quantised to int16, or the error message for a bad clip.

    Blocks are kept in memory up to ``SPILL_SAMPLES``; a longer clip is streamed into the file
    ``spill`` (raw int16) instead and ``(spill, length)`` comes back, so neither this process nor
    the parent ever holds a long clip in memory (two hours are 230 MB at 16 kHz).
    """
    path, sample_rate, spill = job
    blocks, length, handle = [], 0, None
    try:
        for block in iter_decode(path, sample_rate):
            block = quantise(block)   # here, in the worker: the parent only copies bytes
            length += block.shape[0]
            if handle is None and length > SPILL_SAMPLES:
                handle = open(spill, "wb")
                for earlier in blocks:
                    handle.write(earlier.tobytes())
                blocks = []
            if handle is None:
                blocks.append(block)
            else:
                handle.write(block.tobytes())
    except BaseException as error:
        if handle is not None:
            handle.close()
            Path(spill).unlink(missing_ok=True)
        if isinstance(error, AudioError):
            return str(error)
        raise
    if handle is not None:
        handle.close()
        return spill, length
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


class CacheWriter:
    """The one writer of the cache format: clips appended in any row order into ``folder/samples.i16``,
    then ``finish`` writes ``index.json``.

    ``folder`` is a staging folder the caller renames into place, so the cache appears whole or
    not at all. A context manager: leaving it closes the sample file (after an error too).
    """

    def __init__(self, folder: Path, rows: int):
        self.folder = folder
        self.handle = open(folder / SAMPLE_FILES["int16"], "wb")
        self.offsets = np.full(rows, -1, dtype=np.int64)
        self.lengths = np.zeros(rows, dtype=np.int64)
        self.position = 0

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, *error) -> None:
        self.handle.close()

    def add(self, row: int, wave: np.ndarray) -> None:
        """Append manifest row ``row``: ``(time,)`` float32 in [-1, 1] (quantised here) or int16 already."""
        samples = wave if wave.dtype == np.int16 else quantise(wave)
        self.handle.write(np.ascontiguousarray(samples).tobytes())
        self._placed(row, samples.shape[0])

    def add_file(self, row: int, path: str | Path, length: int) -> None:
        """Append manifest row ``row`` from a file of ``length`` raw int16 samples (a worker's spill)."""
        with open(path, "rb") as source:
            shutil.copyfileobj(source, self.handle, 1 << 22)
        self._placed(row, length)

    def _placed(self, row: int, length: int) -> None:
        self.offsets[row], self.lengths[row] = self.position, length
        self.position += length

    def finish(self, sample_rate: int, skipped: list[dict], **extra) -> None:
        """Flush the samples to disk, then write the index (``extra``: more keys for it)."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        index = {"version": CACHE_VERSION, "dtype": "int16", "sample_rate": sample_rate, **extra,
                 "total_samples": self.position, "offsets": self.offsets.tolist(),
                 "lengths": self.lengths.tolist(), "skipped": skipped}
        (self.folder / "index.json").write_text(json.dumps(index), encoding="utf-8")


def _build(manifest: Manifest, sample_rate: int, folder: Path, on_error: str,
           workers: int | None) -> WaveformCache:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as error:
        raise WriteError(error.errno, f"{folder.parent}: cannot create the waveform cache folder "
                                      f"({_strerror(error)}); pass --cache-dir or set $DETECTOR_CACHE") from error
    try:
        with CacheWriter(staging, len(manifest.rows)) as writer:
            problems = _decode_all(manifest, sample_rate, staging, writer, workers)
            if problems and on_error == "fail":
                raise BadRowsError(manifest.path, problems)
            writer.finish(sample_rate, problems, manifest=str(manifest.path))
        if problems:
            (staging / "skipped.json").write_text(json.dumps(problems, indent=1), encoding="utf-8")
        try:
            os.rename(staging, folder)   # atomic: the cache appears complete or not at all
        except OSError:
            if not (folder / "index.json").exists():   # not a concurrent builder that won the race
                raise
    except WriteError:
        raise
    except OSError as error:   # disk full, quota, read-only file system: name it and leave nothing behind
        raise WriteError(error.errno, f"{folder}: cannot write the waveform cache ({_strerror(error)}); "
                                      "nothing was left behind; free space or pass --cache-dir on a "
                                      "bigger disk") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    cache = open_cache(folder)
    if problems:
        logger.info(f"detector: skipped {len(problems)} bad clip(s) of {len(manifest.rows)}; "
              f"listed in {folder / 'skipped.json'}")
    return cache


def _decode_all(manifest: Manifest, sample_rate: int, staging: Path, writer: CacheWriter,
                workers: int | None) -> list[dict]:
    """Decode every row in order into ``writer``; returns the bad rows ({"path", "line", "error"})."""
    jobs = [(str(manifest.audio_path(row)), sample_rate, str(staging / f"spill-{i}.i16"))
            for i, row in enumerate(manifest.rows)]
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    problems = []
    progress = dict(total=len(jobs), desc="decoding into cache", unit="clip", leave=False)
    if workers > 1 and len(jobs) >= PARALLEL_MIN_FILES:
        # spawn, not fork: forking a process that has started torch's thread pools can hang.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = tqdm(pool.map(_decode_one, jobs, chunksize=16), **progress)
            _append(results, manifest, writer, problems)
    else:
        _append(tqdm(map(_decode_one, jobs), **progress), manifest, writer, problems)
    return problems


def _append(results, manifest: Manifest, writer: CacheWriter, problems: list[dict]) -> None:
    for index, result in enumerate(results):
        if isinstance(result, str):
            row = manifest.rows[index]
            problems.append({"path": row.path, "line": row.line, "error": result})
        elif isinstance(result, tuple):   # a long clip, streamed to a spill file by the worker
            spill, length = result
            writer.add_file(index, spill, length)
            os.unlink(spill)
        else:
            writer.add(index, result)


def _strerror(error: OSError) -> str:
    return (error.strerror or str(error)).lower() if error.errno else str(error)
