"""The prepared GPU check: ``python -m benchmarks.gpu_check`` on one CUDA GPU.

Not yet timed on a GPU. Estimated (not measured) at about 6 minutes on one H100, most of it two
cold ``torch.compile`` runs (the default model, about 1.5 min; ResNet-18 alone, about 1 min), the
set-up (a 1,000-clip corpus, its cache and banks, about 40 s), the kill-and-resume runs and the study
(about 40 s each); the other checks time 100-step windows of about 4 s each. A budget (``--budget-s``,
400 s on CUDA) keeps it inside 8 minutes whatever the estimate's error: a check not started by then
is SKIP, and one still running 40 s later is stopped (FAIL), so the report is always written.

Every check runs in its own guard: an exception (an out-of-memory error, an inductor failure) makes
that check ``FAIL (ExceptionType: message)`` (traceback on stderr), frees the GPU memory it held,
and the next check runs. Each check saves and restores the deterministic-algorithms mode,
``torch.backends.cudnn.benchmark``/``deterministic`` and the CUDA sync debug mode
(:func:`restored_flags`). Each check's rows go to ``benchmarks/results.csv`` (and RESULTS.md) as
soon as it ends, with its seconds and (CUDA) its peak memory; the table of PASS / FAIL / INFO / SKIP
lines is printed at the end in every case (an exception, SIGTERM, the budget), and written to
``--report FILE`` when given. INFO is a measurement without a target, which cannot fail; SKIP is a
check that did not run (a flag, the budget). Exit status 1 if any check failed.

The training steps of (a), (b), (c) and (g) are the real epoch loop,
:func:`detector.engine.train._train_one_epoch` (counters read every ``READ_INTERVAL_S``,
cosine schedule, the default laundering chain), fed by the real loaders, with the default
front-end (``FeatureConfig().frontend``) unless a row names another:

(a) ``sync-free``: 24 epoch-loop steps after 3 warm-up steps under
    ``torch.cuda.set_sync_debug_mode("error")``, which raises on any host read of the device, in
    three variants: DataLoader, ``cache_on_device`` and compiled (``_wrap(..., compile=True)``, the
    DataLoader). The loop's one documented read (``_StepCounters.read``, a few times a second) runs
    with the mode off and is counted; any other read fails the check. On the CPU the full step is
    traced on the ``meta`` device instead (it refuses every host read), and the epoch-loop variants
    just run (INFO).
(b) ``throughput``: clips/s of the full pipeline (int16 cache -> DataLoader (workers, pinned memory)
    -> random 4 s crop -> default chain -> front-end -> ResNet-18, bf16, channels_last; forward,
    backward, fused AdamW) against the same model on precomputed inputs (the front-end's output of
    one batch, ResNet-18 only), batch 256, eager and compiled; 100 timed steps after a warm-up longer
    than the loader's queue (workers x prefetch + 20 steps), so no queued batch is timed. Reports the
    input wait per step (time the loop blocks on the loader). Targets for the default front-end
    (H100-class GPU): on-the-fly overhead ``1 - full/model only`` <= 10 % and >= 8,000 clips/s;
    log-mel, CQT and seed-image (those that are not the default) get INFO rows, eager.
(c) the same with ``cache_on_device`` (crops gathered from the int16 cache on the GPU).
(d) ``memory``: peak GPU memory of each check (peak RSS on the CPU), INFO.
(e) ``resume``: a run interrupted by SIGTERM and resumed ends with the weights of an uninterrupted
    one: its difference from the uninterrupted run is no larger than that of a second
    uninterrupted run (0 on the CPU; on CUDA, kernels without a deterministic version set the floor).
(f) ``study``: the laundering study on the device: 1,000 clips x (clean + 29 conditions) to
    model-ready log-mel batches (:func:`benchmarks.study.run_ours`, MP3 coded on the host), seconds, INFO.
(g) ``moonshot``: an ASVspoof 2019 LA-sized run, 25,380 training clips of 4 s at batch 256 with the
    default chain: 100 epoch-loop steps timed in steady state (as (b), over the 1,000-clip cache)
    and validation (float32 scoring, LA dev: 24,844 clips counted as one 4 s window each) timed
    over 20 batches, both extrapolated by step count to one epoch and to 30 epochs; the default
    configuration (eager, DataLoader) and, with ``--compile``, compiled with the cache on the
    device. INFO; ``--skip-moonshot`` leaves it out.

``--device cpu --quick`` runs the same code on a few small batches (batch 8, 1 s crops, 2 timed
steps; the numbers are not measurements) without ``torch.compile``; the test suite runs it
(``tests/benchmarks/test_gpu_check.py``) so the check never rots. On the CPU the GPU's targets are
reported as INFO, not judged.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import itertools
import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from benchmarks.results import HERE, record
from benchmarks.study import make_corpus, rss_mb, run_ours
from benchmarks.timing import device_name, synchronise

GPU_OVERHEAD_TARGET = 0.10        # full pipeline at most 10 % slower than the model alone (default front-end)
GPU_CLIPS_PER_S_TARGET = 8000     # full pipeline, H100-class GPU
FRONTEND_ROWS = ("logmel", "cqt", "seed-image")   # front-ends with throughput rows (names of build_frontend)
LA_TRAIN_CLIPS = 25_380           # ASVspoof 2019 LA training set
LA_DEV_CLIPS = 24_844             # ASVspoof 2019 LA development set (validation)
MOONSHOT_EPOCHS = 30
HARD_STOP_GRACE_S = 40            # a check still running this long after the budget is stopped
STATUSES = ("PASS", "FAIL", "INFO", "SKIP")


@dataclass
class Check:
    name: str
    status: str          # PASS | FAIL | INFO | SKIP
    detail: str
    seconds: float = 0.0


class Stopped(BaseException):
    """SIGTERM or the time budget's hard stop: end the running check and write the report."""


