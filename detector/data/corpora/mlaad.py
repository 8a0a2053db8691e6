"""MLAAD (Müller et al., the Multi-Language Audio Anti-Spoofing Dataset), bona fide from M-AILABS."""
from __future__ import annotations

import os
import re
from pathlib import Path

from detector.data.corpora.common import CorpusRows, read_table, require_dir

MLAAD_COLUMNS = ("path", "original_file", "language", "architecture", "model_name")
# M-AILABS folders are locales (de_DE, en_UK, en_US, es_ES, fr_FR, it_IT, pl_PL, ru_RU, uk_UK);
# MLAAD names languages by their ISO 639-1 code, the locale's first part.
LOCALE = re.compile(r"^([a-z]{2,3})_[A-Z]{2}$")


def _mailabs_relative(original_file: str) -> str | None:
    """``original_file`` from the locale folder on (``de_DE/by_book/...``), or None when no part
    of it is a locale; any prefix before the locale (``./``, the creators' own folders) is dropped."""
    parts = [part for part in original_file.replace("\\", "/").split("/") if part not in ("", ".")]
    for index, part in enumerate(parts):
        if LOCALE.match(part):
            return "/".join(parts[index:])
    return None


def _reader(relative: str) -> str:
    """The M-AILABS reader: ``<locale>/by_book/<gender>/<reader>/<book>/wavs/<file>``; ``-`` for
    the ``mix`` folders, which have no reader."""
    parts = relative.split("/")
    return parts[3] if len(parts) > 4 and parts[1] == "by_book" else "-"


def mlaad(root: Path, bonafide_root: Path | None = None) -> CorpusRows:
    """``fake/<language>/<model>/*.wav``, one pipe-separated ``meta.csv`` per model folder.

    ``meta.csv`` columns (by name; others are ignored): ``path``, ``original_file``,
    ``language``, ``architecture``, ``model_name`` (later versions add ``is_original_language``,
    ``duration``, ``training_data``, ``transcript``...).

    Labels: every MLAAD clip is spoof (TTS output); bona fide speech is M-AILABS, downloaded
    separately, whose root (holding ``de_DE/``, ``en_US/``, ...) ``bonafide_root`` names. The
    bona fide clips are the M-AILABS files that MLAAD's ``original_file`` column names (the
    utterances whose transcripts were synthesised), matched to a language through the locale
    folder of that path (``de_DE`` -> ``de``), so a language holds its spoofs and the real
    speech of that language. Files named there but absent under ``bonafide_root`` (a language
    not downloaded) are left out and counted in ``notes``.

    Rows: spoof ``system`` = ``model_name``, ``architecture`` kept in its own column, speaker
    ``-`` (a TTS voice, not a person of the corpus); bona fide speaker = the M-AILABS reader.
    ``language`` and ``condition`` are the language, so evaluate's ``per_manifest_condition``
    reports each language. No official split: prepare splits by ``--split`` (speaker-disjoint
    by default), or language- or system-disjoint with ``--split-by``.

    Uncertain details of the published layout, handled leniently: the ``path`` column's folders
    are not trusted (some releases name another language folder than the one the file is in), so
    the audio is the file of that name in the ``meta.csv``'s own folder; ``original_file`` is
    read from its locale folder on, whatever precedes it. When MLAAD synthesised a language
    M-AILABS lacks, ``original_file`` names an English (or other) M-AILABS clip, which then
    counts as bona fide speech of its own locale's language, not of the spoof's.
    """
    fake = root if root.name == "fake" and not (root / "fake").is_dir() else root / "fake"
    require_dir(fake, f"the MLAAD layout is {root}/fake/<language>/<model>/meta.csv")
    metas = sorted(fake.glob("*/*/meta.csv"))
    if not metas:
        raise FileNotFoundError(f"{fake}: no <language>/<model>/meta.csv")
    if bonafide_root is None:
        raise ValueError(f"{root}: MLAAD holds spoofed speech only; pass --bonafide-root with the M-AILABS folder "
                         f"(holding de_DE/, en_US/, ...) for the bona fide side")
    bonafide_root = Path(os.path.abspath(bonafide_root))
    require_dir(bonafide_root, "--bonafide-root: the M-AILABS folder (holding de_DE/, en_US/, ...)")
    rows = CorpusRows()
    originals: dict[str, str] = {}   # M-AILABS relative path -> where it was first named
    for meta in metas:
        names, records = read_table(meta, MLAAD_COLUMNS, delimiter="|", what="MLAAD meta.csv", quotes=False)
        index = {name: names.index(name) for name in MLAAD_COLUMNS}
        folder = meta.parent.relative_to(root).as_posix()
        for number, fields in records:
            at = f"{meta}:{number}"
            value = {name: fields[i] for name, i in index.items()}
            file = os.path.basename(value["path"].replace("\\", "/"))
            if not file:
                raise ValueError(f"{at}: empty path")
            language = value["language"] or meta.parent.parent.name
            rows.append({"path": f"{folder}/{file}", "label": "spoof", "speaker": "-",
                         "system": value["model_name"] or meta.parent.name, "split": "", "corpus": "mlaad",
                         "condition": language, "language": language, "architecture": value["architecture"] or "-",
                         "_where": at})
            relative = _mailabs_relative(value["original_file"])
            if relative is None and value["original_file"]:
                raise ValueError(f"{at}: original_file {value['original_file']!r} has no M-AILABS locale folder "
                                 f"(de_DE, en_US, ...)")
            if relative:
                originals.setdefault(relative, at)
    missing: dict[str, int] = {}
    found = 0
    for relative in sorted(originals):
        locale = relative.split("/", 1)[0]
        if not (bonafide_root / relative).is_file():
            missing[locale] = missing.get(locale, 0) + 1
            continue
        found += 1
        language = LOCALE.match(locale).group(1)
        rows.append({"path": (bonafide_root / relative).as_posix(), "label": "bonafide", "speaker": _reader(relative),
                     "system": "-", "split": "", "corpus": "m-ailabs", "condition": language, "language": language,
                     "architecture": "-", "_where": originals[relative]})
    if not found:
        example = next(iter(sorted(originals)), "de_DE/by_book/...")
        raise FileNotFoundError(f"{bonafide_root / example}: missing, like every M-AILABS file that MLAAD's "
                                f"original_file names; --bonafide-root is the M-AILABS folder (holding de_DE/ ...)")
    if missing:
        rows.notes.append(f"left out {sum(missing.values())} M-AILABS file(s) named by original_file but not under "
                          f"{bonafide_root} ({', '.join(f'{k} {v}' for k, v in sorted(missing.items()))})")
    return rows
