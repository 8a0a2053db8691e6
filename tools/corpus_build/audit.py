"""Measure what, besides the speech, tells a corpus's classes apart.

``python -m tools.corpus_build.audit MANIFEST`` reads every clip and
prints, per class, the mean of a few properties a detector could learn instead
of the speech (duration, level, bandwidth, noise floor, peak) and each
property's ROC AUC as a bona fide score (0.5 = useless, near 0 or 1 = a
shortcut), over the whole corpus and within each ``condition`` (channel) when
the manifest has one. ``detector inspect`` checks the manifest's columns; this
looks at the audio.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from tqdm import tqdm

from detector.data.manifest import read_manifest
from detector.data.summary import roc_auc

FEATURES = ("duration_s", "rms_dbfs", "rolloff95_hz", "energy_above_4k", "energy_above_7k", "floor_dbfs", "peak")
MIN_CLIPS_PER_CLASS = 10  # a per-condition AUC needs this many clips of each class


def clip_features(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The ``FEATURES`` of one mono clip ``x`` (``(time,)``, float in [-1, 1]).

    Spectral values come from the clip's Hann-windowed power spectrum; ``floor_dbfs``
    is the 5th percentile of 20 ms frame levels (10 ms hop).
    """
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sample_rate)
    total = power.sum() + 1e-20
    cumulative = np.cumsum(power) / total
    win, hop = int(0.020 * sample_rate), int(0.010 * sample_rate)
    n = max(1, (len(x) - win) // hop + 1)
    frames = x[np.arange(win)[None, :] + hop * np.arange(n)[:, None]] if len(x) >= win else x[None, :]
    frame_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return np.array([len(x) / sample_rate, 10 * np.log10(np.mean(x**2) + 1e-12),
                     freqs[min(np.searchsorted(cumulative, 0.95), len(freqs) - 1)],   # silent clip: the top bin
                     power[freqs > 4000].sum() / total,
                     power[freqs > 7000].sum() / total, np.percentile(frame_db, 5), np.abs(x).max()])


def audit_text(manifest_path: str) -> str:
    """The audit report of a manifest, as Markdown tables."""
    import soundfile as sf

    manifest = read_manifest(manifest_path)
    rows = manifest.rows
    values = np.empty((len(rows), len(FEATURES)))
    for i, row in enumerate(tqdm(rows, desc="audit", unit="clip")):
        x, sr = sf.read(manifest.audio_path(row), dtype="float64", always_2d=True)
        values[i] = clip_features(x.mean(axis=1), sr)
    positive = np.array([row.label == "bonafide" for row in rows])
    lines = [f"# Audit of {manifest_path}: {positive.sum()} bona fide, {(~positive).sum()} spoof clips", "",
             "| class | " + " | ".join(FEATURES) + " |", "|---" * (len(FEATURES) + 1) + "|"]
    for name, mask in (("bona fide", positive), ("spoof", ~positive)):
        lines.append(f"| {name} mean | " + " | ".join(f"{v:.4g}" for v in values[mask].mean(axis=0)) + " |")
    lines.append("| AUC | " + " | ".join(f"{roc_auc(values[:, j], positive):.2f}" for j in range(len(FEATURES)))
                 + " |")
    conditions = [row.extra.get("condition", "") for row in rows]
    if any(conditions):
        lines += ["", "Within each condition (channel): clips per class and AUC per property", "",
                  "| condition | bona fide | spoof | " + " | ".join(FEATURES) + " |",
                  "|---" * (len(FEATURES) + 3) + "|"]
        for condition, _ in sorted(Counter(conditions).items()):
            inside = np.array([c == condition for c in conditions])
            n_bona, n_spoof = int((inside & positive).sum()), int((inside & ~positive).sum())
            if min(n_bona, n_spoof) < MIN_CLIPS_PER_CLASS:
                aucs = ["-"] * len(FEATURES)
            else:
                aucs = [f"{roc_auc(values[inside, j], positive[inside]):.2f}" for j in range(len(FEATURES))]
            lines.append(f"| {condition or '(none)'} | {n_bona} | {n_spoof} | " + " | ".join(aucs) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.corpus_build.audit", description=__doc__)
    parser.add_argument("manifest", help="manifest CSV of the corpus to audit")
    args = parser.parse_args(argv)
    print(audit_text(args.manifest))


if __name__ == "__main__":
    main()
