"""Training: AdamW + cosine schedule, on-the-fly laundering, early stopping on validation EER.

Every random stream is derived from ``(seed, epoch)`` (crops, shuffling, laundering,
dropout), so resuming from ``last.pt`` at an epoch boundary continues exactly where an
uninterrupted run would be. Ctrl-C or SIGTERM mid-epoch saves the position inside the
epoch (batch index and random-generator states) to ``last.pt`` too, so that resume is
exact as well. Under ``torchrun`` it trains with DistributedDataParallel.
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from detector.calibration import fit_calibration
from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.config import Config
from detector.data import CropDataset, load_corpus, make_loader
from detector.data.loader import to_device
from detector.distributed import Distributed, init_distributed, shutdown_distributed
from detector.io_utils import atomic_write_text
from detector.launder import LaunderChain
from detector.launder.banks import corpus_banks
from detector.metrics import equal_error_rate
from detector.model import Detector
from detector.runtime import Precision, device_generator, resolve_device, seed_everything
from detector.scoring import score_loader

HISTORY_COLUMNS = ("epoch", "train_loss", "val_eer", "val_loss", "lr", "seconds", "backbone_frozen",
                   "nonfinite_steps")
MAX_CONSECUTIVE_NONFINITE = 20   # then the run is diverging, not hitting a rare overflow


@dataclass
class TrainState:
    epoch: int = 0                       # epochs completed
    best_eer: float = math.inf
    best_epoch: int = 0
    stale_epochs: int = 0                # epochs since the best validation EER
    history: list[dict] = field(default_factory=list)


@dataclass
class EpochPosition:
    """Where an interrupted epoch stopped, to resume it exactly."""

    epoch: int = 0
    step: int = 0                        # batches already trained in this epoch
    loss_sum: float = 0.0
    nonfinite_steps: int = 0
    launder_rng: torch.Tensor | None = None
    torch_rng: torch.Tensor | None = None


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C or SIGTERM once ``last.pt`` holds the position reached."""


def train(config: Config, run_dir: str | Path, resume: bool = False) -> TrainState:
    """Train a detector into ``run_dir`` (config.toml, history.csv, best.pt, last.pt)."""
    context, device_name = init_distributed(config.train.device)
    try:
        with _sigterm_as_interrupt():
            return _train(config, Path(run_dir), resume, context, resolve_device(device_name))
    finally:
        shutdown_distributed(context)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (a cluster's kill) like Ctrl-C, so the position is saved before exiting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _split_dataset(config: Config, manifest, cache, split: str, random_crop: bool,
                   context: Distributed = Distributed()) -> CropDataset:
    """The split's crops; for validation under DDP, this rank's share (every world_size-th clip)."""
    dataset = CropDataset(cache, manifest, manifest.split(split), round(config.data.crop_s * config.data.sample_rate),
                          random_crop=random_crop, seed=config.train.seed)
    labels = set(dataset.targets)
    if labels != {0, 1}:
        raise ValueError(f"{manifest.path}: the {split} split needs both bona fide and spoof clips; "
                         f"it has {len(dataset)} usable clip(s) with labels {sorted(labels)}")
    if not random_crop and context.enabled:
        dataset.rows = dataset.rows[context.rank::context.world_size]
        dataset.targets = dataset.targets[context.rank::context.world_size]
    return dataset


