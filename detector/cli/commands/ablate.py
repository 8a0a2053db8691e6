"""``detector ablate``: models x laundering conditions on the same cached audio."""
from __future__ import annotations

import argparse
from pathlib import Path

from detector.cli.commands.common import add_conditions_flag, add_scoring_flags, evaluation_options


def register(commands) -> None:
    parser = commands.add_parser("ablate", help="evaluate checkpoints under many laundering conditions")
    parser.add_argument("--checkpoint", nargs="+", required=True, dest="checkpoints", help="one or more checkpoints")
    add_conditions_flag(parser, default="all")
    parser.add_argument("--out", required=True, help="folder for ablation.{csv,json,md}, the heatmap and cells/")
    add_scoring_flags(parser)
    parser.add_argument("--tensorboard", metavar="DIR", default="", dest="tensorboard_dir",   # not [train] tensorboard
                        help="also add the EER heatmap as an image to TensorBoard events in DIR "
                             "(tensorboard --logdir DIR shows it)")


def run(args: argparse.Namespace) -> None:
    from detector.engine.ablate import ablate

    ablate(args.checkpoints, args.manifest, args.out, evaluation_options(args), tensorboard=args.tensorboard_dir)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"wrote {args.out}/ablation.csv, ablation.json, ablation.md, ablation_eer.png")
