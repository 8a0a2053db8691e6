"""``detector evaluate``: score a checkpoint on a split, clean and under laundering conditions."""
from __future__ import annotations

import argparse

from detector.commands.common import add_data_flags, add_window_flags, window_settings


def register(commands) -> None:
    parser = commands.add_parser("evaluate", help="evaluate a checkpoint")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--out", required=True, help="folder for metrics.json, scores.txt, plots")
    parser.add_argument("--condition", action="append", dest="conditions",
                        help="laundering condition (repeatable), e.g. noise:white:snr=10; default clean")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    add_window_flags(parser)
    parser.add_argument("--dcf-c-miss", type=float, default=1.0, help="minDCF cost of a miss (bona fide rejected)")
    parser.add_argument("--dcf-c-fa", type=float, default=10.0, help="minDCF cost of a false alarm (spoof accepted)")
    parser.add_argument("--dcf-p-spoof", type=float, default=0.05, help="minDCF prior of a spoof trial")
    add_data_flags(parser, manifest_required=True)


def build_parser_defaults(**values) -> argparse.Namespace:
    """The evaluate subcommand's defaults with ``values`` set, for callers such as ``demo``."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--checkpoint", "-", "--out", "-", "--manifest", "-"])
    return argparse.Namespace(**{**vars(args), **values})


def run(args: argparse.Namespace) -> dict:
    from detector.evaluate import EvaluationOptions, evaluate
    from detector.metrics import DetectionCost
    from detector.report import format_metrics

    options = EvaluationOptions(
        split=args.split, conditions=args.conditions or ["clean"], device=args.device, batch_size=args.batch_size,
        amp=args.amp, seed=args.seed, cache_dir=args.cache_dir or "", on_error=args.on_error or "fail",
        windows=window_settings(args), cost=DetectionCost(args.dcf_c_miss, args.dcf_c_fa, args.dcf_p_spoof))
    metrics = evaluate(args.checkpoint, args.manifest, args.out, options)
    print(format_metrics(metrics))
    print(f"wrote {args.out}/metrics.json, {args.out}/scores.txt, {args.out}/confusion_matrix.png, "
          f"{args.out}/det_roc.png")
    return metrics
