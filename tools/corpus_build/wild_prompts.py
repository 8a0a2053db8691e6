"""The `wild` preset's bona fide clips: recordings chosen per source, decoded, trimmed and joined.

A source's recordings are taken speaker by speaker in turn (seeded order) until its
budget of minutes is met, so every voice is heard. Each is decoded to 16 kHz with
the FFmpeg decoder the builder uses for every channel and its silence trimmed;
recordings shorter than a clip (single words, letters, tile calls) are joined, in
text order, with the next ones of the same split, speaker, language and channel
until the joined clip reaches its seeded target length (a remainder too short
for a clip is dropped). The joined text is the words in that order, so a TTS
spoof of a joined clip says the same kind of list.
"""

from __future__ import annotations

import multiprocessing
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tools.corpus_build.hygiene import MIN_DURATION_S, SAMPLE_RATE, decode_file, decode_stream, trim_silence
from tools.corpus_build.sources import Prompt
from tools.corpus_build.tools import seed_for
from tools.corpus_build.wild_sources import Recording

CLIP_CAP_S = 6.0   # a recording counts at most this long against its source's budget (clips are cut to it)


@dataclass(frozen=True)
class WildPrompt(Prompt):
    """One bona fide clip of the `wild` preset: a ``sources.Prompt`` (``wav``: 16 kHz mono 16-bit,
    decoded and trimmed; ``name``: the first recording's text id; ``duration_s``: the joined clip's
    length in seconds) with its ``source``, ``split`` and ``parts``, how many recordings were joined.
    """

    source: str
    split: str
    parts: int


def choose(recordings: list[Recording], budget_min: float, key: str) -> list[Recording]:
    """Recordings of one source up to ``budget_min`` minutes, the speakers taking turns (seeded order)."""
    by_speaker = defaultdict(list)
    for rec in recordings:
        by_speaker[rec.speaker].append(rec)
    queues = []
    for speaker in sorted(by_speaker):
        rng = np.random.default_rng(seed_for(f"{key}/{speaker}"))
        queues.append([by_speaker[speaker][i] for i in rng.permutation(len(by_speaker[speaker]))])
    chosen, total_s = [], 0.0
    while total_s < budget_min * 60 and any(queues):
        for queue in queues:
            if queue and total_s < budget_min * 60:
                rec = queue.pop()
                chosen.append(rec)
                total_s += min(rec.duration_s, CLIP_CAP_S)
    return chosen


def member_bytes(root: Path, rec: Recording) -> bytes:
    """The coded stream of an archived recording, as its channel's decoder reads it."""
    if rec.source == "warzone":
        with zipfile.ZipFile(root / rec.path) as wz:
            return wz.read(rec.member)
    if rec.source == "sky":
        from tools.corpus_build.archives import sky

        dsk, entries = _sky_archive(root / rec.path)
        return sky.load_file(dsk, entries[int(rec.member)], rec.path)[sky.HEADER_SIZE:]
    if rec.source == "queen":
        entry = _queen_table(root / rec.path)[rec.member]
        with open(root / rec.path, "rb") as f:
            f.seek(entry.offset)
            return f.read(entry.size)
    raise ValueError(f"corpus_build: {rec.source} recordings are plain files, not archive members")


@lru_cache(maxsize=1)
def _sky_archive(dsk: Path):
    """sky.dsk's bytes and its index by file number, read once per worker process."""
    from tools.corpus_build.archives import sky

    return dsk.read_bytes(), {e.file_number: e for e in sky.read_dnr(dsk.with_suffix(".dnr"))}


@lru_cache(maxsize=1)
def _queen_table(path: Path):
    """queen.1c's table by entry name, read once per worker process."""
    from tools.corpus_build.archives import queen

    return {e.name: e for e in queen.read_table(path)}


