"""Which clips to make: text-disjoint splits, candidate clips per quota group, and the quotas."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.corpus_build.generators import VOCODERS
from tools.corpus_build.presets import SPLIT_FRACTIONS, Preset
from tools.corpus_build.sources import Prompt
from tools.corpus_build.tools import SEED, seed_for

MIN_TEXT_CHARS = 30  # shortest prompt text used for TTS (shorter texts give < 2 s of speech)


@dataclass(frozen=True)
class Job:
    """One clip to render: bona fide copy, TTS utterance or vocoded copy.

    ``source`` is the decoded prompt for bona fide and vocoded clips (None for
    TTS); ``voice`` is the engine's voice name for TTS; ``target_s`` the length
    in seconds the clip is cut to if it is longer (a vocoder's ``voice``: its F0 estimator,
    ``generators.F0_ESTIMATORS``, "" for Harvest); ``codec`` the channel the clip
    is (bona fide) or is put through (spoof); ``origin`` the bona fide source of the
    clip or of the clip it is paired with (the `wild` preset's; "" in the others).
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
    origin: str = ""


def split_names(prompts: list[Prompt]) -> dict[str, str]:
    """Assign every prompt name (text id, shared across languages and speakers) to a split, seeded."""
    return split_text_ids(p.name for p in prompts)


def split_text_ids(text_ids) -> dict[str, str]:
    """Assign every text id to train, val or test (``SPLIT_FRACTIONS`` of them, seeded order)."""
    names = sorted(set(text_ids))
    order = np.random.default_rng(SEED).permutation(len(names))
    n_train = round(SPLIT_FRACTIONS["train"] * len(names))
    n_val = round(SPLIT_FRACTIONS["val"] * len(names))
    split = {}
    for rank, i in enumerate(order):
        split[names[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return split


def target_length_s(preset: Preset, key: str) -> float:
    """Seeded target clip length in seconds for clip ``key``."""
    return float(np.random.default_rng(seed_for(key)).uniform(*preset.target_duration_s))


def file_id(*parts: str) -> str:
    """File-name stem from id parts (``/`` and ``+`` replaced)."""
    return "_".join(parts).replace("/", "-").replace("+", "-")


def candidate_jobs(preset: Preset, prompts: list[Prompt], name_split: dict[str, str]) -> dict[tuple, list[Job]]:
    """All possible jobs per quota group, each list in seeded random order.

    Groups are ``(split, "bonafide", speaker, lang)`` and ``(split, "spoof", system)``,
    or ``(split, "spoof", system, lang)`` for presets without fixed spoof quotas; the
    builder takes jobs from the front of each list until its quota is met.
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
                Job(f"bonafide/{speaker}/{file_id(lang, p.name)}.flac", "bonafide", speaker, "-", split, lang,
                    p.name, p.text, p.wav, "", target_length_s(preset, f"{speaker}/{lang}/{p.name}"), p.codec)
                for p in shuffled([p for p in pool if (p.speaker, p.lang) == (speaker, lang)])]
        for system in preset.spoof_systems[split]:
            if system in VOCODERS:
                jobs = []
                for p in shuffled(pool):
                    stem = file_id(p.speaker, p.lang, p.name)
                    jobs.append(Job(f"spoof/{system}/{stem}.flac", "spoof", p.speaker, system, split, p.lang,
                                    p.name, p.text, p.wav, "", target_length_s(preset, f"{system}/{stem}"), p.codec))
            else:
                jobs = _tts_jobs(preset, system, split, pool, shuffled)
            if preset.spoof_quota is None:   # quotas per language (see ``quotas``): a group per language
                for lang in dict.fromkeys(job.lang for job in jobs):
                    groups[(split, "spoof", system, lang)] = [job for job in jobs if job.lang == lang]
            else:
                groups[(split, "spoof", system)] = jobs
    paths = Counter(job.path for jobs in groups.values() for job in jobs)
    clashes = [path for path, n in paths.items() if n > 1]
    if clashes:
        raise ValueError(f"corpus_build: {len(clashes)} clips would share a file name, e.g. {clashes[0]}")
    return groups


def _tts_jobs(preset: Preset, system: str, split: str, pool: list[Prompt], shuffled) -> list[Job]:
    """TTS candidates of ``system`` for one split, in the order they are to be rendered.

    First lap: the voices take turns, each speaking the next unused text of its
    language, so every text is spoken once. Later laps repeat that order with the
    voices of a language rotated, so each voice speaks each text at most once.
    Texts come from the split's own real prompts, so a test-only speaker's
    language is synthesised in train/val only if another speaker has it there.
    Each TTS clip takes the channel codec of the prompt whose text it speaks; a
    text two speakers share is paired with one of them (``_one_prompt_per_text``).
    """
    voices = preset.tts_voices[system]
    # A language with two voices is shuffled twice and the second order kept: wasteful, but the
    # demo corpus was built from this random stream, and its files are byte-reproducible.
    texts = {lang: shuffled(_one_prompt_per_text([p for p in pool if p.lang == lang and len(p.text) >= MIN_TEXT_CHARS]))
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


def _one_prompt_per_text(prompts: list[Prompt]) -> list[Prompt]:
    """One prompt per (name, text), sorted by it: where two speakers read the same text, the one
    chosen by a seed from the prompt name (no draw from the shared random stream), so a voice
    never speaks one text twice for two channels."""
    by_text: dict[tuple[str, str], list[Prompt]] = {}
    for prompt in sorted(prompts, key=lambda p: (p.name, p.text, p.speaker)):
        by_text.setdefault((prompt.name, prompt.text), []).append(prompt)
    return [group[seed_for(name) % len(group)] for (name, _), group in by_text.items()]


def _tts_job(preset: Preset, system: str, split: str, lang: str, voice: str, prompt: Prompt) -> Job:
    """The job for ``voice`` of ``system`` speaking ``prompt``'s text."""
    speaker = f"{system.split('_')[0]}_{voice}"
    if preset.pair_tts_with_prompt:
        stem = file_id(voice, lang, prompt.name, prompt.speaker)
        target_s = min(target_length_s(preset, f"{system}/{stem}"), prompt.duration_s)
    else:
        stem = file_id(voice, lang, prompt.name)
        target_s = target_length_s(preset, f"{system}/{stem}")
    return Job(f"spoof/{system}/{stem}.flac", "spoof", speaker, system, split, lang,
               prompt.name, prompt.text, None, voice, target_s, prompt.codec)


def quotas(preset: Preset, groups: dict[tuple, list[Job]]) -> dict[tuple, int]:
    """Clips wanted per group.

    Explicit preset quotas win. Otherwise bona fide groups take every candidate, and
    in each split and language the spoof clips number ``spoof_per_bonafide`` times
    the bona fide ones (``language_matched_shares``): matching the classes language
    by language keeps language, and the channel that follows each prompt, from
    telling them apart.
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
        bonafide = Counter()
        for group, n in wanted.items():
            if group[:2] == (split, "bonafide"):
                bonafide[group[-1]] += n
        need = spoof_need(bonafide, preset.spoof_per_bonafide)
        capacity = {(g[2], g[3]): len(jobs) for g, jobs in groups.items() if g[:2] == (split, "spoof")}
        shares = language_matched_shares(need, capacity, list(systems))
        wanted.update({(split, "spoof", system, lang): n for (system, lang), n in shares.items()})
    return wanted


def spoof_need(bonafide: dict[str, int], ratio: float) -> dict[str, int]:
    """Spoof clips wanted per language: ``ratio`` times each language's bona fide clips, rounded so
    that the split's total is ``round(ratio * bona fide total)`` (largest remainders get the units)."""
    exact = {lang: ratio * n for lang, n in bonafide.items()}
    need = {lang: math.floor(v) for lang, v in exact.items()}
    missing = round(ratio * sum(bonafide.values())) - sum(need.values())
    for lang in sorted(exact, key=lambda lang: need[lang] - exact[lang])[:missing]:
        need[lang] += 1
    return need


def quota_shortfalls(preset: Preset, wanted: dict[tuple, int]) -> list[str]:
    """Languages whose spoof quota falls short of their need (no engine speaks them, or too few
    candidates), one line each; empty for presets with fixed quotas."""
    if preset.spoof_quota is not None:
        return []
    lines = []
    for split in preset.spoof_systems:
        bonafide, spoof = Counter(), Counter()
        for group, n in wanted.items():
            if group[0] == split:
                (bonafide if group[1] == "bonafide" else spoof)[group[-1]] += n
        for lang, n in spoof_need(bonafide, preset.spoof_per_bonafide).items():
            if spoof[lang] < n:
                lines.append(f"{split} {lang}: {spoof[lang]} spoof clips planned of the {n} needed")
    return lines


def language_matched_shares(need: dict[str, int], capacity: dict[tuple[str, str], int],
                            systems: list[str]) -> dict[tuple[str, str], int]:
    """Clips per (system, language): each language gets ``need[lang]`` clips, the systems as even as possible.

    ``capacity[(system, lang)]`` is how many candidates a system has in a language.
    First every system that speaks a language gets half of an even split of it, so
    no engine is tied to a few languages. The rest is dealt one clip at a time, the
    languages taking turns, each clip to the system with the fewest clips so far
    that still has a candidate in that language (ties: the system speaking fewer
    languages, then ``systems`` order): English-only engines so take most of the
    remaining English while multilingual ones fill up on the other languages. A
    language gets less than it needs only when its candidates run out.
    """
    speakers = {lang: [s for s in systems if capacity.get((s, lang), 0) > 0] for lang in need}
    shares = {(s, lang): min(capacity[(s, lang)], need[lang] // len(speakers[lang]) // 2)
              for lang in need for s in speakers[lang]}
    totals = {s: sum(n for (system, _), n in shares.items() if system == s) for s in systems}
    breadth = {s: sum(1 for lang in need if s in speakers[lang]) for s in systems}
    left = {lang: need[lang] - sum(shares[(s, lang)] for s in speakers[lang]) for lang in need}
    left = {lang: n for lang, n in left.items() if n > 0}
    while left:
        for lang in list(left):
            open_ = [s for s in speakers[lang] if shares[(s, lang)] < capacity[(s, lang)]]
            if not open_:
                del left[lang]
                continue
            system = min(open_, key=lambda s: (totals[s], breadth[s], systems.index(s)))
            shares[(system, lang)] += 1
            totals[system] += 1
            left[lang] -= 1
            if not left[lang]:
                del left[lang]
    return shares
