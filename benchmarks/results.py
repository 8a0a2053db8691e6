"""Where benchmark numbers go: ``benchmarks/results.csv`` (raw, one row per number) and ``benchmarks/RESULTS.md``.

The CSV is the record; ``RESULTS.md`` is re-rendered from it after every run, one
section per benchmark with a short explanation of what its rows measure, rows
oldest first. Every row carries the date, the device name and the torch version.
"""
from __future__ import annotations

import csv
import datetime
from pathlib import Path

import torch

HERE = Path(__file__).parent
COLUMNS = ("date", "benchmark", "stage", "device", "torch", "batch_size", "crop_s", "value", "unit", "notes")

# One paragraph per benchmark, shown above its table in RESULTS.md.
SECTIONS: dict[str, str] = {
    "corpus_build": (
        "Building the `large` research corpus (`python -m tools.corpus_build --preset large "
        "--workers 2`, wall time by `/usr/bin/time`): 13 Debian packages, 2,390 prompts decoded, 3,498 clips "
        "rendered (TTS, vocoders, FFmpeg codec round trips), and training/evaluating ResNet-18 on it "
        "(`detector train --crop-s 2.0 --epochs 30 --patience 30`, then `detector evaluate` under clean + 3 "
        "conditions). Not a ratio: a build has no baseline; the numbers say what a rebuild costs."
    ),
    "study": (
        "The robustness study end to end: N source clips (4 s, 16 kHz FLAC on disk) x (clean + 29 study "
        "conditions) turned into model-ready batches. *ours*: decode once into the memory-mapped waveform "
        "cache, build the noise/RIR banks, launder each batch of 32 on the device (MP3 via libsndfile in "
        "memory, cached per clip and condition with `derived_cache`), log-mel -> `(32, 1, 80, 401)`. "
        "*baseline*: `benchmarks/seed_style_baseline.py`, the research workflow: per clip and condition read "
        "a file, launder (pyroomacoustics room per clip, NumPy noise, scipy, `ffmpeg` MP3), write a WAV, "
        "render the seed's PNG with librosa/matplotlib (cropped to 2325x1155 since issue 19; 3000x1500 "
        "before), then read every PNG back (PIL, resize 224, "
        "ImageNet normalise) into batches of 32. Rows: seconds for N clips, seconds per source clip, the "
        "speed-up ratio (baseline/ours, same run), bytes written to disk, peak RSS of the process; "
        "`-no-mp3` rows leave out the 6 MP3 conditions on both sides; `@1000` rows are linear "
        "extrapolations to 1,000 clips (fixed set-up cost counted once)."),
    "epoch": (
        "The per-epoch input pipeline, clips/s: *ours* = waveform cache -> random 4 s crop -> default "
        "training laundering chain -> log-mel, batches of 32 on the device; *png* = reading the baseline's "
        "spectrogram PNGs back with a 2-worker DataLoader (PIL open, RGB, resize 224, ToTensor, "
        "Normalize), batches of 32. The ratio is ours/png."),
    "attacks": (
        "Laundering throughput per condition (and per family: the median over its conditions), clips/s on "
        "one `(32, 1, 64000)` batch (4 s clips): device attacks batched with sampled parameters; MP3 per "
        "clip through libsndfile in memory (what `derived_cache` pays once per clip)."),
    "frontend": (
        "Front-ends' forward pass, clips/s on `(32, 1, 64000)` (`python -m benchmarks.run --suite frontend`): "
        "log-mel (`LogMel`, n_fft 512, hop 160, 80 mels) with the torchaudio and nnAudio backends; since "
        "issue 19 also the multi-rate CQT, LFCC and the seed image, and each one's forward time as a multiple "
        "of log-mel's (torchaudio) in the same run (rounds interleaved). The CQT's target is <= 1.5x."),
    "frontends": (
        "Training throughput of each front-end (`python -m benchmarks.frontends`): one full training step "
        "(default laundering chain + front-end + ResNet-18 forward, backward, fused AdamW) on a batch of 2 s "
        "demo-corpus crops, clips/s, and as a ratio to log-mel's in the same run. The EERs of the comparison "
        "are in the README (they are results, not speed)."),
    "train": (
        "One ResNet-18 training step (forward, backward, AdamW) on 4 s clips, clips/s: *model-only* feeds "
        "precomputed log-mels, *full* = laundering chain + log-mel + model (the on-the-fly overhead is "
        "their difference); fp32 vs AMP (bf16 on the CPU, fp16/bf16 on CUDA), NCHW vs channels_last, eager "
        "vs `torch.compile` (compile time reported separately, in s)."),
    "scaling": (
        "Laundering chain + log-mel throughput (clips/s) as the batch size grows (4 s clips) and as the "
        "clip length grows (batch 32); linear cost shows as flat clips/s (batch) or clips/s x length "
        "constant (length)."),
    "memory": (
        "Peak resident memory (RSS) of our study run at two corpus sizes: the waveform cache is a memmap, "
        "so RAM should not grow with the corpus."),
    "pipeline": "`python -m benchmarks.pipeline`: loader alone, + laundering + log-mel, + training step (AMP).",
    "launder": (
        "`python -m benchmarks.launder`: each laundering family batched vs a per-clip NumPy/SciPy "
        "implementation on in-memory clips (no file I/O on either side)."),
    "memory_workers": (
        '`python -m benchmarks.run --suite memory_workers` (`benchmarks/memory_workers.py`): a '
        'synthetic 1,000,000-row cache index (and a 1,000,000-row `Manifest` kept alive, as `detector '
        'train` keeps it), 200 training batches of 32 random 4 s int16 crops through `make_loader`, '
        'each configuration in a fresh process. Memory is the peak PSS from '
        '`/proc/<pid>/smaps_rollup` (a page shared by n processes counts 1/n in each), summed over '
        'the main process and its workers, sampled every 0.2 s; the ratio is that sum over the peak '
        'PSS of one process with no workers (target <= 1.5). *full gc in each worker*: every worker '
        'runs `gc.collect()` first, as a long epoch eventually does; the *without gc.freeze* ablation '
        "shows what `make_loader`'s worker_init_fn (`gc.freeze()`) prevents: the collector writing "
        "into every inherited object and copying the parent's pages into each worker."),
    "chain_cost": (
        "`python -m benchmarks.chain_cost`: the default training chain on one `(32, 1, 64000)` batch (4 s "
        "clips) against each of its conditions alone on the whole batch, ms per batch. Each laundered example "
        "pays for its own condition only, so the chain should cost about the mean of its single conditions "
        "(target <= 1.5x); the *dense form* row (their sum) is what laundering every example with every "
        "condition and selecting per example would cost."),
    "gpu_check": (
        "`python -m benchmarks.gpu_check`: the prepared GPU check (see its docstring). Training clips/s "
        "(forward, backward, fused AdamW, through the real epoch loop) of ResNet-18 alone on precomputed "
        "front-end output vs the full on-the-fly pipeline (int16 cache -> crop -> default chain -> "
        "front-end -> ResNet-18), per front-end, eager and compiled, with the DataLoader or the cache on the "
        "device, and the input wait per step; peak GPU memory and seconds of each check; seconds for the "
        "laundering study; the ASVspoof 2019 LA-sized run extrapolated to one and to 30 epochs; how many "
        "checks failed. Rows before issue 19 name no front-end (log-mel). Rows with `--quick` are the CPU "
        "self-test's small batches, not performance figures."),
    "prepare": "`python -m benchmarks.prepare`: `detector prepare` stages on synthetic protocols and files.",
    "inference": (
        "`python -m benchmarks.inference`: the cost of one ablation cell relative to one clean evaluation "
        "pass over the demo corpus's test split (110 clips, sliding windows, waveform cache already built); "
        "the MP3 cell's first pass codes every clip into the derived cache, later passes read it. Predict: "
        "seconds of audio scored per second, decoding the demo corpus's 440 files, and one 600 s clip."),
}


