"""Helpers every adapter shares: protocol lines, labels, splits and uniqueness checks.

Adapters return plain dict rows with ``path`` relative to the corpus root (POSIX), ``label``,
``speaker``, ``system``, ``split`` and optionally ``corpus``, ``condition`` and further columns.
Each row also carries ``_where`` (``protocol.txt:LINE``) so later errors can name their source;
keys starting with ``_`` are never written to the manifest. An adapter that leaves files out
on purpose returns :class:`CorpusRows`, whose ``notes`` say what and how many (``prepare``
prints them with its summary).
"""
from __future__ import annotations

import os
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}

BONAFIDE_WORDS = frozenset({"bonafide", "bona-fide", "bona_fide", "bona fide", "genuine", "real", "human"})
SPOOF_WORDS = frozenset({"spoof", "spoofed", "fake", "deepfake", "synthetic"})
# Official subset names -> our splits.
SPLIT_WORDS = {"train": "train", "training": "train", "trn": "train",
               "dev": "val", "val": "val", "valid": "val", "validation": "val",
               "eval": "test", "test": "test", "testing": "test", "": ""}


class CorpusRows(list):
    """An adapter's rows plus ``notes``: one line per group of files it left out on purpose."""

    def __init__(self, rows=(), notes: list[str] | None = None):
        super().__init__(rows)
        self.notes = list(notes or [])



def read_text_file(path: Path, what: str) -> str:
    """A protocol or metadata file's text (UTF-8, a byte-order mark dropped); a missing or
    undecodable file is an error naming ``path`` and ``what`` it is."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: {what} is not UTF-8 text ({error})") from None

def where(path: Path, line: int) -> str:
    return f"{path}:{line}"


def read_protocol(path: Path, fields: int | tuple[int, ...], header_starts: str | None = None
                  ) -> list[tuple[int, list[str]]]:
    """Whitespace-separated lines of ``path`` -> ``[(line_number, fields), ...]``.

    Blank lines are skipped; trailing whitespace and Windows line ends are tolerated; a line
    whose number of fields is not in ``fields`` is an error naming the file and line. A first
    line starting with ``header_starts`` is skipped as a header.
    """
    allowed = (fields,) if isinstance(fields, int) else fields
    text = read_text_file(path, "protocol file")
    out = []
    # split("\n"), not splitlines(): form feeds or U+2028 inside a line must not shift line numbers.
    for number, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        if not parts:
            continue
        if number == 1 and header_starts and parts[0].startswith(header_starts):
            continue
        if len(parts) not in allowed:
            expected = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{where(path, number)}: {len(parts)} fields, expected {expected}: {line.strip()!r}")
        out.append((number, parts))
    if not out:
        raise ValueError(f"{path}: protocol file has no lines")
    return out


def normalise_label(text: str, at: str, bonafide: frozenset[str] = BONAFIDE_WORDS,
                    spoof: frozenset[str] = SPOOF_WORDS) -> str:
    """``"Bona-fide "`` -> ``"bonafide"``; an unknown label is an error naming ``at``."""
    word = text.strip().lower()
    if word in bonafide:
        return "bonafide"
    if word in spoof:
        return "spoof"
    raise ValueError(f"{at}: unknown label {text!r}; expected one of "
                     f"{', '.join(sorted(bonafide | spoof))}")


def normalise_split(text: str, at: str) -> str:
    word = text.strip().lower()
    if word not in SPLIT_WORDS:
        raise ValueError(f"{at}: unknown split {text!r}; expected train/dev/eval (or train/val/test)")
    return SPLIT_WORDS[word]


def system_for(label: str, system: str) -> str:
    """Bona fide rows always get system ``-``; an empty spoof system becomes ``spoof``."""
    if label == "bonafide":
        return "-"
    system = system.strip()
    return system if system and system != "-" else "spoof"


def check_unique(rows: list[dict], key: str = "path", what: str = "path") -> None:
    """Duplicate values of ``row[key]`` are errors naming both protocol lines."""
    seen: dict[str, str] = {}
    for row in rows:
        value = row[key]
        if value in seen:
            raise ValueError(f"{row.get('_where', '?')}: duplicate {what} {value!r} "
                             f"(first at {seen[value]})")
        seen[value] = row.get("_where", "?")


def require_dir(path: Path, hint: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: missing; {hint}")
    return path


def audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursively), sorted; one ``os.walk``, no per-file stat."""
    found = []
    for directory, subdirs, names in os.walk(folder):
        subdirs.sort()
        found.extend(Path(directory) / name for name in names
                     if os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES)
    return sorted(found)


