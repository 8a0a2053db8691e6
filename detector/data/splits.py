"""Train/val/test splits: stratified by label, speaker-disjoint when speaker ids exist, optional
unseen systems held out for test only, seeded.

Official splits are kept unless the caller asks to re-split (:func:`resolve_splits`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from detector.data.manifest import Manifest

SPLIT_NAMES = ("train", "val", "test")
NO_SPEAKER = ("", "-")
MIN_SPEAKERS = 3   # fewer known speakers than this cannot give three speaker-disjoint splits


@dataclass
class SplitReport:
    how: str                                   # one line: what was done
    dropped: list[dict] = field(default_factory=list)   # rows that could go nowhere without a leak


def parse_split_ratios(text: str, flag: str = "--split") -> tuple[float, float, float]:
    """``"70/15/15"`` -> ``(0.70, 0.15, 0.15)`` (train/val/test fractions); errors name ``flag``."""
    try:
        parts = [float(part) for part in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise ValueError(f"{flag} {text!r}: expected three non-negative numbers like 70/15/15")
    total = sum(parts)
    return parts[0] / total, parts[1] / total, parts[2] / total


def has_speakers(rows: list[dict]) -> bool:
    """True when at least :data:`MIN_SPEAKERS` distinct speaker ids are known."""
    return len({row.get("speaker", "-") for row in rows} - set(NO_SPEAKER)) >= MIN_SPEAKERS


def assign_splits(rows: list[dict], ratios: tuple[float, float, float], seed: int,
                  unseen_systems: tuple[str, ...] | list[str] = (), speaker_disjoint: bool | None = None
                  ) -> SplitReport:
    """Set ``row["split"]`` in place; rows that would leak are removed from ``rows`` and reported.

    - ``speaker_disjoint`` (default: when at least three speaker ids are known): whole speakers
      go to one split, chosen greedily (largest speaker first) so each split's count of each
      label approaches its ratio; rows without a speaker id count as one-row speakers.
    - Otherwise clips are shuffled and cut by the ratios within each (label, system) group.
    - ``unseen_systems``: their rows go to test only; with speaker-disjoint splits, those of a
      speaker placed in train/val are dropped (keeping them would leak the speaker or the system).
    """
    unseen = set(unseen_systems)
    known = {row["system"] for row in rows}
    missing = sorted(unseen - known)
    if missing:
        raise ValueError(f"--unseen-systems: no clips of {', '.join(missing)}; systems are "
                         f"{', '.join(sorted(known - {'-'}))}")
    if unseen and len({r["system"] for r in rows if r["label"] == "spoof"} - unseen) == 0:
        raise ValueError("--unseen-systems names every spoof system; training would see no spoofs")
    if speaker_disjoint is None:
        speaker_disjoint = has_speakers(rows)
    seen_rows = [row for row in rows if row["system"] not in unseen]
    rng = np.random.default_rng(seed)
    if speaker_disjoint:
        placed = _speaker_disjoint(seen_rows, ratios, rng)
        how = f"speaker-disjoint, stratified by label, {len(placed)} speaker groups"
    else:
        _stratified(seen_rows, ratios, rng)
        placed = {}
        how = "stratified by label and system (no speaker ids)"
    dropped = []
    for row in rows:
        if row["system"] in unseen:
            split = placed.get(_speaker_key(row), "test") if speaker_disjoint else "test"
            if split == "test":
                row["split"] = "test"
            else:
                dropped.append(row)
    if dropped:
        drop_ids = {id(row) for row in dropped}
        rows[:] = [row for row in rows if id(row) not in drop_ids]
    if unseen:
        how += f"; unseen systems {', '.join(sorted(unseen))} in test only"
    return SplitReport(how=how, dropped=dropped)


def _speaker_key(row: dict) -> str:
    speaker = row.get("speaker", "-")
    return speaker if speaker not in NO_SPEAKER else f"\0{id(row)}"


def _stratified(rows: list[dict], ratios: tuple[float, float, float], rng: np.random.Generator) -> None:
    """Within each (label, system) group: shuffle and cut; every non-zero split gets at least one
    clip of a group of three or more."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["system"]), []).append(row)
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


def _speaker_disjoint(rows: list[dict], ratios: tuple[float, float, float],
                      rng: np.random.Generator) -> dict[str, str]:
    """Greedy speaker -> split assignment; returns the mapping and sets ``row["split"]``."""
    labels = ("bonafide", "spoof")
    members: dict[str, list[dict]] = {}
    for row in rows:
        members.setdefault(_speaker_key(row), []).append(row)
    names = sorted(members)
    counts = np.array([[sum(r["label"] == label for r in members[name]) for label in labels] for name in names],
                      dtype=np.float64)
    totals = np.maximum(counts.sum(axis=0), 1.0)
    target = np.outer(np.asarray(ratios), counts.sum(axis=0))          # (split, label)
    current = np.zeros_like(target)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]  # largest first, ties random
    placed = {}
    for index in order:
        c = counts[index]
        # Increase in squared relative error of each split if this speaker joins it.
        cost = (((current + c - target) / totals) ** 2 - ((current - target) / totals) ** 2).sum(axis=1)
        cost[np.asarray(ratios) == 0] = np.inf
        split = int(np.argmin(cost))
        current[split] += c
        placed[names[index]] = SPLIT_NAMES[split]
        for row in members[names[index]]:
            row["split"] = SPLIT_NAMES[split]
    return placed


def split_manifest(manifest: Manifest, ratios: tuple[float, float, float], seed: int
                   ) -> tuple[Manifest, SplitReport]:
    """A copy of ``manifest`` with every clip given a split: shuffled from ``seed`` and cut by ``ratios``
    within each (label, system) group, not speaker-disjoint (a random stratified split, as the seed
    research code makes). No clip is dropped."""
    rows = [{"label": row.label, "system": row.system, "speaker": row.speaker, "split": ""}
            for row in manifest.rows]
    report = assign_splits(rows, ratios, seed, speaker_disjoint=False)
    split_rows = [dataclasses.replace(row, split=assigned["split"]) for row, assigned in zip(manifest.rows, rows)]
    return Manifest(path=manifest.path, rows=split_rows), report


def resolve_splits(rows: list[dict], ratios: tuple[float, float, float], seed: int, resplit: bool = False,
                   unseen_systems: tuple[str, ...] | list[str] = (), speaker_disjoint: bool | None = None
                   ) -> SplitReport:
    """Keep a corpus's official splits unless ``resplit``; assign splits where there are none."""
    with_split = sum(1 for row in rows if row["split"])
    if with_split and not resplit:
        if with_split < len(rows):
            first = next(row for row in rows if not row["split"])
            raise ValueError(f"{first.get('_where', first['path'])}: {len(rows) - with_split} of {len(rows)} "
                             f"clips have no official split; pass --resplit to split them all")
        if unseen_systems:
            raise ValueError("--unseen-systems re-splits the corpus; pass --resplit too (the official "
                             "splits would be replaced)")
        return SplitReport(how="official splits kept (pass --resplit to re-split)")
    return assign_splits(rows, ratios, seed, unseen_systems, speaker_disjoint)
