"""Which clips to make: text-disjoint splits, candidate clips per quota group, and the quotas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.data.corpus_build.generators import VOCODERS
from detector.data.corpus_build.presets import SPLIT_FRACTIONS, Preset
from detector.data.corpus_build.sources import Prompt
from detector.data.corpus_build.tools import SEED, seed_for

MIN_TEXT_CHARS = 30  # shortest prompt text used for TTS (shorter texts give < 2 s of speech)


@dataclass(frozen=True)
class Job:
    """One clip to render: bona fide copy, TTS utterance or vocoded copy.

    ``source`` is the decoded prompt for bona fide and vocoded clips (None for
    TTS); ``voice`` is the engine's voice name for TTS; ``target_s`` the length
    in seconds the clip is cut to if it is longer; ``codec`` the channel the clip
    is (bona fide) or is put through (spoof).
    """

    path: str
    label: str
    speaker: str
    system: str
    split: str
    lang: str
    name: str
    text: str
    source: Path | None
    voice: str
    target_s: float
    codec: str


def split_names(prompts: list[Prompt]) -> dict[str, str]:
    """Assign every prompt name (text id, shared across languages and speakers) to a split, seeded."""
    names = sorted({p.name for p in prompts})
    order = np.random.default_rng(SEED).permutation(len(names))
    n_train = round(SPLIT_FRACTIONS["train"] * len(names))
    n_val = round(SPLIT_FRACTIONS["val"] * len(names))
    split = {}
    for rank, i in enumerate(order):
        split[names[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return split


def _target_s(preset: Preset, key: str) -> float:
    """Seeded target clip length in seconds for clip ``key``."""
    return float(np.random.default_rng(seed_for(key)).uniform(*preset.target_duration_s))


def _file_id(*parts: str) -> str:
    """File-name stem from id parts (``/`` and ``+`` replaced)."""
    return "_".join(parts).replace("/", "-").replace("+", "-")


def candidate_jobs(preset: Preset, prompts: list[Prompt], name_split: dict[str, str]) -> dict[tuple, list[Job]]:
    """All possible jobs per quota group, each list in seeded random order.

    Groups are ``(split, "bonafide", speaker, lang)`` and ``(split, "spoof", system)``;
    the builder takes jobs from the front of each list until its quota is met.
    """
    rng = np.random.default_rng(SEED)
    groups: dict[tuple, list[Job]] = {}

    def shuffled(items: list) -> list:
        return [items[i] for i in rng.permutation(len(items))]

    for split in SPLIT_FRACTIONS:
        pool = [p for p in prompts if name_split[p.name] == split
                and (split == "test" or p.speaker not in preset.test_only_speakers)]
        if preset.bonafide_quota is not None:
            voices = list(preset.bonafide_quota[split])
        else:
            voices = list(dict.fromkeys((p.speaker, p.lang) for p in pool))
        for speaker, lang in voices:
            groups[(split, "bonafide", speaker, lang)] = [
                Job(f"bonafide/{speaker}/{_file_id(lang, p.name)}.flac", "bonafide", speaker, "-", split, lang,
                    p.name, p.text, p.wav, "", _target_s(preset, f"{speaker}/{lang}/{p.name}"), p.codec)
                for p in shuffled([p for p in pool if (p.speaker, p.lang) == (speaker, lang)])]
        for system in preset.spoof_systems[split]:
            if system in VOCODERS:
                jobs = []
                for p in shuffled(pool):
                    stem = _file_id(p.speaker, p.lang, p.name)
                    jobs.append(Job(f"spoof/{system}/{stem}.flac", "spoof", p.speaker, system, split, p.lang,
                                    p.name, p.text, p.wav, "", _target_s(preset, f"{system}/{stem}"), p.codec))
            else:
                jobs = _tts_jobs(preset, system, split, pool, shuffled)
            groups[(split, "spoof", system)] = jobs
    return groups


def _tts_jobs(preset: Preset, system: str, split: str, pool: list[Prompt], shuffled) -> list[Job]:
    """TTS candidates of ``system`` for one split, in the order they are to be rendered.

    First lap: the voices take turns, each speaking the next unused text of its
    language, so every text is spoken once. Later laps repeat that order with the
    voices of a language rotated, so each voice speaks each text at most once.
    Texts come from the split's own real prompts, so a test-only speaker's
    language is synthesised in train/val only if another speaker has it there.
    Each TTS clip takes the channel codec of the prompt whose text it speaks.
    """
    voices = preset.tts_voices[system]
    texts = {lang: shuffled(sorted((p for p in pool if p.lang == lang and len(p.text) >= MIN_TEXT_CHARS),
                                   key=lambda p: (p.name, p.text, p.speaker)))
             for lang, _ in voices}
    lang_voices = {lang: [v for lang_, v in voices if lang_ == lang] for lang in texts}
    used = dict.fromkeys(texts, 0)
    first_lap = []   # (lang, index of the voice within its language, prompt)
    while any(used[lang] < len(texts[lang]) for lang in texts):
        for lang, voice in voices:
            if used[lang] == len(texts[lang]):
                continue
            first_lap.append((lang, lang_voices[lang].index(voice), texts[lang][used[lang]]))
            used[lang] += 1
    jobs = []
    for lap in range(max(len(v) for v in lang_voices.values())):
        for lang, index, prompt in first_lap:
            if lap < len(lang_voices[lang]):
                voice = lang_voices[lang][(index + lap) % len(lang_voices[lang])]
                jobs.append(_tts_job(preset, system, split, lang, voice, prompt))
    return jobs


def _tts_job(preset: Preset, system: str, split: str, lang: str, voice: str, prompt: Prompt) -> Job:
    """The job for ``voice`` of ``system`` speaking ``prompt``'s text."""
    speaker = f"{system.split('_')[0]}_{voice}"
    if preset.pair_tts_with_prompt:
        stem = _file_id(voice, lang, prompt.name, prompt.speaker)
        target_s = min(_target_s(preset, f"{system}/{stem}"), prompt.duration_s)
    else:
        stem = _file_id(voice, lang, prompt.name)
        target_s = _target_s(preset, f"{system}/{stem}")
    return Job(f"spoof/{system}/{stem}.flac", "spoof", speaker, system, split, lang,
               prompt.name, prompt.text, None, voice, target_s, prompt.codec)


