"""``detector train``: train a detector into a run folder."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_data_flags, add_training_flags, resolve_config
from detector.config import Config, set_field

# Flags of this command only (``demo`` takes the shared training flags): flag -> [train] key.
TRAIN_ONLY = {"compile": "compile", "save_every_minutes": "save_every_minutes"}


def register(commands) -> None:
    parser = commands.add_parser("train", help="train a detector")
    parser.add_argument("--out", required=True, help="run folder")
    add_training_flags(parser)
    parser.add_argument("--compile", action="store_const", const=True,
                        help="torch.compile the model (minutes of compilation first; faster steps on a GPU)")
    parser.add_argument("--save-every-minutes", type=float,
                        help="also save last.pt inside an epoch this often, for a SIGKILL (default 10; 0 = "
                             "at epoch ends only)")
    add_data_flags(parser, manifest_required=False)


def run(args: argparse.Namespace, config: Config | None = None) -> None:
    from detector.engine.train import train

    config = config or resolve_config(args)
    for flag, key in TRAIN_ONLY.items():
        value = getattr(args, flag, None)
        if value is not None:
            set_field(config.train, key, value, f"--{flag.replace('_', '-')}")
    state = train(config, args.out, resume=args.resume)
    print(f"best validation EER {100 * state.best_eer:.2f}% at epoch {state.best_epoch}; "
          f"checkpoints in {args.out}/best.pt and {args.out}/last.pt")