@dataclass
class Outcome:
    """What a check function fills in: its lines and its rows (stage -> value, unit, note)."""

    lines: list[Check] = field(default_factory=list)
    rows: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def line(self, name: str, status: str, detail: str) -> None:
        assert status in STATUSES, status
        self.lines.append(Check(name, status, detail))

    def row(self, stage: str, value: float, unit: str, note: str = "") -> None:
        self.rows[stage], self.units[stage], self.notes[stage] = value, unit, note


@dataclass
class Setup:
    """What every check trains on: a corpus in the waveform cache and the default training chain."""

    device: torch.device
    manifest: Path           # the CSV
    corpus: object           # the Manifest read from it
    cache: object
    train_rows: object       # its rows (all in the train split)
    dataset: object
    chain: torch.nn.Module
    banks: object
    batch_size: int
    crop_s: float
    work: Path


# ----------------------------------------------------------------------------------------------
# Guards: flags restored, exceptions turned into FAIL lines, rows written as each check ends.

@contextlib.contextmanager
def restored_flags():
    """Save and restore the global switches a check may change: ``torch.use_deterministic_algorithms``
    (and its warn-only mode), ``torch.backends.cudnn.benchmark``/``deterministic`` and, where CUDA
    is available, ``torch.cuda.set_sync_debug_mode``."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark, cudnn_deterministic = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    sync_mode = torch.cuda.get_sync_debug_mode() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = benchmark, cudnn_deterministic
        if sync_mode is not None:
            torch.cuda.set_sync_debug_mode(sync_mode)


def _reason(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}"[:300]


class Report:
    """The checks' lines and rows: each check's rows are recorded when it ends; :meth:`finish`
    prints (and writes) the table, whatever happened before."""

    def __init__(self, args, device: torch.device, folder: Path):
        self.args, self.device, self.folder = args, device, folder
        self.name = device_name(device)
        self.lines: list[Check] = []
        self.peaks: dict[str, float] = {}       # check -> peak GPU memory (GiB)
        self.started = time.perf_counter()
        self.budget_s = args.budget_s
        self.on_failure: list[Callable[[], None]] = []   # cleanup after a failed check (drop cached models)
        self.note = "python -m benchmarks.gpu_check" + (" --quick" if args.quick else "")

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def run(self, name: str, function: Callable[[Outcome], None]) -> None:
        """Run ``function(outcome)`` as check ``name`` in its own guard (flags restored, any exception
        a FAIL line, memory freed after one); its rows are recorded at once."""
        if self.budget_s and self.elapsed() > self.budget_s:
            self._add([Check(name, "SKIP", f"not run: the {self.budget_s:g} s budget was spent "
                                           f"({self.elapsed():.0f} s elapsed)")])
            return
        outcome, cuda = Outcome(), self.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        started, failed, stop = time.perf_counter(), False, None
        with restored_flags():
            try:
                function(outcome)
            except BaseException as error:   # noqa: BLE001 - every failure becomes a FAIL line
                failed = True
                print(f"gpu_check: {name} failed:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                outcome.line(name, "FAIL", _reason(error))
                if isinstance(error, (Stopped, SystemExit)) or type(error) is KeyboardInterrupt:
                    stop = error
                del error
        seconds = time.perf_counter() - started
        if failed:
            for cleanup in self.on_failure:
                cleanup()
            gc.collect()
        if cuda:
            if failed:
                torch.cuda.empty_cache()   # an out-of-memory error must not starve the next check
            peak = torch.cuda.max_memory_allocated(self.device) / 2**30
            self.peaks[name] = peak
            outcome.row(f"peak GPU memory, {name}", peak, "GiB")
        outcome.row(f"seconds, {name}", seconds, "s")
        for line in outcome.lines:
            line.seconds = seconds
        self._record(outcome)
        self._add(outcome.lines)
        if stop is not None:
            raise stop

    def skip(self, name: str, why: str) -> None:
        self._add([Check(name, "SKIP", why)])

    def _add(self, lines: list[Check]) -> None:
        for line in lines:
            self.lines.append(line)
            print(f"gpu_check: {self._format(line, len(line.name))}", flush=True)

    def _record(self, outcome: Outcome) -> None:
        if not outcome.rows or not self.args.write:
            return
        notes = {stage: "; ".join(filter(None, (outcome.notes.get(stage, ""), self.note))) for stage in outcome.rows}
        record(outcome.rows, self.name, self.args, benchmark="gpu_check", unit=outcome.units, notes=notes,
               folder=self.folder)

    @staticmethod
    def _format(line: Check, width: int) -> str:
        return f"{line.status:4}  {line.name:<{width}}  {line.detail}  [{line.seconds:.0f} s]"

    def failed(self) -> list[str]:
        return [line.name for line in self.lines if line.status == "FAIL"]

    def finish(self, not_run: list[str], why: str) -> str:
        """Mark ``not_run`` checks as SKIP (``why``), record the run's totals, print and write the table."""
        for name in not_run:
            self.skip(name, f"not run: {why}")
        failed = self.failed()
        outcome = Outcome()
        outcome.row("checks failed", len(failed), "checks", ", ".join(failed))
        outcome.row("seconds, total", self.elapsed(), "s")
        with contextlib.suppress(Exception):   # the table is printed even if the CSV cannot be written
            self._record(outcome)
        ordered = sorted(self.lines, key=lambda line: line.name.split(" ", 1)[0])   # a, b, ... (stable)
        width = max((len(line.name) for line in ordered), default=0)
        skipped = [line.name for line in ordered if line.status == "SKIP"]
        lines = [f"detector GPU check on {self.name} (torch {torch.__version__}, batch {self.args.batch_size}, "
                 f"{self.args.crop_s:g} s clips{', quick' if self.args.quick else ''}; {self.elapsed():.0f} s)"]
        lines += [self._format(line, width) for line in ordered]
        verdict = "FAIL: " + ", ".join(failed) if failed else "PASS: every check that ran"
        lines.append(verdict + (f" (skipped: {', '.join(skipped)})" if skipped else ""))
        table = "\n".join(lines)
        print("\n" + table, flush=True)
        if self.args.report:
            with contextlib.suppress(OSError):
                Path(self.args.report).write_text(table + "\n")
        return table


