"""Flags and configuration resolution shared by several subcommands."""
from __future__ import annotations

import argparse

from detector.config import Config, set_field

# CLI flag -> (config section, key). Flags left unset keep the config file's value.
OVERRIDES = {
    "manifest": ("data", "manifest"), "rir_dir": ("data", "rir_dir"), "cache_dir": ("data", "cache_dir"), "on_error": ("data", "on_error"),
    "allow_outside_root": ("data", "allow_outside_root"),
    "crop_s": ("data", "crop_s"), "num_workers": ("data", "num_workers"), "cache_on_device": ("data", "cache_on_device"),
    "frontend": ("features", "frontend"), "mel_backend": ("features", "backend"),
    "pretrained": ("model", "pretrained"), "freeze_epochs": ("model", "freeze_epochs"),
    "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"), "lr": ("train", "lr"),
    "seed": ("train", "seed"), "device": ("train", "device"), "amp": ("train", "amp"),
    "launder": ("train", "launder"), "patience": ("train", "patience"),
    "max_steps_per_epoch": ("train", "max_steps_per_epoch"), "deterministic": ("train", "deterministic"),
}


def resolve_config(args: argparse.Namespace, base: Config | None = None) -> Config:
    """Defaults (or ``base``) <- ``--config`` TOML file <- flags given on the command line."""
    config = Config.from_toml(args.config) if getattr(args, "config", None) else (base or Config())
    for flag, (section, key) in OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            set_field(getattr(config, section), key, value, f"--{flag.replace('_', '-')}")
    if getattr(args, "frontend", None) in ("torchaudio", "nnaudio"):   # the older spelling: log-mel by backend
        if getattr(args, "mel_backend", None) not in (None, args.frontend):
            raise ValueError(f"--frontend {args.frontend} means --frontend logmel --mel-backend {args.frontend}; "
                             f"it contradicts --mel-backend {args.mel_backend}")
        config.features.frontend, config.features.backend = "logmel", args.frontend
    if getattr(args, "noise_dir", None):
        config.data.noise_dirs = ",".join(args.noise_dir)
    return config


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML configuration file; flags override it")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"])
    parser.add_argument("--launder", help='training laundering chain, e.g. "p=0.8; noise:white:snr=0..20"; "off"')
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    parser.add_argument("--crop-s", type=float, help="crop length in seconds")
    from detector.features import FRONTENDS, MEL_BACKENDS

    parser.add_argument("--frontend", choices=FRONTENDS + MEL_BACKENDS,
                        help="model input: logmel (default), seed-image (the seed's 224 x 224 magma spectrogram "
                             "image, 3-channel stem), seed-thresholded (its band-thresholded variant), lfcc "
                             "(ASVspoof baseline, 60 x frames), cqt (log constant-Q); torchaudio|nnaudio: logmel "
                             "with that --mel-backend")
    parser.add_argument("--mel-backend", choices=MEL_BACKENDS, help="log-mel implementation (default torchaudio)")
    parser.add_argument("--pretrained", help="local torchvision resnet18 ImageNet state-dict file")
    parser.add_argument("--freeze-epochs", type=int, help="train only the head for the first N epochs")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap the steps of an epoch (smoke runs)")
    parser.add_argument("--num-workers", type=_worker_count, metavar="N|auto",
                        help="DataLoader worker processes (default auto: min(8, CPUs) on CUDA, 0 on CPU)")
    parser.add_argument("--cache-on-device", action="store_const", const=True,
                        help="hold the whole int16 waveform cache on the device and gather training crops there "
                             "(needs the cache's size in free device memory)")
    parser.add_argument("--deterministic", action="store_const", const=True,
                        help="deterministic kernels (on CUDA; warns about ops that have none)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")


def _worker_count(text: str) -> int:
    """``--num-workers``: a count >= 0, or ``auto`` (-1, see :func:`detector.data.loader.resolve_workers`)."""
    if text == "auto":
        return -1
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a worker count (N >= 0 or auto)")
    return int(text)


def add_data_flags(parser: argparse.ArgumentParser, manifest_required: bool) -> None:
    parser.add_argument("--manifest", required=manifest_required, help="manifest CSV")
    parser.add_argument("--cache-dir", help="waveform cache folder (default $DETECTOR_CACHE or ~/.cache/detector)")
    parser.add_argument("--on-error", choices=["fail", "skip"],
                        help="bad clips: stop with a list (fail, default) or skip, count and report them")
    parser.add_argument("--allow-outside-root", action="store_const", const=True,
                        help="accept manifest paths that leave the manifest's folder (../x.wav)")


def add_bank_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise-dir", action="append", metavar="TYPE=PATH",
                        help="folder of noise recordings for TYPE (babble, cafe, street, volvo, white, ...); "
                             "repeatable; types without one use built-in substitutes")
    parser.add_argument("--rir-dir", help="folder of measured room impulse responses (reverb:model=measured)")


def corpus_and_banks(args: argparse.Namespace):
    """``(manifest, cache, banks)`` for commands that launder a manifest's clips (--manifest, bank flags)."""
    from detector.data import load_corpus
    from detector.launder.banks import corpus_banks

    data = resolve_config(args).data
    manifest, cache = load_corpus(data)
    return manifest, cache, corpus_banks(manifest, cache, data.noise_dirs, data.rir_dir, data.cache_dir)


def add_window_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window-s", type=float, default=0.0,
                        help="sliding-window length in seconds (default: the model's training crop)")
    parser.add_argument("--hop-s", type=float, default=0.0, help="window hop in seconds (default: half a window)")
    parser.add_argument("--aggregate", choices=["mean", "max"], default="mean",
                        help="how a clip's window scores combine")


def window_settings(args: argparse.Namespace):
    from detector.engine.scoring import WindowSettings
    return WindowSettings(args.window_s, args.hop_s, args.aggregate)


def add_scoring_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the commands that score a manifest's split under conditions (evaluate, ablate)."""
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    parser.add_argument("--dcf-c-miss", type=float, default=1.0, help="minDCF cost of a miss (bona fide rejected)")
    parser.add_argument("--dcf-c-fa", type=float, default=10.0, help="minDCF cost of a false alarm (spoof accepted)")
    parser.add_argument("--dcf-p-spoof", type=float, default=0.05, help="minDCF prior of a spoof trial")
    add_window_flags(parser)
    add_bank_flags(parser)
    add_data_flags(parser, manifest_required=True)


def evaluation_options(args: argparse.Namespace, conditions: list[str]):
    """The :class:`~detector.engine.evaluate.EvaluationOptions` of a scoring command's flags."""
    from detector.engine.evaluate import EvaluationOptions
    from detector.launder import expand_conditions
    from detector.metrics.detection import DetectionCost

    return EvaluationOptions(
        split=args.split, conditions=expand_conditions(conditions), device=args.device, batch_size=args.batch_size,
        amp=args.amp, seed=args.seed, cache_dir=args.cache_dir or "", on_error=args.on_error or "fail",
        noise_dirs=",".join(args.noise_dir or []), rir_dir=args.rir_dir or "", windows=window_settings(args),
        allow_outside_root=bool(args.allow_outside_root),
        cost=DetectionCost(args.dcf_c_miss, args.dcf_c_fa, args.dcf_p_spoof))