def record(results: dict[str, float], device: str, args=None, benchmark: str = "pipeline",
           unit: str | dict[str, str] = "clips/s", notes: str | dict[str, str] = "",
           folder: Path = HERE) -> list[dict]:
    """Append one row per ``results`` entry (stage -> value) to the CSV and re-render RESULTS.md.

    Args:
        results: stage name -> number.
        device: the device's name (see ``benchmarks.timing.device_name``).
        args: parsed arguments; ``batch_size`` and ``crop_s`` are taken from it when present.
        benchmark: the section the rows belong to (a key of ``SECTIONS``, or a new one).
        unit, notes: one for all rows, or per stage.
    """
    date = datetime.date.today().isoformat()
    rows = []
    for stage, value in results.items():
        rows.append({
            "date": date, "benchmark": benchmark, "stage": stage, "device": device, "torch": torch.__version__,
            "batch_size": getattr(args, "batch_size", ""), "crop_s": getattr(args, "crop_s", ""),
            "value": _format(value), "unit": unit.get(stage, "") if isinstance(unit, dict) else unit,
            "notes": notes.get(stage, "") if isinstance(notes, dict) else notes,
        })
    raw = folder / "results.csv"
    existing = read_rows(raw)
    with raw.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(existing + rows)
    render(existing + rows, folder / "RESULTS.md")
    return rows


