"""Evaluation-side throughput: what an ablation cell costs, and how fast ``predict`` scores audio.

- ablation: one clean evaluation pass over the demo corpus's test split vs one ablation cell
  per condition family (device laundering, and a real MP3 round trip through the derived
  cache: its first, coding pass and a second, cached pass), each as a ratio to the clean pass;
  the waveform cache is built before timing, so no cell decodes anything.
- predict: seconds of audio scored per second by ``LoadedDetector.predict_files`` on the demo
  corpus's files (decoding included), and by ``predict`` on one long in-memory clip.

Run: ``python -m benchmarks.inference [--device auto] [--repeats 3]``. Rows go to
``benchmarks/RESULTS.md`` / ``results.csv`` under ``inference``.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.results import record
from benchmarks.timing import clock, device_name
from detector.config import Config
from detector.data import load_corpus
from detector.data.demo import demo_config, demo_manifest
from detector.engine.evaluate import EvaluationOptions, open_split
from detector.engine.inference import load_detector
from detector.models.checkpoint import save_checkpoint
from detector.models.detector import Detector
from detector.utils.runtime import Precision, resolve_device

CELLS = ("noise:white:snr=10..10.5", "reverb:rt60=0.6", "resample:8000", "lowpass:7000", "mp3:128k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = demo_config()
    config.features.frontend = "logmel"   # the recorded rows are the log-mel model's
    config.data.manifest = str(demo_manifest())
    work = Path(tempfile.mkdtemp(prefix="detector-bench-"))
    try:
        config.data.cache_dir = str(work / "cache")
        load_corpus(config.data)   # build the waveform cache outside the timings
        checkpoint = work / "model.pt"
        save_checkpoint(checkpoint, {"model": Detector(config.data.sample_rate, config.features,
                                                       config.model).state_dict(), "config": config.to_dict()})
        results = {**ablation_costs(config, device, args.repeats), **predict_rates(checkpoint, config, device)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = device_name(device)
    for stage, value in results.items():
        print(f"  {stage:<48} {value:10.3f}")
    if not args.no_write:
        record(results, name, benchmark="inference",
               unit={stage: ("x clean pass" if "ratio" in stage else "audio s/s" if "predict" in stage else "s")
                     for stage in results})


def ablation_costs(config: Config, device: torch.device, repeats: int) -> dict[str, float]:
    """Seconds of one clean pass over the test split, and each cell's cost relative to it."""
    precision = Precision.for_scoring("auto", device)
    model = Detector(config.data.sample_rate, config.features, config.model).to(device).eval()
    options = EvaluationOptions(device=str(device), cache_dir=config.data.cache_dir)
    split = open_split(config, config.data.manifest, options, device)
    clean = clock(lambda: split.score([model], "clean", precision), device, repeats, warmup=0)
    results = {"ablation clean pass (s)": clean}
    for condition in CELLS:
        first = clock(lambda: split.score([model], condition, precision), device, repeats=1, warmup=0)
        again = clock(lambda: split.score([model], condition, precision), device, repeats, warmup=0)
        if condition.startswith("mp3"):
            results[f"ablation {condition} first pass, coding (ratio)"] = first / clean
        results[f"ablation {condition} (ratio)"] = again / clean
    return results


def predict_rates(checkpoint: Path, config: Config, device: torch.device) -> dict[str, float]:
    """Audio seconds scored per second: the demo corpus's files, and one 10-minute clip."""
    detector = load_detector(checkpoint, device=str(device))
    manifest, cache = load_corpus(config.data)
    files = [manifest.audio_path(row) for row in manifest.rows]
    audio_s = float(cache.lengths.sum()) / config.data.sample_rate
    detector.predict_files(files[:8], progress=False)   # warm-up
    files_rate = audio_s / clock(lambda: detector.predict_files(files, progress=False), device, 1, warmup=0)
    long_clip = np.tile(np.concatenate([cache.waveform(i) for i in range(20)]), 30)[: 600 * config.data.sample_rate]
    long_rate = 600.0 / clock(lambda: detector.predict(long_clip, config.data.sample_rate), device, 1, warmup=0)
    return {f"predict {len(files)} files (decode included)": files_rate, "predict one 600 s clip": long_rate}


if __name__ == "__main__":
    main()
