"""The prepared GPU check: ``python -m benchmarks.gpu_check`` on one CUDA GPU (sized for under 8 minutes).

Not yet timed on a GPU. Prints a table and one PASS/FAIL line per check, appends its rows (with the device name) to
``benchmarks/results.csv`` and exits 1 if any check failed:

(a) ``sync-free``: 20 training steps of the full pipeline with the default laundering chain under
    ``torch.cuda.set_sync_debug_mode("error")``, which raises on any host read of the device.
    On the CPU, where nothing can be read "from the device", the same step is traced on the
    ``meta`` device instead, which refuses every host read.
(b) ``throughput``: training clips/s at batch 256, 4 s clips, 80 mels: *model only* (ResNet-18 on
    precomputed log-mels) against the *full* pipeline (cache -> random crop -> chain -> log-mel ->
    ResNet-18; bf16, channels_last), eager and ``torch.compile``. Targets (H100-class GPU): the
    on-the-fly overhead ``1 - full/model_only`` <= 10 % and full >= 8,000 clips/s.
(c) the same full pipeline with ``--cache-on-device`` (crops gathered from the int16 cache on the GPU).
(d) ``memory``: peak GPU memory of (b)-(c) (peak RSS on the CPU).
(e) ``resume``: a run interrupted by SIGTERM and resumed ends with the weights of an uninterrupted
    one: its difference from the uninterrupted run is no larger than that of a second
    uninterrupted run (0 on the CPU; on CUDA, kernels without a deterministic version set the floor).
(f) ``study``: the laundering study on the device: 1,000 clips x (clean + 29 conditions) to
    model-ready log-mel batches (:func:`benchmarks.study.run_ours`, MP3 coded on the host), seconds.

``--device cpu --quick`` runs the same code on a few small batches (about 15 s on 2 CPU cores); the test
suite runs it (``tests/benchmarks/test_gpu_check.py``) so the check never rots. On the CPU the
GPU's throughput targets are reported as INFO, not judged.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.results import HERE, record
from benchmarks.study import make_corpus, rss_mb, run_ours
from benchmarks.timing import device_name, synchronise

GPU_OVERHEAD_TARGET = 0.10        # full pipeline at most 10 % slower than the model alone
GPU_CLIPS_PER_S_TARGET = 8000     # full pipeline, H100-class GPU


@dataclass
class Check:
    name: str
    status: str          # PASS | FAIL | INFO
    detail: str


@dataclass
class Setup:
    """What every check trains on: a corpus in the waveform cache and the default training chain."""

    device: torch.device
    manifest: Path
    cache: object
    dataset: object
    chain: torch.nn.Module
    banks: object
    batch_size: int
    crop_s: float


def _prepare(args, device: torch.device, work: Path) -> Setup:
    from detector.config import DataConfig, TrainConfig
    from detector.data import CropDataset, load_corpus, write_manifest
    from detector.launder import LaunderChain
    from detector.launder.banks import corpus_banks

    manifest_path = make_corpus(work / "corpus", args.clips)
    # Each clip gives `repeat` training items with their own random crops, so one epoch holds
    # every timed step without a corpus that many times larger.
    rows = list(csv.DictReader(manifest_path.open()))
    repeat = math.ceil(args.batch_size * (args.steps + args.warmup + 1) / len(rows))
    write_manifest([dict(row, split="train", repeat=str(repeat)) for row in rows], manifest_path)
    data = DataConfig(manifest=str(manifest_path), cache_dir=str(work / "cache"), crop_s=args.crop_s)
    manifest, cache = load_corpus(data)
    crop = round(args.crop_s * data.sample_rate)
    dataset = CropDataset(cache, manifest, manifest.split("train"), crop, random_crop=True, seed=0)
    banks = corpus_banks(manifest, cache, cache_dir=str(work / "cache"))
    chain = LaunderChain.from_spec(TrainConfig().launder, data.sample_rate, banks=banks).to(device)
    return Setup(device, manifest_path, cache, dataset, chain, banks, args.batch_size, args.crop_s)


def _training_parts(setup: Setup, amp: str = "auto"):
    from detector.config import FeatureConfig, ModelConfig, TrainConfig
    from detector.engine.train import make_optimizer
    from detector.models.detector import Detector
    from detector.utils.runtime import Precision

    # Log-mel, named: the check's targets and rows describe the log-mel pipeline, whatever the default.
    model = Detector(features=FeatureConfig(frontend="logmel"), model=ModelConfig()).to(setup.device).train()
    precision = Precision.resolve(amp, setup.device)
    optimizer = make_optimizer(model, TrainConfig())
    scaler = torch.amp.GradScaler(setup.device.type, enabled=precision.needs_scaler)
    return model, optimizer, scaler, precision


def _batches(setup: Setup, on_device: bool):
    """Training batches on the device, from the DataLoader (workers, pinned memory) or the on-device cache."""
    from detector.data import make_loader
    from detector.data.device_cache import DeviceCropLoader, upload_samples
    from detector.data.loader import to_device

    if on_device:
        samples = upload_samples(setup.cache, setup.device)
        yield from DeviceCropLoader(setup.dataset, setup.batch_size, samples)
        return
    for batch in make_loader(setup.dataset, setup.batch_size, True, setup.device, -1):
        yield to_device(batch, setup.device)


def _steps_per_second(step, count: int, device: torch.device) -> float:
    synchronise(device)
    started = time.perf_counter()
    for _ in range(count):
        step()
    synchronise(device)
    return count / (time.perf_counter() - started)


def _host_generator(step: int) -> torch.Generator:
    from detector.utils.runtime import step_seeds

    return torch.Generator().manual_seed(step_seeds(0, 0, step, 0)[0])


def full_pipeline_rate(setup: Setup, args, on_device: bool, compiled: bool) -> float:
    """Training clips/s of cache -> crop -> chain -> log-mel -> ResNet-18 (+ backward, update)."""
    from detector.engine.train import train_step

    model, optimizer, scaler, precision = _training_parts(setup)
    network = torch.compile(model) if compiled else model
    batches = _batches(setup, on_device)
    counter = iter(range(10**9))

    def step():
        wave, target = next(batches)
        train_step(network, wave, target, setup.chain, _host_generator(next(counter)), optimizer, scaler, precision)

    for _ in range(args.warmup):
        step()
    return setup.batch_size * _steps_per_second(step, args.steps, setup.device)


def model_only_rate(setup: Setup, args, compiled: bool) -> float:
    """Training clips/s of ResNet-18 alone, on one precomputed log-mel batch (no input pipeline)."""
    from detector.engine.train import train_step

    model, optimizer, scaler, precision = _training_parts(setup)
    wave, target = next(_batches(setup, on_device=False))
    with torch.no_grad():
        features = model.frontend(wave).contiguous(memory_format=torch.channels_last)
    backbone = torch.compile(model.backbone) if compiled else model.backbone

    def identity(batch, generator):
        return batch

    def step():
        train_step(backbone, features, target, identity, None, optimizer, scaler, precision)

    for _ in range(args.warmup):
        step()
    return setup.batch_size * _steps_per_second(step, args.steps, setup.device)


@contextlib.contextmanager
def _fused_optimizer_on_meta():
    """Let fused AdamW run on meta tensors: its kernel has a meta implementation (torch.compile
    traces through it), but the optimizer's list of devices allowed for it omits meta."""
    import torch.optim.optimizer as optimizer_module

    supported = optimizer_module._get_fused_kernels_supported_devices
    optimizer_module._get_fused_kernels_supported_devices = lambda: [*supported(), "meta"]
    try:
        yield
    finally:
        optimizer_module._get_fused_kernels_supported_devices = supported


