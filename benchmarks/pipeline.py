"""Throughput of the training input pipeline on the present device, in clips per second.

Stages, each measured on the same cached corpus and crops:
  (a) loader alone: waveform cache -> random crops -> batches on the device;
  (b) (a) + laundering chain + log-mel front-end;
  (c) (b) + ResNet-18 forward/backward/optimizer step under AMP.
Warm-up batches are excluded; the device is synchronised before each clock read; each
figure is the median of ``--repeats`` timed passes. A row per stage is appended to
``benchmarks/RESULTS.md`` and ``benchmarks/results.csv`` with the device name.

Run: ``python -m benchmarks.pipeline [--manifest M] [--batches 10] [--batch-size 32]``
(default corpus: the built-in demo corpus).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.timing import clock, device_name
from detector.config import Config, TrainConfig
from detector.data import CropDataset, load_corpus, make_loader
from detector.data.demo import demo_manifest
from detector.data.loader import to_device
from detector.engine.train import make_optimizer, train_step
from detector.launder import LaunderChain
from detector.launder.banks import corpus_banks
from detector.models.detector import Detector
from detector.utils.runtime import Precision, resolve_device

HERE = Path(__file__).parent


def time_stage(step, batches: list, device: torch.device, warmup: int, repeats: int) -> float:
    """Clips/s of ``step(batch)`` over all ``batches`` (median pass), after ``warmup`` untimed batches."""
    for batch in batches[:warmup]:
        step(batch)
    clips = sum(batch[0].shape[0] for batch in batches)
    return clips / clock(lambda: [step(batch) for batch in batches], device, repeats, warmup=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", default="")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--crop-s", type=float, default=4.0)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()

    config = Config()
    config.features.frontend = "logmel"   # stage (b) is the log-mel front-end, whatever the default
    config.data.manifest = args.manifest or str(demo_manifest())
    config.data.crop_s = args.crop_s
    device = resolve_device(args.device)
    precision = Precision.resolve(args.amp, device)
    manifest, cache = load_corpus(config.data)
    dataset = CropDataset(cache, manifest, list(range(len(manifest.rows))),
                          round(args.crop_s * config.data.sample_rate), random_crop=True)
    loader = make_loader(dataset, args.batch_size, True, device)

    def load_batches() -> list:
        return [batch for _, batch in zip(range(args.batches), loader)]

    model = Detector(config.data.sample_rate, config.features, config.model).to(device)
    # The chain may name corpus noises (babble, cafe): build its banks from this corpus.
    banks = corpus_banks(manifest, cache, config.data.noise_dirs, config.data.rir_dir, config.data.cache_dir)
    launder = LaunderChain.from_spec(config.train.launder, config.data.sample_rate, banks).to(device)
    optimizer = make_optimizer(model, TrainConfig())   # fused AdamW: skips non-finite steps on the device
    scaler = torch.amp.GradScaler(device.type, enabled=precision.needs_scaler)
    generator = torch.Generator().manual_seed(0)   # laundering parameters are drawn on the host

    def stage_a(batch):
        return to_device(batch, device)

    def stage_b(batch):
        wave, target = to_device(batch, device)
        with torch.no_grad():
            return model.frontend(launder(wave, generator)), target

    def stage_c(batch):
        wave, target = to_device(batch, device)
        train_step(model, wave, target, launder, generator, optimizer, scaler, precision)

    batches = load_batches()
    results = {   # (a) re-reads crops from the cache each pass; (b) and (c) reuse loaded batches
        "a_loader": _loader_rate(load_batches, stage_a, device, args.repeats),
        "b_launder_frontend": time_stage(stage_b, batches, device, args.warmup, args.repeats),
        f"c_train_step_amp_{precision.name}": time_stage(stage_c, batches, device, args.warmup, args.repeats),
    }
    name = device_name(device)
    print(f"device: {name}; batch {args.batch_size} x {args.crop_s} s crops; torch {torch.__version__}")
    for stage, rate in results.items():
        print(f"  {stage:<28} {rate:10.1f} clips/s")
    if not args.no_write:
        record(results, name, args, benchmark="pipeline")


def _loader_rate(load_batches, stage, device, repeats: int) -> float:
    """Clips/s of reading crops from the cache and copying them to the device (the warm-up pass fills
    the page cache)."""
    clips = []
    seconds = clock(lambda: clips.append(sum(stage(batch)[0].shape[0] for batch in load_batches())), device,
                    repeats, warmup=1)
    return clips[-1] / seconds


def record(results: dict, name: str, args: argparse.Namespace | None = None, benchmark: str = "pipeline",
           unit="clips/s", notes="") -> None:
    """Append ``results`` (stage -> number) under ``benchmark`` to results.csv and RESULTS.md (see results.py)."""
    from benchmarks.results import record as write

    write(results, name, args, benchmark=benchmark, unit=unit, notes=notes)


if __name__ == "__main__":
    main()