# ----------------------------------------------------------------------------------------------
# The set-up and the pieces of a training run.

def _prepare(args, device: torch.device, work: Path) -> Setup:
    from detector.config import DataConfig, TrainConfig
    from detector.data import CropDataset, load_corpus, write_manifest
    from detector.launder import LaunderChain
    from detector.launder.banks import corpus_banks

    manifest_path = make_corpus(work / "corpus", args.clips)
    # Each clip gives `repeat` training items with their own random crops, so one loader epoch holds
    # the longest timed run (warm-up + timed steps) without a corpus that many times larger.
    rows = list(csv.DictReader(manifest_path.open()))
    repeat = math.ceil(args.batch_size * (args.warmup + args.queue_allowance + args.steps + 2) / len(rows))
    write_manifest([dict(row, split="train", repeat=str(repeat)) for row in rows], manifest_path)
    data = DataConfig(manifest=str(manifest_path), cache_dir=str(work / "cache"), crop_s=args.crop_s)
    manifest, cache = load_corpus(data)
    crop = round(args.crop_s * data.sample_rate)
    train_rows = manifest.split("train")
    dataset = CropDataset(cache, manifest, train_rows, crop, random_crop=True, seed=0)
    banks = corpus_banks(manifest, cache, cache_dir=str(work / "cache"))
    chain = LaunderChain.from_spec(TrainConfig().launder, data.sample_rate, banks=banks).to(device)
    return Setup(device, manifest_path, manifest, cache, train_rows, dataset, chain, banks, args.batch_size,
                 args.crop_s, work)


def default_frontend() -> str:
    from detector.config import FeatureConfig

    return FeatureConfig().frontend


class Models:
    """Models, compiled wrappers and the uploaded cache, built once and shared between checks
    (one ``torch.compile`` of the default model serves (a), (b), (c) and (g)); dropped after a
    failed check."""

    def __init__(self, setup: Setup):
        self.setup = setup
        self.clear()

    def clear(self) -> None:
        if any(compiled for _, compiled in getattr(self, "networks", {})):
            torch._dynamo.reset()   # after a failed compile, the next one starts afresh
        self.models: dict[str, torch.nn.Module] = {}
        self.networks: dict[tuple[str, bool], torch.nn.Module] = {}
        self.inputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.model_only: dict[tuple[str, bool], Timing] = {}
        self._samples = None

    def detector(self, frontend: str) -> torch.nn.Module:
        from detector.config import FeatureConfig, ModelConfig
        from detector.models.detector import Detector

        if frontend not in self.models:
            self.models[frontend] = Detector(16000, FeatureConfig(frontend=frontend), ModelConfig()).to(
                self.setup.device).train()
        return self.models[frontend]

    def network(self, frontend: str, compiled: bool) -> torch.nn.Module:
        """What the steps call, as ``train`` builds it (``_wrap``: compiled or not, no DDP)."""
        from detector.engine.train import _wrap
        from detector.utils.distributed import Distributed

        key = (frontend, compiled)
        if key not in self.networks:
            self.networks[key] = _wrap(self.detector(frontend), Distributed(), self.setup.device, compiled)
        return self.networks[key]

    def backbone(self, frontend: str, compiled: bool) -> torch.nn.Module:
        key = (frontend + "/backbone", compiled)
        if key not in self.networks:
            backbone = self.detector(frontend).backbone
            self.networks[key] = torch.compile(backbone) if compiled else backbone
        return self.networks[key]

    def samples(self) -> torch.Tensor:
        from detector.data.device_cache import upload_samples

        if self._samples is None:
            self._samples = upload_samples(self.setup.cache, self.setup.device)
        return self._samples

    def precomputed(self, frontend: str) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch of the front-end's output (channels_last, as the model feeds it) and its targets."""
        from detector.data.device_cache import DeviceCropLoader

        if frontend not in self.inputs:
            model = self.detector(frontend)
            wave, target = next(iter(DeviceCropLoader(self.setup.dataset, self.setup.batch_size, self.samples())))
            with torch.no_grad():
                features = model.frontend(wave)
            if model.channels_last:
                features = features.contiguous(memory_format=torch.channels_last)
            self.inputs[frontend] = (features, target)
        return self.inputs[frontend]


