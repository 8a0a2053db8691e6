"""``detector demo``: train and evaluate on the built-in demo corpus."""
from __future__ import annotations

import argparse
from pathlib import Path

from detector.cli.commands import evaluate as evaluate_command
from detector.cli.commands import train as train_command
from detector.cli.commands.common import add_training_flags, resolve_config
from detector.data.demo import demo_config

CONDITIONS = ["clean", "noise:white:snr=10", "reverb:rt60=0.6", "resample:8000"]


def register(commands) -> None:
    parser = commands.add_parser("demo", help="train and evaluate on the built-in demo corpus")
    parser.add_argument("--out", default="runs/demo", help="folder for the run, checkpoints and reports")
    add_training_flags(parser, base=demo_config())


def run(args: argparse.Namespace) -> None:
    from detector.data.demo import demo_manifest

    out = Path(args.out)
    args.manifest = args.manifest or str(demo_manifest())
    config = resolve_config(args, base=demo_config())
    train_command.run(argparse.Namespace(out=out / "run", resume=args.resume), config)
    evaluate_command.run(evaluate_command.build_parser_defaults(
        checkpoint=out / "run" / "best.pt", manifest=config.data.manifest, out=out / "eval",
        conditions=CONDITIONS, device=config.train.device, amp=config.train.amp,
        cache_dir=config.data.cache_dir, on_error=config.data.on_error))