def check_sync_free(setup: Setup, args) -> Check:
    from detector.engine.train import train_step

    if setup.device.type == "cuda":
        model, optimizer, scaler, precision = _training_parts(setup)
        batches = _batches(setup, on_device=False)
        wave, target = next(batches)
        train_step(model, wave, target, setup.chain, _host_generator(0), optimizer, scaler, precision)  # warm-up
        synchronise(setup.device)
        torch.cuda.set_sync_debug_mode("error")
        try:
            for k in range(1, 21):
                wave, target = next(batches)
                train_step(model, wave, target, setup.chain, _host_generator(k), optimizer, scaler, precision)
        except RuntimeError as error:
            return Check("a sync-free steps", "FAIL", f"step {k}: {error}".splitlines()[0][:200])
        finally:
            torch.cuda.set_sync_debug_mode(0)
        return Check("a sync-free steps", "PASS", "20 full-pipeline steps under set_sync_debug_mode('error')")
    # CPU: trace the same step on the meta device, which refuses any host read of a tensor.
    from detector.config import TrainConfig
    from detector.engine.train import make_optimizer
    from detector.launder import LaunderChain

    meta = torch.device("meta")
    model, _, scaler, precision = _training_parts(setup)
    model = model.to(meta)
    chain = LaunderChain.from_spec(TrainConfig().launder, 16000, banks=setup.banks).to(meta)
    wave = torch.zeros(setup.batch_size, 1, round(setup.crop_s * 16000), device=meta)
    target = torch.zeros(setup.batch_size, dtype=torch.long, device=meta)
    try:
        with _fused_optimizer_on_meta():
            train_step(model, wave, target, chain, _host_generator(0), make_optimizer(model, TrainConfig()),
                       scaler, precision)
    except (RuntimeError, NotImplementedError) as error:
        return Check("a sync-free steps", "FAIL", f"meta trace: {error}".splitlines()[0][:200])
    return Check("a sync-free steps", "PASS", "the full step traced on the meta device (no host read)")


