"""Batches of fixed-length crops from the waveform cache.

On the host a batch is ``(wave (batch, 1, time), target (batch,) int64)`` with ``wave`` in the
cache's stored dtype: int16 ``q`` (``x = q / 32768``, see :mod:`detector.data.cache`), or float32
from a version-2 cache. :func:`to_device` copies it to the device (non-blocking, from pinned
memory on CUDA) and converts it there to float32 in [-1, 1], so the copy moves 2 bytes a sample.

Per-row data (rows, copies, targets, window starts, the epoch order) are NumPy arrays, not
Python lists: forked DataLoader workers share them copy-on-write. A list holds one Python
object per row, and a worker that merely reads one writes its reference count, copying the
page it lies on into that worker.

Worker processes ignore SIGINT and SIGTERM (:func:`_start_worker`), so the main process ends
them itself: :func:`ending_workers` around a run (and an exit handler for everything else) asks
them to stop and SIGKILLs those still running after :data:`WORKER_GRACE_S`. Without it a worker
outlives any exit that skips the DataLoader's own shutdown (an uncaught exception keeps the
iterator alive in its traceback): Python's ``multiprocessing`` then ends it at exit with SIGTERM,
which it ignores, and waits for it forever. :func:`watching_workers` turns a worker's death
into a call, not PyTorch's exception raised from its SIGCHLD handler at whatever line the main
process is on (a half-done optimizer step, for one).
"""
from __future__ import annotations

import atexit
import contextlib
import gc
import itertools
import multiprocessing
import os
import re
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

# PyTorch has no public API to end a DataLoader's workers or to learn which one died; these are
# the private pieces used (checked by tests/engine/test_worker_failure.py on each upgrade).
from torch.utils.data._utils import signal_handling as _signal_handling
from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter

from detector.data.cache import INT16_SCALE, WaveformCache
from detector.data.manifest import Manifest
from detector.utils.runtime import upload

AUTO_WORKERS = -1   # num_workers value meaning: min(8, usable CPUs) on CUDA, 0 (the main process) elsewhere
MAX_AUTO_WORKERS = 8


AGGREGATES = ("mean", "max", "min")   # how a clip's window scores combine (aggregate_windows)


