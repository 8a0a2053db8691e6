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
    ``(seed, epoch, row, copy)``, so a resumed run and any number of workers see the same
    crops. A row with a ``repeat`` column (written by ``prepare --balance oversample``) gives
    that many training items, each with its own crop. Evaluation crops are the centre of the
    clip, one per row.
    """

    def __init__(self, cache: WaveformCache, manifest: Manifest, rows: list[int], crop_samples: int,
                 random_crop: bool, seed: int = 0):
        usable = [r for r in rows if cache.offsets[r] >= 0]
        copies = [_repeat_count(manifest, r) if random_crop else 1 for r in usable]
        self.rows = [r for r, n in zip(usable, copies) for _ in range(n)]
        self.copy = [c for n in copies for c in range(n)]
        self.cache, self.crop_samples = cache, crop_samples
        self.targets = [manifest.rows[r].target for r in self.rows]
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
            rng = np.random.default_rng((self.seed, self.epoch, row, self.copy[k]))
            start = int(rng.integers(0, spare + 1))
        else:
            start = spare // 2
        crop = crop_or_repeat(wave, self.crop_samples, start)
        return torch.from_numpy(np.array(crop, dtype=np.float32))[None], self.targets[k]


def _repeat_count(manifest: Manifest, row: int) -> int:
    text = manifest.rows[row].extra.get("repeat") or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{manifest.path}:{manifest.rows[row].line}: repeat {text!r} must be a whole number >= 1")
    return int(text)


def window_starts(length: int, window: int, hop: int) -> np.ndarray:
    """Start samples of windows covering a clip of ``length`` samples every ``hop`` samples.

    The last window is aligned to the clip's end so the tail is scored too; a clip shorter
    than one window gets a single window (repeated to fill it).
    """
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, hop, dtype=np.int64)
    return starts if starts[-1] == length - window else np.append(starts, length - window)


class WindowDataset(Dataset):
    """Every sliding window of every chosen clip, for scoring whole clips of any length.

    Item ``k`` is ``(window (1, window) float32, target)``; ``clip_of_window[k]`` says which
    clip (position in ``rows``) it belongs to, for aggregating window scores per clip.
    Windows are read from the memory-mapped cache on demand, so a long clip costs no memory.
    """

    def __init__(self, cache: WaveformCache, manifest: Manifest, rows: list[int], window: int, hop: int):
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive samples, got {window} and {hop}")
        self.cache, self.window, self.hop = cache, window, hop
        self.rows = [r for r in rows if cache.offsets[r] >= 0]
        self.targets = [manifest.rows[r].target for r in self.rows]
        starts = [window_starts(int(cache.lengths[r]), window, hop) for r in self.rows]
        self.clip_of_window = np.repeat(np.arange(len(self.rows)), [len(s) for s in starts])
        self.starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, int]:
        clip = self.clip_of_window[k]
        wave = crop_or_repeat(self.cache.waveform(self.rows[clip]), self.window, int(self.starts[k]))
        return torch.from_numpy(np.array(wave, dtype=np.float32))[None], self.targets[clip]


def aggregate_windows(window_scores: np.ndarray, clip_of_window: np.ndarray, n_clips: int,
                      how: str = "mean") -> np.ndarray:
    """Per-clip scores ``(n_clips,)`` from window scores: their ``mean`` or ``max``."""
    if how == "mean":
        sums = np.bincount(clip_of_window, weights=window_scores, minlength=n_clips)
        return sums / np.bincount(clip_of_window, minlength=n_clips)
    if how == "max":
        result = np.full(n_clips, -np.inf)
        np.maximum.at(result, clip_of_window, window_scores)
        return result
    raise ValueError(f"window aggregation {how!r}: valid values are mean, max")


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> list[int]:
    """This rank's share of a permutation of ``range(n)`` seeded by ``(seed, epoch)``.

    Like DistributedSampler, the permutation is padded by wrapping to a multiple of
    ``world_size`` and rank ``r`` takes every ``world_size``-th index from ``r``, so the
    ranks see disjoint, equally long shares of one global order.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    order += order[:(-n) % world_size]
    return order[rank::world_size]


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, device: torch.device, num_workers: int = 0,
                seed: int = 0, start_batch: int = 0, rank: int = 0, world_size: int = 1) -> DataLoader:
    """A DataLoader yielding ``(wave (batch, 1, time) float32, target (batch,) int64)``.

    With ``shuffle`` (training), the order is :func:`epoch_order` for the dataset's epoch,
    starting at batch ``start_batch`` (to resume mid-epoch), and the last partial batch is
    dropped (a batch of one breaks batch norm). Without it, the dataset order. Memory is
    pinned for CUDA so the copy to the device can be non-blocking.
    """
    if shuffle:
        order = epoch_order(len(dataset), seed, getattr(dataset, "epoch", 0), rank, world_size)
        sampler = order[start_batch * batch_size:]
        drop_last = len(order) > batch_size
    else:
        sampler, drop_last = None, False
    # An explicit generator keeps the loader from drawing its worker seed from torch's global
    # generator, which would shift the dropout stream of a run resumed mid-epoch.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, pin_memory=device.type == "cuda", persistent_workers=False,
                      generator=torch.Generator().manual_seed(seed))


def to_device(batch: tuple[torch.Tensor, torch.Tensor], device: torch.device):
    wave, target = batch
    return wave.to(device, non_blocking=True), target.to(device, non_blocking=True)