def posix_relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_table(path: Path, required: tuple[str, ...], delimiter: str = ",", what: str = "metadata file",
               header: bool = True, quotes: bool = True) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """A delimited text table -> ``(header, [(line_number, fields), ...])``.

    Header names are stripped and lower-cased; a missing ``required`` column, or a line with
    another number of fields than the header, is an error naming the file and line. Blank lines
    are skipped. With ``header=False`` the header is empty and every line is data; with
    ``quotes=False`` a ``"`` is an ordinary character (text columns that quote nothing).
    """
    import csv
    import io

    text = read_text_file(path, what)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quoting=csv.QUOTE_MINIMAL if quotes else csv.QUOTE_NONE)
    names = [name.strip().lower() for name in next(reader, [])] if header else []
    missing = [name for name in required if name not in names] if header else []
    if missing:
        raise ValueError(f"{path}:1: no column(s) {', '.join(missing)}; the header has {', '.join(names)}")
    out = []
    for record in reader:
        if not any(field.strip() for field in record):
            continue
        if header and len(record) != len(names):
            raise ValueError(f"{path}:{reader.line_num}: {len(record)} fields, expected {len(names)}")
        out.append((reader.line_num, [field.strip() for field in record]))
    if not out:
        raise ValueError(f"{path}: {what} has no rows")
    return names, out


SPLIT_BY = ("language", "system")


def disjoint_splits(rows: list[dict], by: str, ratios: tuple[float, float, float], seed: int) -> str:
    """Assign train/val/test so that no ``by`` value spans two splits; returns one line for the log.

    ``by="language"``: every clip of a language (the ``language`` column) goes to one split.
    ``by="system"``: every clip of a spoof system goes to one split (bona fide clips, system
    ``-``, are grouped by speaker instead, so they spread over the splits). Groups are placed by
    :func:`detector.data.splits.assign_splits` (largest first, each split's label counts
    approaching its ratio).
    """
    from detector.data.splits import assign_splits

    if by not in SPLIT_BY:
        raise ValueError(f"--split-by {by!r}: expected one of {', '.join(SPLIT_BY)}")
    proxies = []
    for row in rows:
        if by == "system":
            key = row["system"] if row["label"] == "spoof" else \
                ("-" if row.get("speaker", "-") in ("", "-") else f"\0bonafide:{row['speaker']}")
        else:
            key = row.get(by, "")
            if not key:
                raise ValueError(f"{row.get('_where', row['path'])}: no {by}; --split-by {by} needs it on every clip")
        proxies.append({"label": row["label"], "system": row["system"], "speaker": key, "split": ""})
    groups = {p["speaker"] for p in proxies if not (by == "system" and p["label"] == "bonafide")}
    needed = sum(1 for ratio in ratios if ratio > 0)
    if len(groups) < needed:
        raise ValueError(f"--split-by {by}: only {len(groups)} {by} value(s) ({', '.join(sorted(groups))}) for "
                         f"{needed} non-empty splits; change --split (e.g. 80/20/0) or split another way")
    assign_splits(proxies, ratios, seed, speaker_disjoint=True)
    for row, proxy in zip(rows, proxies):
        row["split"] = proxy["split"]
    placed = {split: sorted({p["speaker"] for p in proxies if p["split"] == split and p["speaker"] in groups
                              and (by == "language" or p["label"] == "spoof")}) for split in ("train", "val", "test")}
    return f"{by}-disjoint, stratified by label: " + "; ".join(
        f"{split} {', '.join(names) or '-'}" for split, names in placed.items())
