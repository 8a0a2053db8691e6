"""The balanced-dataset builder: equal bona fide and spoof counts per split, optionally spread
evenly over spoof systems and over speakers, seeded, with a report of what was dropped.

- ``undersample`` (default), every split: each class keeps ``min(n_bonafide, n_spoof)`` clips
  (capped by ``per_class``), drawn evenly across systems/speakers when asked ("water filling":
  a group smaller than its share gives all it has and the rest is shared among the others).
- ``oversample``, train split only (duplicates in val/test would inflate metrics): the smaller
  class is repeated up to the larger one's count. A manifest cannot list a path twice, so a
  repeated clip is one row with a ``repeat`` count (``repeat=3``: use it three times).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MODES = ("undersample", "oversample")


@dataclass
class BalanceReport:
    mode: str
    kept: Counter = field(default_factory=Counter)      # (split, label) -> clips (counting repeats)
    dropped: Counter = field(default_factory=Counter)   # (split, label, system) -> clips dropped
    added: Counter = field(default_factory=Counter)     # (split, label) -> extra copies (oversample)

    def lines(self) -> list[str]:
        out = [f"balance ({self.mode}): " + ", ".join(
            f"{split or '(no split)'}/{label} {n}" for (split, label), n in sorted(self.kept.items()))]
        if self.dropped:
            total = sum(self.dropped.values())
            detail = ", ".join(f"{split or '-'}/{label}/{system} {n}"
                               for (split, label, system), n in sorted(self.dropped.items()))
            out.append(f"  dropped {total} clip(s): {detail}")
        if self.added:
            out.append("  repeated " + ", ".join(f"{split}/{label} +{n}"
                                                 for (split, label), n in sorted(self.added.items())))
        return out


def balance(rows: list[dict], mode: str = "undersample", across_systems: bool = False,
            across_speakers: bool = False, per_class: int | None = None, seed: int = 0
            ) -> tuple[list[dict], BalanceReport]:
    """Balanced rows (original order kept) and a report; ``rows`` itself is not modified."""
    if mode not in MODES:
        raise ValueError(f"--balance {mode!r}: expected undersample or oversample")
    rng = np.random.default_rng(seed)
    report = BalanceReport(mode=mode)
    chosen: dict[int, int] = {}    # row index -> times used
    by_split: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_split.setdefault(row["split"], []).append(index)
    for split in sorted(by_split):
        indices = by_split[split]
        classes = {label: [i for i in indices if rows[i]["label"] == label] for label in ("bonafide", "spoof")}
        sizes = {label: len(members) for label, members in classes.items()}
        if mode == "oversample" and split in ("train", ""):
            target = max(sizes.values()) if per_class is None else per_class
        elif mode == "oversample":
            target = None            # val/test untouched
        else:
            target = min(sizes.values()) if per_class is None else min(per_class, *sizes.values())
        for label, members in classes.items():
            if target is None:
                picks = {i: 1 for i in members}
            else:
                keys = ((["system"] if across_systems and label == "spoof" else [])
                        + (["speaker"] if across_speakers else []))
                picks = Counter(_pick(rows, members, target, keys, rng))
            chosen.update(picks)
            report.kept[(split, label)] += sum(picks.values())
            extra = sum(picks.values()) - len(picks)
            if extra:
                report.added[(split, label)] += extra
            for i in members:
                if i not in picks:
                    report.dropped[(split, label, rows[i]["system"])] += 1
    out = []
    for index in sorted(chosen):
        row = dict(rows[index])
        if chosen[index] > 1:
            row["repeat"] = str(chosen[index])
        out.append(row)
    return out, report


def _pick(rows: list[dict], members: list[int], n: int, keys: list[str], rng: np.random.Generator) -> list[int]:
    """``n`` of ``members`` spread evenly over the groups of ``keys[0]`` (recursively); repeats
    only when ``n`` exceeds what there is."""
    if not members or n <= 0:
        return []
    if not keys:
        order = [members[i] for i in rng.permutation(len(members))]
        whole, rest = divmod(n, len(members))
        return order * whole + order[:rest]
    groups: dict[str, list[int]] = {}
    for i in members:
        groups.setdefault(rows[i][keys[0]], []).append(i)
    names = sorted(groups)
    shares = _water_fill(n, [len(groups[name]) for name in names], rng)
    picked = []
    for name, share in zip(names, shares):
        picked.extend(_pick(rows, groups[name], share, keys[1:], rng))
    return picked


def _water_fill(n: int, sizes: list[int], rng: np.random.Generator) -> list[int]:
    """Split ``n`` into shares as equal as possible, capped by ``sizes`` while the total allows.

    Remainders go to randomly chosen groups so no group is favoured by its name."""
    total = sum(sizes)
    caps = sizes if n <= total else [n] * len(sizes)   # oversampling: no caps, equal shares
    shares = [0] * len(sizes)
    open_groups = list(range(len(sizes)))
    left = n
    while left > 0 and open_groups:
        each, remainder = divmod(left, len(open_groups))
        lucky = set(rng.permutation(open_groups)[:remainder].tolist())
        still_open = []
        for g in open_groups:
            give = min(each + (g in lucky), caps[g] - shares[g])
            shares[g] += give
            left -= give
            if shares[g] < caps[g]:
                still_open.append(g)
        open_groups = still_open
    return shares