def _train(config: Config, run_dir: Path, resume: bool, context: Distributed, device: torch.device) -> TrainState:
    settings = config.train
    precision = Precision.resolve(settings.amp, device)
    if settings.deterministic:
        _make_deterministic(device)
    seed_everything(settings.seed)
    if settings.batch_size % context.world_size:
        raise ValueError(f"--batch-size {settings.batch_size} (the global batch) must be divisible by the "
                         f"{context.world_size} processes")
    rank_batch = settings.batch_size // context.world_size

    if not context.is_main:
        context.barrier()            # rank 0 builds the waveform cache; the others then open it
    manifest, cache = load_corpus(config.data)
    if context.is_main:
        context.barrier()
    train_set = _split_dataset(config, manifest, cache, "train", random_crop=True)
    val_set = _split_dataset(config, manifest, cache, "val", random_crop=False, context=context)
    val_loader = make_loader(val_set, rank_batch, False, device, config.data.num_workers)

    model = Detector(config.data.sample_rate, config.features, config.model).to(device)
    network = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
               if context.enabled else model)
    banks = corpus_banks(manifest, cache, config.data.noise_dirs, config.data.rir_dir, config.data.cache_dir)
    launder = LaunderChain.from_spec(settings.launder, config.data.sample_rate, banks=banks).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = max(len(train_set) // settings.batch_size, 1)
    if settings.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, settings.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_scaler)

    state, position = TrainState(), None
    last_path = run_dir / "last.pt"
    if resume and last_path.exists():
        saved = load_checkpoint(last_path, map_location=device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        state = TrainState(**saved["state"])
        position = EpochPosition(**saved["position"]) if saved.get("position") else None
        where = f"in epoch {position.epoch + 1} at step {position.step}" if position else f"after epoch {state.epoch}"
        _log(context, f"detector: resuming {run_dir} {where}")
    elif resume:
        _log(context, f"detector: --resume given but {last_path} does not exist; starting a new run")
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.toml", config.to_toml())
    _log(context, f"detector: training on {device} x{context.world_size} (amp {precision.name}), "
                  f"{len(train_set)} train / {len(manifest.split('val'))} val clips, {steps_per_epoch} steps per epoch")

    def checkpoint(extra: dict) -> dict:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "state": vars(state), "config": config.to_dict(), **extra}

    while state.epoch < settings.epochs and state.stale_epochs < settings.patience:
        epoch, started = state.epoch, time.perf_counter()
        frozen = epoch < config.model.freeze_epochs
        model.set_backbone_frozen(frozen)
        # Per-(seed, epoch, rank) streams: dropout and laundering differ across ranks and epochs.
        stream = (settings.seed * 1000 + epoch) * 64 + context.rank
        torch.manual_seed(stream)
        generator = device_generator(device, stream)
        if position is None:
            position = EpochPosition(epoch=epoch)
        else:   # resuming inside this epoch
            generator.set_state(position.launder_rng)
            torch.set_rng_state(position.torch_rng)
        train_set.set_epoch(epoch)
        loader = make_loader(train_set, rank_batch, True, device, config.data.num_workers, settings.seed,
                             start_batch=position.step, rank=context.rank, world_size=context.world_size)
        try:
            _train_one_epoch(network, loader, launder, generator, optimizer, scheduler, scaler, precision,
                             device, steps_per_epoch, position, context, f"epoch {epoch + 1}/{settings.epochs}")
        except KeyboardInterrupt:
            if context.is_main and not context.enabled:
                position.launder_rng, position.torch_rng = generator.get_state(), torch.get_rng_state()
                save_checkpoint(last_path, checkpoint({"position": vars(position)}))
                raise TrainingInterrupted(f"interrupted in epoch {epoch + 1} at step {position.step}; "
                                          f"{last_path} holds that position: rerun with --resume") from None
            raise
        train_loss = float(np.mean(context.gather_arrays(
            np.array([position.loss_sum / max(position.step - position.nonfinite_steps, 1)]))[0]))
        scores, targets = score_loader([model], val_loader, device, precision, desc="validation")
        scores, targets = context.gather_arrays(scores[0], targets)
        val_eer = equal_error_rate(scores[targets == 1], scores[targets == 0])[0]
        state.epoch += 1
        state.history.append({"epoch": state.epoch, "train_loss": train_loss, "val_eer": val_eer,
                              "val_loss": _binary_cross_entropy(scores, targets), "lr": scheduler.get_last_lr()[0],
                              "seconds": time.perf_counter() - started, "backbone_frozen": int(frozen),
                              "nonfinite_steps": position.nonfinite_steps})
        position = None
        if val_eer < state.best_eer:
            state.best_eer, state.best_epoch, state.stale_epochs = val_eer, state.epoch, 0
        else:
            state.stale_epochs += 1
        if context.is_main:
            saved = checkpoint({"calibration": fit_calibration(scores, targets).as_dict()})
            if state.best_epoch == state.epoch:
                save_checkpoint(run_dir / "best.pt", saved)
            save_checkpoint(last_path, saved)
            _write_history(run_dir / "history.csv", state.history)
        context.barrier()
        _log(context, f"epoch {state.epoch}: train loss {train_loss:.4f}, val EER {100 * val_eer:.2f}% "
                      f"(best {100 * state.best_eer:.2f}% at epoch {state.best_epoch})")
    if state.stale_epochs >= settings.patience:
        _log(context, f"detector: early stop, no validation-EER improvement for {settings.patience} epochs")
    return state


