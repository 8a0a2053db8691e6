"""Training: AdamW + cosine schedule, on-the-fly laundering, early stopping on validation EER or loss.

Every random stream of a step (laundering, dropout) is seeded from ``(seed, epoch, step,
rank)``, and crops (with ``--train-codecs``, also the codec variant each is read from) and
shuffling from ``(seed, epoch)``, so a run resumed from ``last.pt`` at any saved position
continues exactly where an uninterrupted run would be, with no saved generator state.
Ctrl-C and SIGTERM are requests: the loop finishes the step (or the checkpoint write) under
way, saves its position to ``last.pt`` and stops; a second signal stops at once, leaving the
last complete ``last.pt``. ``last.pt`` is also written every ``save_every_minutes`` inside an
epoch, for a SIGKILL. Under ``torchrun`` it trains with DistributedDataParallel.

While the loop waits for a batch nothing is half done, so there a signal stops the run at once
(a DataLoader worker stuck in ``__getitem__`` cannot hold it), and a signal during validation
stops it at its next batch (the epoch is validated again on resume). A DataLoader worker that
dies (the out-of-memory killer's SIGKILL) or raises stops the run the same way, with
:class:`DataWorkerFailed`; every worker is ended when the run ends, however it ends.

The host never waits for the device inside a step: losses, skipped-step counts and the
progress bar are read a few times a second (:data:`READ_INTERVAL_S`), and a non-finite
step is skipped by the optimizer on the device.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import os
import shlex
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from detector.config import Config, TrainConfig
from detector.data import CropDataset, DeviceCropLoader, WaveformCache, load_corpus, make_loader, upload_samples
from detector.data.fingerprint import DataRecord
from detector.data.loader import (
    WindowDataset,
    WorkerDeath,
    aggregate_windows,
    dead_workers,
    describe_worker_error,
    ending_workers,
    to_device,
    watching_workers,
)
from detector.data.manifest import Manifest, write_relocated_manifest
from detector.data.splits import SPLIT_NAMES, parse_split_ratios, split_manifest
from detector.engine.scoring import WindowSettings, score_loader
from detector.engine.tensorboard import TrainBoard
from detector.launder import LaunderChain
from detector.launder.banks import corpus_banks
from detector.launder.chain import parse_codec_variants
from detector.launder.codec import codec_variants, variant_bytes_per_hour
from detector.metrics.calibration import fit_calibration
from detector.metrics.detection import equal_error_rate
from detector.models.checkpoint import load_checkpoint, save_checkpoint
from detector.models.detector import Detector
from detector.utils.distributed import Distributed, init_distributed, shutdown_distributed
from detector.utils.errors import UserError
from detector.utils.io import atomic_write_csv, atomic_write_text
from detector.utils.runtime import Precision, resolve_device, seed_everything, step_seeds

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "train_loss", "val_eer", "val_loss", "lr", "seconds", "backbone_frozen",
                   "nonfinite_steps", "note")
MAX_CONSECUTIVE_NONFINITE = 20   # then the run is diverging, not hitting a rare overflow
READ_INTERVAL_S = 0.5            # seconds between host reads of the device counters (each drains the queue)
# Optimizer options that belong to this code, not to a checkpoint: an old checkpoint of a
# non-fused AdamW must not turn the fused one (which skips non-finite steps) back into it.
_OPTIMIZER_IMPLEMENTATION = ("fused", "foreach", "capturable", "differentiable")
# The TrainState field holding the best value of each train.stop_on criterion.
_BEST = {"val_eer": "best_eer", "val_loss": "best_loss"}


@dataclass
class TrainState:
    epoch: int = 0                       # epochs completed
    best_eer: float = math.inf           # validation EER of best_epoch
    best_loss: float = math.inf          # validation loss of best_epoch (absent from older checkpoints)
    best_epoch: int = 0                  # the epoch with the lowest value of train.stop_on; best.pt holds it
    stale_epochs: int = 0                # epochs since best_epoch
    history: list[dict] = field(default_factory=list)
    pending_note: str = ""               # for the next history row's note: a resume on changed data


@dataclass
class EpochPosition:
    """Where an interrupted epoch stopped, to resume it exactly."""

    epoch: int = 0
    step: int = 0                        # batches already trained in this epoch
    loss_sum: float = 0.0                # sum of the applied steps' losses (mean over ranks)
    nonfinite_steps: int = 0             # steps skipped: a non-finite loss, or float16 gradients overflowed
    nonfinite_streak: int = 0            # of which at the end, consecutively

    @classmethod
    def from_saved(cls, saved: dict) -> "EpochPosition":
        """Rebuild from a checkpoint; fields of older versions (generator states) are not needed."""
        return cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls) if f.name in saved})


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C or SIGTERM once ``last.pt`` holds the position reached."""


