"""Generic layouts: ``folder`` (``bonafide/`` + ``spoof/<system>/``) and ``csv`` (any table + a column map)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from detector.data.corpora.common import (
    BONAFIDE_WORDS,
    SPOOF_WORDS,
    audio_files,
    check_unique,
    normalise_label,
    normalise_split,
    posix_relative,
    system_for,
)
from detector.data.manifest import escapes_root


def folder(root: Path) -> list[dict]:
    """``ROOT/bonafide/**`` and ``ROOT/spoof/**``: system = the first sub-folder under ``spoof/``
    (``spoof`` for files directly in it); no speakers, no official split. Paths relative to ``root``."""
    for label in ("bonafide", "spoof"):
        if not (root / label).is_dir():
            raise FileNotFoundError(f"{root / label}: missing; the folder layout needs {root}/bonafide/ "
                                    f"and {root}/spoof/")
    rows = []
    for label in ("bonafide", "spoof"):
        base = root / label
        files = audio_files(base)
        if not files:
            raise ValueError(f"{base}: no audio files (.wav, .flac, .ogg, .mp3, .aiff)")
        for file in files:
            parts = file.relative_to(base).parts
            system = "-" if label == "bonafide" else (parts[0] if len(parts) > 1 else "spoof")
            rows.append({"path": posix_relative(file, root), "label": label, "speaker": "-", "system": system,
                         "split": "", "_where": str(file)})
    return rows


def folder_corpus(root: str | Path, manifest_path: str | Path, ratios: tuple[float, float, float] | None = None,
                  seed: int = 0) -> list[dict]:
    """Manifest rows for the folder layout with paths relative to the manifest, split by ``ratios``."""
    from detector.data.splits import assign_splits

    root = Path(root)
    rows = rebase(folder(root), root, manifest_path)
    if ratios is not None:
        assign_splits(rows, ratios, seed)
    return rows


def rebase(rows: list[dict], root: Path, manifest_path: str | Path) -> list[dict]:
    """Turn root-relative paths into the manifest's: relative when the file lies under the
    manifest's folder, absolute otherwise, so a manifest never reaches out with ``../``
    (:func:`~detector.data.manifest.read_manifest` refuses that without ``--allow-outside-root``).

    Absolute paths in ``rows`` get the same treatment. The common case costs one ``relpath``
    for the root, not one per row.
    """
    manifest_dir = os.path.abspath(Path(manifest_path).parent)
    root = os.path.abspath(root)
    under = _under(root, manifest_dir)
    base = Path(root).as_posix().rstrip("/") + "/" if under is None else ("" if under == "." else under + "/")
    for row in rows:
        path = row["path"]
        if os.path.isabs(path) or escapes_root(path):
            full = os.path.abspath(os.path.join(root, path))
            inside = _under(full, manifest_dir)
            row["path"] = Path(full).as_posix() if inside is None else inside
        else:
            row["path"] = base + path
    return rows


def _under(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` (POSIX) when it lies under it, else None."""
    relative = Path(os.path.relpath(path, folder)).as_posix()
    return None if escapes_root(relative) else relative


CSV_FIELDS = ("path", "label", "speaker", "system", "split", "condition")


def csv_table(root: Path, table: Path, columns: dict[str, str], delimiter: str = ",",
              bonafide_values: frozenset[str] = BONAFIDE_WORDS, spoof_values: frozenset[str] = SPOOF_WORDS
              ) -> list[dict]:
    """Any CSV: ``columns`` maps our fields (path, label, and optionally speaker, system, split,
    condition) to its column names. Paths are relative to ``root`` (or absolute)."""
    for needed in ("path", "label"):
        if not columns.get(needed):
            raise ValueError(f"--corpus csv needs a column for {needed} (--{needed}-column NAME)")
    try:
        text = table.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileNotFoundError(f"{table}: CSV not found") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in columns.values() if name and name not in header]
    if missing:
        raise ValueError(f"{table}:1: no column(s) {', '.join(missing)}; the header has {', '.join(header)}")
    index = {field: header.index(name) for field, name in columns.items() if name}
    rows = []
    for record in reader:
        number = reader.line_num
        if not any(value.strip() for value in record):
            continue
        at = f"{table}:{number}"
        if len(record) != len(header):
            raise ValueError(f"{at}: {len(record)} fields, expected {len(header)}")
        value = {field: record[i].strip() for field, i in index.items()}
        if not value["path"]:
            raise ValueError(f"{at}: empty path")
        label = normalise_label(value["label"], at, bonafide_values, spoof_values)
        row = {"path": value["path"].replace("\\", "/"), "label": label, "speaker": value.get("speaker") or "-",
               "system": system_for(label, value.get("system", "")),
               "split": normalise_split(value.get("split", ""), at), "_where": at}
        if "condition" in value:
            row["condition"] = value["condition"]
        rows.append(row)
    if not rows:
        raise ValueError(f"{table}: no rows")
    check_unique(rows, "path", "path")
    return rows
