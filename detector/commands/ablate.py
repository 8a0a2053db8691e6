"""``detector ablate``: models x laundering conditions on the same cached audio."""
from __future__ import annotations

import argparse
from pathlib import Path

from detector.commands.common import add_data_flags, add_window_flags, window_settings


def register(commands) -> None:
    parser = commands.add_parser("ablate", help="evaluate checkpoints under many laundering conditions")
    parser.add_argument("--checkpoint", nargs="+", required=True, dest="checkpoints", help="one or more checkpoints")
    parser.add_argument("--conditions", nargs="+", default=["all"],
                        help="conditions (space- or comma-separated), or 'all': clean + the study's 29")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--out", required=True, help="folder for ablation.{csv,json,md}, the heatmap and cells/")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    add_window_flags(parser)
    add_data_flags(parser, manifest_required=True)


def expand_conditions(items: list[str]) -> list[str]:
    """Split comma-separated items and expand ``all`` to the catalogue's study conditions."""
    from detector.launder import STUDY_CONDITIONS

    conditions = []
    for item in items:
        for name in filter(None, (part.strip() for part in item.split(","))):
            conditions += STUDY_CONDITIONS if name == "all" else [name]
    return list(dict.fromkeys(conditions))   # drop repeats, keep order


def run(args: argparse.Namespace) -> None:
    from detector.ablate import ablate
    from detector.evaluate import EvaluationOptions

    options = EvaluationOptions(
        split=args.split, conditions=expand_conditions(args.conditions), device=args.device,
        batch_size=args.batch_size, amp=args.amp, seed=args.seed, cache_dir=args.cache_dir or "",
        on_error=args.on_error or "fail", windows=window_settings(args))
    ablate(args.checkpoints, args.manifest, args.out, options)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"wrote {args.out}/ablation.csv, ablation.json, ablation.md, ablation_eer.png")