class TrainingAborted(KeyboardInterrupt):
    """Raised by a second Ctrl-C or SIGTERM, at once; ``last.pt`` is the last one completed."""


class ManifestChanged(UserError):
    """``--resume`` on data other than ``last.pt`` was trained on, without ``--allow-changed-manifest``."""


class DataWorkerFailed(UserError):
    """A DataLoader worker died or raised; ``last.pt`` holds the position reached, saved by the main process."""


class _StopWaiting(BaseException):
    """Raised where the loop waits for a batch: a stop request (``death`` None) or a worker's death.

    A BaseException, so that the DataLoader's ``except Exception`` around its queue read lets it through.
    """

    def __init__(self, death: WorkerDeath | None = None):
        super().__init__()
        self.death = death


class _LoadingFailed(Exception):
    """The DataLoader's workers failed to deliver a batch; the cause is ``__cause__``."""


class StopRequests:
    """SIGINT and SIGTERM as requests that the training loop honours between steps.

    Once :attr:`armed` (when training starts), the first signal only sets :attr:`signal`; a
    second raises :class:`TrainingAborted` wherever the code is, except inside
    :meth:`writing`, whose checkpoint write finishes first. Before that (reading the corpus,
    building the cache and the model) there is nothing to save, and any signal stops at once.
    :attr:`saved` says what ``last.pt`` holds, for the messages.

    While :attr:`waiting` (for a batch, see :class:`_Batches`) the first signal, or the death of a
    DataLoader worker (:attr:`worker_death`, recorded from SIGCHLD), raises :class:`_StopWaiting`.
    """

    def __init__(self, last_path: Path):
        self.signal: int | None = None
        self.armed = False
        self.last_path = last_path
        self.saved = f"no {last_path} was written by this run"
        self._writing = False
        self._abort: int | None = None   # a second signal that came during a write
        self.waiting = False
        self.worker_death: WorkerDeath | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def handle(self, signum: int, frame) -> None:
        if not self.armed:
            raise TrainingAborted(f"{signal.Signals(signum).name} before training started: stopped at once; "
                                  f"{self.saved}")
        if self.signal is None:
            self.signal = signum
            self._end_wait(None)
        elif self._writing:
            self._abort = signum
        else:
            self._raise_abort(signum)

    def worker_died(self, death: WorkerDeath) -> None:
        """Record a DataLoader worker's death (the first one); the loop stops at its next read or wait."""
        if self.worker_death is None:
            self.worker_death = death
        self._end_wait(death)

    def _end_wait(self, death: WorkerDeath | None) -> None:
        if self.waiting:
            self.waiting = False
            raise _StopWaiting(death)

    def _raise_abort(self, signum: int) -> None:
        raise TrainingAborted(f"second signal ({signal.Signals(signum).name}): stopped at once; {self.saved}")

    @contextlib.contextmanager
    def writing(self, saved: str):
        """Checkpoint writes finish before a second signal aborts; ``saved`` then describes ``last.pt``.

        An exception raised inside ``torch.save`` would leave the previous file (the writes are
        atomic) but surface as the zip writer's own error, and the write takes a second or so.
        """
        self._writing = True
        try:
            yield
            self.saved = saved
        finally:
            self._writing = False
        if self._abort is not None:
            self._raise_abort(self._abort)

    @contextlib.contextmanager
    def installed(self):
        """Handle SIGINT, SIGTERM and DataLoader workers' deaths inside the block (signals reach only
        the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {number: signal.signal(number, self.handle) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            with watching_workers(self.worker_died):
                yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def train(config: Config, run_dir: str | Path, resume: bool = False, allow_changed_manifest: bool = False
          ) -> TrainState:
    """Train a detector into ``run_dir`` (config.toml, history.csv, best.pt, last.pt).

    ``resume`` continues from ``run_dir/last.pt``; it raises :class:`ManifestChanged` when the
    manifest's rows or their waveform cache changed since then, unless ``allow_changed_manifest``
    (then the log and the next row of history.csv say what changed).
    """
    context, device_name = init_distributed(config.train.device)
    run_dir = Path(run_dir)
    try:
        with ending_workers(), StopRequests(run_dir / "last.pt").installed() as stop, \
                TrainBoard.of_run(run_dir, config.train.tensorboard, context.is_main) as board:
            return _train(config, run_dir, resume, context, resolve_device(device_name), stop,
                          allow_changed_manifest, board)
    finally:
        shutdown_distributed(context)


def make_optimizer(model: torch.nn.Module, settings: TrainConfig) -> torch.optim.AdamW:
    """The fused AdamW :func:`train_step` needs: it skips a step on the device when told to.

    The fused kernel (CPU and CUDA) reads ``optimizer.found_inf`` (as GradScaler sets it): when
    it is 1 the parameters, moments and step counter are left as they were.
    """
    return torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=True)


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    """Load saved hyperparameters and moments, keeping this optimizer's implementation options."""
    groups = [{**old, **{key: new[key] for key in _OPTIMIZER_IMPLEMENTATION if key in new}}
              for old, new in zip(saved["param_groups"], optimizer.param_groups)]
    optimizer.load_state_dict({**saved, "param_groups": groups})


