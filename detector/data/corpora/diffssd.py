"""DiffSSD (the diffusion-based synthetic speech dataset), real speech from LJSpeech and LibriSpeech."""
from __future__ import annotations

import os
from pathlib import Path

from detector.data.corpora.common import check_unique, normalise_label, normalise_split, read_table, require_dir

# How the CSV names real files -> where the separately downloaded corpora put them.
DIFFSSD_REAL = (("ljspeech/", "LJSpeech-1.1/wavs/"), ("librispeech/", "LibriSpeech/"))


def _label(text: str, at: str) -> str:
    word = text.strip()
    if word in ("0", "1"):
        return "bonafide" if word == "0" else "spoof"
    return normalise_label(word, at)


def diffssd(root: Path, bonafide_root: Path | None = None) -> list[dict]:
    """``generated_speech/<method>/...`` + ``train_val_test_splits.csv`` (comma-separated).

    Columns by name: ``filename``, the label (``label``, or ``target`` as in the released
    file: ``0`` = real, ``1`` = synthetic; real/fake words are read too), ``set``
    (train/val/test, the official split) and, when present, ``method_name`` (the generator;
    otherwise the first folder under ``generated_speech/``), the ``system`` of a spoof row.

    Real speech (LJSpeech 1.1, LibriSpeech dev/test) is not in DiffSSD: download it
    separately into one folder holding ``LJSpeech-1.1/`` and ``LibriSpeech/`` and name that folder
    with ``bonafide_root`` (default: ``root`` itself, then ``root/real_speech``). A real file is
    found at the CSV's path under that folder, or with its ``ljspeech/`` prefix read as
    ``LJSpeech-1.1/wavs/`` and ``librispeech/`` as ``LibriSpeech/`` (uncertain detail: how the
    released CSV spells real paths; both spellings are accepted). Speakers: ``LJ`` for LJSpeech,
    the LibriSpeech reader id, ``-`` for synthetic clips.
    """
    table = root / "train_val_test_splits.csv"
    require_dir(root / "generated_speech", f"the DiffSSD layout is {root}/generated_speech/ and {table}")
    if not table.is_file():
        raise FileNotFoundError(f"{table}: DiffSSD's split file not found (it belongs next to generated_speech/)")
    names, records = read_table(table, ("filename", "set"), what="DiffSSD split file")
    label_column = next((c for c in ("label", "target") if c in names), None)
    if label_column is None:
        raise ValueError(f"{table}:1: no label column (label or target); the header has {', '.join(names)}")
    column = {name: names.index(name) for name in ("filename", "set", label_column, "method_name") if name in names}
    bases = [Path(os.path.abspath(bonafide_root))] if bonafide_root is not None else [root, root / "real_speech"]
    if bonafide_root is not None:
        require_dir(bases[0], "--bonafide-root: the folder holding LJSpeech-1.1/ and LibriSpeech/")
    resolved: dict[str, tuple[Path, str, str]] = {}   # first path part -> (base, CSV prefix, replacement)
    rows = []
    for number, fields in records:
        at = f"{table}:{number}"
        filename = fields[column["filename"]].replace("\\", "/").lstrip("/")
        label = _label(fields[column[label_column]], at)
        split = normalise_split(fields[column["set"]], at)
        if label == "spoof":
            path = filename if filename.startswith("generated_speech/") else f"generated_speech/{filename}"
            method = fields[column["method_name"]] if "method_name" in column else ""
            system = method or (path.split("/")[1] if path.count("/") >= 2 else "spoof")
            rows.append({"path": path, "label": "spoof", "speaker": "-", "system": system, "split": split,
                         "corpus": "diffssd", "_where": at})
            continue
        head = filename.split("/", 1)[0]
        if head not in resolved:
            options = [(base, "", "") for base in bases] + [(base, prefix, replacement) for base in bases
                                                            for prefix, replacement in DIFFSSD_REAL
                                                            if filename.startswith(prefix)]
            found = next((o for o in options if (o[0] / (o[2] + filename[len(o[1]):])).is_file()), None)
            if found is None:
                tried = " or ".join(str(b / (r + filename[len(p):])) for b, p, r in options)
                raise FileNotFoundError(f"{at}: real audio {filename!r} not found as {tried}; download LJSpeech-1.1 "
                                        f"and LibriSpeech into one folder and pass it as --bonafide-root")
            resolved[head] = found
        base, prefix, replacement = resolved[head]
        relative = replacement + filename[len(prefix):] if filename.startswith(prefix) else filename
        speaker = "LJ" if relative.startswith(("LJSpeech", "ljspeech")) else \
            (relative.rsplit("/", 1)[-1].split("-", 1)[0] if "-" in relative.rsplit("/", 1)[-1] else "-")
        rows.append({"path": (base / relative).as_posix() if base != root else relative, "label": "bonafide",
                     "speaker": speaker, "system": "-", "split": split, "corpus": "diffssd", "_where": at})
    check_unique(rows, "path", "audio file")
    return rows