def read_rows(path: Path) -> list[dict]:
    """Rows of ``results.csv``; rows in the older layout (``clips_per_s``) are converted."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        if "clips_per_s" in row:   # first layout: benchmark 'pipeline' held the launder rows too
            row["value"], row["unit"] = row.pop("clips_per_s"), "clips/s"
            if row["stage"].startswith("launder "):
                row["benchmark"] = "launder"
        out.append({key: row.get(key, "") or "" for key in COLUMNS})
    return out


# The summary's headline per benchmark: the stages whose latest row it shows, in this order.
HEADLINES: dict[str, tuple[str, ...]] = {
    "corpus_build": ("build from empty scratch", "train 30 epochs, laundered"),
    "study": ("ratio 20 clips", "ratio @1000"),
    "epoch": ("ratio ours/png", "ours cache->crop->launder->logmel"),
    "attacks": ("training chain (default spec)",),
    "frontend": ("cqt forward time / logmel",),
    "frontends": ("logmel train", "cqt / logmel"),
    "train": ("full amp channels_last eager", "model-only amp channels_last eager"),
    "scaling": ("batch 32 x 4 s", "length 16 s x batch 32"),
    "memory": ("ours peak RSS 20 clips", "ours peak RSS 200 clips"),
    "pipeline": ("c_train_step_amp_bf16",),
    "launder": ("launder study-29 (mp3 on host) clip-conditions",),
    "memory_workers": ("4 workers: ratio to 1 process (PSS)",),
    "chain_cost": ("default chain",),
    "gpu_check": (),
    "prepare": (),
    "inference": ("predict 440 files (decode included)", "ablation mp3:128k (ratio)"),
}
SHARED_NOTE_MIN_ROWS = 3    # a note part on at least this many rows is written once, in Notes
SHARED_NOTE_MIN_CHARS = 25  # shorter parts ("load 1.4") stay in their rows
SETTINGS = (("device", "device"), ("torch", "torch"), ("batch_size", "batch"), ("crop_s", "crop (s)"))
SAID = {"device": "device {}", "torch": "torch {}", "batch_size": "batch {}", "crop_s": "crop {} s"}


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def _note_parts(notes: str) -> list[str]:
    """A row's notes split at the semicolons outside parentheses (a chain spec inside keeps its own)."""
    parts, depth, current = [], 0, ""
    for char in notes:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ";" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def _shared_notes(rows: list[dict]) -> dict[str, str]:
    """Note parts repeated on many rows -> their labels (N1, N2, ...), in order of first use."""
    counts: dict[str, int] = {}
    for r in rows:
        for part in _note_parts(r["notes"]):
            counts[part] = counts.get(part, 0) + 1
    shared = [p for p, n in counts.items() if n >= SHARED_NOTE_MIN_ROWS and len(p) >= SHARED_NOTE_MIN_CHARS]
    return {part: f"N{i}" for i, part in enumerate(shared, 1)}


