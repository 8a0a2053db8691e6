"""Corpora distributed as folders of files: In-the-Wild, WaveFake and Fake-or-Real."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from detector.data.corpora.common import (
    audio_files,
    check_unique,
    normalise_label,
    posix_relative,
    require_dir,
    system_for,
)


def in_the_wild(root: Path) -> list[dict]:
    """``release_in_the_wild/*.wav`` + ``meta.csv`` (``file,speaker,label``, labels bona-fide/spoof).

    ``root`` may be ``release_in_the_wild`` itself or its parent. There is no official split and
    no generator id (spoof rows get system ``spoof``).
    """
    base = root if (root / "meta.csv").is_file() else root / "release_in_the_wild"
    meta = base / "meta.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"{root}: no meta.csv (in {root} or {root}/release_in_the_wild)")
    prefix = "" if base == root else "release_in_the_wild/"
    reader = csv.reader(io.StringIO(meta.read_text(encoding="utf-8-sig"), newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [c for c in ("file", "speaker", "label") if c not in header]
    if missing:
        raise ValueError(f"{meta}:1: missing column(s) {', '.join(missing)}; expected file,speaker,label")
    columns = [header.index(c) for c in ("file", "speaker", "label")]
    rows = []
    for record in reader:
        number = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(header):
            raise ValueError(f"{meta}:{number}: {len(record)} fields, expected {len(header)}")
        file, speaker, label = (record[i].strip() for i in columns)
        at = f"{meta}:{number}"
        label = normalise_label(label, at)
        rows.append({"path": prefix + file, "label": label, "speaker": speaker or "-",
                     "system": system_for(label, ""), "split": "", "corpus": "in-the-wild", "_where": at})
    check_unique(rows, "path", "file")
    return rows


WAVEFAKE_REAL = (("real_audio/LJSpeech-1.1/wavs", "ljspeech"), ("real_audio/jsut_ver1.1/basic5000/wav", "jsut"))


def wavefake(root: Path) -> list[dict]:
    """``generated_audio/<corpus>_<vocoder>/*.wav`` (system = vocoder) and the real audio in
    ``real_audio/LJSpeech-1.1/wavs`` and ``real_audio/jsut_ver1.1/basic5000/wav``.

    The speaker is the voice (``ljspeech`` or ``jsut``); there is no official split.
    """
    generated = require_dir(root / "generated_audio", "the WaveFake layout needs generated_audio/<corpus>_<vocoder>/")
    rows = []
    for folder in sorted(p for p in generated.iterdir() if p.is_dir()):
        voice, _, vocoder = folder.name.partition("_")
        if voice not in ("ljspeech", "jsut"):
            voice, vocoder = ("ljspeech" if "ljspeech" in folder.name else "-"), folder.name
        for file in audio_files(folder):
            rows.append({"path": posix_relative(file, root), "label": "spoof", "speaker": voice,
                         "system": vocoder, "split": "", "corpus": "wavefake", "_where": str(file)})
    real_found = False
    for relative, voice in WAVEFAKE_REAL:
        if (root / relative).is_dir():
            real_found = True
            rows.extend({"path": posix_relative(file, root), "label": "bonafide", "speaker": voice, "system": "-",
                         "split": "", "corpus": "wavefake", "_where": str(file)}
                        for file in audio_files(root / relative))
    if not real_found:
        raise FileNotFoundError(f"{root}: no real audio; WaveFake needs {' or '.join(r for r, _ in WAVEFAKE_REAL)} "
                                f"(LJSpeech and JSUT are downloaded separately)")
    if not any(row["label"] == "spoof" for row in rows):
        raise ValueError(f"{generated}: no generated audio files")
    return rows


FOR_VERSIONS = ("for-original", "for-norm", "for-2seconds", "for-rerec")
FOR_SPLITS = (("training", "train"), ("validation", "val"), ("testing", "test"))


def fake_or_real(root: Path, version: str | None = None) -> list[dict]:
    """``for-{original,norm,2seconds,rerec}/{training,validation,testing}/{fake,real}/``.

    ``root`` may be one version's folder or the folder holding several; each version found
    becomes a ``condition`` (choose one with ``version``). The official splits are kept.
    """
    if any((root / name).is_dir() for name, _ in FOR_SPLITS):
        bases = [root]
    else:
        names = [version] if version else [v for v in FOR_VERSIONS if (root / v).is_dir()]
        bases = [require_dir(root / name, f"Fake-or-Real versions are {', '.join(FOR_VERSIONS)}") for name in names]
        if not bases:
            raise FileNotFoundError(f"{root}: no training/validation/testing folders and none of "
                                    f"{', '.join(FOR_VERSIONS)}")
    rows = []
    for base in bases:
        for folder, split in FOR_SPLITS:
            for kind, label in (("fake", "spoof"), ("real", "bonafide")):
                directory = base / folder / kind
                if not directory.is_dir():
                    continue
                rows.extend({"path": posix_relative(file, root), "label": label, "speaker": "-",
                             "system": system_for(label, ""), "split": split, "corpus": "fake-or-real",
                             "condition": base.name, "_where": str(file)}
                            for file in audio_files(directory))
    if not rows:
        raise ValueError(f"{root}: no audio in */{{training,validation,testing}}/{{fake,real}}/")
    return rows
