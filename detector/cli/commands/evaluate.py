"""``detector evaluate``: score a checkpoint on a split, clean and under laundering conditions."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_conditions_flag, add_scoring_flags, evaluation_options


def register(commands) -> None:
    parser = commands.add_parser("evaluate", help="evaluate a checkpoint")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to evaluate (RUN/best.pt)")
    parser.add_argument("--out", required=True, help="folder for metrics.json, scores.txt, plots")
    add_conditions_flag(parser, default="clean", deprecated_alias="--condition")
    add_scoring_flags(parser)
    parser.add_argument("--tensorboard", metavar="DIR", default="", dest="tensorboard_dir",   # not [train] tensorboard
                        help="also add the DET/ROC and confusion-matrix plots as images to TensorBoard events in DIR "
                             "(e.g. RUN/tensorboard; tensorboard --logdir DIR shows them)")


def build_parser_defaults(**values) -> argparse.Namespace:
    """The evaluate subcommand's defaults with ``values`` set, for callers such as ``demo``."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--checkpoint", "-", "--out", "-", "--manifest", "-"])
    return argparse.Namespace(**{**vars(args), **values})


def run(args: argparse.Namespace) -> dict:
    from detector.engine.evaluate import evaluate
    from detector.metrics.report import format_metrics

    metrics = evaluate(args.checkpoint, args.manifest, args.out, evaluation_options(args),
                       tensorboard=args.tensorboard_dir)
    print(format_metrics(metrics))
    print(f"wrote {args.out}/metrics.json, {args.out}/scores.txt, {args.out}/confusion_matrix.png, "
          f"{args.out}/det_roc.png")
    return metrics
