"""Scoring batches of crops: the one inference loop shared by validation and evaluation."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from detector.data.loader import to_device
from detector.model import Detector, scores_from_logits
from detector.runtime import Precision

Transform = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def score_loader(model: Detector, loader: DataLoader, device: torch.device, precision: Precision,
                 transform: Transform | None = None, desc: str = "scoring") -> tuple[np.ndarray, np.ndarray]:
    """Bona fide scores and targets for every clip of ``loader``, in loader order.

    ``transform`` (e.g. a laundering condition) is applied to each ``(batch, 1, time)``
    batch on the device before the model. Scores stay on the device until the end, so the
    loop has no host synchronisation per batch.
    """
    was_training = model.training
    model.eval()
    scores, targets = [], []
    for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
        wave, target = to_device(batch, device)
        if transform is not None:
            wave = transform(wave)
        with precision.autocast():
            scores.append(scores_from_logits(model(wave)))
        targets.append(target)
    model.train(was_training)
    return torch.cat(scores).cpu().numpy(), torch.cat(targets).cpu().numpy()
