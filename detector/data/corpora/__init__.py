"""Corpus adapters: a corpus's own layout on disk -> manifest rows.

Every adapter takes the corpus root (plus its own options) and returns dict rows whose
``path`` is relative to that root; :func:`load_corpus_rows` rebases them onto the manifest's
folder. Layouts are documented on each adapter.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detector.data.corpora.asvspoof import asvspoof5, asvspoof2019, asvspoof2021, laundered
from detector.data.corpora.codecfake import codecfake, codecfake_wu
from detector.data.corpora.common import AUDIO_SUFFIXES, CorpusRows, normalise_label, read_protocol
from detector.data.corpora.diffssd import diffssd
from detector.data.corpora.generic import csv_table, folder, folder_corpus, rebase
from detector.data.corpora.mlaad import mlaad
from detector.data.corpora.spoofceleb import spoofceleb
from detector.data.corpora.web import fake_or_real, in_the_wild, wavefake
from detector.data.splits import assign_splits, parse_split_ratios

ADAPTERS: dict[str, Callable[..., list[dict]]] = {
    "asvspoof2019": asvspoof2019, "asvspoof2021": asvspoof2021, "asvspoof5": asvspoof5,
    "laundered": laundered, "in-the-wild": in_the_wild, "wavefake": wavefake,
    "fake-or-real": fake_or_real, "mlaad": mlaad, "spoofceleb": spoofceleb, "diffssd": diffssd,
    "codecfake": codecfake, "codecfake-wu": codecfake_wu, "folder": folder, "csv": csv_table,
}

__all__ = ["ADAPTERS", "AUDIO_SUFFIXES", "CorpusRows", "assign_splits", "asvspoof2019", "asvspoof2021", "asvspoof5",
           "codecfake", "codecfake_wu", "csv_table", "diffssd", "fake_or_real", "folder", "folder_corpus",
           "in_the_wild", "laundered", "load_corpus_rows", "mlaad", "normalise_label", "parse_split_ratios",
           "read_protocol", "rebase", "spoofceleb", "wavefake"]


def load_corpus_rows(name: str, root: str | Path, manifest_path: str | Path, **options) -> list[dict]:
    """Run adapter ``name`` on ``root``; paths come back relative to ``manifest_path``'s folder."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(ADAPTERS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: corpus folder not found")
    rows = ADAPTERS[name](root, **{key: value for key, value in options.items() if value is not None})
    return rebase(rows, root, manifest_path)
