"""``detector evaluate``: score a checkpoint on a split, clean and under laundering conditions;
with several manifests, on each corpus, plus a cross-corpus table."""
from __future__ import annotations

import argparse
from pathlib import Path

from detector.cli.commands.common import add_conditions_flag, add_scoring_flags, evaluation_options


def register(commands) -> None:
    parser = commands.add_parser("evaluate", help="evaluate a checkpoint")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to evaluate (RUN/best.pt)")
    parser.add_argument("--out", required=True, help="folder for metrics.json, scores.txt, plots (several "
                                                     "manifests: OUT/<corpus>/ each, and corpora.csv/.md/_eer.png)")
    add_conditions_flag(parser, default="clean", deprecated_alias="--condition")
    add_scoring_flags(parser, manifest_help=(
        "manifest CSV; several (--manifest A.csv B.csv ...): each corpus is evaluated as alone into OUT/<corpus>/ "
        "(its file stem, or its folder's name where stems repeat), then a table of EER, minDCF, actDCF and Cllr "
        "per corpus and pooled goes to OUT/corpora.csv, corpora.md and corpora_eer.png"))
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
    """One manifest: its metrics.json dict. Several: ``{corpus name: metrics}`` (see :func:`run_corpora`)."""
    from detector.engine.evaluate import evaluate
    from detector.metrics.report import format_metrics

    manifests = [args.manifest] if isinstance(args.manifest, (str, Path)) else list(args.manifest)
    if len(manifests) > 1:
        return run_corpora(args, manifests)
    metrics = evaluate(args.checkpoint, manifests[0], args.out, evaluation_options(args),
                       tensorboard=args.tensorboard_dir)
    print(format_metrics(metrics))
    print(f"wrote {args.out}/metrics.json, {args.out}/scores.txt, {args.out}/confusion_matrix.png, "
          f"{args.out}/det_roc.png")
    return metrics


def run_corpora(args: argparse.Namespace, manifests: list[str]) -> dict:
    """Each corpus's report under a heading, then the cross-corpus table; returns ``{name: metrics}``."""
    from detector.engine.corpora import evaluate_corpora
    from detector.metrics.report import format_metrics

    out = Path(args.out)
    table, metrics = evaluate_corpora(args.checkpoint, manifests, out, evaluation_options(args),
                                      tensorboard=args.tensorboard_dir)
    for row in table[:-1]:
        print(f"== {row['corpus']} ({row['manifest']})")
        print(format_metrics(metrics[row["corpus"]]))
    print((out / "corpora.md").read_text())
    print(f"wrote {', '.join(f'{out / name}/' for name in metrics)} (metrics.json, scores.txt, plots each), "
          f"{out}/corpora.csv, {out}/corpora.md, {out}/corpora_eer.png")
    return metrics
