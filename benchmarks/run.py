"""One entry point for the performance benchmarks (issue 6): ``python -m benchmarks.run --suite all``.

Suites (each appends rows to ``benchmarks/results.csv`` and re-renders ``benchmarks/RESULTS.md``):

- ``study``: N clips x (clean + 29 conditions) from FLAC on disk to model-ready log-mel batches,
  ours vs the seed-style PNG baseline (:mod:`benchmarks.seed_style_baseline`) in the same run, as
  a ratio, with bytes written and peak RSS; plus our side at a second corpus size (memory);
- ``epoch``: the per-epoch input pipeline, ours (cache -> crop -> launder -> log-mel) vs reading PNGs;
- ``attacks``: clips/s of each study condition and family;
- ``frontend``: clips/s of the log-mel front-end, torchaudio vs nnAudio;
- ``train``: a training step, model only vs laundering + log-mel + model, fp32 vs AMP, NCHW vs
  channels_last, eager vs ``torch.compile`` (compile time separate, time-boxed);
- ``scaling``: laundering + log-mel clips/s vs batch size and clip length;
- ``memory_workers``: peak PSS of 4 DataLoader workers + their parent vs one process, over a
  1,000,000-row cache index (:mod:`benchmarks.memory_workers`).

Timing: warm-up calls first, the device synchronised before every clock read, the median of
``--repeats``. On a GPU machine the same command runs everything on the GPU (the baseline
stays on the CPU, as it is written).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.results import record
from benchmarks.timing import clock, device_name

SAMPLE_RATE = 16000
SUITES = ("study", "epoch", "attacks", "frontend", "train", "scaling", "memory_workers")
TRAIN_CHAIN = None   # the default training chain of detector.config.TrainConfig


def speech_batch(batch: int, seconds: float, device: torch.device) -> torch.Tensor:
    """``(batch, 1, seconds * 16 kHz)`` float32 crops of demo-corpus speech (short clips repeated)."""
    from detector.config import DataConfig
    from detector.data import load_corpus
    from detector.data.demo import demo_manifest
    from detector.data.loader import crop_or_repeat

    manifest, cache = load_corpus(DataConfig(manifest=str(demo_manifest())))
    rows = cache.valid_rows
    length = round(seconds * SAMPLE_RATE)
    clips = [crop_or_repeat(np.asarray(cache.waveform(rows[(7 * k) % len(rows)])), length, 0) for k in range(batch)]
    return torch.from_numpy(np.stack(clips).astype(np.float32))[:, None].to(device)


@functools.lru_cache(maxsize=1)
def demo_banks():
    """Laundering banks whose babble comes from the demo corpus (built once per process)."""
    from detector.config import DataConfig
    from detector.data import load_corpus
    from detector.data.demo import demo_manifest
    from detector.launder import LaunderBanks

    manifest, cache = load_corpus(DataConfig(manifest=str(demo_manifest())))
    return LaunderBanks.from_corpus(manifest, cache)


def training_chain(device: torch.device, banks=None):
    from detector.config import TrainConfig
    from detector.launder import LaunderChain

    return LaunderChain.from_spec(TrainConfig().launder, SAMPLE_RATE, banks or demo_banks()).to(device)


# --------------------------------------------------------------------------- suites

def suite_attacks(args, device) -> None:
    from detector.launder import STUDY_CONDITIONS, parse_condition

    wave = speech_batch(args.batch_size, args.crop_s, device)
    host = wave[:8, 0].cpu().numpy()
    banks = demo_banks()
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host
    results, families = {}, {}
    for name in STUDY_CONDITIONS:
        attack = parse_condition(name, SAMPLE_RATE, banks).to(device)
        if getattr(attack, "host_side", False):
            rate = len(host) / clock(lambda: [attack.process(c) for c in host], device, args.repeats)
        else:
            with torch.inference_mode():
                rate = wave.shape[0] / clock(lambda: attack(wave, generator), device, args.repeats)
        results[name] = rate
        families.setdefault(name.split(":")[0], []).append(rate)
        print(f"  {name:28s} {rate:10.1f} clips/s", flush=True)
    for family, rates in families.items():
        results[f"family {family} (median)"] = statistics.median(rates)
    chain = training_chain(device, banks)
    with torch.inference_mode():
        results["training chain (default spec)"] = wave.shape[0] / clock(lambda: chain(wave, generator), device,
                                                                          args.repeats)
    notes = {k: "host, libsndfile in memory, per clip" for k in results if k.startswith(("mp3", "family mp3"))}
    _report("attacks", results, device, args, "clips/s", notes)


CQT_COST_TARGET = 1.5   # the CQT front-end's forward time at most this multiple of log-mel's (issue 19)


def suite_frontend(args, device) -> None:
    """Each front-end's forward pass on one speech batch, clips/s, and its time as a multiple of
    log-mel's (torchaudio backend) measured in the same run, rounds interleaved so that a busy
    machine slows every front-end alike."""
    from detector.config import FeatureConfig
    from detector.features import LogMel, build_frontend

    wave = speech_batch(args.batch_size, args.crop_s, device)
    frontends = {f"logmel {backend}": LogMel(SAMPLE_RATE, FeatureConfig(backend=backend)).to(device)
                 for backend in ("torchaudio", "nnaudio")}
    frontends.update({name: build_frontend(FeatureConfig(frontend=name), SAMPLE_RATE).to(device)
                      for name in ("cqt", "lfcc", "seed-image")})
    seconds: dict[str, list[float]] = {name: [] for name in frontends}
    with torch.inference_mode():
        for _ in range(args.repeats):
            for name, frontend in frontends.items():
                seconds[name].append(clock(lambda: frontend(wave), device, repeats=2))
    results, units, notes = {}, {}, {}
    for name, times in seconds.items():
        results[name] = wave.shape[0] / statistics.median(times)
        units[name] = "clips/s"
        print(f"  {name:22s} {results[name]:10.1f} clips/s", flush=True)
    for name in ("cqt", "lfcc", "seed-image"):
        key = f"{name} forward time / logmel"
        results[key] = statistics.median(seconds[name]) / statistics.median(seconds["logmel torchaudio"])
        units[key] = "x"
    cqt = results["cqt forward time / logmel"]
    notes["cqt forward time / logmel"] = (f"target <= {CQT_COST_TARGET}x: "
                                          f"{'PASS' if cqt <= CQT_COST_TARGET else 'FAIL'}")
    print(f"  cqt forward time {cqt:.2f}x log-mel's (target <= {CQT_COST_TARGET}x): "
          f"{'PASS' if cqt <= CQT_COST_TARGET else 'FAIL'}", flush=True)
    _report("frontend", results, device, args, units, notes)


def suite_scaling(args, device) -> None:
    from detector.features import LogMel

    chain = training_chain(device, demo_banks())
    frontend = LogMel(SAMPLE_RATE).to(device)
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host
    batches = (8, 16, 32, 64, 128) + ((256, 512, 1024) if device.type == "cuda" else ())
    results, notes = {}, {}

    def rate(batch: int, seconds: float) -> float:
        wave = speech_batch(batch, seconds, device)
        with torch.inference_mode():
            return batch / clock(lambda: frontend(chain(wave, generator)), device, args.repeats)

    for batch in batches:
        results[f"batch {batch} x {args.crop_s:g} s"] = rate(batch, args.crop_s)
        print(f"  batch {batch:5d}: {results[f'batch {batch} x {args.crop_s:g} s']:10.1f} clips/s", flush=True)
    for seconds in (1.0, 2.0, 4.0, 8.0, 16.0):
        key = f"length {seconds:g} s x batch 32"
        results[key] = rate(32, seconds)
        notes[key] = f"{results[key] * seconds:.0f} audio-s/s"
        print(f"  length {seconds:4g} s: {results[key]:10.1f} clips/s ({notes[key]})", flush=True)
    _report("scaling", results, device, args, "clips/s", notes)


def suite_epoch(args, device) -> None:
    from benchmarks import seed_style_baseline as base
    from benchmarks.study import make_corpus
    from detector.config import DataConfig
    from detector.data import CropDataset, load_corpus, make_loader
    from detector.data.demo import demo_manifest
    from detector.data.loader import to_device
    from detector.features import LogMel

    manifest, cache = load_corpus(DataConfig(manifest=str(demo_manifest())))
    crop = round(args.crop_s * SAMPLE_RATE)
    dataset = CropDataset(cache, manifest, list(cache.valid_rows), crop, random_crop=True)
    chain = training_chain(device, demo_banks())
    frontend = LogMel(SAMPLE_RATE).to(device)
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host
    n_batches = max(args.epoch_clips // args.batch_size, 2)

    def ours_epoch(launder) -> int:
        clips = 0
        with torch.inference_mode():
            for _, batch in zip(range(n_batches), make_loader(dataset, args.batch_size, True, device)):
                wave, _ = to_device(batch, device)
                features = frontend(launder(wave, generator) if launder is not None else wave)
                clips += features.shape[0]
        return clips

    ours_epoch(chain)   # warm-up
    ours = n_batches * args.batch_size / clock(lambda: ours_epoch(chain), device, args.repeats, warmup=0)
    print(f"  ours (cache -> crop -> launder -> log-mel): {ours:.1f} clips/s", flush=True)
    plain = n_batches * args.batch_size / clock(lambda: ours_epoch(None), device, args.repeats, warmup=1)
    print(f"  ours without laundering (cache -> crop -> log-mel): {plain:.1f} clips/s", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        corpus = make_corpus(folder / "corpus", args.png_clips, args.crop_s)
        sources = sorted(corpus.parent.glob("*.flac"))
        base.spectrogram_png(sources[0], folder / "warm.png")   # imports, numba JIT
        pngs = []
        mark = time.perf_counter()
        for source in sources:
            pngs.append(folder / (source.stem + ".png"))
            base.spectrogram_png(source, pngs[-1])
        render = len(pngs) / (time.perf_counter() - mark)
        size = statistics.median(p.stat().st_size for p in pngs)

        def png_epoch() -> int:
            return sum(images.shape[0] for images, _ in base.png_loader(pngs, [0] * len(pngs), args.batch_size, 2))

        png = len(pngs) / clock(png_epoch, torch.device("cpu"), args.repeats)
    print(f"  PNG read-back (2 workers): {png:.1f} images/s; render {render:.2f} PNG/s, {size / 1e3:.0f} kB each",
          flush=True)
    results = {"ours cache->crop->launder->logmel": ours, "png read-back (2 workers)": png,
               "ratio ours/png": ours / png, "ours cache->crop->logmel (no laundering)": plain,
               "ratio ours no-laundering/png": plain / png, "png render (for reference)": render,
               "png size": size / 1e3}
    units = {"ratio ours/png": "x", "ratio ours no-laundering/png": "x", "png size": "kB",
             "png render (for reference)": "PNG/s"}
    _report("epoch", results, device, args, {k: units.get(k, "clips/s") for k in results},
            {"ours cache->crop->launder->logmel": f"{n_batches} batches, default training chain "
                                                   f"({chain.name})",
             "png read-back (2 workers)": f"{len(pngs)} PNGs, {'x'.join(map(str, base.PNG_SIZE))}, page cache warm"})


def train_step_rate(device, batch: int, seconds: float, amp: str, channels_last: bool, full: bool,
                    compile_model: bool, repeats: int, features=None) -> tuple[float, float]:
    """(clips/s, first-call seconds) of one training step; ``full`` adds laundering + the front-end
    (``features``: a :class:`detector.config.FeatureConfig`, default log-mel) to the step."""
    from detector.config import FeatureConfig, ModelConfig, TrainConfig
    from detector.engine.train import make_optimizer, train_step
    from detector.models.detector import Detector
    from detector.utils.runtime import Precision

    torch.manual_seed(0)
    features = features or FeatureConfig(frontend="logmel")   # the train suite's rows describe log-mel
    model = Detector(SAMPLE_RATE, features, ModelConfig(channels_last=channels_last)).to(device).train()
    precision = Precision.resolve(amp, device)
    optimizer = make_optimizer(model, TrainConfig())   # fused AdamW: skips non-finite steps on the device
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_scaler)
    wave = speech_batch(batch, seconds, device)
    target = torch.arange(batch, device=device) % 2
    chain = training_chain(device) if full else None
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host
    with torch.no_grad():
        model_input = model.frontend(wave)
    backbone = model.backbone
    if channels_last:
        model_input = model_input.contiguous(memory_format=torch.channels_last)
    forward = model if full else backbone
    if compile_model:
        forward = torch.compile(forward)
    # Model-only steps feed precomputed log-mel features: nothing to launder (and no peak limit on them).
    inputs, launder = (wave, chain) if full else (model_input, lambda batch, generator: batch)

    def step():
        train_step(forward, inputs, target, launder, generator, optimizer, scaler, precision)

    first = clock(step, device, repeats=1, warmup=0)   # the first step pays for lazy initialisation
    return batch / clock(step, device, repeats, warmup=1), first


def suite_train(args, device) -> None:
    batch = args.train_batch or (256 if device.type == "cuda" else 16)
    amp = "auto"
    results, notes, units = {}, {}, {}
    for full in (False, True):
        for precision in ("off", amp):
            for channels_last in (False, True):
                label = (f"{'full' if full else 'model-only'} {'fp32' if precision == 'off' else 'amp'} "
                         f"{'channels_last' if channels_last else 'NCHW'} eager")
                rate, _ = train_step_rate(device, batch, args.crop_s, precision, channels_last, full, False,
                                          args.repeats)
                results[label] = rate
                print(f"  {label:40s} {rate:9.1f} clips/s", flush=True)
    for precision in ("off", amp):
        for channels_last in (False, True):
            layout = "channels_last" if channels_last else "NCHW"
            p = "fp32" if precision == "off" else "amp"
            full = results[f"full {p} {layout} eager"]
            model_only = results[f"model-only {p} {layout} eager"]
            key = f"on-the-fly overhead {p} {layout}"
            results[key] = 100.0 * (model_only / full - 1.0)
            units[key] = "% of step"
    if args.compile_timeout > 0:
        for full in (False, True):
            label = f"{'full' if full else 'model-only'} amp channels_last compiled"
            command = [sys.executable, "-m", "benchmarks.run", "--suite", "_compile", "--device", str(device),
                       "--train-batch", str(batch), "--crop-s", str(args.crop_s), "--repeats", str(args.repeats)]
            if full:
                command.append("--compile-full")
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=args.compile_timeout)
                line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
                if not line:
                    raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no result")
                rate, first = json.loads(line[-1][7:])
                results[label], results[f"{label}: compile (first step) time"] = rate, first
                units[f"{label}: compile (first step) time"] = "s"
                print(f"  {label:40s} {rate:9.1f} clips/s (first step incl. compile {first:.1f} s)", flush=True)
            except subprocess.TimeoutExpired:
                notes[label] = f"not measured: compile did not finish in {args.compile_timeout} s"
                results[label] = float("nan")
                print(f"  {label}: {notes[label]}", flush=True)
            except RuntimeError as error:
                notes[label] = f"not measured: {error}"[:200]
                results[label] = float("nan")
                print(f"  {label}: {notes[label]}", flush=True)
    amp_name = "bf16" if device.type == "cpu" or torch.cuda.is_bf16_supported() else "fp16"
    _report("train", results, device, argparse.Namespace(batch_size=batch, crop_s=args.crop_s),
            {k: units.get(k, "clips/s") for k in results},
            {k: notes.get(k, f"amp={amp_name}" if "amp" in k else "") for k in results})


def suite_compile(args, device) -> None:
    rate, first = train_step_rate(device, args.train_batch, args.crop_s, "auto", True, args.compile_full, True,
                                  args.repeats)
    print("RESULT " + json.dumps([rate, first]))


def _side(side: str, manifest: Path, work: Path, args, mp3: bool) -> dict:
    command = [sys.executable, "-m", "benchmarks.study", "--side", side, "--manifest", str(manifest),
               "--work", str(work), "--device", args.device, "--batch-size", str(args.batch_size)]
    if not mp3:
        command.append("--no-mp3")
    done = subprocess.run(command, capture_output=True, text=True)
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode or not line:
        raise RuntimeError(f"benchmarks.study --side {side} failed:\n{done.stderr[-3000:]}")
    return json.loads(line[-1][7:])


def suite_study(args, device) -> None:
    from benchmarks import seed_style_baseline as base
    from benchmarks.study import make_corpus

    mp3 = base.ffmpeg_available()
    if not mp3:
        print("  note: the ffmpeg program is not installed: the baseline's and our MP3 conditions are skipped "
              "(apt-get install ffmpeg to include them)", flush=True)
    results, units, notes = {}, {}, {}
    n = args.clips
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        manifest = make_corpus(folder / "corpus", n, 4.0)
        print(f"  study: {n} clips x {30 if mp3 else 24} conditions; ours ...", flush=True)
        ours = _side("ours", manifest, folder / "ours", args, mp3)
        print(f"    ours: {json.dumps(ours['seconds'])}", flush=True)
        print("  baseline (slow) ...", flush=True)
        theirs = _side("baseline", manifest, folder / "baseline", args, mp3)
        print(f"    baseline: {json.dumps(theirs['seconds'])}", flush=True)
    o, t = ours["seconds"], theirs["seconds"]
    ours_fixed = o["setup"]
    ours_all = o["total"]
    ours_no_mp3 = o["total"] - o["mp3_conditions"]
    base_all = t["total"]
    base_no_mp3 = t["total"] - t["mp3_launder"] - t["mp3_render"] - t["mp3_load_share"]
    results.update({
        f"ours {n} clips": ours_all, f"baseline {n} clips": base_all,
        f"ratio {n} clips": base_all / ours_all,
        f"ours {n} clips -no-mp3": ours_no_mp3, f"baseline {n} clips -no-mp3": base_no_mp3,
        f"ratio {n} clips -no-mp3": base_no_mp3 / ours_no_mp3,
        "ours fixed set-up (banks, RIR simulation)": ours_fixed,
        "ours per clip (excl. set-up)": (ours_all - ours_fixed) / n,
        "ours per clip -no-mp3 (excl. set-up)": (ours_no_mp3 - ours_fixed) / n,
        "baseline per clip": base_all / n, "baseline per clip -no-mp3": base_no_mp3 / n,
        "baseline per clip: launder": t["launder"] / n, "baseline per clip: render PNG": t["render_png"] / n,
        "baseline per clip: load PNGs": t["load_pngs"] / n,
    })
    for label, ours_s, base_s in (("", ours_all, base_all), (" -no-mp3", ours_no_mp3, base_no_mp3)):
        ours_1000 = ours_fixed + (ours_s - ours_fixed) / n * 1000
        base_1000 = base_s / n * 1000
        results[f"ours @1000{label}"] = ours_1000
        results[f"baseline @1000{label}"] = base_1000
        results[f"ratio @1000{label}"] = base_1000 / ours_1000
        notes[f"ratio @1000{label}"] = f"linear extrapolation from {n} clips"
    results.update({
        "ours bytes written": ours["bytes_written"], "ours spectrogram bytes": 0,
        "baseline bytes written": theirs["bytes_written"], "baseline spectrogram bytes": theirs["spectrogram_bytes"],
        "baseline bytes @1000": theirs["bytes_written"] / n * 1000,
        "ours peak RSS": ours["peak_rss_mb"], "baseline peak RSS": theirs["peak_rss_mb"],
        "baseline peak RSS (largest child)": theirs["peak_rss_children_mb"],
    })
    notes["ours bytes written"] = "waveform cache + MP3 derived caches + RIR cache"
    notes["baseline bytes written"] = "laundered WAV + MP3 files + PNGs"
    if device.type == "cuda":
        results["ours peak GPU memory"] = ours["peak_gpu_mb"]
    for key in results:
        units[key] = ("x" if key.startswith("ratio") else "bytes" if "bytes" in key else
                      "MB" if "RSS" in key or "GPU" in key else "s")
    if not mp3:
        notes = {k: (v + "; " if v else "") + "MP3 skipped (no ffmpeg)" for k, v in {**{k: "" for k in results},
                                                                                    **notes}.items()}
    _report("study", results, device, argparse.Namespace(batch_size=args.batch_size, crop_s=4.0), units, notes)
    if args.memory_clips:
        suite_memory(args, device, mp3, {n: ours})


def suite_memory(args, device, mp3: bool, known: dict | None = None) -> None:
    from benchmarks.study import make_corpus

    runs = dict(known or {})
    sizes = sorted({args.clips, args.memory_clips} - set(runs))
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            manifest = make_corpus(folder / "corpus", size, 4.0)
            print(f"  memory: ours at {size} clips ...", flush=True)
            runs[size] = _side("ours", manifest, folder / "ours", args, mp3)
    results, units, notes = {}, {}, {}
    for size, run in sorted(runs.items()):
        results[f"ours peak RSS {size} clips"] = run["peak_rss_mb"]
        units[f"ours peak RSS {size} clips"] = "MB"
        for stage, memory in run.get("memory_mb", {}).items():
            if "VmHWM" in memory:
                results[f"ours peak RSS {size} clips, {stage.replace('_', ' ')}"] = memory["VmHWM"]
                units[f"ours peak RSS {size} clips, {stage.replace('_', ' ')}"] = "MB"
        results[f"ours per clip {size} clips (excl. set-up)"] = (
            (run["seconds"]["total"] - run["seconds"]["setup"]) / size)
        units[f"ours per clip {size} clips (excl. set-up)"] = "s"
        results[f"ours cache bytes {size} clips"] = run["bytes_written"]
        units[f"ours cache bytes {size} clips"] = "bytes"
        if device.type == "cuda":
            results[f"ours peak GPU memory {size} clips"] = run["peak_gpu_mb"]
            units[f"ours peak GPU memory {size} clips"] = "MB"
        print(f"    {size} clips: peak RSS {run['peak_rss_mb']:.0f} MB, {json.dumps(run['seconds'])}", flush=True)
    _report("memory", results, device, argparse.Namespace(batch_size=args.batch_size, crop_s=4.0), units, notes)


def _report(benchmark: str, results: dict, device, args, unit, notes=None) -> None:
    for stage, value in results.items():
        u = unit.get(stage, "") if isinstance(unit, dict) else unit
        print(f"  [{benchmark}] {stage:52s} {value:14.4g} {u}")
    # The 1-minute load average goes into every row: on a shared machine it explains outliers.
    load = f"load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    notes = notes if isinstance(notes, dict) else {k: notes or "" for k in results}
    notes = {k: "; ".join(x for x in (notes.get(k, ""), load) if x) for k in results}
    if not getattr(ARGS, "no_write", False):
        record(results, device_name(device), args, benchmark=benchmark, unit=unit, notes=notes)


ARGS = None


def main(argv=None) -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="all", choices=("all",) + SUITES + ("memory", "_compile"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--clips", type=int, default=20, help="study: source clips for both sides (baseline ~7 s each)")
    parser.add_argument("--memory-clips", type=int, default=200,
                        help="study/memory: a second, larger corpus for our side only (0: skip)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crop-s", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epoch-clips", type=int, default=256, help="epoch: clips per timed pass of ours")
    parser.add_argument("--png-clips", type=int, default=96, help="epoch: PNGs rendered, then read back")
    parser.add_argument("--train-batch", type=int, default=0, help="train: batch (default 256 on CUDA, 16 on CPU)")
    parser.add_argument("--compile-timeout", type=int, default=600,
                        help="train: seconds allowed per torch.compile variant (0: skip compile)")
    parser.add_argument("--compile-full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-rows", type=int, default=1_000_000, help="memory_workers: rows of the synthetic index")
    parser.add_argument("--worker-batches", type=int, default=200,
                        help="memory_workers: batches drawn per configuration")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = ARGS = parser.parse_args(argv)
    from detector.utils.runtime import resolve_device

    device = resolve_device(args.device)
    args.device = str(device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {device_name(device)}; torch {torch.__version__}; {os.cpu_count()} cores, load {load:.2f}",
          flush=True)
    suites = SUITES if args.suite == "all" else (args.suite,)
    runners = {"study": suite_study, "epoch": suite_epoch, "attacks": suite_attacks, "frontend": suite_frontend,
               "train": suite_train, "scaling": suite_scaling, "_compile": suite_compile,
               "memory_workers": lambda a, d: __import__("benchmarks.memory_workers",
                                                         fromlist=["x"]).suite(a, d, _report),
               "memory": lambda a, d: suite_memory(a, d, __import__("benchmarks.seed_style_baseline",
                                                                    fromlist=["x"]).ffmpeg_available())}
    for suite in suites:
        if suite != "_compile":
            print(f"== {suite}", flush=True)
        started = time.perf_counter()
        runners[suite](args, device)
        if suite != "_compile":
            print(f"   ({suite}: {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