def _train_one_epoch(network, loader, launder, generator, optimizer, scheduler, scaler, precision, device,
                     steps: int, position: EpochPosition, context: Distributed, desc: str) -> None:
    """Train from ``position.step`` to ``steps`` batches, updating ``position`` after each one.

    A step whose loss is NaN or infinite (e.g. an fp16 overflow) on any rank is skipped on all
    ranks and counted, as GradScaler does for fp16 gradients; a run of more than
    ``MAX_CONSECUTIVE_NONFINITE`` such steps stops the run with a clear error.
    """
    network.train()
    consecutive = 0
    progress = tqdm(total=steps, initial=position.step, desc=desc, unit="step", leave=False,
                    disable=not context.is_main)
    batches = iter(loader)
    while position.step < steps:
        batch = next(batches, None)
        if batch is None:
            break
        wave, target = to_device(batch, device)
        loss, applied = train_step(network, wave, target, launder, generator, optimizer, scaler, precision, context)
        if applied:
            position.loss_sum += float(loss)
            consecutive = 0
        else:
            position.nonfinite_steps += 1
            consecutive += 1
            if consecutive > MAX_CONSECUTIVE_NONFINITE:
                raise FloatingPointError(
                    f"{consecutive} consecutive steps had a NaN/infinite loss (epoch {position.epoch + 1}, "
                    f"step {position.step + 1}): training diverged; lower --lr or use --amp bf16/off")
        scheduler.step()
        position.step += 1
        progress.update()
        progress.set_postfix(loss=f"{float(loss):.4f}", skipped=position.nonfinite_steps)
    progress.close()


def train_step(network: torch.nn.Module, wave: torch.Tensor, target: torch.Tensor, launder: torch.nn.Module,
               generator: torch.Generator, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               precision: Precision, context: Distributed = Distributed()) -> tuple[torch.Tensor, bool]:
    """One optimisation step on a device batch ``(batch, 1, time)``: launder, forward, backward, update.

    Returns the detached loss and whether the update was applied: a NaN/infinite loss on any
    rank skips it on all ranks (one host sync per step; the fp16 GradScaler syncs as well).
    """
    with torch.no_grad():
        wave = launder(wave, generator)
    with precision.autocast():
        loss = torch.nn.functional.cross_entropy(network(wave), target)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    finite = torch.isfinite(loss.detach()).float()
    if context.enabled:
        torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    applied = bool(finite)
    if applied:
        scaler.step(optimizer)
        scaler.update()
    return loss.detach(), applied


def _make_deterministic(device: torch.device) -> None:
    """Deterministic kernels; PyTorch warns once for each op that has no deterministic version."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")   # needed by deterministic cuBLAS
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if device.type == "cuda":
        print("detector: --deterministic: PyTorch will warn about each operation it runs without a "
              "deterministic implementation (those results may still vary between runs)")


def _log(context: Distributed, message: str) -> None:
    if context.is_main:
        print(message)


def _binary_cross_entropy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of the two-class softmax, from logit-difference scores."""
    signed = np.where(targets == 1, scores, -scores)
    return float(np.mean(np.logaddexp(0.0, -signed)))


def _write_history(path: Path, history: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())
