"""SpoofCeleb (Jung et al.): VoxCeleb1 speech and TTS spoofs of it, with official splits."""
from __future__ import annotations

import re
from pathlib import Path

from detector.data.corpora.common import check_unique, read_table, require_dir

SPOOFCELEB_SPLITS = (("train", "train"), ("development", "val"), ("evaluation", "test"))
ATTACK = re.compile(r"^a\d+$", re.IGNORECASE)
VOXCELEB_ID = re.compile(r"^id\d+$")


def spoofceleb(root: Path) -> list[dict]:
    """``flac/{train,development,evaluation}/...`` + ``metadata/{train,development,evaluation}.csv``.

    Each metadata line: column 1 the file's path, column 2 the speaker, column 3 the attack id;
    further columns are ignored. Attack ``a00`` is bona fide (VoxCeleb1 speech), any other
    (``a01``...) is spoof with ``system`` = the attack id. The three official splits become
    train/val/test.

    Uncertain details of the published layout, handled leniently: whether the metadata files
    have a header line (a first line whose third column is not an attack id like ``a07`` is
    taken as one), and what column 1's path is relative to: the corpus root, ``flac/`` or
    ``flac/<split>/`` (released paths look like ``a00/id10001/<video>-00001-001.flac`` under
    ``flac/<split>/``); the first data line decides for its file, by which of those exists. The
    speaker is the path's VoxCeleb id folder (``id10001``) when it has one, else column 2.
    """
    require_dir(root / "flac", f"the SpoofCeleb layout is {root}/flac/{{train,development,evaluation}}/ "
                               f"and {root}/metadata/")
    expected = [root / "metadata" / f"{name}.csv" for name, _ in SPOOFCELEB_SPLITS]
    if not any(path.is_file() for path in expected):
        raise FileNotFoundError(f"{root / 'metadata'}: none of {', '.join(p.name for p in expected)}; "
                                f"SpoofCeleb's metadata files belong at {expected[0]} etc.")
    rows: list[dict] = []
    for (name, split), metadata in zip(SPOOFCELEB_SPLITS, expected):
        if not metadata.is_file():
            continue
        _, records = read_table(metadata, (), header=False, what="SpoofCeleb metadata file")
        if records and (len(records[0][1]) < 3 or not ATTACK.match(records[0][1][2])):
            records = records[1:]   # a header line
        prefix = None
        for number, fields in records:
            at = f"{metadata}:{number}"
            if len(fields) < 3:
                raise ValueError(f"{at}: {len(fields)} fields, expected at least 3 (path, speaker, attack)")
            path, speaker, attack = fields[0].replace("\\", "/").lstrip("/"), fields[1], fields[2].lower()
            if not ATTACK.match(attack):
                raise ValueError(f"{at}: unknown attack id {fields[2]!r}; expected a00 (bona fide) or a01, a02, ...")
            if prefix is None:
                options = ("", "flac/", f"flac/{name}/")
                prefix = next((p for p in options if (root / (p + path)).is_file()), None)
                if prefix is None:
                    raise FileNotFoundError(f"{at}: audio {path!r} not found as "
                                            + " or ".join(str(root / (p + path)) for p in options))
            label = "bonafide" if attack == "a00" else "spoof"
            voxceleb = next((part for part in path.split("/") if VOXCELEB_ID.match(part)), None)
            rows.append({"path": prefix + path, "label": label, "speaker": voxceleb or speaker or "-",
                         "system": "-" if label == "bonafide" else attack, "split": split, "corpus": "spoofceleb",
                         "_where": at})
    check_unique(rows, "path", "audio file")
    return rows