def quotas(preset: Preset, groups: dict[tuple, list[Job]]) -> dict[tuple, int]:
    """Clips wanted per group.

    Explicit preset quotas win. Otherwise bona fide groups take every candidate,
    and each split gets ``spoof_per_bonafide`` times its bona fide count of spoof
    clips, shared as evenly over its systems as their candidates allow (a system
    with too few candidates gives its shortfall to the others).
    """
    wanted = {}
    for group, jobs in groups.items():
        split, label, *rest = group
        if label == "bonafide":
            wanted[group] = (len(jobs) if preset.bonafide_quota is None
                             else preset.bonafide_quota[split][tuple(rest)])
    for split, systems in preset.spoof_systems.items():
        if preset.spoof_quota is not None:
            wanted.update({(split, "spoof", s): preset.spoof_quota[split][s] for s in systems})
            continue
        bonafide = sum(n for (s, label, *_), n in wanted.items() if s == split and label == "bonafide")
        capacity = [len(groups[(split, "spoof", s)]) for s in systems]
        shares = even_shares(round(preset.spoof_per_bonafide * bonafide), capacity)
        wanted.update({(split, "spoof", s): n for s, n in zip(systems, shares)})
    return wanted


def even_shares(total: int, capacity: list[int]) -> list[int]:
    """Split ``total`` over groups as evenly as possible, none above its ``capacity``.

    Groups are filled smallest capacity first; leftover units go to the earliest
    groups. Returns less than ``total`` in all only if the capacities sum to less.
    """
    shares = [0] * len(capacity)
    left, open_ = total, sorted(range(len(capacity)), key=lambda i: (capacity[i], i))
    while open_ and left > 0:
        share, extra = divmod(left, len(open_))
        i = open_[0]
        if capacity[i] <= share:   # the smallest group cannot take an even share: give it all it has
            shares[i] = capacity[i]
            left -= capacity[i]
            open_.pop(0)
            continue
        for rank, j in enumerate(sorted(open_)):
            shares[j] = share + (rank < extra)
        left = 0
    return shares
