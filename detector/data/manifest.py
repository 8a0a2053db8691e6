"""The manifest: a CSV of clips with ``path,label,speaker,system,split`` (+ optional columns).

Paths are relative to the manifest's folder and may not leave it (``../x.wav``) unless the
reader allows it; absolute paths are accepted. ``label`` is ``bonafide`` or ``spoof``;
``system`` is the generator id (``-`` for bona fide); ``split`` is train, val, test or empty.
"""
from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from detector.utils.io import atomic_write_csv

REQUIRED_COLUMNS = ("path", "label", "speaker", "system", "split")
OPTIONAL_COLUMNS = ("duration_s", "sample_rate", "corpus", "condition")
LABELS = {"bonafide": 1, "spoof": 0}   # 1 = bona fide: higher scores mean more bona fide
SPLITS = ("train", "val", "test", "")


@dataclass(frozen=True)
class ManifestRow:
    path: str            # as written in the manifest (relative to its folder, or absolute)
    label: str           # bonafide | spoof
    speaker: str
    system: str
    split: str
    line: int            # 1-based line in the CSV (header is line 1), for error messages
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def target(self) -> int:
        """1 for bona fide, 0 for spoof."""
        return LABELS[self.label]

    @property
    def utt(self) -> str:
        """An utterance id for score files: the path without extension, no whitespace."""
        stem = self.path.rsplit(".", 1)[0] if "." in Path(self.path).name else self.path
        return "_".join(stem.split())


@dataclass
class Manifest:
    path: Path           # the CSV file
    rows: list[ManifestRow]

    @property
    def root(self) -> Path:
        return self.path.parent

    def audio_path(self, row: ManifestRow) -> Path:
        return self.root / row.path

    def split(self, name: str) -> list[int]:
        """Indices of the rows in split ``name``."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; valid: train, val, test")
        return [i for i, row in enumerate(self.rows) if row.split == name]


def read_manifest(path: str | Path, allow_outside_root: bool = False) -> Manifest:
    """Read and validate a manifest CSV; errors are ``ValueError`` naming ``file:line``.

    A byte-order mark and Windows line ends are accepted. A relative ``path`` that leaves the
    manifest's folder (``../x.wav``) is an error unless ``allow_outside_root`` (the CLI's
    ``--allow-outside-root``): a manifest then reads only what lies under it, or what it names
    by an absolute path. Two rows naming the same file (``a.wav``, ``./a.wav``) are an error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")   # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: manifest not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, not a manifest CSV") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: manifest is not UTF-8 text ({error})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, seen, last = [], {}, 1   # last: the line the previous record ended on
    try:
        header = [(name or "").strip() for name in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; a manifest needs "
                             f"{','.join(REQUIRED_COLUMNS)} (header: {','.join(header) or 'empty'})")
        repeated = sorted({name for name in header if name and header.count(name) > 1})
        if repeated:
            raise ValueError(f"{path}:1: column(s) {', '.join(repeated)} appear more than once in the header")
        reader.fieldnames = header
        for record in reader:
            number = last = reader.line_num   # the physical line the record ends on (blank lines count)
            if None in record:
                raise ValueError(f"{path}:{number}: more fields than the header has columns")
            if not any((value or "").strip() for value in record.values()):
                continue  # a line of empty fields
            if any(value is None for value in record.values()):
                raise ValueError(f"{path}:{number}: fewer fields than the header's {len(header)} columns")
            values = {key: value.strip() for key, value in record.items()}
            row = _validate_row(values, path, number, allow_outside_root)
            key = posixpath.normpath(row.path)
            if key in seen:
                raise ValueError(f"{path}:{number}: duplicate path {row.path!r} (first on line {seen[key]})")
            seen[key] = number
            rows.append(row)
    except csv.Error as error:
        raise ValueError(f"{path}:{max(reader.line_num, last + 1)}: not valid CSV ({error})") from None
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    return Manifest(path=path, rows=rows)


def _validate_row(values: dict[str, str], path: Path, number: int, allow_outside_root: bool) -> ManifestRow:
    where = f"{path}:{number}"
    audio = values["path"]
    if not audio:
        raise ValueError(f"{where}: empty path")
    if any(ord(c) < 32 or c == "\x7f" for c in audio):
        raise ValueError(f"{where}: path {audio!r} contains a control character")
    if not allow_outside_root and escapes_root(audio):
        raise ValueError(f"{where}: path {audio!r} leaves the manifest's folder; write it as an absolute "
                         "path, move the manifest up, or pass --allow-outside-root")
    label = values["label"].lower().replace("-", "").replace("_", "").replace(" ", "")
    if label not in LABELS:
        raise ValueError(f"{where}: label {values['label']!r} is not bonafide or spoof")
    split = values["split"].lower()
    if split not in SPLITS:
        raise ValueError(f"{where}: split {values['split']!r} is not train, val, test or empty")
    system = values["system"] or "-"
    extra = {key: value for key, value in values.items() if key not in REQUIRED_COLUMNS}
    return ManifestRow(path=audio, label=label, speaker=values["speaker"] or "-",
                       system=system, split=split, line=number, extra=extra)


def escapes_root(relative: str) -> bool:
    """True for a relative path that climbs out of its base folder (``../x``, ``a/../../x``).

    Judged on the text alone (symbolic links inside the folder are the user's business);
    absolute paths are never "escaping": they say plainly where they point.
    """
    if relative.startswith("/") or PureWindowsPath(relative).is_absolute():
        return False
    normal = posixpath.normpath(relative.replace("\\", "/"))
    return normal == ".." or normal.startswith("../")


def write_manifest(rows: list[dict[str, str]], path: str | Path) -> None:
    """Write manifest rows (dicts with at least the required columns) atomically.

    The required columns come first, then the optional ones the rows use, then every further
    column they carry (e.g. ``level_dbfs``, ``vocoder``, ``repeat``); keys starting with ``_``
    are internal and left out. Rows missing a column get an empty cell.
    """
    columns = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if any(c in r for r in rows)]
    for row in rows:
        columns += [key for key in row if key not in columns and not key.startswith("_")]
    atomic_write_csv(path, rows, columns)


def write_relocated_manifest(manifest: Manifest, rows: list[ManifestRow], path: str | Path) -> None:
    """``rows`` of ``manifest`` as a manifest at ``path`` with absolute audio paths, so that it can
    live in any folder (a run folder, a benchmark's fold) and still name the same audio."""
    write_manifest([{**row.extra, "path": str(manifest.audio_path(row).absolute()), "label": row.label,
                     "speaker": row.speaker, "system": row.system, "split": row.split} for row in rows], path)
