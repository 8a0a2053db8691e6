"""Evaluation of a trained checkpoint on one split, clean and under laundering conditions.

Whole clips are scored: sliding windows, batched, with the window scores averaged (or their
maximum) per clip. Under a condition each whole clip is laundered with parameters drawn from
``(seed, condition, clip id)`` alone (:mod:`detector.launder.clips`), so every model sees
bit-identical laundered inputs whatever the batching, and ``detector launder`` exports exactly
that audio. ``metrics.json`` records, per condition, what it laundered with (``laundering``:
babble source, simulated rooms' measured T20/T30, a fingerprint of the banks).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.config import Config
from detector.engine.scoring import ScoringSplit, WindowSettings
from detector.engine.tensorboard import log_pictures
from detector.metrics.calibration import Calibration
from detector.metrics.detection import (
    DetectionCost,
    classification_report,
    det_curve,
    per_group_metrics,
    seen_unseen_metrics,
    within_group_metrics,
)
from detector.metrics.plots import plot_confusion_matrix, plot_det_and_roc
from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.utils.io import atomic_write_text
from detector.utils.runtime import Precision, resolve_device


@dataclass
class EvaluationOptions:
    split: str = "test"
    conditions: list[str] = field(default_factory=lambda: ["clean"])
    device: str = "auto"
    batch_size: int = 64
    amp: str = "auto"
    seed: int = 0                    # seeds the conditions' random parameters
    cache_dir: str = ""
    on_error: str = "fail"
    noise_dirs: str = ""             # "TYPE=PATH,...": real noise recordings for noise conditions
    rir_dir: str = ""                # measured impulse responses for reverb:model=measured
    allow_outside_root: bool = False # manifest paths may climb out of its folder with ../
    windows: WindowSettings = field(default_factory=WindowSettings)
    cost: DetectionCost = field(default_factory=DetectionCost)


def evaluate(checkpoint: str | Path, manifest: str | Path, out_dir: str | Path,
             options: EvaluationOptions | None = None, tensorboard: str | Path = "",
             tensorboard_tag: str = "evaluate") -> dict:
    """Score the split under each condition; write metrics.json, scores.txt and PNG plots (also as
    images ``evaluate/det_roc`` and ``evaluate/confusion_matrix`` in the ``tensorboard`` folder's events, if given;
    ``tensorboard_tag`` replaces ``evaluate`` in those tags).

    The top-level metrics pool the trials of every condition (with one condition they are
    that condition's); ``per_condition``, ``per_system`` (each spoof system against all
    bona fide) and ``per_bonafide_speaker`` (each speaker's bona fide trials against all
    spoofs: held-out speakers show here) break them down, and ``per_manifest_condition``
    gives them inside each value of the manifest's own ``condition`` column (a corpus's
    channel or codec, e.g. ASVspoof 2021's), when it has one; ``seen_unseen`` pools the spoof
    systems and the bona fide speakers by whether the training split (of the manifest the
    checkpoint was trained on) held them (:func:`training_names`). Every breakdown entry holds
    :func:`detector.metrics.detection_metrics` (EER official and interpolated, minDCF,
    actDCF, Cllr, counts), computed on the raw scores that scores.txt holds. Threshold
    metrics are given at a calibrated bona fide probability of 0.5 (calibration fitted on the
    validation split during training) and at the EER threshold.
    """
    return evaluate_with_trials(checkpoint, manifest, out_dir, options, tensorboard, tensorboard_tag)[0]


def evaluate_with_trials(checkpoint: str | Path, manifest: str | Path, out_dir: str | Path,
                         options: EvaluationOptions | None = None, tensorboard: str | Path = "",
                         tensorboard_tag: str = "evaluate") -> tuple[dict, np.ndarray, np.ndarray]:
    """:func:`evaluate` (the same files written), returning ``(metrics, scores, targets)``: the raw
    scores and targets (1 = bona fide) of every trial, shape (n_conditions * n_clips,), in
    scores.txt's order; the top-level metrics are those of these trials."""
    options = options or EvaluationOptions()
    out_dir = Path(out_dir)
    device = resolve_device(options.device)
    precision = Precision.for_scoring(options.amp, device)
    state = load_checkpoint(checkpoint, device)
    model, config = detector_from_checkpoint(state, device)
    training = training_names(config.data.manifest)   # open_split replaces config.data.manifest
    calibration = Calibration(**state.get("calibration", {}))
    split = open_split(config, manifest, options, device)
    systems = np.array([clip.system for clip in split.clips])
    channels = np.array([clip.extra.get("condition", "") for clip in split.clips])
    speakers = np.array([clip.speaker for clip in split.clips])
    threshold = calibration.threshold(0.5)

    per_condition, lines, curves, all_scores = {}, [], {}, []
    for condition in options.conditions:
        scores = split.score([model], condition, precision, options.seed)[0]
        per_condition[condition] = _report(scores, split.targets, systems, speakers, channels, threshold,
                                           options.cost, training)
        curve = det_curve(scores[split.targets == 1], scores[split.targets == 0])
        curves[condition] = (curve.miss, curve.false_alarm)
        # Shortest round-trip digits: the ASVspoof package run on scores.txt then reproduces
        # metrics.json exactly (rounded scores would tie, and ties move the official EER).
        lines += [f"{clip.utt} {clip.label} {clip.system} {condition} {float(score)!r}"
                  for clip, score in zip(split.clips, scores)]
        all_scores.append(scores)

    n = len(options.conditions)
    metrics = _report(np.concatenate(all_scores), np.tile(split.targets, n), np.tile(systems, n),
                      np.tile(speakers, n), np.tile(channels, n), threshold, options.cost, training)
    metrics.update(split=options.split, checkpoint=str(checkpoint), manifest=str(manifest), seed=options.seed,
                   conditions=options.conditions, calibration=calibration.as_dict(),
                   windows={"window_s": split.window_s, "hop_s": split.hop_s,
                            "aggregate": options.windows.aggregate},
                   laundering={condition: split.describe(condition) for condition in options.conditions},
                   per_condition=per_condition)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    atomic_write_text(out_dir / "scores.txt", "\n".join(lines) + "\n")
    title = f"{options.split} split, {', '.join(options.conditions)}"
    plot_confusion_matrix(np.array(metrics["confusion_matrix"]), metrics["confusion_matrix_labels"],
                          out_dir / "confusion_matrix.png", title=title)
    plot_det_and_roc(curves, out_dir / "det_roc.png", title=title)
    if tensorboard:
        log_pictures(tensorboard, {f"{tensorboard_tag}/{name}": out_dir / f"{name}.png"
                                   for name in ("det_roc", "confusion_matrix")})
    return metrics, np.concatenate(all_scores), np.tile(split.targets, n)


