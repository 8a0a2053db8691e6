"""The ASVspoof family: 2019 (LA, PA), 2021 (LA, DF eval keys), ASVspoof 5 and the laundered 2019 LA.

Each reads the published protocol files; a protocol line with the wrong number of fields, an
unknown key or a duplicated utterance is an error that names the file and line.
"""
from __future__ import annotations

import os
from pathlib import Path

from detector.data.corpora.common import (
    CorpusRows,
    check_unique,
    normalise_label,
    read_protocol,
    require_dir,
    system_for,
    where,
)

SUBSETS_2019 = (("train", "train.trn", "train"), ("dev", "dev.trl", "val"), ("eval", "eval.trl", "test"))


def _track_root(root: Path, track: str) -> Path:
    """``root`` may be the track folder itself (``.../LA``) or its parent."""
    return root / track if (root / track).is_dir() and not (root / f"ASVspoof2019_{track}_cm_protocols").is_dir() \
        else root


def asvspoof2019(root: Path, track: str | None = None) -> list[dict]:
    """``ASVspoof2019_{LA,PA}_{train,dev,eval}/flac/<utt>.flac`` + the CM protocols.

    Lines ``SPEAKER UTT ENV SYSTEM KEY`` (``ENV`` is ``-`` in LA and the acoustic environment
    in PA, which lands in ``condition``); the official train/dev/eval become train/val/test.
    """
    tracks = [track.upper()] if track else [t for t in ("LA", "PA")
                                           if (_track_root(root, t) / f"ASVspoof2019_{t}_cm_protocols").is_dir()]
    if not tracks:
        raise FileNotFoundError(f"{root}: no ASVspoof2019_LA_cm_protocols/ or ASVspoof2019_PA_cm_protocols/ "
                                f"(in {root} or {root}/LA, {root}/PA); pass the folder the zip extracted to")
    rows: list[dict] = []
    for name in tracks:
        base = _track_root(root, name)
        protocols = require_dir(base / f"ASVspoof2019_{name}_cm_protocols",
                                f"the ASVspoof 2019 {name} layout needs it next to ASVspoof2019_{name}_train/")
        found = 0
        for subset, suffix, split in SUBSETS_2019:
            protocol = protocols / f"ASVspoof2019.{name}.cm.{suffix}.txt"
            if not protocol.is_file():
                continue
            found += 1
            audio = f"{base.relative_to(root).as_posix() + '/' if base != root else ''}" \
                    f"ASVspoof2019_{name}_{subset}/flac/"
            require_dir(root / audio, f"audio for {protocol.name}")
            for number, (speaker, utt, env, system, key) in read_protocol(protocol, 5):
                at = where(protocol, number)
                label = normalise_label(key, at, frozenset({"bonafide"}), frozenset({"spoof"}))
                rows.append({"path": f"{audio}{utt}.flac", "label": label, "speaker": speaker,
                             "system": system_for(label, system), "split": split,
                             "corpus": f"asvspoof2019-{name}", "condition": "" if env == "-" else env,
                             "_utt": utt, "_where": at})
        if not found:
            raise FileNotFoundError(f"{protocols}: none of ASVspoof2019.{name}.cm.{{train.trn,dev.trl,eval.trl}}.txt")
    check_unique(rows, "_utt", "utterance id")
    return rows