def _decode_one(job: tuple[Path, Recording, Path]) -> None:
    """Decode one recording to a 16-bit 16 kHz WAV file, its silence trimmed (pool entry point)."""
    import soundfile as sf

    root, rec, wav = job
    x = decode_stream(member_bytes(root, rec), rec.channel) if rec.member else decode_file(str(root / rec.path),
                                                                                           rec.channel)
    wav.parent.mkdir(parents=True, exist_ok=True)
    temp = wav.with_suffix(".part.wav")
    sf.write(temp, trim_silence(x), SAMPLE_RATE, subtype="PCM_16")
    temp.replace(wav)   # a build killed mid-write leaves no half file to be taken for a decoded one


def decoded_path(scratch: Path, rec: Recording) -> Path:
    """Where a recording's decoded, trimmed WAV is cached in the scratch folder."""
    stem = (rec.member or rec.path).replace("/", "-")
    return scratch / "decoded-wild" / rec.source / rec.speaker / f"{Path(stem).stem}.wav"


def decode_all(root: Path, recordings: list[Recording], scratch: Path, workers: int) -> None:
    """Decode every recording not decoded yet (cached in ``scratch``; a rerun decodes nothing twice)."""
    todo = [(root, rec, decoded_path(scratch, rec)) for rec in recordings if not decoded_path(scratch, rec).exists()]
    with multiprocessing.Pool(workers) as pool:
        for _ in tqdm(pool.imap_unordered(_decode_one, todo, chunksize=8), total=len(todo), desc="decode",
                      unit="file"):
            pass


def join(recordings: list[Recording], split_of, target_s, scratch: Path) -> list[WildPrompt]:
    """Bona fide clips from decoded recordings: long ones alone, short ones joined (see the module doc).

    ``split_of(recording)`` is its split; ``target_s(key)`` the seeded length (seconds) a
    clip is cut to: a joined clip grows until it reaches it. Joined WAVs are written
    to ``scratch/joined``.
    """
    import soundfile as sf

    groups = defaultdict(list)
    for rec in recordings:
        groups[(split_of(rec), rec.source, rec.speaker, rec.lang, rec.channel)].append(rec)
    prompts = []
    for (split, source, speaker, lang, channel), recs in tqdm(sorted(groups.items()), desc="join", unit="speaker"):
        pending: list[tuple[Recording, np.ndarray]] = []
        for rec in sorted(recs, key=lambda r: (r.name, r.path, r.member)):
            x, _ = sf.read(decoded_path(scratch, rec), dtype="float64")
            pending.append((rec, x))
            first = pending[0][0]
            length_s = sum(len(y) for _, y in pending) / SAMPLE_RATE
            long_alone = len(pending) == 1 and length_s >= MIN_DURATION_S   # a clip by itself, even if short of target
            if not long_alone and length_s < max(MIN_DURATION_S, target_s(f"{speaker}/{lang}/{first.name}")):
                continue
            wav = decoded_path(scratch, first) if len(pending) == 1 else _write_joined(scratch, pending)
            text = " ".join(r.text.strip() for r, _ in pending if r.text.strip())
            prompts.append(WildPrompt(speaker, lang, first.name, text, wav, length_s, channel, source, split,
                                      len(pending)))
            pending = []
    return prompts


def _write_joined(scratch: Path, pending: list[tuple[Recording, np.ndarray]]) -> Path:
    """Write the concatenation of trimmed recordings (each keeps its own 50 ms of room tone at both ends)."""
    import soundfile as sf

    first = pending[0][0]
    # Named after every part, so a build that chooses other recordings never reuses a stale join.
    digest = seed_for("+".join(f"{r.path}:{r.member}" for r, _ in pending))
    wav = scratch / "joined" / first.source / first.speaker / f"{decoded_path(scratch, first).stem}-{digest:08x}.wav"
    if not wav.exists():
        wav.parent.mkdir(parents=True, exist_ok=True)
        temp = wav.with_suffix(".part.wav")
        sf.write(temp, np.concatenate([x for _, x in pending]), SAMPLE_RATE, subtype="PCM_16")
        temp.replace(wav)
    return wav