def _identity(wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return wave


def _make_run(setup: Setup, model: torch.nn.Module, network: torch.nn.Module, launder) -> object:
    """A ``_Run`` as ``train`` builds it (AdamW, cosine schedule, scaler, bf16 autocast), for the epoch loop."""
    from detector.config import Config
    from detector.engine.train import StopRequests, TrainState, _Run, make_optimizer
    from detector.utils.distributed import Distributed
    from detector.utils.runtime import Precision

    config = Config()
    config.train.batch_size, config.data.crop_s = setup.batch_size, setup.crop_s
    config.train.save_every_minutes = 0.0          # no checkpoint writes inside the timed steps
    optimizer = make_optimizer(model, config.train)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100_000)
    precision = Precision.resolve(config.train.amp, setup.device)
    scaler = torch.amp.GradScaler(setup.device.type, enabled=precision.needs_scaler)
    return _Run(config, model, launder, optimizer, scheduler, scaler, precision, setup.device, Distributed(),
                StopRequests(setup.work / "unused-last.pt"), TrainState(), data=None, network=network)


def _loader(setup: Setup, models: Models, on_device: bool):
    """A training epoch's batches: the DataLoader (workers, pinned memory) or the on-device cache."""
    from detector.data import make_loader
    from detector.data.device_cache import DeviceCropLoader

    if on_device:
        return DeviceCropLoader(setup.dataset, setup.batch_size, models.samples())
    return make_loader(setup.dataset, setup.batch_size, True, setup.device, -1)


def queue_depth(loader) -> int:
    """Batches a DataLoader can have ready before the loop asks: workers x prefetch factor (0 without workers)."""
    return getattr(loader, "num_workers", 0) * (getattr(loader, "prefetch_factor", None) or 0)


class Metered:
    """Batches of ``source``, ``quota`` at a time (then the iteration stops, resumable with a new
    :meth:`phase`), timing how long each ``next`` blocks: the loop's input wait."""

    def __init__(self, source):
        self.source, self.quota, self.waits = iter(source), 0, []

    def phase(self, count: int) -> "Metered":
        self.quota, self.waits = count, []
        return self

    def __iter__(self):
        return self

    def __next__(self):
        if self.quota <= 0:
            raise StopIteration
        started = time.perf_counter()
        batch = next(self.source)
        self.waits.append(time.perf_counter() - started)
        self.quota -= 1
        return batch


@dataclass
class Timing:
    steps: int
    seconds: float
    wait_s: float        # input wait summed over the timed steps
    batch_size: int

    @property
    def clips_per_s(self) -> float:
        return self.steps * self.batch_size / self.seconds

    @property
    def step_s(self) -> float:
        return self.seconds / self.steps

    @property
    def wait_ms(self) -> float:
        return 1000 * self.wait_s / self.steps


def epoch_steps(run, batches: Metered, position, count: int, desc: str) -> None:
    """``count`` steps of the training epoch loop (:func:`detector.engine.train._train_one_epoch`)."""
    from detector.engine.train import _train_one_epoch

    target = position.step + count
    _train_one_epoch(run, batches.phase(count), target, position, desc)
    if position.step != target:
        raise RuntimeError(f"the loader ran out after {position.step} of {target} steps")


def timed_steps(run, source, warmup: int, steps: int, device: torch.device, batch_size: int) -> Timing:
    """Steps/s of the epoch loop: ``warmup`` untimed steps, then ``steps`` timed, the device synchronised."""
    from detector.engine.train import EpochPosition

    batches, position = Metered(source), EpochPosition()
    epoch_steps(run, batches, position, warmup, "warm-up")
    synchronise(device)
    started = time.perf_counter()
    epoch_steps(run, batches, position, steps, "timed")
    synchronise(device)
    return Timing(steps, time.perf_counter() - started, sum(batches.waits), batch_size)


def _warmup_for(args, loader) -> int:
    """Untimed steps: the usual warm-up, plus the loader's queue, so that no batch prepared
    before the timed window starts is timed (the queue is drained, then refilled at the pace
    the workers sustain)."""
    return args.warmup + queue_depth(loader)


# ----------------------------------------------------------------------------------------------
# (a) sync-free

