"""``detector fuse``: logistic-regression fusion of several systems' scores.txt for the same trials."""
from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.add_parser("fuse", help="fuse several systems' scores (logistic regression)")
    parser.add_argument("--dev", nargs="+", required=True, metavar="SCORES",
                        help="development scores.txt, one per system: the fusion's weights and bias are fitted here")
    parser.add_argument("--eval", nargs="+", required=True, metavar="SCORES", dest="evaluation",
                        help="evaluation scores.txt, one per system, in the order of --dev")
    parser.add_argument("--out", required=True, help="folder for the fused scores.txt and metrics.json")
    parser.add_argument("--condition", default=None,
                        help="fuse only this condition's trials (default: all; trials match by utt and condition)")
    parser.add_argument("--prior", type=float, default=0.5,
                        help="P(bona fide) that weighs the classes in the prior-weighted logistic regression "
                             "(BOSARIS-style; 0.5: classes weigh equally)")


def format_fusion(metrics: dict) -> str:
    """One row per input system and one for the fusion: weight, EER, minDCF, actDCF, Cllr (eval set)."""
    rows = [(f"{index}: {system['eval']}", f"{system['weight']:.4g}", system)
            for index, system in enumerate(metrics["systems"], 1)]
    rows.append(("fusion", f"bias {metrics['bias']:.4g}", metrics["fusion"]))
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'system':<{width}}  {'weight':>12}  {'EER %':>7}  {'minDCF':>7}  {'actDCF':>7}  {'Cllr':>7}"]
    for name, weight, row in rows:
        lines.append(f"{name:<{width}}  {weight:>12}  {100 * row['eer']:7.2f}  {row['min_dcf']:7.4f}  "
                     f"{row['act_dcf']:7.4f}  {row['cllr']:7.4f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    from detector.engine.fusion import fuse

    metrics = fuse(args.dev, args.evaluation, args.out, condition=args.condition, prior=args.prior)
    print(format_fusion(metrics))
    print(f"wrote {args.out}/scores.txt, {args.out}/metrics.json")
    return metrics
