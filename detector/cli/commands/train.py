"""``detector train``: train a detector into a run folder."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_training_flags, resolve_config
from detector.config import Config


def register(commands) -> None:
    parser = commands.add_parser("train", help="train a detector")
    parser.add_argument("--out", required=True, help="run folder")
    add_training_flags(parser)


def run(args: argparse.Namespace, config: Config | None = None) -> None:
    from detector.engine.train import train

    config = config or resolve_config(args)
    state = train(config, args.out, resume=args.resume)
    print(f"best validation EER {100 * state.best_eer:.2f}% at epoch {state.best_epoch}; "
          f"checkpoints in {args.out}/best.pt and {args.out}/last.pt")
