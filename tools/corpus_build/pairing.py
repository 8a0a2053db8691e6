"""The `wild` preset's clips: every bona fide clip with two spoofs made for it, on its own channel.

For each bona fide clip: a vocoded copy of it (a vocoder of its split, chosen by a
seed from the clip) and a TTS utterance in its language (an engine of the split that
speaks the language, and one of its voices, chosen the same way), both coded
through the clip's channel and cut no longer than it. The TTS text is the clip's
own when it has one, lengthened from its split's text pool of the language to
about ``CHARS_PER_S`` characters per second of the clip, so both spoofs last about
as long as the clip. A language no TTS engine of the split speaks gets a second
vocoded copy (another vocoder) instead. Pairing clip by clip keeps every channel's
classes in the same 1 : 2 proportion, so no channel, rate or codec tells them apart.
"""

from __future__ import annotations

from collections import Counter

from tools.corpus_build.generators import VOCODERS
from tools.corpus_build.plan import Job, file_id
from tools.corpus_build.tools import seed_for
from tools.corpus_build.wild_prompts import WildPrompt

# The vocoders' F0 estimator: DIO + StoneMask, measured 15x cheaper than Harvest on a 2.5 s clip
# (0.03 s against 0.45 s of CPU), which keeps the build of ~2,000 vocoded copies within its budget.
VOCODER_F0 = "dio"
CHARS_PER_S = 16.0   # characters of text per second of speech, about what the engines speak


def tts_text(prompt: WildPrompt, pool: list[str]) -> str:
    """The clip's own text, then texts from ``pool`` (from a seeded start), until it is long enough to speak."""
    need = CHARS_PER_S * prompt.duration_s
    text = prompt.text.strip()
    start = seed_for(f"text/{prompt.speaker}/{prompt.name}") % max(len(pool), 1)
    for i in range(len(pool)):
        if len(text) >= need:
            break
        text = f"{text} {pool[(start + i) % len(pool)].strip()}".strip()
    return text


def wild_jobs(prompts: list[WildPrompt], systems: dict[str, tuple[str, ...]],
              voices: dict[str, list[tuple[str, str]]], pools: dict[tuple[str, str], list[str]],
              target_s) -> list[Job]:
    """The bona fide job and its two spoof jobs for every clip (see the module doc).

    ``systems``: split -> spoof systems made for it; ``voices``: TTS system ->
    [(language, voice)]; ``pools``: (split, language) -> texts for TTS;
    ``target_s(key)``: the seeded length in seconds a clip longer than it is cut to.
    """
    jobs = []
    for p in prompts:
        stem = file_id(p.lang, p.name)
        clip_key = f"{p.speaker}/{stem}"
        clip_s = min(p.duration_s, target_s(clip_key))
        jobs.append(Job(f"bonafide/{p.source}/{p.speaker}/{stem}.flac", "bonafide", p.speaker, "-", p.split, p.lang,
                        p.name, p.text, p.wav, "", clip_s, p.codec, p.source))
        vocoders = [s for s in systems[p.split] if s in VOCODERS]
        first = vocoders[seed_for(f"vocoder/{clip_key}") % len(vocoders)]
        jobs.append(_vocoded(p, first, stem, clip_s))
        speakers = [(s, v) for s in systems[p.split] if s not in VOCODERS
                    for lang, v in voices.get(s, []) if lang == p.lang]
        text = tts_text(p, pools.get((p.split, p.lang), []))
        if speakers and text:
            system, voice = speakers[seed_for(f"tts/{clip_key}") % len(speakers)]
            speaker = f"{system.split('_')[0]}_{voice}"
            # Its ``source`` is the paired real clip: where the room tone comes from (``Mastering.room_tone``).
            jobs.append(Job(f"spoof/{system}/{file_id(voice, p.speaker, stem)}.flac", "spoof", speaker, system,
                            p.split, p.lang, p.name, text, p.wav, voice, clip_s, p.codec, p.source))
        else:
            second = [v for v in vocoders if v != first]
            jobs.append(_vocoded(p, second[seed_for(f"vocoder2/{clip_key}") % len(second)], stem, clip_s))
    paths = Counter(job.path for job in jobs)
    clashes = [path for path, n in paths.items() if n > 1]
    if clashes:
        raise ValueError(f"corpus_build: {len(clashes)} clips would share a file name, e.g. {clashes[0]}")
    return jobs


def _vocoded(p: WildPrompt, system: str, stem: str, clip_s: float) -> Job:
    """A vocoded copy of bona fide clip ``p`` by ``system``, on its channel, ``clip_s`` seconds at most;
    F0 by DIO + StoneMask (``VOCODER_F0``)."""
    return Job(f"spoof/{system}/{file_id(p.speaker, stem)}.flac", "spoof", p.speaker, system, p.split, p.lang,
               p.name, p.text, p.wav, VOCODER_F0, clip_s, p.codec, p.source)