def _row_notes(notes: str, labels: dict[str, str]) -> str:
    parts = _note_parts(notes)
    return "; ".join([p for p in parts if p not in labels] + [f"[{labels[p]}](#notes)" for p in parts if p in labels])


def _headline(name: str, chosen: list[dict], labels: dict[str, str]) -> tuple[str, str, str]:
    """(headline, device, date) of a benchmark: the latest row of each headline stage (file order =
    time order), or the latest row when none is named."""
    stages = HEADLINES.get(name) or (chosen[-1]["stage"],)
    latest = [next((r for r in reversed(chosen) if r["stage"] == stage), None) for stage in stages]
    latest = [r for r in latest if r is not None] or [chosen[-1]]
    text = "; ".join(f"{r['stage']}: **{r['value']}** {r['unit']}".rstrip()
                     + (f" ({_row_notes(r['notes'], labels)})" if r["notes"] else "") for r in latest)
    devices = sorted({r["device"] for r in latest})
    dates = sorted({r["date"] for r in latest})
    return text, ", ".join(devices), dates[-1] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


def render(rows: list[dict], path: Path) -> None:
    order = list(SECTIONS) + sorted({r["benchmark"] for r in rows} - set(SECTIONS))
    names = [name for name in order if any(r["benchmark"] == name for r in rows)]
    labels = _shared_notes(rows)
    lines = ["# Benchmark results", "",
             "Written by `benchmarks/results.py` from `results.csv` (the raw record) after every run. "
             "How to run them: `benchmarks/README.md`. Timings on a shared 2-core CPU are noisy; each number "
             "is a median of repeats.", "",
             "## Summary", "",
             "The latest headline figure of each benchmark (the history, oldest first, follows).", "",
             "| benchmark | headline (latest) | device | date |", "|---|---|---|---|"]
    for name in names:
        text, device, date = _headline(name, [r for r in rows if r["benchmark"] == name], labels)
        lines.append(f"| [{name}](#{name}) | {_cell(text)} | {_cell(device)} | {date} |")
    lines.append("")
    if labels:
        lines += ["## Notes", "", "Notes shared by many rows, referred to by label in the tables.", ""]
        lines += [f"- **{label}**: {part}" for part, label in labels.items()]
        lines.append("")
    lines += ["## History", ""]
    for name in names:
        chosen = [r for r in rows if r["benchmark"] == name]
        # A setting with one value in the whole section is said once above its table.
        constant = [(key, title) for key, title in SETTINGS if len({r[key] for r in chosen}) == 1]
        varying = [(key, title) for key, title in SETTINGS if (key, title) not in constant]
        notes = [_row_notes(r["notes"], labels) for r in chosen]
        columns = [("date", "date"), ("stage", "stage"), ("value", "value"), ("unit", "unit"), *varying]
        lines += [f"### {name}", "", SECTIONS.get(name, ""), ""]
        said = [SAID[key].format(chosen[0][key]) for key, _ in constant if chosen[0][key]]
        if said:
            lines += ["Every row: " + ", ".join(said) + ".", ""]
        header = [title for _, title in columns] + (["notes"] if any(notes) else [])
        lines += ["| " + " | ".join(header) + " |",
                  "|" + "|".join("---:" if title == "value" else "---" for title in header) + "|"]
        for r, note in zip(chosen, notes):
            cells = [_cell(r[key]) for key, _ in columns] + ([_cell(note)] if any(notes) else [])
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    path.write_text("\n".join(lines))


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