def asvspoof2021(root: Path, track: str | None = None) -> list[dict]:
    """``ASVspoof2021_{LA,DF}_eval/flac/`` with labels from ``keys/{LA,DF}/CM/trial_metadata.txt``.

    LA lines: speaker utt codec transmission attack key trim subset (8 fields); DF lines:
    speaker utt codec source attack key trim subset vocoder + 4 unused (13 fields). Codec and
    transmission (LA) or codec (DF) land in ``condition``; DF keeps its vocoder family in
    ``vocoder``. All rows are evaluation data (split ``test``).
    """
    tracks = [track.upper()] if track else [t for t in ("LA", "DF")
                                           if (root / "keys" / t / "CM" / "trial_metadata.txt").is_file()]
    if not tracks:
        raise FileNotFoundError(f"{root}: no keys/LA/CM/trial_metadata.txt or keys/DF/CM/trial_metadata.txt; "
                                f"extract the released key packages into {root}")
    rows: list[dict] = []
    for name in tracks:
        keys = root / "keys" / name / "CM" / "trial_metadata.txt"
        audio = f"ASVspoof2021_{name}_eval/flac/"
        require_dir(root / audio, f"audio for {keys}")
        fields = 8 if name == "LA" else 13
        for number, parts in read_protocol(keys, fields):
            at = where(keys, number)
            speaker, utt, codec, transmission, system, key = parts[:6]
            label = normalise_label(key, at, frozenset({"bonafide"}), frozenset({"spoof"}))
            row = {"path": f"{audio}{utt}.flac", "label": label, "speaker": speaker,
                   "system": system_for(label, system), "split": "test", "corpus": f"asvspoof2021-{name}",
                   "condition": codec if name == "DF" else f"{codec}:{transmission}", "_utt": utt, "_where": at}
            if name == "DF":
                row["vocoder"] = parts[8]
            rows.append(row)
    check_unique(rows, "_utt", "utterance id")
    return rows


ASVSPOOF5_SUBSETS = (("ASVspoof5.train.tsv", "flac_T", "train"),
                     ("ASVspoof5.dev.track_1.tsv", "flac_D", "val"),
                     ("ASVspoof5.eval.track_1.tsv", "flac_E_eval", "test"))
# Codec ids meaning "no codec": ``-`` in train/dev; the eval protocol writes ``-`` with quality ``0``
# (``0`` and ``C00``, the paper's name for the uncoded condition, are accepted as codec ids too).
ASVSPOOF5_UNCODED = frozenset({"-", "0", "C00"})


def _asvspoof5_protocols(root: Path) -> dict[str, Path]:
    """Each subset's protocol file, looked for in ``root``, ``root/ASVspoof5_protocols`` and every
    folder directly under ``root`` (the official archive unpacks its files where it is extracted)."""
    folders = [root, root / "ASVspoof5_protocols"]
    try:
        folders += sorted(p for p in root.iterdir() if p.is_dir() and p not in folders
                          and not p.name.startswith("flac_"))
    except OSError:
        pass
    found: dict[str, Path] = {}
    for file, _, _ in ASVSPOOF5_SUBSETS:
        for folder in folders:
            if (folder / file).is_file():
                found[file] = folder / file
                break
    if not found:
        searched = ", ".join(f"{f}/" for f in folders if f.is_dir())
        raise FileNotFoundError(f"{root}: none of {', '.join(f for f, _, _ in ASVSPOOF5_SUBSETS)} "
                                f"(searched {searched}); extract ASVspoof5_protocols.tar.gz into {root}")
    return found


