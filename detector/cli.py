"""The ``detector`` command: demo, prepare, train, evaluate."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detector.config import Config, set_field

# CLI flag -> (config section, key). Flags left unset keep the config file's value.
OVERRIDES = {
    "manifest": ("data", "manifest"), "cache_dir": ("data", "cache_dir"), "on_error": ("data", "on_error"),
    "crop_s": ("data", "crop_s"), "num_workers": ("data", "num_workers"),
    "frontend": ("features", "backend"),
    "pretrained": ("model", "pretrained"), "freeze_epochs": ("model", "freeze_epochs"),
    "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"), "lr": ("train", "lr"),
    "seed": ("train", "seed"), "device": ("train", "device"), "amp": ("train", "amp"),
    "launder": ("train", "launder"), "patience": ("train", "patience"),
    "max_steps_per_epoch": ("train", "max_steps_per_epoch"),
}
DEMO_CONDITIONS = ["clean", "noise:white:snr=10", "reverb:rt60=0.6", "resample:8000"]


def resolve_config(args: argparse.Namespace, base: Config | None = None) -> Config:
    """Defaults (or ``base``) <- ``--config`` TOML file <- flags given on the command line."""
    config = Config.from_toml(args.config) if getattr(args, "config", None) else (base or Config())
    for flag, (section, key) in OVERRIDES.items():
        value = getattr(args, flag, None)
        if value is not None:
            set_field(getattr(config, section), key, value, f"--{flag.replace('_', '-')}")
    return config


def _add_training_flags(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("--frontend", choices=["torchaudio", "nnaudio"])
    parser.add_argument("--pretrained", help="local torchvision resnet18 ImageNet state-dict file")
    parser.add_argument("--freeze-epochs", type=int, help="train only the head for the first N epochs")
    parser.add_argument("--max-steps-per-epoch", type=int, help="cap the steps of an epoch (smoke runs)")
    parser.add_argument("--num-workers", type=int, help="DataLoader worker processes")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")


def _add_data_flags(parser: argparse.ArgumentParser, manifest_required: bool) -> None:
    parser.add_argument("--manifest", required=manifest_required, help="manifest CSV")
    parser.add_argument("--cache-dir", help="waveform cache folder (default $DETECTOR_CACHE or ~/.cache/detector)")
    parser.add_argument("--on-error", choices=["fail", "skip"],
                        help="bad clips: stop with a list (fail, default) or skip, count and report them")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="train and evaluate on the built-in demo corpus")
    demo.add_argument("--out", default="runs/demo", help="folder for the run, checkpoints and reports")
    _add_training_flags(demo)
    _add_data_flags(demo, manifest_required=False)

    prepare = commands.add_parser("prepare", help="write a manifest for a corpus on disk")
    prepare.add_argument("--corpus", required=True, choices=["folder"], help="corpus layout")
    prepare.add_argument("--root", required=True, help="the corpus folder")
    prepare.add_argument("--out", required=True, help="manifest CSV to write")
    prepare.add_argument("--split", default="70/15/15", help="train/val/test percentages")
    prepare.add_argument("--seed", type=int, default=0)

    train = commands.add_parser("train", help="train a detector")
    train.add_argument("--out", required=True, help="run folder")
    _add_training_flags(train)
    _add_data_flags(train, manifest_required=False)

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"])
    evaluate.add_argument("--out", required=True, help="folder for metrics.json, scores.txt, plots")
    evaluate.add_argument("--condition", action="append", dest="conditions",
                          help="laundering condition (repeatable), e.g. noise:white:snr=10; default clean")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    _add_data_flags(evaluate, manifest_required=True)
    return parser


def run_prepare(args: argparse.Namespace) -> None:
    from detector.data.corpora import folder_corpus, parse_split_ratios
    from detector.data.manifest import write_manifest

    rows = folder_corpus(args.root, args.out, parse_split_ratios(args.split), args.seed)
    write_manifest(rows, args.out)
    counts = {}
    for row in rows:
        counts[(row["split"], row["label"])] = counts.get((row["split"], row["label"]), 0) + 1
    print(f"wrote {args.out}: {len(rows)} clips; " +
          ", ".join(f"{split}/{label} {n}" for (split, label), n in sorted(counts.items())))


def run_train(args: argparse.Namespace, config: Config) -> None:
    from detector.train import train

    state = train(config, args.out, resume=args.resume)
    print(f"best validation EER {100 * state.best_eer:.2f}% at epoch {state.best_epoch}; "
          f"checkpoints in {args.out}/best.pt and {args.out}/last.pt")


def run_evaluate(checkpoint, manifest, out, conditions, args: argparse.Namespace, split: str = "test") -> dict:
    from detector.evaluate import evaluate
    from detector.report import format_metrics

    metrics = evaluate(checkpoint, manifest, out, split=split, conditions=conditions, device=args.device,
                       batch_size=getattr(args, "batch_size", None) or 64, amp=args.amp or "auto",
                       seed=args.seed or 0, cache_dir=args.cache_dir or "", on_error=args.on_error or "fail")
    print(format_metrics(metrics))
    print(f"wrote {out}/metrics.json, {out}/scores.txt, {out}/confusion_matrix.png")
    return metrics


def run_demo(args: argparse.Namespace) -> None:
    from detector.demo import demo_config, demo_manifest

    out = Path(args.out)
    args.manifest = args.manifest or str(demo_manifest())
    config = resolve_config(args, base=demo_config())
    args.device = config.train.device
    args.amp = config.train.amp
    run_train(argparse.Namespace(out=out / "run", resume=args.resume), config)
    run_evaluate(out / "run" / "best.pt", config.data.manifest, out / "eval", DEMO_CONDITIONS, args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(args)
        elif args.command == "prepare":
            run_prepare(args)
        elif args.command == "train":
            run_train(args, resolve_config(args))
        elif args.command == "evaluate":
            run_evaluate(args.checkpoint, args.manifest, args.out, args.conditions, args, split=args.split)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"detector {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"detector {args.command}: interrupted; files already written are intact", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