def open_split(config: Config, manifest: str | Path, options: EvaluationOptions, device) -> ScoringSplit:
    """The split to score, cut into windows at the model's sample rate (``config`` is the model's)."""
    data = config.data
    data.manifest, data.cache_dir, data.on_error = str(manifest), options.cache_dir, options.on_error
    data.noise_dirs, data.rir_dir = options.noise_dirs, options.rir_dir
    data.allow_outside_root = options.allow_outside_root
    split = ScoringSplit(data, options.split, options.windows, options.batch_size, device)
    n_bonafide = int((split.targets == 1).sum())
    if n_bonafide in (0, split.targets.size):   # EER, DCF and Cllr compare the two classes
        raise ValueError(f"{manifest}: the {options.split} split has {n_bonafide} bona fide and "
                         f"{split.targets.size - n_bonafide} spoof clips; evaluation needs both")
    return split


def training_names(manifest: str) -> dict:
    """``{"training_manifest", "systems", "speakers"}``: the spoof systems and the speakers (of
    either class) of the train split of ``manifest``, the one a checkpoint was trained on (as its
    config recorded it: a relative path is read from the current folder). When that file cannot
    be read, ``{"training_manifest", "error"}`` instead: what is seen is then unknown, and no
    guess (such as the evaluated manifest's own train split) takes its place.
    """
    from detector.data.manifest import read_manifest

    if not manifest:
        return {"training_manifest": "", "error": "the checkpoint's config records no manifest"}
    try:
        rows = read_manifest(manifest, allow_outside_root=True).rows   # only the CSV is read
    except (OSError, ValueError) as error:
        return {"training_manifest": manifest, "error": f"cannot read it: {error}"}
    train = [row for row in rows if row.split == "train"]
    if not train:
        return {"training_manifest": manifest, "error": "it has no train split"}
    return {"training_manifest": manifest,
            "systems": {row.system for row in train if row.label == "spoof"},
            "speakers": {row.speaker for row in train}}


def _report(scores: np.ndarray, targets: np.ndarray, systems: np.ndarray, speakers: np.ndarray,
            channels: np.ndarray, threshold: float, cost: DetectionCost, training: dict) -> dict:
    """Metrics of one set of trials, every array of shape (n_trials,); ``channels`` are the
    manifest's ``condition`` values ("" if none); ``training`` is :func:`training_names`."""
    report = classification_report(scores, targets, threshold, cost)
    report["per_system"] = per_group_metrics(scores, targets, systems, cost=cost)
    report["per_bonafide_speaker"] = per_group_metrics(scores, targets, speakers, of_class=1, cost=cost)
    if channels.any():
        report["per_manifest_condition"] = within_group_metrics(scores, targets, channels, cost)
    report["seen_unseen"] = {"training_manifest": training["training_manifest"]}
    if "error" in training:
        report["seen_unseen"]["error"] = training["error"]
    else:
        report["seen_unseen"]["systems"] = seen_unseen_metrics(scores, targets, systems, training["systems"],
                                                               cost=cost)
        report["seen_unseen"]["bonafide_speakers"] = seen_unseen_metrics(scores, targets, speakers,
                                                                         training["speakers"], of_class=1, cost=cost)
    return report
