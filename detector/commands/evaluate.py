"""``detector evaluate``: score a checkpoint on a split, clean and under laundering conditions."""
from __future__ import annotations

import argparse

from detector.commands.common import add_data_flags


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
    add_data_flags(parser, manifest_required=True)


def run(args: argparse.Namespace) -> dict:
    from detector.evaluate import evaluate
    from detector.report import format_metrics

    metrics = evaluate(args.checkpoint, args.manifest, args.out, split=args.split, conditions=args.conditions,
                       device=args.device, batch_size=args.batch_size, amp=args.amp, seed=args.seed,
                       cache_dir=args.cache_dir or "", on_error=args.on_error or "fail")
    print(format_metrics(metrics))
    print(f"wrote {args.out}/metrics.json, {args.out}/scores.txt, {args.out}/confusion_matrix.png")
    return metrics
