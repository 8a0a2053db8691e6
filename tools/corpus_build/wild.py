"""What the `wild` preset renders: its packages fetched, recordings chosen and joined, clips paired.

Order of work: fetch and unpack the Debian packages (``sources.fetch_packages``),
list each source's recordings (``wild_sources``), give every text id a split
(texts are split 60/15/25 as in ``large``; test-only speakers and sources go to
test whole), choose each source's recordings up to its budget, decode, trim and
join them (``wild_prompts``), then pair every bona fide clip with its two spoofs
(``pairing``).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from tools.corpus_build.pairing import wild_jobs
from tools.corpus_build.plan import Job, split_text_ids, target_length_s
from tools.corpus_build.presets import Preset
from tools.corpus_build.sources import fetch_packages, fetch_sources
from tools.corpus_build.wild_prompts import WildPrompt, choose, decode_all, join
from tools.corpus_build.wild_sources import PACKAGES, READERS, Recording, asterisk, tuxpaint_texts

MIN_POOL_TEXT_CHARS = 3   # shorter pool texts (a letter, "Ok") make TTS that is mostly silence


def wild_plan(preset: Preset, scratch: Path, workers: int) -> list[Job]:
    """Every clip of the `wild` corpus to render: bona fide clips and their paired spoofs."""
    budgets = preset.bonafide_minutes
    root = fetch_packages([PACKAGES[s] for s in budgets if s in PACKAGES], scratch)
    fetch_sources(preset.sources, scratch)   # the Asterisk prompt packages, into the same root
    recordings = {source: READERS[source](root)
                  for source in tqdm([s for s in budgets if s in READERS], desc="list recordings", unit="source")}
    if "asterisk" in budgets:
        recordings["asterisk"] = asterisk(root, preset.sources)
    stamps = tuxpaint_texts(root) if "tuxpaint" in budgets else {}
    split_of = split_text_ids([r.name for recs in recordings.values() for r in recs]
                              + [f"tuxpaint/{stamp}" for stamp in stamps])

    def split(rec: Recording) -> str | None:
        """A test-only source's clips all go to test; a test-only speaker's, as in ``large``, only
        those of test texts (None: left out), so no text of theirs is spoken in training."""
        if rec.source in preset.test_only_sources:
            return "test"
        if rec.speaker in preset.test_only_speakers and split_of[rec.name] != "test":
            return None
        return split_of[rec.name]

    def target(key: str) -> float:
        return target_length_s(preset, key)

    recordings = {source: [r for r in recs if split(r)] for source, recs in recordings.items()}
    chosen = {source: choose(recs, budgets[source], source) for source, recs in recordings.items()}
    for source, recs in chosen.items():
        print(f"{source}: {len(recs)} recordings, {sum(r.duration_s for r in recs) / 60:.1f} min chosen "
              f"from {len(recordings[source])}", flush=True)
    decode_all(root, [r for recs in chosen.values() for r in recs], scratch, workers)
    prompts = join([r for recs in chosen.values() for r in recs], split, target, scratch)
    missing = sorted(set(budgets) - set(recordings))
    if missing:
        print(f"warning: no reader for {', '.join(missing)}: left out", file=sys.stderr)
    return wild_jobs(prompts, preset.spoof_systems, preset.tts_voices, text_pools(prompts, stamps, split_of), target)


def text_pools(prompts: list[WildPrompt], stamps: dict[str, dict[str, str]],
               split_of: dict[str, str]) -> dict[tuple[str, str], list[str]]:
    """(split, language) -> texts TTS may speak there: the clips' own texts and Tux Paint's
    stamp descriptions (about a hundred languages), each in the split of its text id."""
    pools = defaultdict(set)
    for p in prompts:
        pools[(p.split, p.lang)].add(p.text)
    for stamp, texts in stamps.items():
        for lang, text in texts.items():
            pools[(split_of[f"tuxpaint/{stamp}"], lang)].add(text)
    return {key: sorted(t for t in texts if len(t.strip()) >= MIN_POOL_TEXT_CHARS) for key, texts in pools.items()}
