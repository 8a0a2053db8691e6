"""Robustness ablation: several models x many laundering conditions on the same cached audio.

For each condition every clip is laundered once, with parameters drawn from ``(seed,
condition, clip id)`` (:mod:`detector.launder.clips`), and every model scores the same laundered
windows, so all models see bit-identical inputs and a rerun gives identical numbers. Each finished
(model, condition) cell is written to ``OUT/cells/`` at once: a killed ablation resumes
where it stopped. A cell is reused only while its key (:func:`cell_key`: the checkpoint's
bytes, the manifest's bytes, every setting its numbers depend on, and a fingerprint of the
condition's banks) still matches, so a retrained checkpoint, a changed manifest or a condition
that now launders with other audio is never answered with stale numbers.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from detector.engine.evaluate import EvaluationOptions, open_split
from detector.engine.scoring import ScoringSplit
from detector.engine.tensorboard import log_pictures
from detector.metrics.detection import detection_metrics, threshold_metrics
from detector.metrics.plots import plot_heatmap
from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
from detector.utils.io import atomic_write_csv, atomic_write_text
from detector.utils.keys import slug
from detector.utils.runtime import Precision, resolve_device

CELL_COLUMNS = ("model", "condition", "family", "eer", "eer_interpolated", "min_dcf", "act_dcf", "cllr",
                "roc_auc", "accuracy", "f1", "n")


def model_names(checkpoints: list[str | Path]) -> list[str]:
    """Short unique names: the run folder and file stem (``run_a/best``), more folders on clashes."""
    paths = [Path(c).resolve() for c in checkpoints]
    for depth in range(2, 1 + max(len(p.parts) for p in paths)):
        names = ["/".join(p.with_suffix("").parts[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    raise ValueError("the same checkpoint is given twice")


def _cell_path(out_dir: Path, model: str, condition: str) -> Path:
    return out_dir / "cells" / f"{slug(model)}__{slug(condition)}.json"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cell_key(checkpoint_sha256: str, manifest_sha256: str, condition: str, settings: dict) -> str:
    """Hex SHA-256 naming what one cell's numbers were computed from: the checkpoint's and the
    manifest's bytes (as :func:`file_sha256`), the condition, and ``settings`` (a JSON-able dict
    of the split, resolved windows, seed, precision, laundering resources and DCF costs)."""
    identity = {"checkpoint": checkpoint_sha256, "manifest": manifest_sha256, "condition": condition,
                "settings": settings}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _settings(options: EvaluationOptions, split: ScoringSplit, precision: Precision) -> dict:
    """The options a cell's numbers depend on besides checkpoint, manifest and condition."""
    return {"split": options.split, "seed": options.seed, "precision": precision.name,
            "windows": {"window_s": split.window_s, "hop_s": split.hop_s, "aggregate": split.aggregate},
            "noise_dirs": options.noise_dirs, "rir_dir": options.rir_dir, "cost": options.cost.as_dict()}


