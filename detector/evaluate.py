"""Evaluation of a trained checkpoint on one split, clean and under laundering conditions.

Each condition's random parameters come from a generator seeded by ``(seed, condition)``,
so every model evaluated with the same seed sees bit-identical laundered inputs.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import torch

from detector.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.data import CropDataset, load_corpus, make_loader
from detector.io_utils import atomic_write_text
from detector.launder import parse_condition
from detector.metrics import classification_report, per_group_eer
from detector.plots import plot_confusion_matrix
from detector.runtime import Precision, device_generator, resolve_device
from detector.scoring import score_loader


def condition_seed(seed: int, condition: str) -> int:
    """A stable seed for ``condition`` (crc32 of its name, not Python's salted ``hash``)."""
    return (seed * 1_000_003 + zlib.crc32(condition.encode())) % 2**63


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: str | Path, split: str = "test",
             conditions: list[str] | None = None, device: str = "auto", batch_size: int = 64,
             amp: str = "auto", seed: int = 0, cache_dir: str = "", on_error: str = "fail") -> dict:
    """Score ``split`` under each condition; write metrics.json, scores.txt and a confusion-matrix PNG.

    The top-level metrics pool the trials of every condition (with one condition they are
    that condition's); ``per_condition`` and ``per_system`` break them down.
    """
    out_dir = Path(out_dir)
    conditions = conditions or ["clean"]
    torch_device = resolve_device(device)
    precision = Precision.resolve(amp, torch_device)
    model, train_config = detector_from_checkpoint(load_checkpoint(checkpoint, torch_device), torch_device)
    data = train_config.data   # the model's sample rate and crop length
    data.manifest, data.cache_dir, data.on_error = str(manifest), cache_dir, on_error
    manifest_data, cache = load_corpus(data)
    rows = manifest_data.split(split)
    dataset = CropDataset(cache, manifest_data, rows, round(data.crop_s * data.sample_rate), random_crop=False)
    if len(dataset) == 0:
        raise ValueError(f"{manifest}: the {split} split has no usable clips")
    loader = make_loader(dataset, batch_size, False, torch_device, data.num_workers)
    clips = [manifest_data.rows[r] for r in dataset.rows]

    all_scores, all_targets, all_systems, per_condition, lines = [], [], [], {}, []
    for condition in conditions:
        attack = parse_condition(condition, data.sample_rate).to(torch_device)
        generator = device_generator(torch_device, condition_seed(seed, condition))
        scores, targets = score_loader(model, loader, torch_device, precision,
                                       transform=lambda wave: attack(wave, generator), desc=condition)
        systems = np.array([clip.system for clip in clips])
        per_condition[condition] = _report(scores, targets, systems)
        lines += [f"{clip.utt} {clip.label} {clip.system} {condition} {score:.6f}"
                  for clip, score in zip(clips, scores)]
        all_scores.append(scores), all_targets.append(targets), all_systems.append(systems)

    metrics = _report(np.concatenate(all_scores), np.concatenate(all_targets), np.concatenate(all_systems))
    metrics.update(split=split, checkpoint=str(checkpoint), manifest=str(manifest), seed=seed,
                   conditions=conditions, per_condition=per_condition)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write_text(out_dir / "scores.txt", "\n".join(lines) + "\n")
    plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["confusion_matrix_labels"],
                          out_dir / "confusion_matrix.png",
                          title=f"{split} split, {', '.join(conditions)}")
    return metrics


def _report(scores: np.ndarray, targets: np.ndarray, systems: np.ndarray) -> dict:
    report = classification_report(scores, targets)
    report["per_system"] = per_group_eer(scores, targets, systems)
    return report
