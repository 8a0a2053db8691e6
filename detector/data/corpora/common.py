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
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: protocol file not found") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: protocol file is not UTF-8 text ({error})") from None
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
