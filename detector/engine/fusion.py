"""Linear score fusion: several systems' ``scores.txt`` for the same trials -> one fused score.

The fusion is prior-weighted logistic regression, as BOSARIS's linear fuser (Brümmer & de
Villiers): on the development trials, weights ``w`` (one per system) and a bias ``b`` minimise

    P * mean over bona fide of log(1 + e^-(w.s + b + logit P))
    + (1 - P) * mean over spoof of log(1 + e^(w.s + b + logit P)),

so each class counts with its prior ``P`` / ``1 - P`` whatever its number of trials, and the
fused score ``w.s + b`` is a natural-log likelihood ratio (higher = more bona fide), to be
read against the Bayes threshold as :mod:`detector.metrics.detection`'s actDCF and Cllr read
it. The default ``P = 0.5`` weighs the classes equally (scikit-learn's ``class_weight="balanced"``,
and then ``logit P = 0``). The fit itself is :func:`detector.metrics.calibration.fit_logistic`
(effectively unregularised) with per-trial weights ``P n / n_bonafide`` and ``(1 - P) n / n_spoof``.

Trials are matched by ``(utt, condition)``. Every file of a set must hold exactly the trials of
the set's first file with the same labels; any difference is an error naming the file, raised
before anything is written.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.data.manifest import LABELS
from detector.metrics.calibration import fit_logistic
from detector.metrics.detection import DetectionCost, detection_metrics
from detector.utils.io import atomic_write_text

Key = tuple[str, str]   # (utt, condition)


@dataclass(frozen=True)
class Trial:
    label: str
    system: str
    score: float


@dataclass(frozen=True)
class TrialSet:
    """The trials several score files share, in the first file's order."""

    keys: list[Key]
    labels: list[str]      # bonafide | spoof
    systems: list[str]     # the first file's system column
    scores: np.ndarray     # (n_trials, n_files)

    @property
    def targets(self) -> np.ndarray:
        return np.array([LABELS[label] for label in self.labels], dtype=np.int64)


@dataclass(frozen=True)
class Fusion:
    weights: np.ndarray   # (n_systems,)
    bias: float
    prior: float          # P(bona fide) of the training objective

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Fused scores (n_trials,) = scores (n_trials, n_systems) @ weights + bias."""
        return np.asarray(scores, float) @ self.weights + self.bias


def read_scores(path: str | Path, condition: str | None = None) -> dict[Key, Trial]:
    """The trials of one ``scores.txt`` (``utt label system condition score`` per line), in file
    order, keyed by ``(utt, condition)``; only ``condition``'s if given."""
    path = Path(path)
    trials: dict[Key, Trial] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 5:
            raise ValueError(f"{path}, line {number}: expected 'utt label system condition score', "
                             f"got {len(fields)} fields")
        utt, label, system, where, text = fields
        if label not in LABELS:
            raise ValueError(f"{path}, line {number}: label {label!r} is not bonafide or spoof")
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise ValueError(f"{path}, line {number}: score {text!r} is not a finite number")
        if condition is not None and where != condition:
            continue
        if (utt, where) in trials:
            raise ValueError(f"{path}, line {number}: utt {utt} (condition {where}) appears twice")
        trials[(utt, where)] = Trial(label, system, score)
    if not trials:
        raise ValueError(f"{path}: no trials" + (f" of condition {condition!r}" if condition is not None else ""))
    return trials


def _describe(key: Key) -> str:
    return f"utt {key[0]} (condition {key[1]})"


