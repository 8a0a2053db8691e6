"""Corpus adapters: a corpus's own layout on disk -> manifest rows.

``folder``: ``ROOT/bonafide/**`` and ``ROOT/spoof/**`` (system = the first sub-folder under
``spoof/``, or ``spoof`` for files directly in it), split randomly per (label, system).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    """``"70/15/15"`` -> ``(0.70, 0.15, 0.15)`` (train/val/test fractions)."""
    try:
        parts = [float(part) for part in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise ValueError(f"--split {text!r}: expected three non-negative numbers like 70/15/15")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def assign_splits(rows: list[dict], ratios: tuple[float, float, float], seed: int) -> None:
    """Set ``row["split"]`` in place, stratified by (label, system) and seeded.

    Within each group the clips are shuffled and cut by the ratios, rounding so that every
    split with a non-zero ratio gets at least one clip of a group of three or more.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["system"]), []).append(row)
    rng = np.random.default_rng(seed)
    for key in sorted(groups):
        members = groups[key]
        order = rng.permutation(len(members))
        n_val = round(ratios[1] * len(members))
        n_test = round(ratios[2] * len(members))
        if len(members) >= 3:
            n_val, n_test = max(n_val, ratios[1] > 0), max(n_test, ratios[2] > 0)
        for position, index in enumerate(order):
            members[index]["split"] = ("test" if position < n_test else
                                       "val" if position < n_test + n_val else "train")


def folder_corpus(root: str | Path, manifest_path: str | Path, ratios: tuple[float, float, float],
                  seed: int = 0) -> list[dict]:
    """Manifest rows for the ``bonafide/`` + ``spoof/`` layout, paths relative to the manifest."""
    root, manifest_dir = Path(root), Path(manifest_path).resolve().parent
    for label in ("bonafide", "spoof"):
        if not (root / label).is_dir():
            raise FileNotFoundError(f"{root / label}: missing; the folder layout needs {root}/bonafide/ "
                                    f"and {root}/spoof/")
    rows = []
    for label in ("bonafide", "spoof"):
        folder = root / label
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise ValueError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
        for file in files:
            parts = file.relative_to(folder).parts
            system = "-" if label == "bonafide" else (parts[0] if len(parts) > 1 else "spoof")
            rows.append({"path": Path(os.path.relpath(file.resolve(), manifest_dir)).as_posix(),
                         "label": label, "speaker": "-", "system": system, "split": ""})
    assign_splits(rows, ratios, seed)
    return rows
