"""Checkpoints: plain data and tensors only, written atomically, loaded with ``weights_only=True``.

A checkpoint holds the model, optimizer, scheduler and scaler states, the epoch counters,
the training history and the resolved configuration as a nested dict, so it can be
rebuilt without unpickling any object and a killed run resumes from its last saved position
(an epoch's end, or a step inside one: ``position``). Load on the CPU (the default) and let
``load_state_dict`` copy each state to its parameters' device.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from detector.config import Config
from detector.models.detector import Detector
from detector.utils.io import atomic_write_with

FORMAT = "detector-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, torn, unsafe or not ours; the message names the file."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format tag) to ``path`` atomically."""
    atomic_write_with(path, lambda handle: torch.save({"format": FORMAT, **state}, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely: ``weights_only=True`` refuses anything that would run code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path}: refused to load: it holds objects other than tensors and "
                              f"plain data, which could run code when unpickled ({error})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a detector checkpoint (expected format {FORMAT})")
    return state


def detector_from_checkpoint(state: dict[str, Any], device: torch.device) -> tuple[Detector, Config]:
    """Rebuild the trained :class:`Detector` (in eval mode) and its configuration."""
    config = Config.from_dict(state["config"], source="checkpoint config")
    config.model.pretrained = ""   # the trained weights follow; never reread the ImageNet file
    model = Detector(config.data.sample_rate, config.features, config.model)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config