def asvspoof5(root: Path) -> CorpusRows:
    """ASVspoof 5 track 1: ``flac_{T,D,E_eval}/<utt>.flac`` + ``ASVspoof5.{train,dev.track_1,eval.track_1}.tsv``.

    The protocol files are looked for in ``root`` (where ``ASVspoof5_protocols.tar.gz`` unpacks
    them), in ``root/ASVspoof5_protocols/`` or in any folder directly under ``root``. Despite the
    suffix they are space-separated, ten fields: SPEAKER_ID FLAC_FILE_NAME SPEAKER_GENDER CODEC
    CODEC_Q CODEC_SEED ATTACK_TAG ATTACK_LABEL KEY TMP (KEY is bonafide/spoof; the last field is
    unused, and a nine-field line is accepted). Rows get:

    - ``speaker`` = SPEAKER_ID, ``gender`` = SPEAKER_GENDER;
    - ``system`` = ATTACK_LABEL (``A01``..``A32``; ``-`` for bona fide), ``attack_tag`` = ATTACK_TAG;
    - ``condition`` = ``CODEC:CODEC_Q`` (``C07:3``), or ``uncoded`` for trials without a codec: the
      protocols write that ``- -`` in train/dev and ``- 0`` in eval (``0``/``C00`` as the codec
      are read the same way), so evaluate's ``per_manifest_condition`` has one uncoded group
      across all splits; ``codec`` and ``codec_q`` keep the two fields (``uncoded``/``-``).

    train/dev/eval become train/val/test. ``flac_D/`` and ``flac_E_eval/`` also hold the track-2
    enrolment utterances, which are not track-1 trials: files of an audio folder that its
    protocol does not list are left out, and counted in the returned rows' ``notes``.
    """
    protocols = _asvspoof5_protocols(root)
    rows = CorpusRows()
    for file, audio, split in ASVSPOOF5_SUBSETS:
        protocol = protocols.get(file)
        if protocol is None:
            continue
        require_dir(root / audio, f"audio for {protocol}; the ASVspoof 5 archives unpack into {root}/{audio}/")
        listed = set()
        for number, parts in read_protocol(protocol, (9, 10)):
            at = where(protocol, number)
            speaker, utt, gender, codec, quality, _seed, tag, attack, key = parts[:9]
            label = normalise_label(key, at, frozenset({"bonafide"}), frozenset({"spoof"}))
            uncoded = codec in ASVSPOOF5_UNCODED
            listed.add(utt)
            rows.append({"path": f"{audio}/{utt}.flac", "label": label, "speaker": speaker,
                         "system": system_for(label, attack), "split": split, "corpus": "asvspoof5",
                         "condition": "uncoded" if uncoded else f"{codec}:{quality}",
                         "gender": gender, "codec": "uncoded" if uncoded else codec,
                         "codec_q": "-" if uncoded else quality, "attack_tag": tag if label == "spoof" else "-",
                         "_utt": utt, "_where": at})
        extra = sum(1 for entry in os.scandir(root / audio)
                    if entry.name.endswith(".flac") and entry.name[:-5] not in listed)
        if extra:
            what = " (track-2 enrolment utterances)" if audio != "flac_T" else ""
            rows.notes.append(f"left out {extra} file(s) of {audio}/ that {protocol.name} does not list{what}")
    check_unique(rows, "_utt", "utterance id")
    return rows


def laundered(root: Path) -> list[dict]:
    """The laundered ASVspoof 2019 LA database (``ASVspoofLauneredDatabase_<type>.txt``).

    Lines ``SPEAKER_ID AUDIO_FILE_NAME SYSTEM_ID KEY Laundering_Type Laundering_Param``; the
    type and parameter land in ``condition`` (``Noise_Addition:babble_10``). Audio files are
    found by name under ``root`` (one walk); where the same name exists for several laundering
    conditions, the copy whose folder names the parameter is taken. The split follows the
    utterance id (``LA_T_`` train, ``LA_D_`` val, ``LA_E_`` test).
    """
    protocols = sorted(root.glob("ASVspoofLauneredDatabase_*.txt")) + \
        sorted(root.glob("*/ASVspoofLauneredDatabase_*.txt"))
    if not protocols:
        raise FileNotFoundError(f"{root}: no ASVspoofLauneredDatabase_<type>.txt protocol (in {root} or one "
                                f"folder below)")
    index: dict[str, list[str]] = {}
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        relative = os.path.relpath(directory, root).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        for name in names:
            stem, suffix = os.path.splitext(name)
            if suffix.lower() in (".flac", ".wav"):
                index.setdefault(stem, []).append(prefix + name)
    rows: list[dict] = []
    for protocol in protocols:
        for number, parts in read_protocol(protocol, 6, header_starts="SPEAKER_ID"):
            at = where(protocol, number)
            speaker, utt, system, key, kind, param = parts
            label = normalise_label(key, at, frozenset({"bonafide"}), frozenset({"spoof"}))
            candidates = index.get(utt, [])
            if len(candidates) > 1:
                candidates = [c for c in candidates if param in c.split("/")] or \
                             [c for c in candidates if param in c]
            if len(candidates) != 1:
                problem = "not found" if not candidates else f"ambiguous ({', '.join(candidates[:3])})"
                raise FileNotFoundError(f"{at}: audio for {utt} ({kind} {param}) {problem} under {root}")
            split = {"T": "train", "D": "val", "E": "test"}.get(utt.split("_")[1] if utt.count("_") >= 2 else "", "")
            rows.append({"path": candidates[0], "label": label, "speaker": speaker,
                         "system": system_for(label, system), "split": split, "corpus": "asvspoof2019-LA-laundered",
                         "condition": f"{kind}:{param}", "_where": at})
    check_unique(rows, "path", "audio file")
    return rows