def crop_or_repeat(wave: np.ndarray, length: int, start: int) -> np.ndarray:
    """``length`` samples of ``wave`` from ``start``; a shorter clip is repeated to fill it.

    The host-side twin of :func:`gather_windows` (both read ``wave[(start + j) % len(wave)]``),
    kept because it slices a memory-mapped clip without reading the rest of it.
    """
    if wave.shape[0] >= length:
        return wave[start:start + length]
    repeats = -(-length // wave.shape[0])
    return np.tile(wave, repeats)[:length]


class CropDataset(Dataset):
    """One crop of ``crop_samples`` per clip of the chosen manifest rows.

    Item ``k`` is ``(crop (1, crop_samples) int16 (float32 from a version-2 cache), target int)``
    of manifest row ``rows[k]``. Training crops start at a random offset drawn from a NumPy
    generator seeded by ``(seed, epoch, row, copy)`` (:meth:`crop_plan`), so a resumed run, any
    number of workers and :class:`~detector.data.device_cache.DeviceCropLoader` see the same
    crops. A row with a ``repeat`` column (written by ``prepare --balance oversample``) gives
    that many training items, each with its own crop. Evaluation crops are the centre of the
    clip, one per row.

    ``variants`` (training only, ``--train-codecs``): derived caches of the same rows, each the
    clips through one real codec (:func:`detector.launder.codec.codec_variants`), as long as the
    clean clips. With probability ``variant_p`` an item's crop is read from one of them, chosen
    with equal odds, at the same start; the same seeded generator draws it, per item and epoch.

    ``rows``, ``copy`` and ``targets`` are ``(items,)`` int64 arrays; ``sources`` is
    ``(cache, *variants)``, indexed by :meth:`crop_plan`'s source numbers.
    """

    def __init__(self, cache: WaveformCache, manifest: Manifest, rows, crop_samples: int,
                 random_crop: bool, seed: int = 0, variants: Sequence[WaveformCache] = (), variant_p: float = 0.0):
        if variants and not random_crop:
            raise ValueError("codec variants are a training augmentation: they need random_crop=True")
        if not 0.0 <= variant_p <= 1.0:
            raise ValueError(f"the probability of a codec variant must be in [0, 1], got {variant_p}")
        rows = np.asarray(rows, dtype=np.int64)
        usable = rows[cache.offsets[rows] >= 0]
        copies = (np.array([_repeat_count(manifest, r) for r in usable.tolist()], dtype=np.int64) if random_crop
                  else np.ones(len(usable), dtype=np.int64))
        self.rows = np.repeat(usable, copies)
        self.copy = np.arange(len(self.rows), dtype=np.int64) - np.repeat(np.cumsum(copies) - copies, copies)
        self.targets = np.repeat(np.array([manifest.rows[r].target for r in usable.tolist()], dtype=np.int64),
                                 copies)
        self.cache, self.crop_samples = cache, crop_samples
        self.sources, self.variant_p = (cache, *variants), float(variant_p)
        self.random_crop, self.seed, self.epoch = random_crop, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def crop_plan(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, sources)`` of the items in ``items`` (``(n,)`` int -> two ``(n,)`` int64).

        ``starts``: the crop's first sample. Random crops: ``integers(0, spare + 1)`` of
        ``default_rng((seed, epoch, row, copy))``, where ``spare`` is the clip's length less the
        crop (0 for a clip shorter than the crop, which is repeated from its start); otherwise the
        centre, ``spare // 2``. ``sources``: the index in :attr:`sources` the crop is read from,
        0 (clean) unless variants are given; then the same generator draws, after the start (so
        the start is the one a run without variants has), ``random() < variant_p`` and
        ``integers(len(variants))``, giving ``1 + that`` when the first holds.
        """
        rows = self.rows[items]
        spare = np.maximum(self.cache.lengths[rows] - self.crop_samples, 0)
        if not self.random_crop:
            return spare // 2, np.zeros(len(rows), dtype=np.int64)
        variants = len(self.sources) - 1
        plan = np.zeros((2, len(rows)), dtype=np.int64)
        for i, (row, copy, room) in enumerate(zip(rows.tolist(), self.copy[items].tolist(), spare.tolist())):
            rng = np.random.default_rng((self.seed, self.epoch, row, copy))
            plan[0, i] = rng.integers(0, room + 1)
            if variants and rng.random() < self.variant_p:
                plan[1, i] = 1 + rng.integers(variants)
        return plan[0], plan[1]

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        starts, sources = self.crop_plan(np.array([k]))
        crop = crop_or_repeat(self.sources[sources[0]].stored(self.rows[k]), self.crop_samples, int(starts[0]))
        return torch.from_numpy(np.array(crop))[None], int(self.targets[k])


def _repeat_count(manifest: Manifest, row: int) -> int:
    text = manifest.rows[row].extra.get("repeat") or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{manifest.path}:{manifest.rows[row].line}: repeat {text!r} must be a whole number >= 1")
    return int(text)


def window_starts(length: int, window: int, hop: int) -> torch.Tensor:
    """Start samples ``(n_windows,)`` int64 of windows covering a clip of ``length`` samples every ``hop``.

    The last window is aligned to the clip's end so the tail is scored too; a clip shorter
    than one window gets a single window (repeated to fill it). Written as a closed form of
    ``length`` (no branch on data), so the exported model (:mod:`detector.engine.export`)
    traces, scripts and exports to ONNX with this same function and a symbolic length.
    """
    spare = max(length - window, 0)
    count = (spare + hop - 1) // hop + 1
    return torch.clamp(torch.arange(count) * hop, max=spare)


def gather_windows(wave: torch.Tensor, starts: torch.Tensor, window: int) -> torch.Tensor:
    """Windows ``(..., n_windows, window)`` of ``wave`` ``(..., time)`` starting at ``starts`` ``(n_windows,)``.

    Sample ``j`` of a window is ``wave[..., (start + j) % time]``: a clip shorter than the window
    is repeated to fill it, as :func:`crop_or_repeat` does. The modulus is a tensor, not a
    Python int, because the ONNX exporter cannot take the remainder by a symbolic size.
    """
    time = torch.full((), wave.shape[-1], dtype=torch.long, device=wave.device)
    positions = torch.remainder(starts.to(wave.device)[:, None] + torch.arange(window, device=wave.device), time)
    return wave.index_select(-1, positions.flatten()).reshape(wave.shape[:-1] + positions.shape)


class WindowDataset(Dataset):
    """Every sliding window of every chosen clip, for scoring whole clips of any length.

    Item ``k`` is ``(window (1, window) int16 (float32 from a version-2 cache), target int)``;
    ``clip_of_window[k]`` says which clip (position in ``rows``) it belongs to, for aggregating
    window scores per clip. ``rows``, ``targets`` (per clip), ``clip_of_window`` and ``starts``
    (per window, samples) are int64 arrays. Windows are read from the memory-mapped cache on
    demand, so a long clip costs no memory.
    """

    def __init__(self, cache: WaveformCache, manifest: Manifest, rows, window: int, hop: int):
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive samples, got {window} and {hop}")
        self.cache, self.window, self.hop = cache, window, hop
        rows = np.asarray(rows, dtype=np.int64)
        self.rows = rows[cache.offsets[rows] >= 0]
        self.targets = np.array([manifest.rows[r].target for r in self.rows.tolist()], dtype=np.int64)
        starts = [window_starts(int(cache.lengths[r]), window, hop).numpy() for r in self.rows]
        self.clip_of_window = np.repeat(np.arange(len(self.rows)), [len(s) for s in starts])
        self.starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        clip = self.clip_of_window[k]
        wave = crop_or_repeat(self.cache.stored(self.rows[clip]), self.window, int(self.starts[k]))
        return torch.from_numpy(np.array(wave))[None], int(self.targets[clip])


def aggregate_windows(window_scores: np.ndarray, clip_of_window: np.ndarray, n_clips: int,
                      how: str = "mean") -> np.ndarray:
    """Per-clip scores ``(n_clips,)`` from window scores ``(n_windows,)``: their ``mean``, ``max`` or ``min``.

    ``min`` is the clip's least bona fide window: one spliced-in spoofed stretch of a partially
    spoofed clip decides its score instead of being averaged away.
    """
    if how == "mean":
        sums = np.bincount(clip_of_window, weights=window_scores, minlength=n_clips)
        return sums / np.bincount(clip_of_window, minlength=n_clips)
    if how in ("max", "min"):
        result = np.full(n_clips, -np.inf if how == "max" else np.inf)
        (np.maximum if how == "max" else np.minimum).at(result, clip_of_window, window_scores)
        return result
    raise ValueError(f"window aggregation {how!r}: valid values are {', '.join(AGGREGATES)}")


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """This rank's share of a permutation of ``range(n)`` seeded by ``(seed, epoch)``, ``(items,)`` int64.

    Like DistributedSampler, the permutation is padded by wrapping to a multiple of
    ``world_size`` and rank ``r`` takes every ``world_size``-th index from ``r``, so the
    ranks see disjoint, equally long shares of one global order.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).numpy()
    order = np.concatenate([order, order[:(-n) % world_size]])
    return order[rank::world_size]


