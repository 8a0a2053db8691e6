"""Training: AdamW + cosine schedule, on-the-fly laundering, early stopping on validation EER.

Every random stream is derived from ``(seed, epoch)`` (crops, shuffling, laundering,
dropout), so resuming from ``last.pt`` at an epoch boundary continues exactly where an
uninterrupted run would be.
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from detector.checkpoint import load_checkpoint, save_checkpoint
from detector.config import Config
from detector.data import CropDataset, load_corpus, make_loader
from detector.data.loader import to_device
from detector.io_utils import atomic_write_text
from detector.launder import LaunderChain
from detector.metrics import equal_error_rate
from detector.model import Detector
from detector.runtime import Precision, device_generator, resolve_device, seed_everything
from detector.scoring import score_loader

HISTORY_COLUMNS = ("epoch", "train_loss", "val_eer", "val_loss", "lr", "seconds", "backbone_frozen")


@dataclass
class TrainState:
    epoch: int = 0                       # epochs completed
    best_eer: float = math.inf
    best_epoch: int = 0
    stale_epochs: int = 0                # epochs since the best validation EER
    history: list[dict] = field(default_factory=list)


def _split_dataset(config: Config, manifest, cache, split: str, random_crop: bool) -> CropDataset:
    rows = manifest.split(split)
    dataset = CropDataset(cache, manifest, rows, round(config.data.crop_s * config.data.sample_rate),
                          random_crop=random_crop, seed=config.train.seed)
    labels = set(dataset.targets)
    if labels != {0, 1}:
        raise ValueError(f"{manifest.path}: the {split} split needs both bona fide and spoof clips; "
                         f"it has {len(dataset)} usable clip(s) with labels {sorted(labels)}")
    return dataset


def train(config: Config, run_dir: str | Path, resume: bool = False) -> TrainState:
    """Train a detector into ``run_dir`` (config.toml, history.csv, best.pt, last.pt)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = config.train
    device = resolve_device(settings.device)
    precision = Precision.resolve(settings.amp, device)
    seed_everything(settings.seed)

    manifest, cache = load_corpus(config.data)
    train_set = _split_dataset(config, manifest, cache, "train", random_crop=True)
    val_set = _split_dataset(config, manifest, cache, "val", random_crop=False)
    val_loader = make_loader(val_set, settings.batch_size, False, device, config.data.num_workers)

    model = Detector(config.data.sample_rate, config.features, config.model).to(device)
    launder = LaunderChain.from_spec(settings.launder, config.data.sample_rate).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = max(len(train_set) // settings.batch_size, 1)
    if settings.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, settings.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_scaler)

    state = TrainState()
    last_path = run_dir / "last.pt"
    if resume and last_path.exists():
        saved = load_checkpoint(last_path, map_location=device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        state = TrainState(**saved["state"])
        print(f"detector: resuming {run_dir} after epoch {state.epoch}")
    elif resume:
        print(f"detector: --resume given but {last_path} does not exist; starting a new run")
    atomic_write_text(run_dir / "config.toml", config.to_toml())
    print(f"detector: training on {device} (amp {precision.name}), {len(train_set)} train / "
          f"{len(val_set)} val clips, {steps_per_epoch} steps per epoch")

    while state.epoch < settings.epochs and state.stale_epochs < settings.patience:
        epoch, started = state.epoch, time.perf_counter()
        frozen = epoch < config.model.freeze_epochs
        model.set_backbone_frozen(frozen)
        torch.manual_seed(settings.seed * 1000 + epoch)   # dropout stream, resumable per epoch
        train_set.set_epoch(epoch)
        loader = make_loader(train_set, settings.batch_size, True, device, config.data.num_workers,
                             settings.seed)
        generator = device_generator(device, settings.seed * 1000 + epoch)
        train_loss = _train_one_epoch(model, loader, launder, generator, optimizer, scheduler, scaler,
                                      precision, device, steps_per_epoch, f"epoch {epoch + 1}/{settings.epochs}")
        scores, targets = score_loader(model, val_loader, device, precision, desc="validation")
        val_eer = equal_error_rate(scores[targets == 1], scores[targets == 0])[0]
        val_loss = _binary_cross_entropy(scores, targets)
        state.epoch += 1
        state.history.append({"epoch": state.epoch, "train_loss": train_loss, "val_eer": val_eer,
                              "val_loss": val_loss, "lr": scheduler.get_last_lr()[0],
                              "seconds": time.perf_counter() - started, "backbone_frozen": int(frozen)})
        if val_eer < state.best_eer:
            state.best_eer, state.best_epoch, state.stale_epochs = val_eer, state.epoch, 0
        else:
            state.stale_epochs += 1
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                      "state": vars(state), "config": config.to_dict()}
        if state.best_epoch == state.epoch:
            save_checkpoint(run_dir / "best.pt", checkpoint)
        save_checkpoint(last_path, checkpoint)
        _write_history(run_dir / "history.csv", state.history)
        print(f"epoch {state.epoch}: train loss {train_loss:.4f}, val EER {100 * val_eer:.2f}% "
              f"(best {100 * state.best_eer:.2f}% at epoch {state.best_epoch})")
    if state.stale_epochs >= settings.patience:
        print(f"detector: early stop, no validation-EER improvement for {settings.patience} epochs")
    return state


def _train_one_epoch(model, loader, launder, generator, optimizer, scheduler, scaler, precision,
                     device, steps: int, desc: str) -> float:
    """One pass over ``steps`` batches; returns the mean training loss."""
    model.train()
    total = torch.zeros((), device=device)
    progress = tqdm(total=steps, desc=desc, unit="step", leave=False)
    for step, batch in enumerate(loader):
        if step == steps:
            break
        wave, target = to_device(batch, device)
        with torch.no_grad():
            wave = launder(wave, generator)
        with precision.autocast():
            loss = torch.nn.functional.cross_entropy(model(wave), target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total += loss.detach().float()
        progress.update()
        if step % 10 == 0:   # reading the loss synchronises the device: only now and then
            progress.set_postfix(loss=f"{loss.item():.4f}")
    progress.close()
    return float(total) / max(min(steps, len(loader)), 1)


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
