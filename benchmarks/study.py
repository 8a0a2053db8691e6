"""The robustness study end to end, one side per process: N clips x (clean + 29 conditions) -> model-ready batches.

``python -m benchmarks.study --side ours|baseline --manifest M --work DIR [--no-mp3]`` runs one
side in this process and prints one JSON line (seconds per stage, bytes written under
``DIR``, peak RSS); :mod:`benchmarks.run` starts both sides as separate processes so each
peak RSS is that side's own. :func:`make_corpus` writes the shared input: 4 s FLAC clips.

*ours*: decode into the waveform cache (fresh folder), build the banks (babble from the
corpus, shoebox RIRs simulated into a fresh folder), then per batch of clips every
device condition + log-mel; the MP3 conditions through ``derived_cache`` (libsndfile in
memory, stored once per clip and condition), then log-mel.

*baseline*: :mod:`benchmarks.seed_style_baseline`, clip by clip: launder to a WAV,
render the PNG, then load every PNG back into batches with a 2-worker DataLoader.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

SAMPLE_RATE = 16000
CLIP_S = 4.0


def make_corpus(folder: Path, n_clips: int, seconds: float = CLIP_S) -> Path:
    """``n_clips`` FLAC clips of ``seconds`` s made from the demo corpus (pairs joined, then cut), + manifest."""
    from detector.data import write_manifest
    from detector.data.demo import demo_manifest

    source = demo_manifest()
    rows = list(csv.DictReader(source.open()))
    length = round(seconds * SAMPLE_RATE)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n_clips):
        first, second = rows[k % len(rows)], rows[(7 * k + 3) % len(rows)]
        waves = [soundfile.read(str(source.parent / r["path"]), dtype="float32")[0] for r in (first, second)]
        wave = np.resize(np.concatenate(waves), length)
        name = f"clip{k:05d}.flac"
        soundfile.write(str(folder / name), wave, SAMPLE_RATE)
        out.append({"path": name, "label": first["label"], "speaker": first["speaker"],
                    "system": first["system"], "split": first.get("split", "")})
    manifest = folder / "manifest.csv"
    write_manifest(out, manifest)
    return manifest


def peak_rss_mb() -> dict[str, float]:
    """Peak resident set size (MB) of this process and of its largest finished child (Linux: ru_maxrss in kB)."""
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def rss_mb() -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process in MB, from /proc (Linux; else {})."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    except OSError:
        return {}
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM") if key in fields}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def run_ours(manifest_path: Path, work: Path, device_name: str = "auto", batch_size: int = 32,
             mp3: bool = True) -> dict:
    from benchmarks.timing import synchronise
    from detector.config import DataConfig
    from detector.data import CropDataset, load_corpus, make_loader
    from detector.data.loader import to_device
    from detector.features import LogMel
    from detector.launder import CATALOGUE_ALL, LaunderBanks, derived_cache, parse_condition
    from detector.utils.runtime import resolve_device

    device = resolve_device(device_name)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    config = DataConfig(manifest=str(manifest_path), cache_dir=str(work / "cache"), crop_s=CLIP_S)
    manifest, cache = load_corpus(config)
    seconds["decode"] = time.perf_counter() - started
    memory = {"after_import_and_decode": rss_mb()}

    mark = time.perf_counter()
    banks = LaunderBanks.from_corpus(manifest, cache, cache_dir=work / "rirs")
    conditions = [c for c in CATALOGUE_ALL if mp3 or not c.startswith("mp3:")]
    attacks = [parse_condition(c, SAMPLE_RATE, banks).to(device) for c in conditions]
    frontend = LogMel(SAMPLE_RATE).to(device)
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host
    synchronise(device)
    seconds["setup"] = time.perf_counter() - mark
    memory["after_setup"] = rss_mb()

    rows = list(range(len(manifest.rows)))
    crop = round(CLIP_S * SAMPLE_RATE)
    batches = 0
    mark = time.perf_counter()
    device_attacks = [a for a in attacks if not getattr(a, "host_side", False)]
    loader = make_loader(CropDataset(cache, manifest, rows, crop, random_crop=False), batch_size, False, device)
    with torch.inference_mode():
        for batch in loader:
            wave, _ = to_device(batch, device)
            for attack in device_attacks:
                features = frontend(attack(wave, generator))   # a model-ready (batch, 1, 80, 401) batch
                batches += 1
    synchronise(device)
    seconds["device_conditions"] = time.perf_counter() - mark
    memory["after_device_conditions"] = rss_mb()

    mark = time.perf_counter()
    with torch.inference_mode():
        for attack in (a for a in attacks if getattr(a, "host_side", False)):
            derived = derived_cache(cache, attack, rows)
            for batch in make_loader(CropDataset(derived, manifest, rows, crop, random_crop=False), batch_size,
                                     False, device):
                wave, _ = to_device(batch, device)
                features = frontend(wave)
                batches += 1
    synchronise(device)
    seconds["mp3_conditions"] = time.perf_counter() - mark
    memory["after_mp3_conditions"] = rss_mb()
    seconds["total"] = time.perf_counter() - started
    peak_gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    del features
    return {"side": "ours", "clips": len(rows), "conditions": len(conditions), "batches": batches,
            "seconds": seconds, "bytes_written": folder_bytes(work), "spectrogram_bytes": 0,
            "peak_gpu_mb": peak_gpu, "memory_mb": memory, **peak_rss_mb()}


def run_baseline(manifest_path: Path, work: Path, batch_size: int = 32, mp3: bool = True,
                 workers: int = 2) -> dict:
    from benchmarks import seed_style_baseline as base
    from detector.data import read_manifest
    from detector.launder import CATALOGUE_ALL, LaunderBanks

    manifest = read_manifest(manifest_path)
    sources = [manifest.audio_path(row) for row in manifest.rows]
    labels = [row.target for row in manifest.rows]
    # Set-up, not timed: noise "recordings" on disk (the same signals our banks use) and a
    # warm-up of each library (imports, numba JIT of librosa, matplotlib font cache).
    setup = work / "setup"
    utterances = [base.read(p)[0] for p in sources[: min(len(sources), 200)]]
    base.write_noise_files(LaunderBanks(utterances=utterances), setup / "noise", SAMPLE_RATE)
    base.launder_file("reverb:rt60=0.3", sources[0], setup / "warm.wav", setup / "noise", np.random.default_rng(0))
    base.spectrogram_png(setup / "warm.wav", setup / "warm.png")
    conditions = [c for c in CATALOGUE_ALL if mp3 or not c.startswith("mp3:")]
    out = work / "out"
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    launder_s = {c: 0.0 for c in conditions}
    render_s = {c: 0.0 for c in conditions}
    pngs, png_labels, png_condition = [], [], []
    started = time.perf_counter()
    for k, (source, label) in enumerate(zip(sources, labels)):
        for index, condition in enumerate(conditions):
            wav = out / f"{k:05d}_{index:02d}.wav"
            mark = time.perf_counter()
            if condition == "clean":
                wav = source   # the clean image is rendered from the source file itself
            else:
                base.launder_file(condition, source, wav, setup / "noise", rng)
            launder_s[condition] += time.perf_counter() - mark
            png = wav.with_suffix(".png") if condition != "clean" else out / f"{k:05d}_{index:02d}.png"
            mark = time.perf_counter()
            base.spectrogram_png(wav, png)
            render_s[condition] += time.perf_counter() - mark
            pngs.append(png)
            png_labels.append(label)
            png_condition.append(condition)
    prepared = time.perf_counter() - started
    mark = time.perf_counter()
    images = 0
    for images_batch, _ in base.png_loader(pngs, png_labels, batch_size, workers):
        images += images_batch.shape[0]
    load = time.perf_counter() - mark
    spectrogram_bytes = sum(p.stat().st_size for p in pngs)
    mp3_share = sum(c.startswith("mp3:") for c in png_condition) / len(png_condition)
    seconds = {"prepare": prepared, "load_pngs": load, "total": prepared + load,
               "launder": sum(launder_s.values()), "render_png": sum(render_s.values()),
               "mp3_launder": sum(v for c, v in launder_s.items() if c.startswith("mp3:")),
               "mp3_render": sum(v for c, v in render_s.items() if c.startswith("mp3:")),
               "mp3_load_share": load * mp3_share}
    return {"side": "baseline", "clips": len(sources), "conditions": len(conditions), "images": images,
            "seconds": seconds, "per_condition_launder_s": launder_s, "per_condition_render_s": render_s,
            "bytes_written": folder_bytes(out), "spectrogram_bytes": spectrogram_bytes, **peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", choices=("ours", "baseline"), required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--work", required=True, help="an empty folder for everything this side writes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-mp3", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.side == "ours":
        result = run_ours(Path(args.manifest), work, args.device, args.batch_size, not args.no_mp3)
    else:
        result = run_baseline(Path(args.manifest), work, args.batch_size, not args.no_mp3)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
