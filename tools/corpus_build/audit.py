"""Measure what, besides the speech, tells a corpus's classes apart.

``python -m tools.corpus_build.audit MANIFEST`` reads every clip and
prints, per class, the mean of each property a detector could learn instead
of the speech (the cues of :mod:`detector.data.cues`: duration, silence, level,
peak, noise floor, bandwidth, low-frequency energy, DC offset) and each
property's ROC AUC as a bona fide score (0.5 = useless, near 0 or 1 = a
shortcut), over the whole corpus and within each ``condition`` (channel) when
the manifest has one. It reads the built files at their own rate; ``detector
inspect --probe`` measures the same cues from the waveform cache, per split.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from tqdm import tqdm

from detector.data.cues import CUES, clip_cues
from detector.data.manifest import read_manifest
from detector.data.summary import roc_auc

MIN_CLIPS_PER_CLASS = 10  # a per-condition AUC needs this many clips of each class


def audit_text(manifest_path: str) -> str:
    """The audit report of a manifest, as Markdown tables."""
    import soundfile as sf

    manifest = read_manifest(manifest_path)
    rows = manifest.rows
    values = np.empty((len(rows), len(CUES)))
    for i, row in enumerate(tqdm(rows, desc="audit", unit="clip")):
        x, sr = sf.read(manifest.audio_path(row), dtype="float64", always_2d=True)
        values[i] = clip_cues(x.mean(axis=1), sr)
    positive = np.array([row.label == "bonafide" for row in rows])
    lines = [f"# Audit of {manifest_path}: {positive.sum()} bona fide, {(~positive).sum()} spoof clips", "",
             "| class | " + " | ".join(CUES) + " |", "|---" * (len(CUES) + 1) + "|"]
    for name, mask in (("bona fide", positive), ("spoof", ~positive)):
        lines.append(f"| {name} mean | " + " | ".join(f"{v:.4g}" for v in values[mask].mean(axis=0)) + " |")
    lines.append("| AUC | " + " | ".join(f"{roc_auc(values[:, j], positive):.2f}" for j in range(len(CUES)))
                 + " |")
    conditions = [row.extra.get("condition", "") for row in rows]
    if any(conditions):
        lines += ["", "Within each condition (channel): clips per class and AUC per property", "",
                  "| condition | bona fide | spoof | " + " | ".join(CUES) + " |",
                  "|---" * (len(CUES) + 3) + "|"]
        for condition, _ in sorted(Counter(conditions).items()):
            inside = np.array([c == condition for c in conditions])
            n_bona, n_spoof = int((inside & positive).sum()), int((inside & ~positive).sum())
            if min(n_bona, n_spoof) < MIN_CLIPS_PER_CLASS:
                aucs = ["-"] * len(CUES)
            else:
                aucs = [f"{roc_auc(values[inside, j], positive[inside]):.2f}" for j in range(len(CUES))]
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