@contextlib.contextmanager
def documented_reads_allowed(count: list[int]):
    """Let the epoch loop's documented host read (``_StepCounters.read``: losses and skipped-step
    counts every ``READ_INTERVAL_S``) run with the CUDA sync debug mode off, counting the reads;
    every other read still raises."""
    import detector.engine.train as train_module

    counters = train_module._StepCounters
    original = counters.read

    def read(self, position):
        count[0] += 1
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode(0)
        try:
            return original(self, position)
        finally:
            torch.cuda.set_sync_debug_mode(previous)

    counters.read = read
    try:
        yield
    finally:
        counters.read = original


@contextlib.contextmanager
def _fused_optimizer_on_meta():
    """Let fused AdamW run on meta tensors: its kernel has a meta implementation (torch.compile
    traces through it), but the optimizer's list of devices allowed for it omits meta."""
    import torch.optim.optimizer as optimizer_module

    supported = optimizer_module._get_fused_kernels_supported_devices
    optimizer_module._get_fused_kernels_supported_devices = lambda: [*supported(), "meta"]
    try:
        yield
    finally:
        optimizer_module._get_fused_kernels_supported_devices = supported


def check_meta_trace(setup: Setup, args, out: Outcome) -> None:
    """CPU stand-in for the sync check: the full step on the meta device, which refuses every host read."""
    from detector.config import FeatureConfig, ModelConfig, TrainConfig
    from detector.engine.train import make_optimizer, train_step
    from detector.launder import LaunderChain
    from detector.models.detector import Detector
    from detector.utils.runtime import Precision, step_seeds

    meta, frontend = torch.device("meta"), default_frontend()
    model = Detector(16000, FeatureConfig(frontend=frontend), ModelConfig()).to(meta).train()
    chain = LaunderChain.from_spec(TrainConfig().launder, 16000, banks=setup.banks).to(meta)
    wave = torch.zeros(setup.batch_size, 1, round(setup.crop_s * 16000), device=meta)
    target = torch.zeros(setup.batch_size, dtype=torch.long, device=meta)
    precision = Precision.resolve("auto", torch.device("cpu"))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    generator = torch.Generator().manual_seed(step_seeds(0, 0, 0, 0)[0])
    with _fused_optimizer_on_meta():
        train_step(model, wave, target, chain, generator, make_optimizer(model, TrainConfig()), scaler, precision)
    out.line("a sync-free, meta trace", "PASS", f"the full step ({frontend}, default chain) traced on the meta "
                                                "device (no host read)")


def check_sync_free(setup: Setup, models: Models, args, variant: str, out: Outcome) -> None:
    """The epoch loop's steps under ``set_sync_debug_mode('error')`` (CUDA), or just run (CPU)."""
    from detector.engine.train import EpochPosition

    name, frontend = f"a sync-free, {variant}", default_frontend()
    network = models.network(frontend, compiled=variant == "compiled")
    run = _make_run(setup, models.detector(frontend), network, setup.chain)
    batches, position = Metered(_loader(setup, models, on_device=variant == "cache on device")), EpochPosition()
    epoch_steps(run, batches, position, args.sync_warmup, "warm-up")   # compiles, tunes cuDNN, starts workers
    what = f"{args.sync_steps} epoch-loop steps ({frontend}, {variant}) after {args.sync_warmup} warm-up"
    if setup.device.type != "cuda":
        epoch_steps(run, batches, position, args.sync_steps, "sync check")
        out.line(name, "INFO", f"{what} ran; the sync check needs CUDA (the meta trace is the CPU's)")
        return
    synchronise(setup.device)
    reads = [0]
    with documented_reads_allowed(reads):
        torch.cuda.set_sync_debug_mode("error")
        try:
            epoch_steps(run, batches, position, args.sync_steps, "sync check")
        finally:
            torch.cuda.set_sync_debug_mode(0)
    out.line(name, "PASS", f"{what} under set_sync_debug_mode('error'); {reads[0]} documented counter reads "
                           "(_StepCounters.read) allowed, no other host read")
    out.row(f"documented reads in {args.sync_steps} steps, {variant}", reads[0], "reads")


# ----------------------------------------------------------------------------------------------
# (b), (c) throughput against the model alone, per front-end

def model_only(setup: Setup, models: Models, args, frontend: str, compiled: bool) -> Timing:
    """ResNet-18 alone through the same epoch loop, on one precomputed batch of the front-end's output."""
    key = (frontend, compiled)
    if key not in models.model_only:
        features, target = models.precomputed(frontend)
        run = _make_run(setup, models.detector(frontend), models.backbone(frontend, compiled), _identity)
        models.model_only[key] = timed_steps(run, itertools.repeat((features, target)), args.warmup, args.steps,
                                             setup.device, setup.batch_size)
    return models.model_only[key]


