"""The manifest: a CSV of clips with ``path,label,speaker,system,split`` (+ optional columns).

Paths are relative to the manifest's folder. ``label`` is ``bonafide`` or ``spoof``;
``system`` is the generator id (``-`` for bona fide); ``split`` is train, val, test or empty.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from detector.io_utils import atomic_write_text

REQUIRED_COLUMNS = ("path", "label", "speaker", "system", "split")
OPTIONAL_COLUMNS = ("duration_s", "sample_rate", "corpus", "condition")
LABELS = {"bonafide": 1, "spoof": 0}   # 1 = bona fide: higher scores mean more bona fide
SPLITS = ("train", "val", "test", "")


@dataclass(frozen=True)
class ManifestRow:
    path: str            # as written in the manifest (relative to its folder)
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


def read_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest CSV; errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")   # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: manifest not found") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: manifest is not UTF-8 text ({error})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; a manifest needs "
                         f"{','.join(REQUIRED_COLUMNS)}")
    reader.fieldnames = header
    rows, seen = [], {}
    for number, record in enumerate(reader, start=2):
        if None in record:
            raise ValueError(f"{path}:{number}: more fields than the header has columns")
        values = {key: (value or "").strip() for key, value in record.items()}
        if not any(values.values()):
            continue  # a blank line
        row = _validate_row(values, path, number)
        if row.path in seen:
            raise ValueError(f"{path}:{number}: duplicate path {row.path!r} (first on line {seen[row.path]})")
        seen[row.path] = number
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    return Manifest(path=path, rows=rows)


def _validate_row(values: dict[str, str], path: Path, number: int) -> ManifestRow:
    where = f"{path}:{number}"
    if not values["path"]:
        raise ValueError(f"{where}: empty path")
    label = values["label"].lower().replace("-", "").replace("_", "").replace(" ", "")
    if label not in LABELS:
        raise ValueError(f"{where}: label {values['label']!r} is not bonafide or spoof")
    split = values["split"].lower()
    if split not in SPLITS:
        raise ValueError(f"{where}: split {values['split']!r} is not train, val, test or empty")
    system = values["system"] or "-"
    extra = {key: value for key, value in values.items() if key not in REQUIRED_COLUMNS}
    return ManifestRow(path=values["path"], label=label, speaker=values["speaker"] or "-",
                       system=system, split=split, line=number, extra=extra)


def write_manifest(rows: list[dict[str, str]], path: str | Path) -> None:
    """Write manifest rows (dicts with at least the required columns) atomically."""
    columns = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if any(c in r for r in rows)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(path), buffer.getvalue())


def write_manifest_rows(rows: list[dict[str, str]], path: str | Path) -> None:
    """Like :func:`write_manifest`, but also writes every further column the rows carry (e.g.
    ``level_dbfs``, ``vocoder``, ``repeat``), after the optional ones; keys starting with ``_``
    are internal and left out. Rows missing a column get an empty cell."""
    columns = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if any(c in r for r in rows)]
    for row in rows:
        for key in row:
            if key not in columns and not key.startswith("_"):
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(path), buffer.getvalue())