def _split_dataset(config: Config, manifest, cache, split: str, context: Distributed = Distributed(),
                   variants: Sequence[WaveformCache] = ()) -> CropDataset | WindowDataset:
    """The training split's random crops (from ``variants`` too: ``--train-codecs``), or another
    split's whole clips (clean) in sliding windows.

    Validation cuts clips as evaluate and predict do by default (:class:`WindowSettings`), so
    the validation EER and the calibration fitted on these scores describe the whole-clip scores
    those commands produce. Under DDP each rank validates every world_size-th clip.
    """
    rows, crop = manifest.split(split), round(config.data.crop_s * config.data.sample_rate)
    if split == "train":
        dataset = CropDataset(cache, manifest, rows, crop, random_crop=True, seed=config.train.seed,
                              variants=variants, variant_p=config.train.codec_p if variants else 0.0)
    else:
        dataset = WindowDataset(cache, manifest, rows, *WindowSettings().samples(config.data.crop_s,
                                                                                 config.data.sample_rate))
    labels = set(dataset.targets.tolist())
    if labels != {0, 1}:
        raise ValueError(f"{manifest.path}: the {split} split needs both bona fide and spoof clips; "
                         f"it has {len(dataset.targets)} usable clip(s) with labels {sorted(labels)}")
    if split != "train" and context.enabled:
        dataset = WindowDataset(cache, manifest, dataset.rows[context.rank::context.world_size], dataset.window,
                                dataset.hop)
    return dataset


def _codec_variants(config: Config, attacks: list, manifest: Manifest, cache: WaveformCache,
                    context: Distributed) -> list[WaveformCache]:
    """The derived caches of ``--train-codecs`` (``attacks``) for the training rows; none when it is off.

    Each machine's first process codes them (once: later runs find them and code nothing); the
    other processes wait, then open them. Validation stays clean: it scores the waveform cache.
    """
    if not attacks:
        return []
    rows = manifest.split("train")
    hours = float(cache.lengths[rows].sum()) / cache.sample_rate / 3600
    per_hour = variant_bytes_per_hour(cache.sample_rate)
    _log(context, f"detector: --train-codecs: {len(attacks)} codec variant(s) of {len(rows)} training clips "
                  f"({hours:.3f} h): {len(attacks) * hours * per_hour / 1e9:.3f} GB in {cache.folder}/derived "
                  f"({per_hour / 1e6:.1f} MB per hour per variant), coded once; crops from them with p = "
                  f"{config.train.codec_p:g}")
    if not context.is_local_main:
        context.barrier()
    variants = codec_variants(cache, attacks, rows)
    if context.is_local_main:
        context.barrier()
    return variants


def _auto_split(manifest: Manifest, config: Config) -> tuple[Manifest, str]:
    """``(manifest, "")``, or, when ``config.data.auto_split`` is set and no clip has a split, the
    manifest split by it from ``config.train.seed`` (:func:`split_manifest`) and a line saying so.

    The split is recomputed identically on a resume and on every DDP rank: it depends only on
    the manifest's rows, the ratios and the seed.
    """
    if not config.data.auto_split or any(row.split for row in manifest.rows):
        return manifest, ""
    ratios = parse_split_ratios(config.data.auto_split, flag="--auto-split")
    split, report = split_manifest(manifest, ratios, config.train.seed)
    counts = "/".join(str(len(split.split(name))) for name in SPLIT_NAMES)
    return split, (f"{manifest.path} has no splits: split {config.data.auto_split}, {report.how}, seed "
                   f"{config.train.seed}: {counts} train/val/test clips")


def _wrap(model: Detector, context: Distributed, device: torch.device, compile_model: bool) -> torch.nn.Module:
    """The module the steps call: DDP under torchrun (over the parameters that train now), compiled if asked.

    DDP registers the parameters that require gradients when it is built, so it is rebuilt
    whenever the frozen set changes (``--freeze-epochs``).
    """
    network = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
               if context.enabled else model)
    return torch.compile(network) if compile_model else network


