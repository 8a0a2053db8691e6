"""Scoring: the inference loops shared by validation, evaluation and ablation.

Under a laundering condition each clip is laundered whole, with parameters drawn from
``(seed, condition, clip id)`` alone (see :mod:`detector.launder.clips`), then cut into
windows: every model scored with the same seed sees bit-identical laundered inputs, whatever
the batch size, the split's other clips, the windowing, the workers or the device.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from detector.config import DataConfig
from detector.data import ManifestRow, load_corpus, make_loader
from detector.data.loader import WindowDataset, aggregate_windows, gather_windows, to_device
from detector.launder import Identity, parse_condition
from detector.launder.banks import corpus_banks
from detector.launder.clips import launder_clip
from detector.launder.codec import derived_cache
from detector.models.detector import Detector, scores_from_logits
from detector.utils.runtime import Precision


@torch.no_grad()
def score_loader(models: Sequence[Detector], loader: Iterable, device: torch.device, precision: Precision,
                 desc: str = "scoring") -> tuple[np.ndarray, np.ndarray]:
    """Bona fide scores ``(n_models, n_items)`` and targets ``(n_items,)``, in loader order.

    ``loader`` yields ``(wave (batch, 1, time), target (batch,))`` batches (a DataLoader, or
    laundered windows already on the device); every model scores the same batch. Scores stay
    on the device until the end: no host synchronisation per batch.
    """
    modes = [model.training for model in models]
    for model in models:
        model.eval()
    scores, targets = [], []
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
        wave, target = to_device(batch, device)
        with precision.autocast():
            scores.append(torch.stack([scores_from_logits(model(wave)) for model in models]))
        targets.append(target)
    for model, mode in zip(models, modes):
        model.train(mode)
    return torch.cat(scores, dim=1).cpu().numpy(), torch.cat(targets).cpu().numpy()


@dataclass
class WindowSettings:
    window_s: float = 0.0      # seconds; 0 = the model's training crop length
    hop_s: float = 0.0         # seconds; 0 = half a window
    aggregate: str = "mean"    # mean | max | min of the window scores of a clip (data.loader.AGGREGATES)

    def seconds(self, crop_s: float) -> tuple[float, float]:
        """``(window, hop)`` in seconds for a model trained on ``crop_s``-second crops."""
        window_s = self.window_s or crop_s
        return window_s, self.hop_s or window_s / 2

    def samples(self, crop_s: float, sample_rate: int) -> tuple[int, int]:
        """``(window, hop)`` in samples at ``sample_rate`` Hz, the lengths every scoring path cuts."""
        return tuple(round(seconds * sample_rate) for seconds in self.seconds(crop_s))


class ScoringSplit:
    """One split of a manifest, cut into sliding windows, ready to be scored by models under conditions."""

    def __init__(self, data: DataConfig, split: str, windows: WindowSettings, batch_size: int,
                 device: torch.device):
        manifest, cache = load_corpus(data)
        self.manifest, self.cache, self.batch_size, self.num_workers = manifest, cache, batch_size, data.num_workers
        self.banks = corpus_banks(manifest, cache, data.noise_dirs, data.rir_dir, data.cache_dir)
        self.window_s, self.hop_s = windows.seconds(data.crop_s)
        self.dataset = WindowDataset(cache, manifest, manifest.split(split),
                                     *windows.samples(data.crop_s, data.sample_rate))
        if len(self.dataset.rows) == 0:
            raise ValueError(f"{manifest.path}: the {split} split has no usable clips")
        self.clips: list[ManifestRow] = [manifest.rows[r] for r in self.dataset.rows]
        self.targets = np.array(self.dataset.targets)
        self.loader = make_loader(self.dataset, batch_size, False, device, data.num_workers)
        self.sample_rate, self.device, self.aggregate = data.sample_rate, device, windows.aggregate

    def describe(self, condition: str) -> dict:
        """What ``condition`` launders with here: a fingerprint of everything it reads, and its rooms.

        ``fingerprint`` hashes the condition's name and every buffer it holds (noise and babble
        banks, impulse responses, filter kernels), so a cached result computed with other
        audio under the same name (another babble source, another room model) is not reused.
        ``rooms`` lists the simulated rooms' reports (measured T20/T30 and geometry), if any.
        """
        attack = parse_condition(condition, self.sample_rate, banks=self.banks)
        digest = hashlib.sha256(attack.name.encode())
        for name, buffer in sorted(attack.named_buffers()):
            digest.update(name.encode())
            digest.update(buffer.detach().cpu().contiguous().numpy().tobytes())
        rooms = [report for module in attack.modules() for report in getattr(module, "reports", ())]
        return {"fingerprint": digest.hexdigest(), "babble_source": self.banks.babble_source, "rooms": rooms}

    def score(self, models: Sequence[Detector], condition: str, precision: Precision, seed: int = 0) -> np.ndarray:
        """Per-clip scores ``(n_models, n_clips)`` under ``condition``.

        ``clean`` reads its windows straight from the cache. A host-side condition (a real
        codec) is applied to whole clips once, into a derived cache beside the waveform
        cache, and its windows are read from there. Any other condition launders each whole
        clip on the device (:func:`~detector.launder.clips.launder_clip`) and cuts the
        laundered clip into the same windows.
        """
        attack = parse_condition(condition, self.sample_rate, banks=self.banks).to(self.device)
        if isinstance(attack, Identity):
            windows = self.loader
        elif attack.host_side:
            coded = derived_cache(self.cache, attack, rows=self.dataset.rows, progress=True)
            dataset = WindowDataset(coded, self.manifest, self.dataset.rows, self.dataset.window, self.dataset.hop)
            windows = make_loader(dataset, self.batch_size, False, self.device, self.num_workers)
        else:
            windows = self.laundered_windows(attack, seed)
        scores, _ = score_loader(models, windows, self.device, precision, desc=condition)
        return np.stack([aggregate_windows(w, self.dataset.clip_of_window, len(self.clips), self.aggregate)
                         for w in scores])

    def laundered_windows(self, attack, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches ``(windows (batch, 1, window) float32, targets (batch,))`` on the device, in dataset order.

        Each clip is read from the cache, copied to the device, laundered whole and cut into
        its windows there (a clip shorter than a window is repeated to fill it, as
        :func:`~detector.data.loader.crop_or_repeat` does); windows are regrouped into
        batches of ``batch_size``.
        """
        pending, pending_targets, count = [], [], 0
        first_window = np.searchsorted(self.dataset.clip_of_window, np.arange(len(self.clips) + 1))
        for clip, row in enumerate(self.dataset.rows):
            wave = torch.from_numpy(np.array(self.cache.waveform(row), dtype=np.float32))
            laundered = launder_clip(attack, wave.to(self.device, non_blocking=True), seed, self.clips[clip].utt)
            starts = torch.from_numpy(self.dataset.starts[first_window[clip]:first_window[clip + 1]])
            pending.append(gather_windows(laundered, starts, self.dataset.window).unsqueeze(1))
            pending_targets.append(torch.full((len(starts),), int(self.targets[clip]), dtype=torch.long))
            count += len(starts)
            while count >= self.batch_size or (clip == len(self.clips) - 1 and count):
                windows, targets = torch.cat(pending), torch.cat(pending_targets)
                yield windows[:self.batch_size], targets[:self.batch_size].to(self.device, non_blocking=True)
                pending, pending_targets = [windows[self.batch_size:]], [targets[self.batch_size:]]
                count = max(count - self.batch_size, 0)
