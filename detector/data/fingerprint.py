"""What a training run's data was, compact enough for every checkpoint, and what changed since.

A :class:`DataRecord` holds a digest of the manifest's rows as training reads them (path,
label, split and repeat count, in order), the key of the waveform cache they resolved to (it
hashes the manifest's bytes, the sample rate, the bad-clip policy and every audio file's size
and modification time, see :func:`detector.data.cache.cache_key`), and per row a 64-bit hash
of its path with a one-byte code of its label and split: 9 bytes a row (9 MB for a million
rows), enough to count the rows added, removed, relabelled or moved between splits.
"""
from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from detector.data.cache import WaveformCache
from detector.data.manifest import LABELS, SPLITS, Manifest

_SPLITS = tuple(SPLITS)                   # code & 3 -> split ("" = none)
_LABELS = tuple(sorted(LABELS))           # code >> 2 -> label: bonafide, spoof


@dataclass
class DataRecord:
    digest: str            # sha256 of every row's (path, label, split, repeat), in manifest order
    cache: str             # the waveform cache's key (its folder's name)
    paths: np.ndarray      # (rows,) int64: 64-bit blake2b of each row's normalised path
    codes: np.ndarray      # (rows,) uint8: label index << 2 | split index

    @classmethod
    def of(cls, manifest: Manifest, cache: WaveformCache) -> "DataRecord":
        digest, paths, codes = hashlib.sha256(), [], []
        for row in manifest.rows:
            path = posixpath.normpath(row.path)
            digest.update(f"{path}\0{row.label}\0{row.split}\0{row.extra.get('repeat') or '1'}\n".encode())
            paths.append(int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "little",
                                        signed=True))
            codes.append(_LABELS.index(row.label) << 2 | _SPLITS.index(row.split))
        return cls(digest.hexdigest(), cache.folder.name, np.array(paths, dtype=np.int64),
                   np.array(codes, dtype=np.uint8))

    def to_saved(self) -> dict:
        """Plain data and tensors, for a checkpoint (loaded ``weights_only``)."""
        return {"digest": self.digest, "cache": self.cache, "paths": torch.from_numpy(self.paths),
                "codes": torch.from_numpy(self.codes)}

    @classmethod
    def from_saved(cls, saved: dict) -> "DataRecord":
        return cls(saved["digest"], saved["cache"], saved["paths"].numpy(), saved["codes"].numpy())

    def changes(self, now: "DataRecord") -> list[str]:
        """What differs in ``now``, in words with counts; empty when nothing does."""
        if self.digest == now.digest:
            if self.cache == now.cache:
                return []
            return [f"the rows are the same but their waveform cache is not (key {self.cache} -> {now.cache}): "
                    f"audio files were modified or replaced (a copy that does not keep modification times "
                    f"counts too), or the manifest's other columns, the sample rate or --on-error changed"]
        _, before, after = np.intersect1d(self.paths, now.paths, assume_unique=True, return_indices=True)
        removed = np.setdiff1d(np.arange(len(self.paths)), before)
        added = np.setdiff1d(np.arange(len(now.paths)), after)
        old, new = self.codes[before], now.codes[after]
        changes = []
        if len(added):
            changes.append(f"{len(added)} row(s) added ({_by_split(now.codes[added])})")
        if len(removed):
            changes.append(f"{len(removed)} row(s) removed ({_by_split(self.codes[removed])})")
        relabelled = (old >> 2) != (new >> 2)
        if relabelled.any():
            changes.append(f"{int(relabelled.sum())} row(s) relabelled ("
                           f"{_transitions(old[relabelled] >> 2, new[relabelled] >> 2, _LABELS)})")
        moved = (old & 3) != (new & 3)
        if moved.any():
            changes.append(f"{int(moved.sum())} row(s) moved between splits ("
                           f"{_transitions(old[moved] & 3, new[moved] & 3, _SPLITS)})")
        return changes or ["the rows' order or repeat counts changed"]


def _split_name(index: int) -> str:
    return _SPLITS[index] or "no split"


def _by_split(codes: np.ndarray) -> str:
    counts = Counter((codes & 3).tolist())
    return ", ".join(f"{_split_name(index)} {counts[index]}" for index in sorted(counts))


def _transitions(before: np.ndarray, after: np.ndarray, names: tuple[str, ...]) -> str:
    counts = Counter(zip(before.tolist(), after.tolist()))
    return ", ".join(f"{names[a] or 'no split'} -> {names[b] or 'no split'} {count}"
                     for (a, b), count in sorted(counts.items()))