def training_order(dataset: CropDataset, batch_size: int, seed: int = 0, start_batch: int = 0, rank: int = 0,
                   world_size: int = 1) -> tuple[np.ndarray, bool]:
    """``(items, drop_last)`` of a training epoch: :func:`epoch_order` for the dataset's epoch from
    batch ``start_batch`` (to resume mid-epoch), and whether to drop the last partial batch (a batch
    of one breaks batch norm; it is kept only when it is the only batch)."""
    order = epoch_order(len(dataset), seed, getattr(dataset, "epoch", 0), rank, world_size)
    return order[start_batch * batch_size:], len(order) > batch_size


def resolve_workers(num_workers: int, device: torch.device) -> int:
    """DataLoader worker processes for ``num_workers``: ``AUTO_WORKERS`` (-1) is min(8, usable CPUs)
    on CUDA, where crops must keep up with the GPU, and 0 elsewhere, where the workers would compete
    with the model for the same cores; any other value is taken as it is."""
    if num_workers != AUTO_WORKERS:
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, or -1 for auto; got {num_workers}")
        return num_workers
    if device.type != "cuda":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_AUTO_WORKERS, cpus)


def _start_worker(worker_id: int) -> None:
    """Worker start-up.

    Every object inherited from the parent goes out of the garbage collector's reach: a full
    collection writes into the header of each object it visits, which would copy the parent's
    pages (a million-row manifest, for one) into this worker; frozen, they stay shared.

    SIGINT and SIGTERM are ignored: a Ctrl-C in the terminal or a scheduler's SIGTERM reaches the
    whole process group, and the main process must stay able to finish its step and save its
    position (see :class:`detector.engine.train.StopRequests`) instead of dying with "DataLoader worker
    exited unexpectedly". The main process ends the workers itself (:func:`end_workers`).
    """
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