@dataclass
class _Run:
    """What the epoch loop shares: the model, its optimisation state, and where ``last.pt`` goes."""

    config: Config
    model: Detector
    launder: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    precision: Precision
    device: torch.device
    context: Distributed
    stop: StopRequests
    state: TrainState
    data: DataRecord
    network: torch.nn.Module | None = None
    board: TrainBoard = field(default_factory=lambda: TrainBoard(None))   # RUN/tensorboard (main process), or off

    def checkpoint(self, extra: dict) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "state": vars(self.state), "config": self.config.to_dict(), "data": self.data.to_saved(), **extra}

    def save_position(self, position: EpochPosition) -> None:
        """Write ``last.pt`` with ``position`` (every rank calls this: the loss sums are averaged)."""
        loss_sum = float(np.mean(self.context.gather_arrays(np.array([position.loss_sum]))[0]))
        with self.stop.writing(f"{self.stop.last_path} holds {_where(position, self.state)}: rerun with --resume"):
            if self.context.is_main:
                save_checkpoint(self.stop.last_path,
                                self.checkpoint({"position": {**vars(position), "loss_sum": loss_sum}}))
            self.context.barrier()

    def end(self, position: EpochPosition | None, during: str, failure: BaseException | None = None) -> NoReturn:
        """Stop the run, reached ``position`` (None: after an epoch, saved already) ``during`` (words).

        ``failure`` is what ended a wait for a batch (:class:`_StopWaiting`, :class:`_LoadingFailed`):
        ``position`` is saved to ``last.pt`` first, except for a failure only this process saw under
        DDP (the others wait in a collective). Without it ``last.pt`` was written at the read point.
        Raises :class:`DataWorkerFailed` when a DataLoader worker died or raised, else
        :class:`TrainingInterrupted`.
        """
        if failure is not None and position is not None and not (
                self.context.enabled and isinstance(failure, _LoadingFailed)):
            self.save_position(position)
        death = (failure.death if isinstance(failure, _StopWaiting) else None) or self.stop.worker_death
        error = failure.__cause__ if isinstance(failure, _LoadingFailed) else None
        if error is not None and death is None:
            death = next(iter(dead_workers()), None)   # "exited unexpectedly": the DataLoader saw it first
        if death is None and error is None:
            raise TrainingInterrupted(f"interrupted {during}; {self.stop.saved}")
        raise DataWorkerFailed(self._failure_message(death, error, during)) from error

    def _failure_message(self, death: WorkerDeath | None, error: BaseException | None, during: str) -> str:
        """One line: which worker failed and how, the likely cause and remedy, what last.pt holds, how to resume."""
        run_dir = self.stop.last_path.parent
        command = ["detector", "train", "--config", str(run_dir / "config.toml"), "--out", str(run_dir), "--resume"]
        if death is None:
            what = f"{describe_worker_error(error)} {during}"
        else:
            what = f"{death} {during}"
            if death.likely_cause:
                fewer = death.workers // 2
                what += (f", {death.likely_cause}: use fewer workers (--num-workers {fewer}; this loader had "
                         f"{death.workers}) or --cache-on-device")
                command += ["--num-workers", str(fewer)]
        saved = self.stop.saved
        if saved.startswith("no "):
            return f"{what}; {saved}"
        return f"{what}. {saved.removesuffix(': rerun with --resume')}; resume with: {shlex.join(command)}"


class _Batches:
    """A loader's batches; a failure to fetch one calls ``on_stop(failure)``, which raises.

    Each batch is fetched with ``stop.waiting`` set when ``interruptible`` (one process: under
    DDP the others would wait for this one in a collective), so a stop request or a worker's
    death met there is a :class:`_StopWaiting` failure: nothing is half done while the loop
    waits, and a worker stuck in ``__getitem__`` would make it wait forever. An exception from
    the DataLoader's workers is a :class:`_LoadingFailed` one; an exception from a loader
    without workers (the main process's own ``__getitem__``) passes as it is.
    """

    def __init__(self, loader, stop: StopRequests, interruptible: bool, on_stop):
        self.loader, self.stop, self.interruptible, self.on_stop = loader, stop, interruptible, on_stop

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        # Not interrupted: workers half started would have no iterator to end them. Held by self, so
        # that a failure's traceback keeps it for ending_workers (its own shutdown would wait 5 s for
        # each stuck worker, then SIGTERM it in vain).
        self.batches = batches = iter(self.loader)
        workers = getattr(self.loader, "num_workers", 0) > 0
        while True:
            try:
                try:
                    if self.interruptible:
                        self.stop.waiting = True
                        if self.stop.requested or self.stop.worker_death is not None:
                            self.stop._end_wait(self.stop.worker_death)
                    batch = next(batches)
                finally:
                    self.stop.waiting = False
            except StopIteration:
                return
            except _StopWaiting as failure:
                self.on_stop(failure)
            except Exception as error:
                if not workers:
                    raise
                failure = _LoadingFailed(str(error))
                failure.__cause__ = error
                self.on_stop(failure)
            yield batch