def check_throughput(setup: Setup, args, results: dict) -> list[Check]:
    cuda = setup.device.type == "cuda"
    variants = [False, True] if args.compile else [False]
    checks = []
    for compiled in variants:
        tag = "compiled" if compiled else "eager"
        model_rate = model_only_rate(setup, args, compiled)
        full_rate = full_pipeline_rate(setup, args, on_device=False, compiled=compiled)
        device_rate = full_pipeline_rate(setup, args, on_device=True, compiled=compiled)
        results.update({f"model only, {tag}": model_rate, f"full pipeline, {tag}": full_rate,
                        f"full pipeline, cache on device, {tag}": device_rate})
        for label, rate, letter in (("DataLoader", full_rate, "b"), ("cache on device", device_rate, "c")):
            overhead = 1 - rate / model_rate
            detail = (f"{tag}, {label}: {rate:,.0f} clips/s full vs {model_rate:,.0f} model only "
                      f"(overhead {100 * overhead:.1f} %; targets <= {100 * GPU_OVERHEAD_TARGET:.0f} %, "
                      f">= {GPU_CLIPS_PER_S_TARGET:,} clips/s)")
            passed = overhead <= GPU_OVERHEAD_TARGET and rate >= GPU_CLIPS_PER_S_TARGET
            checks.append(Check(f"{letter} throughput", ("PASS" if passed else "FAIL") if cuda else "INFO", detail))
    return checks


def check_memory(setup: Setup, results: dict) -> Check:
    if setup.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(setup.device) / 2**30
        total = torch.cuda.get_device_properties(setup.device).total_memory / 2**30
        results["peak GPU memory"] = peak
        return Check("d peak memory", "PASS" if peak < total else "FAIL",
                     f"{peak:.2f} GiB allocated at most, of {total:.0f} GiB")
    peak = rss_mb().get("VmHWM", float("nan")) / 1024
    results["peak RSS"] = peak
    return Check("d peak memory", "INFO", f"peak RSS {peak:.2f} GiB (CPU run)")


class _InterruptAtStep:
    """Wraps ``detector.engine.train.train_step`` to send this process SIGTERM during step ``at``."""

    def __init__(self, at: int):
        import detector.engine.train

        self.module, self.at, self.calls = detector.engine.train, at, 0
        self.original = detector.engine.train.train_step

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGTERM)   # a request: honoured once this step is complete
        return self.original(*args, **kwargs)

    @contextlib.contextmanager
    def installed(self):
        self.module.train_step = self
        try:
            yield
        finally:
            self.module.train_step = self.original