WORKER_GRACE_S = 2.0   # seconds workers get to stop when asked, before SIGKILL
_ITERATORS: "weakref.WeakSet[_MultiProcessingDataLoaderIter]" = weakref.WeakSet()   # make_loader's, with workers
_WORKERS: dict[int, tuple[int, multiprocessing.Process]] = {}   # pid -> (its iterator's serial, process), until reaped
_SERIAL = itertools.count(1)   # creation order of those iterators, for ending_workers
_exit_handler_registered = False


class _Loader(DataLoader):
    """A DataLoader whose multi-process iterators are registered, so their workers can be ended
    (:func:`end_workers`) and named when one dies (:func:`dead_workers`)."""

    def _get_iterator(self):
        global _exit_handler_registered
        iterator = super()._get_iterator()
        if isinstance(iterator, _MultiProcessingDataLoaderIter):
            iterator._detector_serial = next(_SERIAL)
            _ITERATORS.add(iterator)
            _forget_ended()
            # Kept apart from the iterator: the DataLoader's own shutdown (when the iterator is
            # collected) SIGTERMs a worker that did not stop, which it ignores.
            _WORKERS.update({process.pid: (iterator._detector_serial, process) for process in iterator._workers})
            if not _exit_handler_registered:
                # Registered after multiprocessing's own exit handler, so it runs first (atexit is
                # last in, first out) and that handler's unbounded wait finds the workers gone.
                atexit.register(_end_all_workers)
                _exit_handler_registered = True
        return iterator


@dataclass(frozen=True)
class WorkerDeath:
    """A DataLoader worker process that ended by itself: killed by a signal, or exited with a status."""

    worker: int          # its id in its loader (0-based); -1 if it is not one of make_loader's
    workers: int         # how many workers its loader has (0 if unknown)
    pid: int
    exitcode: int        # as multiprocessing gives it: -N killed by signal N, N > 0 exited with status N

    @property
    def signal_name(self) -> str:
        """``SIGKILL`` and the like; empty when the worker exited with a status."""
        if self.exitcode >= 0:
            return ""
        try:
            return signal.Signals(-self.exitcode).name
        except ValueError:
            return f"signal {-self.exitcode}"

    def __str__(self) -> str:
        who = f"DataLoader worker {self.worker}" if self.worker >= 0 else "a DataLoader worker"
        how = f"was killed by {self.signal_name}" if self.exitcode < 0 else f"exited with status {self.exitcode}"
        return f"{who} (pid {self.pid}) {how}"

    @property
    def likely_cause(self) -> str:
        """What usually sends this signal, in words; empty when there is no usual suspect."""
        if self.exitcode == -signal.SIGKILL:
            return "most likely by the kernel's out-of-memory killer (dmesg names it)"
        if self.exitcode == -signal.SIGBUS:
            return "most likely because shared memory (/dev/shm) ran out or the cache file shrank under it"
        return ""