def _train(config: Config, run_dir: Path, resume: bool, context: Distributed, device: torch.device,
           stop: StopRequests, allow_changed_manifest: bool = False, board: TrainBoard | None = None) -> TrainState:
    settings = config.train
    if not settings.save_every_minutes >= 0:
        raise ValueError(f"--save-every-minutes {settings.save_every_minutes}: must be >= 0 (0 = at epoch ends only)")
    precision = Precision.resolve(settings.amp, device)
    if settings.deterministic:
        _make_deterministic(device)
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True   # fixed crop and batch shapes: the tuned kernels are reused
    seed_everything(settings.seed)
    if settings.batch_size % context.world_size:
        raise ValueError(f"--batch-size {settings.batch_size} (the global batch) must be divisible by the "
                         f"{context.world_size} processes")
    rank_batch = settings.batch_size // context.world_size
    codecs = parse_codec_variants(settings.train_codecs, config.data.sample_rate)   # a bad spec fails before decoding
    if codecs and not 0.0 <= settings.codec_p <= 1.0:
        raise ValueError(f"--codec-p {settings.codec_p}: must be a probability in [0, 1]")

    if not context.is_local_main:
        context.barrier()            # each machine's first process builds its waveform cache; the others open it
    manifest, cache = load_corpus(config.data)
    if context.is_local_main:
        context.barrier()
    manifest, split_note = _auto_split(manifest, config)
    variants = _codec_variants(config, codecs, manifest, cache, context)
    train_set = _split_dataset(config, manifest, cache, "train", variants=variants)
    val_set = _split_dataset(config, manifest, cache, "val", context=context)
    val_loader = make_loader(val_set, rank_batch, False, device, config.data.num_workers)
    samples = upload_samples(train_set.sources, device) if config.data.cache_on_device else None

    model = Detector(config.data.sample_rate, config.features, config.model).to(device)
    banks = corpus_banks(manifest, cache, config.data.noise_dirs, config.data.rir_dir, config.data.cache_dir)
    launder = LaunderChain.from_spec(settings.launder, config.data.sample_rate, banks=banks).to(device)
    optimizer = make_optimizer(model, settings)
    steps_per_epoch = max(len(train_set) // settings.batch_size, 1)
    if settings.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, settings.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_scaler)
    run = _Run(config, model, launder, optimizer, scheduler, scaler, precision, device, context, stop, TrainState(),
               DataRecord.of(manifest, cache), board=board or TrainBoard(None))

    position = None
    if resume and stop.last_path.exists():
        saved = load_checkpoint(stop.last_path)   # on the CPU; each state is copied to its parameters' device
        model.load_state_dict(saved["model"])
        _load_optimizer(optimizer, saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        run.state = TrainState(**saved["state"])
        run.state.pending_note = (_check_data(saved, run.data, manifest, stop.last_path, allow_changed_manifest,
                                              context) or run.state.pending_note)
        position = EpochPosition.from_saved(saved["position"]) if saved.get("position") else None
        stop.saved = f"{stop.last_path} holds {_where(position, run.state)}, as before this run: rerun with --resume"
        _log(context, f"detector: resuming {run_dir} from {_where(position, run.state)}")
    elif resume:
        _log(context, f"detector: --resume given but {stop.last_path} does not exist; starting a new run")
    if split_note:
        # Checkpoints then name the manifest that holds the training split (evaluate's seen/unseen
        # summary reads it), and a rerun with RUN/config.toml trains on the same split.
        config.data.manifest = str((run_dir / "manifest.csv").resolve())
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if split_note:
            write_relocated_manifest(manifest, manifest.rows, run_dir / "manifest.csv")
        atomic_write_text(run_dir / "config.toml", config.to_toml())
    if split_note:
        _log(context, f"detector: {split_note}; written to {run_dir / 'manifest.csv'} (evaluate with --manifest "
                      f"{run_dir / 'manifest.csv'})")
    _log(context, f"detector: training on {device} x{context.world_size} (amp {precision.name}), "
                  f"{len(train_set)} train / {len(manifest.split('val'))} val clips, {steps_per_epoch} steps per epoch")
    run.board.begin(position.epoch * steps_per_epoch + position.step if position else run.state.epoch * steps_per_epoch,
                    config.to_toml(), manifest, cache, banks, round(config.data.crop_s * config.data.sample_rate))

    state, frozen_now = run.state, None
    stop.armed = True
    while state.epoch < settings.epochs and state.stale_epochs < settings.patience:
        epoch, started = state.epoch, time.perf_counter()
        frozen = epoch < config.model.freeze_epochs
        if frozen != frozen_now:
            model.set_backbone_frozen(frozen)
            run.network, frozen_now = _wrap(model, context, device, settings.compile), frozen
        position = position or EpochPosition(epoch=epoch)
        train_set.set_epoch(epoch)
        if samples is not None:
            loader = DeviceCropLoader(train_set, rank_batch, samples, settings.seed, start_batch=position.step,
                                      rank=context.rank, world_size=context.world_size)
        else:
            loader = make_loader(train_set, rank_batch, True, device, config.data.num_workers, settings.seed,
                                 start_batch=position.step, rank=context.rank, world_size=context.world_size)
        _train_one_epoch(run, loader, steps_per_epoch, position, f"epoch {epoch + 1}/{settings.epochs}")
        train_loss = float(np.mean(context.gather_arrays(
            np.array([position.loss_sum / max(position.step - position.nonfinite_steps, 1)]))[0]))
        # Scored as evaluate scores (float32 under --amp auto), since calibration is fitted on these scores.
        batches = _Batches(val_loader, stop, not context.enabled,
                           functools.partial(run.end, position, f"in the validation of epoch {epoch + 1}"))
        window_scores, _ = score_loader([model], batches, device, Precision.for_scoring(settings.amp, device),
                                        desc="validation")
        scores = aggregate_windows(window_scores[0], val_set.clip_of_window, len(val_set.rows),
                                   WindowSettings().aggregate)
        scores, targets = context.gather_arrays(scores, val_set.targets)
        val_eer = equal_error_rate(scores[targets == 1], scores[targets == 0])[0]
        val_loss = _binary_cross_entropy(scores, targets)
        state.epoch += 1
        state.history.append({"epoch": state.epoch, "train_loss": train_loss, "val_eer": val_eer,
                              "val_loss": val_loss, "lr": scheduler.get_last_lr()[0],
                              "seconds": time.perf_counter() - started, "backbone_frozen": int(frozen),
                              "nonfinite_steps": position.nonfinite_steps, "note": state.pending_note})
        position, state.pending_note = None, ""
        if state.history[-1][settings.stop_on] < getattr(state, _BEST[settings.stop_on]):
            state.best_eer, state.best_loss, state.best_epoch, state.stale_epochs = val_eer, val_loss, state.epoch, 0
        else:
            state.stale_epochs += 1
        with stop.writing(f"{stop.last_path} holds {_where(None, state)}: rerun with --resume"):
            if context.is_main:
                saved = run.checkpoint({"calibration": fit_calibration(scores, targets).as_dict()})
                if state.best_epoch == state.epoch:
                    save_checkpoint(run_dir / "best.pt", saved)
                save_checkpoint(stop.last_path, saved)
                _write_history(run_dir / "history.csv", state.history)
            context.barrier()
        _log(context, f"epoch {state.epoch}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, val EER "
                      f"{100 * val_eer:.2f}% (best by {settings.stop_on}: epoch {state.best_epoch}, loss "
                      f"{state.best_loss:.4f}, EER {100 * state.best_eer:.2f}%)")
        run.board.epoch(state.epoch * steps_per_epoch, state.history[-1], scores, targets, model)
        finished = state.epoch >= settings.epochs or state.stale_epochs >= settings.patience
        if not finished and context.agree_max([float(stop.requested or stop.worker_death is not None)], device)[0]:
            run.end(None, f"after epoch {state.epoch}")
    if state.stale_epochs >= settings.patience:
        _log(context, f"detector: early stop, no {settings.stop_on} improvement for {settings.patience} epochs")
    return state


class _StepCounters:
    """An epoch's running loss sum and skipped-step counts, kept on the device.

    :meth:`add` only queues device work; :meth:`read` is the one host read (a sync).
    """

    def __init__(self, position: EpochPosition, device: torch.device):
        def scalar(value, dtype):
            return torch.full((), value, dtype=dtype, device=device)   # a fill kernel: no host-to-device copy

        self.loss_sum = scalar(position.loss_sum, torch.float64)
        self.nonfinite = scalar(position.nonfinite_steps, torch.int64)
        self.streak = scalar(position.nonfinite_streak, torch.int64)
        self.worst_streak = self.streak.clone()

    def add(self, loss: torch.Tensor, finite: torch.Tensor) -> None:
        """Count one step: ``loss`` and ``finite`` (1.0 = applied) as :func:`train_step` returns them."""
        applied = finite > 0
        self.loss_sum += torch.where(applied, loss.double(), 0.0)   # where, not a product: NaN * 0 is NaN
        skipped = (~applied).long()
        self.nonfinite += skipped
        self.streak.add_(1).mul_(skipped)
        torch.maximum(self.worst_streak, self.streak, out=self.worst_streak)

    def read(self, position: EpochPosition) -> int:
        """Copy the counters into ``position``; returns the longest run of skipped steps so far."""
        loss_sum, nonfinite, streak, worst = torch.stack(
            [self.loss_sum, self.nonfinite.double(), self.streak.double(), self.worst_streak.double()]).tolist()
        position.loss_sum, position.nonfinite_steps, position.nonfinite_streak = loss_sum, int(nonfinite), int(streak)
        return int(worst)


def _train_one_epoch(run: _Run, loader, steps: int, position: EpochPosition, desc: str) -> None:
    """Train from ``position.step`` to ``steps`` batches; ``position`` holds the counts when it returns.

    The host reads the device counters every few steps (a few times a second, as measured on
    the slowest rank, the same steps on every rank): it updates the progress bar, checks for
    divergence, saves ``last.pt`` when ``save_every_minutes`` have passed, and stops when a
    signal asked it to. A step whose loss is NaN or infinite on any rank is skipped on all
    ranks and counted; a run of more than ``MAX_CONSECUTIVE_NONFINITE`` stops the run.
    """
    context, settings = run.context, run.config.train
    augments = run.model.augments
    run.network.train()
    counters = _StepCounters(position, run.device)
    last_read = (time.monotonic(), position.step, position.loss_sum, position.step - position.nonfinite_steps)
    last_save, next_read = time.monotonic(), position.step + 1

    def stopped_waiting(failure: BaseException) -> NoReturn:
        counters.read(position)
        run.end(position, f"in epoch {position.epoch + 1} at step {position.step}", failure)

    with tqdm(total=steps, initial=position.step, desc=desc, unit="step", leave=False,
              disable=not context.is_main) as progress:
        for batch in _Batches(loader, run.stop, not context.enabled, stopped_waiting):
            if position.step >= steps:
                break
            launder_seed, dropout_seed = step_seeds(settings.seed, position.epoch, position.step, context.rank)
            torch.manual_seed(dropout_seed)   # on CUDA this sets the Philox seed on the host: no sync
            wave, target = to_device(batch, run.device)
            loss, finite = train_step(run.network, wave, target, run.launder,
                                      torch.Generator().manual_seed(launder_seed), run.optimizer, run.scaler,
                                      run.precision, context, augments=augments)
            counters.add(loss, finite)
            run.scheduler.step()
            position.step += 1
            if position.step < next_read and position.step < steps:
                continue
            # A read point: the step's state (weights, optimizer, scheduler, position) is consistent here.
            worst = counters.read(position)
            if worst > MAX_CONSECUTIVE_NONFINITE:
                raise FloatingPointError(
                    f"{worst} consecutive steps were skipped for a NaN/infinite loss or overflowing gradients "
                    f"(epoch {position.epoch + 1}, by step "
                    f"{position.step}): training diverged; lower --lr or use --amp bf16/off")
            now, applied = time.monotonic(), position.step - position.nonfinite_steps
            recent = ((position.loss_sum - last_read[2]) / (applied - last_read[3]) if applied > last_read[3]
                      else math.nan)
            progress.update(position.step - last_read[1])
            progress.set_postfix(loss=f"{recent:.4f}", skipped=position.nonfinite_steps)
            run.board.step(position.epoch * steps + position.step, recent, run.scheduler.get_last_lr()[0],
                           settings.batch_size * (position.step - last_read[1]) / max(now - last_read[0], 1e-6),
                           position.nonfinite_steps)
            steps_per_read = READ_INTERVAL_S * (position.step - last_read[1]) / max(now - last_read[0], 1e-6)
            save_due = bool(settings.save_every_minutes) and now - last_save >= 60 * settings.save_every_minutes
            stopping = run.stop.requested or run.stop.worker_death is not None
            stop_now, interval, save_now = context.agree_max(
                [float(stopping), max(1, round(steps_per_read)), float(save_due)], run.device)
            if stop_now or (save_now and position.step < steps):   # the epoch's end is saved after validation
                run.save_position(position)
                last_save = time.monotonic()
            if stop_now:
                run.end(position, f"in epoch {position.epoch + 1} at step {position.step}")
            last_read, next_read = (now, position.step, position.loss_sum, applied), position.step + int(interval)
    counters.read(position)


def train_step(network: torch.nn.Module, wave: torch.Tensor, target: torch.Tensor, launder: torch.nn.Module,
               generator: torch.Generator, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               precision: Precision, context: Distributed = Distributed(), augments: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on a device batch, without any host read of device values.

    Args:
        network: maps a waveform batch ``(batch, 1, time)`` float32 to logits ``(batch, 2)``
            (a :class:`Detector`, DDP-wrapped or compiled), in training mode.
        wave: ``(batch, 1, time)`` float32 waveforms on the device, at the model's rate.
        target: ``(batch,)`` int64 class labels (1 bona fide, 0 spoof) on the device.
        launder: ``launder(wave, generator)`` -> laundered ``wave`` of the same shape.
        generator: the host (CPU) ``torch.Generator`` of the step's laundering draws.
        optimizer: an optimizer that skips a step when ``optimizer.found_inf`` is 1, i.e.
            fused AdamW from :func:`make_optimizer`.
        scaler: ``torch.amp.GradScaler``, enabled only for ``precision`` float16.
        precision: the autocast dtype.
        context: the DDP process group (default: one process).
        augments: call ``network(wave, generator)``, for a :class:`Detector` that augments its
            images; it draws after the laundering, from the same generator.

    Returns:
        ``(loss, finite)``: the detached mean cross-entropy (0-d float32, nats per example)
        and 0-d float32 1.0 if the update was applied, 0.0 if skipped, both on the device.
        A NaN/infinite loss on any rank skips the update on every rank (the flag's MIN over
        ranks); the optimizer's moments and step counter are left untouched. Under float16 the
        GradScaler also skips steps whose gradients overflowed (the inf/NaN a non-finite loss
        puts in the gradients among them), as it always does, and lowers its scale; ``finite``
        is 0.0 for those steps too, so they are counted as skipped and their loss is left out
        of the epoch's mean.
    """
    if not getattr(optimizer, "_step_supports_amp_scaling", False):
        raise TypeError("train_step needs an optimizer that skips a step on the device "
                        "(torch.optim.AdamW(fused=True), see make_optimizer)")
    with torch.no_grad():
        wave = launder(wave, generator)
    with precision.autocast():
        logits = network(wave, generator) if augments else network(wave)
        loss = torch.nn.functional.cross_entropy(logits, target)
    finite = torch.isfinite(loss.detach()).float()
    if context.enabled:
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    optimizer.zero_grad(set_to_none=True)
    if scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)   # sets optimizer.found_inf from the gradients; no host read
        finite = finite * (1.0 - _scaler_found_inf(scaler, optimizer))
        scaler.update()
    else:
        loss.backward()
        optimizer.found_inf = 1.0 - finite
        try:
            optimizer.step()
        finally:
            del optimizer.found_inf
    return loss.detach(), finite


def _scaler_found_inf(scaler: torch.amp.GradScaler, optimizer: torch.optim.Optimizer) -> torch.Tensor:
    """0-d float32 on the device: 1.0 if ``scaler.step`` skipped this step for inf/NaN gradients.

    GradScaler keeps the flag only until ``update()`` and has no public accessor; reading its
    per-optimizer state (a device tensor, no host read) is the one way to count a skip that
    overflowing float16 gradients caused while the loss itself was finite.
    """
    flags = scaler._per_optimizer_states[id(optimizer)]["found_inf_per_device"].values()
    return torch.stack([flag.reshape(()) for flag in flags]).amax().clamp(max=1.0)


def _make_deterministic(device: torch.device) -> None:
    """Deterministic kernels; PyTorch warns once for each op that has no deterministic version."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")   # needed by deterministic cuBLAS
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if device.type == "cuda":
        logger.info("detector: --deterministic: PyTorch will warn about each operation it runs without a "
              "deterministic implementation (those results may still vary between runs)")


def _check_data(saved: dict, now: DataRecord, manifest: Manifest, last_path: Path, allow: bool,
                context: Distributed) -> str:
    """Compare the data ``saved`` (a checkpoint) was trained on with ``now``: "" when they agree,
    a note for history.csv when they differ and ``allow`` lets it through; else :class:`ManifestChanged`."""
    if "data" not in saved:
        if context.is_main:
            logger.warning(f"detector: {last_path} holds no record of its training data (written by an older "
                           f"version): could not check that {manifest.path} is unchanged since")
        return ""
    changes = DataRecord.from_saved(saved["data"]).changes(now)
    if not changes:
        return ""
    what = "; ".join(changes)
    if not allow:
        raise ManifestChanged(
            f"{manifest.path} changed since {last_path} was saved: {what}. Resuming would train on other data and "
            f"choose the best epoch by validation results measured on different clips: restore the manifest, "
            f"train into a new --out, or add --allow-changed-manifest to resume anyway")
    note = f"resumed on changed data (--allow-changed-manifest): {what}"
    if context.is_main:
        logger.warning(f"detector: {note}; validation results before and after it are not comparable")
    return note


def _where(position: EpochPosition | None, state: TrainState) -> str:
    """A saved position in words: inside an epoch, or after the last completed one."""
    if position is not None:
        return f"epoch {position.epoch + 1}, step {position.step}"
    return f"the end of epoch {state.epoch}"


def _log(context: Distributed, message: str) -> None:
    """Progress, from the main process only (every rank would repeat it)."""
    if context.is_main:
        logger.info(message)


def _binary_cross_entropy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of the two-class softmax, from logit-difference scores."""
    signed = np.where(targets == 1, scores, -scores)
    return float(np.mean(np.logaddexp(0.0, -signed)))


def _write_history(path: Path, history: list[dict]) -> None:
    atomic_write_csv(path, history, HISTORY_COLUMNS)