def check_resume(setup: Setup, args, work: Path) -> Check:
    from detector.config import Config
    from detector.data import write_manifest
    from detector.engine.train import TrainingInterrupted, train
    from detector.models.checkpoint import load_checkpoint

    rows = list(csv.DictReader(setup.manifest.open()))
    small = setup.manifest.parent / "resume.csv"   # beside the clips: manifest paths are relative
    # Labels alternate so that both splits hold both classes whatever the corpus's first rows are:
    # the check is about resuming exactly, not about what is learnt.
    write_manifest([dict(row, label="bonafide" if k % 2 else "spoof", system="-" if k % 2 else "tts",
                         split="val" if (k // 2) % 4 == 3 else "train", repeat="1")
                    for k, row in enumerate(rows)], small)

    def config() -> Config:
        c = Config()
        c.data.manifest, c.data.cache_dir, c.data.crop_s = str(small), str(work / "cache"), min(args.crop_s, 1.0)
        c.train.device, c.train.epochs, c.train.batch_size = str(setup.device), 2, 4
        c.train.max_steps_per_epoch, c.train.deterministic = 3, True
        return c

    def weights(run: str) -> dict:
        return load_checkpoint(work / run / "last.pt")["model"]

    train(config(), work / "plain_a")
    train(config(), work / "plain_b")
    with _InterruptAtStep(at=5).installed():   # epoch 2, step 2 of 3
        try:
            train(config(), work / "interrupted")
            return Check("e kill and resume", "FAIL", "the SIGTERM did not interrupt the run")
        except TrainingInterrupted:
            pass
    train(config(), work / "interrupted", resume=True)
    reference = weights("plain_a")

    def difference(run: str) -> float:
        other = weights(run)
        return max((other[k].float() - v.float()).abs().max().item() for k, v in reference.items()
                   if v.is_floating_point())

    floor, resumed = difference("plain_b"), difference("interrupted")
    passed = resumed <= floor
    return Check("e kill and resume", "PASS" if passed else "FAIL",
                 f"max |weight difference| after SIGTERM in step 5 of 6 + --resume: {resumed:.3g} "
                 f"(two uninterrupted runs: {floor:.3g})")


def check_study(setup: Setup, args, work: Path, results: dict) -> Check:
    started = time.perf_counter()
    outcome = run_ours(setup.manifest, work / "study", str(setup.device), batch_size=32, mp3=True)
    seconds = time.perf_counter() - started
    results["study seconds"] = seconds
    per_stage = ", ".join(f"{k} {v:.1f} s" for k, v in outcome["seconds"].items())
    return Check("f laundering study", "PASS",
                 f"{outcome['clips']} clips x {outcome['conditions']} conditions -> {outcome['batches']} "
                 f"model-ready batches in {seconds:.1f} s ({per_stage})")


def main(argv: list[str] | None = None) -> int:
    from detector.utils.runtime import resolve_device

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="small batches and corpus (the CPU self-test)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also measure torch.compile (default: on for CUDA, off with --quick)")
    parser.add_argument("--results", default=str(HERE),
                        help="folder of results.csv / RESULTS.md to append to (default: benchmarks/)")
    parser.add_argument("--work", default="", help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    args.batch_size, args.crop_s, args.clips = (8, 1.0, 16) if args.quick else (256, 4.0, 1000)
    args.steps, args.warmup = (2, 1) if args.quick else (20, 5)
    args.compile = (device.type == "cuda" and not args.quick) if args.compile is None else args.compile
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.work or scratch)
        setup = _prepare(args, device, work)
        results: dict[str, float] = {}
        checks = [check_sync_free(setup, args)]
        checks += check_throughput(setup, args, results)
        checks.append(check_memory(setup, results))
        checks.append(check_resume(setup, args, work))
        checks.append(check_study(setup, args, work, results))
    name = device_name(device)
    print(f"\ndetector GPU check on {name} (torch {torch.__version__}, batch {args.batch_size}, "
          f"{args.crop_s:g} s clips{', quick' if args.quick else ''})")
    width = max(len(c.name) for c in checks)
    for check in checks:
        print(f"{check.status:4}  {check.name:<{width}}  {check.detail}")
    units = {stage: ("s" if "seconds" in stage else "GiB" if "memory" in stage or "RSS" in stage else "clips/s")
             for stage in results}
    Path(args.results).mkdir(parents=True, exist_ok=True)
    record(results, name, args, benchmark="gpu_check", unit=units,
           notes="python -m benchmarks.gpu_check" + (" --quick" if args.quick else ""), folder=Path(args.results))
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"\n{'FAIL: ' + ', '.join(failed) if failed else 'PASS: every check'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