def dead_workers() -> list[WorkerDeath]:
    """The workers of make_loader's running iterators that have ended by themselves, in creation order."""
    deaths = []
    for iterator in sorted(list(_ITERATORS), key=lambda it: it._detector_serial):
        if iterator._shutdown:
            continue
        for worker, process in enumerate(iterator._workers):
            if process.exitcode:   # polls (and reaps) the process; None while it runs, 0 after a clean stop
                deaths.append(WorkerDeath(worker, len(iterator._workers), process.pid, process.exitcode))
    return deaths


@contextlib.contextmanager
def watching_workers(on_death: Callable[[WorkerDeath], None]):
    """Inside the block, the death of a DataLoader worker calls ``on_death(death)`` from the SIGCHLD
    handler instead of raising PyTorch's RuntimeError wherever the main thread happens to be.

    ``on_death`` may raise, which is then raised there; it is called again at each later SIGCHLD
    while the dead worker's loader runs. The DataLoader still notices the death itself when it
    waits for that worker's batch (within :data:`torch.utils.data._utils.MP_STATUS_CHECK_INTERVAL`).
    Signals reach only the main thread: elsewhere the block watches nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGCHLD"):
        yield
        return
    _signal_handling._set_SIGCHLD_handler()   # PyTorch's handler, which checks its workers; installed once
    torch_handler = signal.getsignal(signal.SIGCHLD)

    def on_child(signum, frame) -> None:
        try:
            if callable(torch_handler):
                torch_handler(signum, frame)
        except RuntimeError as error:   # "DataLoader worker (pid N) is killed by signal: ..."
            deaths = dead_workers()
            if not deaths:
                pid = re.search(r"pid (\d+)", str(error))
                deaths = [WorkerDeath(-1, 0, int(pid.group(1)) if pid else 0, _exit_status(str(error)))]
            on_death(deaths[0])

    previous = signal.signal(signal.SIGCHLD, on_child)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous)


def _exit_status(message: str) -> int:
    """multiprocessing's exit code from PyTorch's message about a dead worker (-9 for "killed by signal: Killed")."""
    names = {signal.strsignal(number): -number for number in signal.Signals}
    killed = re.search(r"killed by signal: ([^.]+)", message)
    if killed and killed.group(1).strip() in names:
        return names[killed.group(1).strip()]
    status = re.search(r"exit code (\d+)", message)
    return int(status.group(1)) if status else 1


def describe_worker_error(error: BaseException) -> str:
    """A worker's exception, as PyTorch re-raises it in the main process, in one line.

    ``Caught KeyError in DataLoader worker process 1. Original Traceback ... KeyError: 'x'`` becomes
    ``DataLoader worker 1 raised KeyError: 'x' (at FILE:LINE in FUNCTION)``; other errors give
    their type and first line.
    """
    text = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    caught = re.match(r"Caught (\w+) in DataLoader worker process (\d+)", text)
    if not caught:
        first = text.strip().splitlines()[0] if text.strip() else ""
        return f"a DataLoader worker failed: {type(error).__name__}" + (f": {first}" if first else "")
    lines = text.splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    place, tail = "", lines[frames[-1] + 1:] if frames else lines[-1:]
    if frames:
        frame = re.match(r'  File "(.+)", line (\d+), in (.+)', lines[frames[-1]])
        place = f" (at {frame.group(1)}:{frame.group(2)} in {frame.group(3)})" if frame else ""
    message = " ".join(line.strip() for line in tail if line.strip() and not line.startswith("    "))
    return f"DataLoader worker {caught.group(2)} raised {message or caught.group(1)}{place}"


def end_workers(first_serial: int = 0, grace_s: float = WORKER_GRACE_S, strays: Iterable = ()) -> None:
    """End the worker processes of make_loader's iterators created since ``first_serial``, whatever
    state they are in, and the processes ``strays``.

    Running iterators ask their workers to stop (as the DataLoader's own shutdown asks); the
    workers still running after ``grace_s`` seconds in all (one stuck in ``__getitem__``, or left
    by a shutdown whose SIGTERM it ignored) are killed with SIGKILL. The pids are first taken out
    of PyTorch's SIGCHLD check, so these kills are not reported as failures. Then each
    DataLoader's own shutdown closes its queues.
    """
    iterators = [iterator for iterator in list(_ITERATORS) if iterator._detector_serial >= first_serial]
    for iterator in iterators:
        if iterator._worker_pids_set:
            _signal_handling._remove_worker_pids(id(iterator))
            iterator._worker_pids_set = False
        if not iterator._shutdown:
            iterator._workers_done_event.set()
            for queue in iterator._index_queues:
                queue.put(None)
    _end_processes([process for serial, process in list(_WORKERS.values()) if serial >= first_serial]
                   + list(strays), grace_s)
    for iterator in iterators:
        iterator._shutdown_workers()
    _forget_ended()


def _end_processes(processes: list, grace_s: float) -> None:
    """Wait up to ``grace_s`` seconds in all for ``processes`` to exit, then SIGKILL and reap the rest."""
    deadline = time.monotonic() + grace_s
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0))
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(grace_s)   # SIGKILL is not delayed, except by a process stuck in the kernel


def _forget_ended() -> None:
    for pid, (_, process) in list(_WORKERS.items()):
        if process.exitcode is not None:   # polls (and reaps) it
            del _WORKERS[pid]


@contextlib.contextmanager
def ending_workers(grace_s: float = WORKER_GRACE_S):
    """Every DataLoader worker started inside the block is ended (:func:`end_workers`) when it
    exits, however it exits; workers of loaders started before it are left alone.

    So are daemonic processes the block started and left running, which can only be workers
    whose DataLoader iterator never came to be (an exception raised while it started them):
    Python's exit would otherwise wait for them forever, as they ignore SIGTERM.
    """
    first, before = next(_SERIAL) + 1, set(multiprocessing.active_children())
    try:
        yield
    finally:
        workers = {process.pid for _, process in _WORKERS.values()}
        end_workers(first, grace_s, [process for process in multiprocessing.active_children()
                                     if process.daemon and process not in before and process.pid not in workers])


def _end_all_workers() -> None:
    """At interpreter exit: end the workers of every loader still running (see the module docstring)."""
    end_workers(0)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, device: torch.device,
                num_workers: int = AUTO_WORKERS, seed: int = 0, start_batch: int = 0, rank: int = 0,
                world_size: int = 1) -> DataLoader:
    """A DataLoader yielding ``(wave (batch, 1, time) int16, target (batch,) int64)`` on the host.

    ``wave`` is in the cache's stored dtype (float32 from a version-2 cache); :func:`to_device`
    turns it into float32 on the device. With ``shuffle`` (training), the order is
    :func:`training_order`; without it, the dataset order. ``num_workers``: see
    :func:`resolve_workers`. On CUDA memory is pinned so the copy to the device can be
    non-blocking. Workers are persistent for an evaluation loader (iterated again every epoch,
    its items do not depend on the epoch); a training loader is built per epoch, so they are not.
    """
    if shuffle:
        sampler, drop_last = training_order(dataset, batch_size, seed, start_batch, rank, world_size)
    else:
        sampler, drop_last = None, False
    workers = resolve_workers(num_workers, device)
    # An explicit generator keeps the loader from drawing its worker seed from torch's global
    # generator, which would shift the dropout stream of a run resumed mid-epoch.
    return _Loader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=workers, pin_memory=device.type == "cuda",
                      persistent_workers=workers > 0 and not shuffle,
                      worker_init_fn=_start_worker if workers else None,
                      generator=torch.Generator().manual_seed(seed))


def to_float(wave: torch.Tensor) -> torch.Tensor:
    """Stored samples -> float32: int16 ``q`` -> ``q / 32768`` (exact); float32 is returned as it is."""
    return wave.float().mul_(1 / INT16_SCALE) if wave.dtype == torch.int16 else wave


def to_device(batch: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A host batch on ``device``: ``(wave (batch, 1, time) float32 in [-1, 1], target (batch,) int64)``.

    The copy (:func:`upload`) is non-blocking and carries the stored dtype; an int16 wave is
    converted on the device, after the copy. A batch already on the device (a DeviceCropLoader's)
    passes through.
    """
    wave, target = batch
    return to_float(upload(wave, device)), upload(target, device)