def align(paths: list[str | Path], condition: str | None = None) -> TrialSet:
    """The trials of ``paths`` side by side: each file must hold the first file's trials, no more,
    with the same labels (a ValueError names the file that differs)."""
    tables = [read_scores(path, condition) for path in paths]
    first, reference = Path(paths[0]), tables[0]
    for path, table in zip(paths[1:], tables[1:]):
        missing = [key for key in reference if key not in table]
        if missing:
            raise ValueError(f"{path}: {len(missing)} trial(s) of {first} missing, e.g. {_describe(missing[0])}")
        extra = [key for key in table if key not in reference]
        if extra:
            raise ValueError(f"{path}: {len(extra)} trial(s) not in {first}, e.g. {_describe(extra[0])}")
        for key, trial in reference.items():
            if table[key].label != trial.label:
                raise ValueError(f"{path}: {_describe(key)} is labelled {table[key].label}, "
                                 f"but {trial.label} in {first}")
    keys = list(reference)
    scores = np.array([[table[key].score for table in tables] for key in keys], dtype=float)
    return TrialSet(keys, [reference[key].label for key in keys], [reference[key].system for key in keys], scores)


def fit_fusion(scores: np.ndarray, targets: np.ndarray, prior: float = 0.5) -> Fusion:
    """Prior-weighted logistic regression (see the module docstring) of ``targets`` (n,), 1 = bona
    fide, on ``scores`` (n, n_systems)."""
    if not 0 < prior < 1:
        raise ValueError(f"the fusion prior must be in (0, 1): got {prior}")
    scores, targets = np.asarray(scores, float), np.asarray(targets, int)
    n_bonafide, n_spoof = int((targets == 1).sum()), int((targets == 0).sum())
    if not (n_bonafide and n_spoof):
        raise ValueError(f"fusion needs development trials of both classes: got {n_bonafide} bona fide "
                         f"and {n_spoof} spoof")
    n = targets.size
    sample_weight = np.where(targets == 1, prior * n / n_bonafide, (1 - prior) * n / n_spoof)
    weights, bias = fit_logistic(scores, targets, sample_weight=sample_weight, tol=1e-10)
    return Fusion(weights, bias - math.log(prior / (1 - prior)), prior)


def fuse(dev: list[str | Path], evaluation: list[str | Path], out_dir: str | Path, condition: str | None = None,
         prior: float = 0.5, cost: DetectionCost | None = None) -> dict:
    """Fit the fusion on ``dev``, apply it to ``evaluation`` (the i-th files of both are the same
    system); write ``out_dir/scores.txt`` (the eval trials, fused) and ``out_dir/metrics.json``
    (weights, bias, and the detection metrics of each system and of the fusion on the eval
    trials), and return the latter's dict. Everything is checked before anything is written."""
    cost = cost or DetectionCost()
    if len(dev) != len(evaluation):
        raise ValueError(f"--dev names {len(dev)} file(s) but --eval names {len(evaluation)}: "
                         f"the i-th of each must be the same system")
    if not dev:
        raise ValueError("fusion needs at least one system")
    dev_trials, eval_trials = align(dev, condition), align(evaluation, condition)
    fusion = fit_fusion(dev_trials.scores, dev_trials.targets, prior)
    fused = fusion.apply(eval_trials.scores)
    targets = eval_trials.targets

    def measured(scores: np.ndarray) -> dict:
        return detection_metrics(scores[targets == 1], scores[targets == 0], cost)

    fusion_metrics = measured(fused)   # both eval classes are checked here, before writing
    metrics = {
        "prior": prior,
        "condition": condition,
        "bias": fusion.bias,
        "systems": [{"dev": str(d), "eval": str(e), "weight": float(w), **measured(eval_trials.scores[:, i])}
                    for i, (d, e, w) in enumerate(zip(dev, evaluation, fusion.weights))],
        "fusion": fusion_metrics,
        "n_dev_trials": len(dev_trials.keys),
        "n_eval_trials": len(eval_trials.keys),
        "dcf_parameters": cost.as_dict(),
    }
    lines = [f"{utt} {label} {system} {where} {float(score)!r}"
             for (utt, where), label, system, score in zip(eval_trials.keys, eval_trials.labels,
                                                            eval_trials.systems, fused)]
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "scores.txt", "\n".join(lines) + "\n")
    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics
