"""What a manifest holds, and what in it would let a model cheat.

:func:`summary_text` renders counts per split x label, per split x system, speakers, durations,
sample rates and levels; :func:`shortcut_warnings` lists leaks (a speaker in two splits) and
shortcuts (a property other than the speech itself that tells the classes apart: sample rate,
channel/codec condition, duration, level), each measured by how well that property alone
separates bona fide from spoof (a category's share in each class; for numbers, the ROC AUC of
the property as a score: 0.5 = useless, 1.0 or 0.0 = a perfect shortcut).
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import roc_auc_score

from detector.data.manifest import Manifest

if TYPE_CHECKING:   # cues imports this module
    from detector.data.cues import CueProbe

LABELS = ("bonafide", "spoof")
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "": 3}
AUC_WARN = 0.80          # |AUC - 0.5| >= 0.30: the property alone is a strong classifier
SHARE_WARN = 0.5         # a sample rate's or condition's share differs by this much between the classes
IMBALANCE_WARN = 3.0


def manifest_dicts(manifest: Manifest) -> list[dict]:
    """A read manifest's rows as plain dicts (required columns + its optional/extra ones)."""
    return [{"path": row.path, "label": row.label, "speaker": row.speaker, "system": row.system,
             "split": row.split, **row.extra} for row in manifest.rows]


def _floats(rows: list[dict], key: str) -> np.ndarray | None:
    try:
        values = np.array([float(row[key]) for row in rows], dtype=np.float64)
    except (KeyError, ValueError):
        return None
    return values if values.size else None


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """scikit-learn's ROC AUC of ``scores`` for the boolean ``positive``.

    0.5 (no information) when a class is absent.
    """
    if positive.all() or not positive.any():
        return 0.5
    return float(roc_auc_score(positive, scores))


def _share_skew(rows: list[dict], key: str, positive: np.ndarray) -> list[str]:
    """Values of the categorical column ``key`` whose share of bona fide and of spoof clips differ
    by at least ``SHARE_WARN`` (e.g. ``8000 Hz is 0% of bona fide but 100% of spoof clips``).

    Checked only when every row has a value and both classes are present.
    """
    values = [row.get(key, "") for row in rows]
    if not all(values) or not positive.any() or positive.all():
        return []
    array, skewed = np.array(values), []
    for value in sorted(set(values), key=lambda v: (_number(v) is None, _number(v) or 0.0, v)):
        bona, spoof = (float(np.mean(array[mask] == value)) for mask in (positive, ~positive))
        if abs(bona - spoof) >= SHARE_WARN:
            shown = f"{_number(value):g} Hz" if key == "sample_rate" and _number(value) is not None else value
            skewed.append(f"{shown} is {bona:.0%} of bona fide but {spoof:.0%} of spoof clips")
    return skewed


def _number(text: str) -> float | None:
    """``text`` as a float, or None if it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def shortcut_warnings(rows: list[dict], column_cues: bool = True) -> list[str]:
    """Leaks and shortcuts, one sentence each, most serious first.

    ``column_cues`` False leaves out the duration and level read from the manifest's columns:
    for callers that measured them from the audio itself (:mod:`detector.data.cues`).
    """
    warnings = []
    splits = sorted({row["split"] for row in rows}, key=SPLIT_ORDER.get)
    speakers: dict[str, set[str]] = {}
    for row in rows:
        if row["speaker"] not in ("", "-"):
            speakers.setdefault(row["speaker"], set()).add(row["split"])
    shared = sorted(name for name, where in speakers.items() if len(where - {""}) > 1)
    if shared:
        warnings.append(f"speaker leak: {len(shared)} speaker(s) appear in more than one split "
                        f"({', '.join(shared[:5])}{', ...' if len(shared) > 5 else ''}); re-split with --resplit")
    for split in splits:
        counts = Counter(row["label"] for row in rows if row["split"] == split)
        name = split or "(no split)"
        if len(counts) < 2:
            warnings.append(f"{name} has only {next(iter(counts))} clips; EER needs both classes")
        elif max(counts.values()) / min(counts.values()) >= IMBALANCE_WARN:
            warnings.append(f"{name} is imbalanced: bonafide {counts['bonafide']} vs spoof {counts['spoof']} "
                            f"(--balance undersample evens it)")
    positive = np.array([row["label"] == "bonafide" for row in rows])
    for key, what, fix in (
            ("sample_rate", "sample-rate", "resample both classes to one rate, or launder with resampling"),
            ("condition", "condition", "give both classes the same channels/codecs, or launder with them")):
        skewed = _share_skew(rows, key, positive)
        if skewed:
            warnings.append(f"{what} shortcut: {'; '.join(skewed)}; a model can learn the {what} instead of "
                            f"the speech ({fix})")
    for key, what, fix in (("duration_s", "duration", "crop to a fixed length or trim silence"),
                           ("level_dbfs", "level", "normalise loudness")) if column_cues else ():
        values = _floats(rows, key)
        if values is None:
            continue
        auc = roc_auc(values, positive)
        if abs(auc - 0.5) >= AUC_WARN - 0.5:
            medians = {label: float(np.median(values[positive == (label == "bonafide")])) for label in LABELS
                       if (positive == (label == "bonafide")).any()}
            detail = " vs ".join(f"{label} median {value:.2f}" for label, value in medians.items())
            warnings.append(f"{what} shortcut: {what} alone separates the classes with ROC AUC "
                            f"{max(auc, 1 - auc):.2f} ({detail}); {fix}")
    return warnings


def _amount(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body)]
    return ["  " + "  ".join(str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                             for i, (cell, width) in enumerate(zip(line, widths))).rstrip()
            for line in [header, *body]]


def summary_text(rows: list[dict], title: str = "manifest", cues: CueProbe | None = None) -> str:
    """A multi-line, human-readable summary (ends with the warnings, if any).

    ``cues``, the audio's cues (``detector inspect --probe``), adds their table, and their
    warnings take the place of the duration and level ones read from the manifest's columns.
    """
    labels = Counter(row["label"] for row in rows)
    speakers = {row["speaker"] for row in rows} - {"", "-"}
    systems = sorted({row["system"] for row in rows} - {"-"})
    splits = sorted({row["split"] for row in rows}, key=SPLIT_ORDER.get)
    durations = _floats(rows, "duration_s")
    lines = [f"{title}: {len(rows)} clips (bonafide {labels['bonafide']}, spoof {labels['spoof']}), "
             f"{len(speakers)} speakers, {len(systems)} spoof systems"]
    repeats = sum(int(row.get("repeat") or 1) - 1 for row in rows)
    if repeats:
        lines[0] += f", +{repeats} repeats (oversampled)"
    body = []
    for split in splits:
        for label in LABELS:
            members = [i for i, row in enumerate(rows) if row["split"] == split and row["label"] == label]
            if not members:
                continue
            hours = _amount(durations[members].sum()) if durations is not None else "?"
            body.append([split or "(none)", label, str(len(members)),
                         str(len({rows[i]['speaker'] for i in members} - {'', '-'})), hours])
    lines += ["", "clips per split x label:", *_table(["split", "label", "clips", "speakers", "audio"], body)]
    by_system = Counter((row["system"], row["split"]) for row in rows)
    body = [[system, *[str(by_system[(system, split)]) for split in splits]]
            for system in ["-", *systems] if any(by_system[(system, s)] for s in splits)]
    lines += ["", "clips per system x split (- = bona fide):",
              *_table(["system", *[s or "(none)" for s in splits]], body)]
    positive = np.array([row["label"] == "bonafide" for row in rows])
    lines.append("")
    if durations is not None:
        per_class = "; ".join(
            f"{label} {_amount(durations[mask].sum())}, median {np.median(durations[mask]):.2f} s "
            f"[{durations[mask].min():.2f}, {durations[mask].max():.2f}]"
            for label, mask in (("bonafide", positive), ("spoof", ~positive)) if mask.any())
        lines.append(f"duration: {_amount(durations.sum())} in all; {per_class}")
    else:
        lines.append("duration: unknown (no duration_s column; `detector inspect --probe` measures it)")
    if all(row.get("sample_rate") for row in rows):
        for label, mask in (("bonafide", positive), ("spoof", ~positive)):
            rates = Counter(rows[i]["sample_rate"] for i in np.flatnonzero(mask))
            if rates:
                lines.append(f"sample rates, {label}: " + ", ".join(
                    f"{float(rate):g} Hz x{n}" for rate, n in sorted(rates.items(), key=lambda kv: float(kv[0]))))
    levels = _floats(rows, "level_dbfs")
    if levels is not None:
        lines.append("level (RMS of the first seconds): " + "; ".join(
            f"{label} median {np.median(levels[mask]):.1f} dBFS"
            for label, mask in (("bonafide", positive), ("spoof", ~positive)) if mask.any()))
    if cues is not None:
        lines += ["", *cues.table_lines()]
    warnings = shortcut_warnings(rows, column_cues=cues is None) + (cues.warnings() if cues is not None else [])
    lines += ["", "warnings:" if warnings else "warnings: none", *[f"  ! {w}" for w in warnings]]
    return "\n".join(lines)
