"""Scoring: the inference loops shared by validation, evaluation and ablation.

A laundering condition's random parameters come from a generator seeded by
``(seed, condition)``, and the windows are batched in a fixed order, so every model scored
with the same seed sees bit-identical laundered inputs, run after run.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from detector.config import DataConfig
from detector.data import ManifestRow, load_corpus, make_loader
from detector.data.loader import WindowDataset, aggregate_windows, to_device
from detector.launder import parse_condition
from detector.launder.banks import corpus_banks
from detector.launder.codec import derived_cache
from detector.model import Detector, scores_from_logits
from detector.runtime import Precision, device_generator

Transform = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def score_loader(models: Sequence[Detector], loader: DataLoader, device: torch.device, precision: Precision,
                 transform: Transform | None = None, desc: str = "scoring") -> tuple[np.ndarray, np.ndarray]:
    """Bona fide scores ``(n_models, n_items)`` and targets ``(n_items,)``, in loader order.

    ``transform`` (e.g. a laundering condition) is applied once to each ``(batch, 1, time)``
    batch on the device, and every model scores the same transformed batch. Scores stay on
    the device until the end: no host synchronisation per batch.
    """
    modes = [model.training for model in models]
    for model in models:
        model.eval()
    scores, targets = [], []
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
        wave, target = to_device(batch, device)
        if transform is not None:
            wave = transform(wave)
        with precision.autocast():
            scores.append(torch.stack([scores_from_logits(model(wave)) for model in models]))
        targets.append(target)
    for model, mode in zip(models, modes):
        model.train(mode)
    return torch.cat(scores, dim=1).cpu().numpy(), torch.cat(targets).cpu().numpy()


def condition_seed(seed: int, condition: str) -> int:
    """A stable seed for ``condition`` (crc32 of its name, not Python's salted ``hash``)."""
    return (seed * 1_000_003 + zlib.crc32(condition.encode())) % 2**63


@dataclass
class WindowSettings:
    window_s: float = 0.0      # seconds; 0 = the model's training crop length
    hop_s: float = 0.0         # seconds; 0 = half a window
    aggregate: str = "mean"    # mean | max of the window scores of a clip


class ScoringSplit:
    """One split of a manifest, cut into sliding windows, ready to be scored by models under conditions."""

    def __init__(self, data: DataConfig, split: str, windows: WindowSettings, batch_size: int,
                 device: torch.device):
        manifest, cache = load_corpus(data)
        self.manifest, self.cache, self.batch_size, self.num_workers = manifest, cache, batch_size, data.num_workers
        self.banks = corpus_banks(manifest, cache, data.noise_dirs, data.rir_dir, data.cache_dir)
        self.window_s = windows.window_s or data.crop_s
        self.hop_s = windows.hop_s or self.window_s / 2
        self.dataset = WindowDataset(cache, manifest, manifest.split(split), round(self.window_s * data.sample_rate),
                                     round(self.hop_s * data.sample_rate))
        if len(self.dataset.rows) == 0:
            raise ValueError(f"{manifest.path}: the {split} split has no usable clips")
        self.clips: list[ManifestRow] = [manifest.rows[r] for r in self.dataset.rows]
        self.targets = np.array(self.dataset.targets)
        self.loader = make_loader(self.dataset, batch_size, False, device, data.num_workers)
        self.sample_rate, self.device, self.aggregate = data.sample_rate, device, windows.aggregate

    def score(self, models: Sequence[Detector], condition: str, precision: Precision, seed: int = 0) -> np.ndarray:
        """Per-clip scores ``(n_models, n_clips)`` under ``condition``.

        A host-side condition (a real codec) is applied to whole clips once, into a derived
        cache beside the waveform cache, and its windows are read from there; any other
        condition is applied to each batch of windows on the device.
        """
        attack = parse_condition(condition, self.sample_rate, banks=self.banks).to(self.device)
        if getattr(attack, "host_side", False):
            coded = derived_cache(self.cache, attack, rows=self.dataset.rows, progress=True)
            windows = WindowDataset(coded, self.manifest, self.dataset.rows, self.dataset.window, self.dataset.hop)
            loader, transform = make_loader(windows, self.batch_size, False, self.device, self.num_workers), None
        else:
            generator = device_generator(self.device, condition_seed(seed, condition))
            loader, transform = self.loader, lambda wave: attack(wave, generator)
        windows, _ = score_loader(models, loader, self.device, precision, transform=transform, desc=condition)
        return np.stack([aggregate_windows(w, self.dataset.clip_of_window, len(self.clips), self.aggregate)
                         for w in windows])