def check_throughput(setup: Setup, models: Models, args, frontend: str, compiled: bool, on_device: bool,
                     out: Outcome) -> None:
    tag = "compiled" if compiled else "eager"
    letter, source = ("c", "cache on device") if on_device else ("b", "DataLoader")
    name = f"{letter} throughput, {frontend}, {tag}"
    judged = setup.device.type == "cuda" and frontend == default_frontend()
    alone = model_only(setup, models, args, frontend, compiled)
    out.row(f"model only, {frontend}, {tag}", alone.clips_per_s, "clips/s", f"{alone.steps} steps")
    loader = _loader(setup, models, on_device)
    warmup = _warmup_for(args, loader)
    if queue_depth(loader):
        source += f", {loader.num_workers} workers x prefetch {loader.prefetch_factor}"
    run = _make_run(setup, models.detector(frontend), models.network(frontend, compiled), setup.chain)
    full = timed_steps(run, loader, warmup, args.steps, setup.device, setup.batch_size)
    overhead = 1 - full.clips_per_s / alone.clips_per_s
    stage = f"full pipeline{', cache on device' if on_device else ''}, {frontend}, {tag}"
    out.row(stage, full.clips_per_s, "clips/s", f"{full.steps} steps after {warmup} warm-up")
    out.row(f"input wait, {stage}", full.wait_ms, "ms/step")
    out.row(f"on-the-fly overhead, {stage}", 100 * overhead, "%")
    detail = (f"{source}: {full.clips_per_s:,.0f} clips/s full vs {alone.clips_per_s:,.0f} model only, overhead "
              f"{100 * overhead:.1f} %; input wait {full.wait_ms:.1f} ms/step "
              f"({100 * full.wait_s / full.seconds:.0f} % of the time); {full.steps} steps timed after {warmup} "
              f"warm-up{' (--quick: too few to be a measurement)' if args.quick else ''}")
    if judged:
        passed = overhead <= GPU_OVERHEAD_TARGET and full.clips_per_s >= GPU_CLIPS_PER_S_TARGET
        out.line(name, "PASS" if passed else "FAIL", f"{detail}; targets <= {100 * GPU_OVERHEAD_TARGET:.0f} %, "
                                                     f">= {GPU_CLIPS_PER_S_TARGET:,} clips/s")
    else:
        why = "not the default front-end" if frontend != default_frontend() else "targets are for a GPU"
        out.line(name, "INFO", f"{detail} ({why})")


def check_memory(report: Report, out: Outcome) -> None:
    if report.device.type == "cuda":
        total = torch.cuda.get_device_properties(report.device).total_memory / 2**30
        worst = max(report.peaks.items(), key=lambda item: item[1], default=("-", 0.0))
        each = "; ".join(f"{name} {peak:.1f}" for name, peak in report.peaks.items())
        out.line("d peak memory", "INFO", f"largest {worst[1]:.2f} GiB allocated ({worst[0]}) of {total:.0f} GiB; "
                                          f"per check (GiB): {each}")
        return
    peak = rss_mb().get("VmHWM", float("nan")) / 1024
    out.row("peak RSS", peak, "GiB")
    out.line("d peak memory", "INFO", f"peak RSS of the process {peak:.2f} GiB (CPU run)")


# ----------------------------------------------------------------------------------------------
# (e) kill and resume, (f) study

class _InterruptAtStep:
    """Wraps ``detector.engine.train.train_step`` to send this process SIGTERM during step ``at``."""

    def __init__(self, at: int):
        import detector.engine.train

        self.module, self.at, self.calls = detector.engine.train, at, 0
        self.original = detector.engine.train.train_step

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGTERM)   # a request: honoured once this step is complete
        return self.original(*args, **kwargs)

    @contextlib.contextmanager
    def installed(self):
        self.module.train_step = self
        try:
            yield
        finally:
            self.module.train_step = self.original