def ablate(checkpoints: list[str | Path], manifest: str | Path, out_dir: str | Path,
           options: EvaluationOptions, tensorboard: str | Path = "") -> list[dict]:
    """Evaluate every checkpoint under every condition of ``options.conditions``.

    Writes ablation.{csv,json,md} and a heatmap PNG (also as the image ``ablate/eer_heatmap`` in
    the ``tensorboard`` folder's events, if given); returns one dict per (model, condition).
    """
    out_dir, conditions = Path(out_dir), options.conditions
    device = resolve_device(options.device)
    precision = Precision.for_scoring(options.amp, device)
    names = model_names(checkpoints)
    # Hashed before loading: a checkpoint rewritten in between is then recomputed next time, not trusted.
    checkpoint_digests = [file_sha256(c) for c in checkpoints]
    loaded = [detector_from_checkpoint(load_checkpoint(c, device), device) for c in checkpoints]
    rates = {config.data.sample_rate for _, config in loaded}
    if len(rates) > 1:
        raise ValueError(f"the checkpoints expect different sample rates {sorted(rates)}; ablate them separately")
    split = open_split(loaded[0][1], manifest, options, device)
    manifest_digest, settings = file_sha256(manifest), _settings(options, split, precision)
    # The laundering's own fingerprint too: a condition name whose audio changed (another babble
    # source, another room model) must not reuse cells computed with the old audio.
    laundering = {condition: split.describe(condition)["fingerprint"] for condition in conditions}
    keys = {(name, condition): cell_key(digest, manifest_digest, condition,
                                        {**settings, "laundering": laundering[condition]})
            for name, digest in zip(names, checkpoint_digests) for condition in conditions}

    cells = {}
    for (name, condition), key in keys.items():
        path = _cell_path(out_dir, name, condition)
        if path.exists():
            cell = json.loads(path.read_text(encoding="utf-8"))
            if (cell["model"], cell["condition"], cell.get("key")) == (name, condition, key):
                cells[name, condition] = cell
    progress = tqdm(total=len(names) * len(conditions), initial=len(cells), desc="ablation", unit="cell")
    for condition in conditions:
        todo = [i for i, name in enumerate(names) if (name, condition) not in cells]
        if not todo:
            continue
        scores = split.score([loaded[i][0] for i in todo], condition, precision, options.seed)
        for i, model_scores in zip(todo, scores):
            cell = _cell(names[i], condition, model_scores, split.targets, options, keys[names[i], condition])
            atomic_write_text(_cell_path(out_dir, names[i], condition), json.dumps(cell))
            cells[names[i], condition] = cell
            progress.update()
    progress.close()
    table = [cells[name, condition] for condition in conditions for name in names]
    write_tables(table, names, conditions, out_dir)
    if tensorboard:
        log_pictures(tensorboard, {"ablate/eer_heatmap": out_dir / "ablation_eer.png"})
    return table


def _cell(model: str, condition: str, scores: np.ndarray, targets: np.ndarray, options: EvaluationOptions,
          key: str) -> dict:
    """One (model, condition) result; ``scores`` and ``targets`` have shape (n_clips,).
    Accuracy and F1 are at score 0 (the argmax of the logits)."""
    at_zero = threshold_metrics(scores, targets, 0.0)
    return {"model": model, "condition": condition, "family": condition.split(":")[0],
            **detection_metrics(scores[targets == 1], scores[targets == 0], options.cost),
            "roc_auc": float(roc_auc_score(targets, scores)), "accuracy": at_zero["accuracy"],
            "f1": at_zero["f1"], "n": int(targets.size), "seed": options.seed, "key": key}


def write_tables(table: list[dict], names: list[str], conditions: list[str], out_dir: Path) -> None:
    """ablation.csv / .json (one row per cell), ablation.md (EER %, by family) and ablation_eer.png."""
    atomic_write_csv(out_dir / "ablation.csv", table, CELL_COLUMNS)
    atomic_write_text(out_dir / "ablation.json", json.dumps(table, indent=1))
    atomic_write_text(out_dir / "ablation.md", markdown_table(table, names, conditions))
    eer = np.array([[next(c["eer"] for c in table if (c["model"], c["condition"]) == (n, k)) for n in names]
                    for k in conditions])
    plot_heatmap(100 * eer, conditions, names, out_dir / "ablation_eer.png", title="EER (%)")


def markdown_table(table: list[dict], names: list[str], conditions: list[str]) -> str:
    """Rows: conditions grouped by family with family averages; columns: models; cells: EER %.

    With a ``clean`` condition, a last block gives each family's average EER minus clean EER.
    """
    eer = {(c["model"], c["condition"]): 100 * c["eer"] for c in table}
    families: dict[str, list[str]] = {}
    for condition in conditions:
        families.setdefault(condition.split(":")[0], []).append(condition)
    lines = ["| condition | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    averages = {}
    for family, members in families.items():
        for condition in members:
            lines.append(f"| {condition} | " + " | ".join(f"{eer[n, condition]:.2f}" for n in names) + " |")
        averages[family] = {n: float(np.mean([eer[n, c] for c in members])) for n in names}
        if len(members) > 1:
            lines.append(f"| **{family} average** | " +
                         " | ".join(f"**{averages[family][n]:.2f}**" for n in names) + " |")
    if "clean" in conditions:
        lines += ["", "Degradation: family average EER minus clean EER (percentage points)", "",
                  "| family | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [f"| {family} | " + " | ".join(f"{averages[family][n] - eer[n, 'clean']:+.2f}" for n in names) + " |"
                  for family in families if family != "clean"]
    return "EER (%) per model and condition\n\n" + "\n".join(lines) + "\n"
