"""Laundering whole clips, each with parameters that depend only on ``(seed, condition, clip id)``.

Evaluation, ablation, ``detector launder`` and ``detector render`` all launder through
:func:`launder_clip`. A clip's laundering parameters are drawn from a generator of its own,
seeded by the run's seed, the condition's name and the clip's id, so the laundered audio of
a clip does not depend on the batch size, which other clips are in the split, how many
windows the clip is cut into, the number of workers or the device; and the file that
``detector launder`` exports is the audio that ``detector evaluate`` scores.

The clip is laundered whole, before it is cut into windows, as a laundered file would be:
a noise's SNR is the clip's, and a reverberant tail runs on across window boundaries.
"""
from __future__ import annotations

import numpy as np
import torch

from detector.utils.keys import stable_seed

from .attacks import Attack


def clip_seed(seed: int, condition: str, clip_id: str) -> int:
    """A stable seed for one clip under one condition (see :func:`detector.utils.keys.stable_seed`)."""
    return stable_seed(seed, condition, clip_id)


def launder_clip(attack: Attack, wave: torch.Tensor, seed: int, clip_id: str) -> torch.Tensor:
    """One whole clip through ``attack``.

    Args:
        wave: ``(time,)`` float32 on any device.
        seed: the run's laundering seed.
        clip_id: the clip's identity (its manifest ``utt``).

    Returns:
        ``(time,)`` float32 on ``wave``'s device. A host-side codec codes the clip on the
        host (see :mod:`.codec`); every other attack runs as a batch of one on the device.
    """
    if attack.host_side:
        coded = attack.process(wave.cpu().numpy(), key=clip_id)
        return torch.from_numpy(np.asarray(coded, dtype=np.float32)).to(wave.device)
    generator = torch.Generator().manual_seed(clip_seed(seed, attack.name, clip_id))
    return attack(wave.reshape(1, 1, -1), generator).reshape(-1)
