"""Batches of fixed-length crops from the waveform cache: ``(batch, 1, time)`` float32 + labels."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from detector.data.cache import WaveformCache
from detector.data.manifest import Manifest


def crop_or_repeat(wave: np.ndarray, length: int, start: int) -> np.ndarray:
    """``length`` samples of ``wave`` from ``start``; a shorter clip is repeated to fill it."""
    if wave.shape[0] >= length:
        return wave[start:start + length]
    repeats = -(-length // wave.shape[0])
    return np.tile(wave, repeats)[:length]


class CropDataset(Dataset):
    """One crop of ``crop_samples`` per clip of the chosen manifest rows.

    Training crops start at a random offset drawn from a NumPy generator seeded by
    ``(seed, epoch, row)``, so a resumed run and any number of workers see the same crops.
    Evaluation crops are the centre of the clip.
    """

    def __init__(self, cache: WaveformCache, manifest: Manifest, rows: list[int], crop_samples: int,
                 random_crop: bool, seed: int = 0):
        usable = [r for r in rows if cache.offsets[r] >= 0]
        self.cache, self.rows, self.crop_samples = cache, usable, crop_samples
        self.targets = [manifest.rows[r].target for r in usable]
        self.random_crop, self.seed, self.epoch = random_crop, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        row = self.rows[k]
        wave = self.cache.waveform(row)
        spare = max(wave.shape[0] - self.crop_samples, 0)
        if self.random_crop:
            start = int(np.random.default_rng((self.seed, self.epoch, row)).integers(0, spare + 1))
        else:
            start = spare // 2
        crop = crop_or_repeat(wave, self.crop_samples, start)
        return torch.from_numpy(np.array(crop, dtype=np.float32))[None], self.targets[k]


def make_loader(dataset: CropDataset, batch_size: int, shuffle: bool, device: torch.device,
                num_workers: int = 0, seed: int = 0) -> DataLoader:
    """A DataLoader yielding ``(wave (batch, 1, time) float32, target (batch,) int64)``.

    Shuffling draws from a generator seeded with ``(seed, epoch)``; training drops the last
    partial batch (a batch of one breaks batch norm). Memory is pinned for CUDA so the copy
    to the device can be non-blocking.
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + dataset.epoch) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      drop_last=shuffle and len(dataset) > batch_size, num_workers=num_workers,
                      pin_memory=device.type == "cuda", persistent_workers=False)


def to_device(batch: tuple[torch.Tensor, torch.Tensor], device: torch.device):
    wave, target = batch
    return wave.to(device, non_blocking=True), target.to(device, non_blocking=True)