def check_resume(setup: Setup, args, out: Outcome) -> None:
    from detector.config import Config
    from detector.data import write_manifest
    from detector.engine.train import TrainingInterrupted, train
    from detector.models.checkpoint import load_checkpoint

    work = setup.work
    rows = list(csv.DictReader(setup.manifest.open()))
    small = setup.manifest.parent / "resume.csv"   # beside the clips: manifest paths are relative
    # Labels alternate so that both splits hold both classes whatever the corpus's first rows are:
    # the check is about resuming exactly, not about what is learnt.
    write_manifest([dict(row, label="bonafide" if k % 2 else "spoof", system="-" if k % 2 else "tts",
                         split="val" if (k // 2) % 4 == 3 else "train", repeat="1")
                    for k, row in enumerate(rows)], small)

    def config() -> Config:
        c = Config()
        c.data.manifest, c.data.cache_dir, c.data.crop_s = str(small), str(work / "cache"), min(args.crop_s, 1.0)
        c.train.device, c.train.epochs, c.train.batch_size = str(setup.device), 2, 4
        c.train.max_steps_per_epoch, c.train.deterministic = 3, True
        return c

    def weights(run: str) -> dict:
        return load_checkpoint(work / run / "last.pt")["model"]

    train(config(), work / "plain_a")
    train(config(), work / "plain_b")
    with _InterruptAtStep(at=5).installed():   # epoch 2, step 2 of 3
        try:
            train(config(), work / "interrupted")
            out.line("e kill and resume", "FAIL", "the SIGTERM did not interrupt the run")
            return
        except TrainingInterrupted:
            pass
    train(config(), work / "interrupted", resume=True)
    reference = weights("plain_a")

    def difference(run: str) -> float:
        other = weights(run)
        return max((other[k].float() - v.float()).abs().max().item() for k, v in reference.items()
                   if v.is_floating_point())

    floor, resumed = difference("plain_b"), difference("interrupted")
    out.row("resume weight difference", resumed, "max |w|")
    out.line("e kill and resume", "PASS" if resumed <= floor else "FAIL",
             f"max |weight difference| after SIGTERM in step 5 of 6 + --resume: {resumed:.3g} "
             f"(two uninterrupted runs: {floor:.3g}); --deterministic, flags restored after the check")


def check_study(setup: Setup, args, out: Outcome) -> None:
    started = time.perf_counter()
    outcome = run_ours(setup.manifest, setup.work / "study", str(setup.device), batch_size=32, mp3=True)
    seconds = time.perf_counter() - started
    out.row("study seconds", seconds, "s", f"{outcome['clips']} clips x {outcome['conditions']} conditions")
    per_stage = ", ".join(f"{k} {v:.1f} s" for k, v in outcome["seconds"].items())
    out.line("f laundering study", "INFO",
             f"{outcome['clips']} clips x {outcome['conditions']} conditions -> {outcome['batches']} "
             f"model-ready log-mel batches in {seconds:.1f} s ({per_stage}); no target")


# ----------------------------------------------------------------------------------------------
# (g) moonshot

def validation_batch_s(setup: Setup, models: Models, args) -> float:
    """Seconds per validation batch: :func:`score_loader` (float32 scoring, as train validates) over
    DataLoader batches of 4 s windows, timed over ``args.val_steps`` batches after a warm-up."""
    from detector.data import make_loader
    from detector.data.loader import WindowDataset
    from detector.engine.scoring import WindowSettings, score_loader
    from detector.utils.runtime import Precision

    window, hop = WindowSettings().samples(setup.crop_s, 16000)   # as validation cuts clips
    count = setup.batch_size * (args.val_steps + args.warmup + args.queue_allowance + 1)   # windows needed
    rows = (list(setup.train_rows) * math.ceil(count / len(setup.train_rows)))[:count]   # >= 1 window a clip
    dataset = WindowDataset(setup.cache, setup.corpus, rows, window, hop)
    loader = make_loader(dataset, setup.batch_size, False, setup.device, -1)
    model, precision = models.detector(default_frontend()), Precision.for_scoring("auto", setup.device)
    batches = Metered(loader)
    score_loader([model], batches.phase(args.warmup + queue_depth(loader)), setup.device, precision, "warm-up")
    synchronise(setup.device)
    started = time.perf_counter()
    score_loader([model], batches.phase(args.val_steps), setup.device, precision, "validation")   # ends in a read
    if len(batches.waits) != args.val_steps:
        raise RuntimeError(f"the validation loader ran out after {len(batches.waits)} of {args.val_steps} batches")
    model.train()
    return (time.perf_counter() - started) / args.val_steps


def check_moonshot(setup: Setup, models: Models, args, out: Outcome) -> None:
    frontend = default_frontend()
    train_steps = LA_TRAIN_CLIPS // setup.batch_size            # drop_last, as training does
    val_batches = math.ceil(LA_DEV_CLIPS / setup.batch_size)
    val_s = validation_batch_s(setup, models, args)
    out.row("moonshot validation batch", val_s, "s", f"float32, {args.val_steps} batches timed")
    variants = [("default: eager, DataLoader", False, False)]
    if args.compile:
        variants.append(("compiled, cache on device", True, True))
    parts = []
    for label, compiled, on_device in variants:
        loader = _loader(setup, models, on_device)
        run = _make_run(setup, models.detector(frontend), models.network(frontend, compiled), setup.chain)
        timing = timed_steps(run, loader, _warmup_for(args, loader), args.steps, setup.device, setup.batch_size)
        epoch_s = train_steps * timing.step_s + val_batches * val_s
        note = (f"extrapolated: {timing.steps} steps timed ({timing.step_s * 1000:.1f} ms/step) x {train_steps} "
                f"+ validation {val_batches} x {val_s * 1000:.1f} ms")
        out.row(f"moonshot epoch, {label}", epoch_s, "s", note)
        out.row(f"moonshot {MOONSHOT_EPOCHS} epochs, {label}", MOONSHOT_EPOCHS * epoch_s / 60, "min", note)
        parts.append(f"{label}: {timing.clips_per_s:,.0f} clips/s, epoch {epoch_s:.0f} s, {MOONSHOT_EPOCHS} epochs "
                     f"{MOONSHOT_EPOCHS * epoch_s / 60:.1f} min")
    out.line("g moonshot (ASVspoof 2019 LA size)", "INFO",
             f"{LA_TRAIN_CLIPS:,} x {setup.crop_s:g} s clips, batch {setup.batch_size}, {frontend}, default chain; "
             + "; ".join(parts) + f" (extrapolated from {args.steps} timed steps over a {args.clips}-clip cache and "
             f"{args.val_steps} validation batches, LA dev {LA_DEV_CLIPS:,} clips as one window each"
             + (", --quick: not a measurement)" if args.quick else ")"))


# ----------------------------------------------------------------------------------------------

def plan(setup: Setup, models: Models, report: Report, args) -> list[tuple[str, Callable[[Outcome], None]]]:
    """The checks in the order they run (the table sorts them by letter)."""
    default, cuda = default_frontend(), setup.device.type == "cuda"
    checks: list[tuple[str, Callable[[Outcome], None]]] = []
    if not cuda:
        checks.append(("a sync-free, meta trace", lambda out: check_meta_trace(setup, args, out)))
    for variant in ("DataLoader", "cache on device", "compiled"):
        checks.append((f"a sync-free, {variant}",
                       lambda out, v=variant: check_sync_free(setup, models, args, v, out)))
    for compiled in (False, True):
        for on_device in (False, True):
            letter, tag = ("c" if on_device else "b"), ("compiled" if compiled else "eager")
            checks.append((f"{letter} throughput, {default}, {tag}",
                           lambda out, c=compiled, d=on_device: check_throughput(setup, models, args, default, c, d,
                                                                                 out)))
    for frontend in (f for f in FRONTEND_ROWS if f != default):
        checks.append((f"b throughput, {frontend}, eager",
                       lambda out, f=frontend: check_throughput(setup, models, args, f, False, False, out)))
    checks.append(("e kill and resume", lambda out: check_resume(setup, args, out)))
    checks.append(("f laundering study", lambda out: check_study(setup, args, out)))
    checks.append(("g moonshot (ASVspoof 2019 LA size)", lambda out: check_moonshot(setup, models, args, out)))
    checks.append(("d peak memory", lambda out: check_memory(report, out)))
    return checks


def _skipped(name: str, args) -> str:
    if "compiled" in name and not args.compile:
        return "not run: --compile is off (on by default on CUDA, off with --quick)"
    if name.startswith("g ") and args.skip_moonshot:
        return "not run: --skip-moonshot"
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="small batches and corpus (the CPU self-test)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also measure torch.compile (default: on for CUDA, off with --quick)")
    parser.add_argument("--skip-moonshot", action="store_true", help="leave out (g), the ASVspoof-sized run")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="seconds after which no check starts (SKIP), and a running one is stopped "
                             f"{HARD_STOP_GRACE_S} s later; 0 = none (default: 400 on CUDA, none with --quick)")
    parser.add_argument("--results", default=str(HERE),
                        help="folder of results.csv / RESULTS.md to append to (default: benchmarks/)")
    parser.add_argument("--no-write", dest="write", action="store_false", help="print only, record no rows")
    parser.add_argument("--report", default="", help="also write the final table to this file")
    parser.add_argument("--work", default="", help="scratch folder (default: a temporary one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from detector.utils.runtime import resolve_device

    args = parse_args(argv)
    device = resolve_device(args.device)
    cuda_run = device.type == "cuda" and not args.quick
    args.batch_size, args.crop_s, args.clips = (8, 1.0, 16) if args.quick else (256, 4.0, 1000)
    # Timed steps per window and untimed warm-up (+ the DataLoader's queue, added where it applies).
    args.steps, args.warmup, args.val_steps = (2, 1, 1) if args.quick else (100, 20, 20)
    args.sync_steps, args.sync_warmup = (3, 1) if args.quick else (24, 3)
    args.queue_allowance = 2 * 8 if device.type == "cuda" else 0   # at most 8 workers x prefetch 2
    args.compile = cuda_run if args.compile is None else args.compile
    args.budget_s = (400.0 if cuda_run else 0.0) if args.budget_s is None else args.budget_s
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True   # as training sets it: fixed shapes, tuned kernels reused
    folder = Path(args.results)
    folder.mkdir(parents=True, exist_ok=True)
    report = Report(args, device, folder)
    pending: list[str] = []
    why = ""

    def stop(signum, frame):
        raise Stopped(f"{signal.Signals(signum).name} after {report.elapsed():.0f} s")

    # SIGTERM (a timeout) and the budget's hard stop end the running check; signals reach the main thread only.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGALRM)}
        signal.signal(signal.SIGTERM, stop)
        if args.budget_s:
            signal.signal(signal.SIGALRM, stop)
            signal.alarm(math.ceil(args.budget_s + HARD_STOP_GRACE_S))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(args.work or scratch)
            setup_started = time.perf_counter()
            try:
                setup = _prepare(args, device, work)
            except BaseException as error:   # noqa: BLE001 - reported below, then re-raised if a stop
                traceback.print_exc(file=sys.stderr)
                report._add([Check("0 set-up", "FAIL", _reason(error), time.perf_counter() - setup_started)])
                why = "the set-up failed"
                pending = ["a", "b", "c", "d", "e", "f", "g"]
                if not isinstance(error, Exception):
                    raise
                return 1
            models = Models(setup)
            report.on_failure.append(models.clear)
            checks = plan(setup, models, report, args)
            pending = [name for name, _ in checks]
            why = "the run was stopped"
            for name, function in checks:
                pending.remove(name)
                skipped = _skipped(name, args)
                if skipped:
                    report.skip(name, skipped)
                else:
                    report.run(name, function)
            models.clear()
    except Stopped:
        pass   # the running check is a FAIL line already; the rest are listed as not run
    finally:
        if previous:
            signal.alarm(0)
        for number, handler in previous.items():
            signal.signal(number, handler)
        report.finish(pending, why)
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
