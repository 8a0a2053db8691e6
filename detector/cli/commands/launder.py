"""``detector launder``: write laundered copies of a manifest's clips (32-bit float WAV, exactly what
evaluate scores) with a protocol and a manifest."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import (
    add_bank_flags,
    add_conditions_flag,
    add_data_flags,
    conditions_of,
    corpus_and_banks,
)


def register(commands) -> None:
    parser = commands.add_parser(
        "launder", help="write laundered copies of clips (float WAV + protocol)",
        description="Apply laundering conditions to whole clips and write 32-bit float WAV files, protocol.csv "
                    "and manifest.csv. 'all' is the laundered-ASVspoof study's 29 conditions plus clean.")
    add_conditions_flag(parser)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--split", choices=["train", "val", "test"], help="only this split (default: every row)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    add_bank_flags(parser)
    add_data_flags(parser, manifest_required=True)


def run(args: argparse.Namespace) -> dict:
    from detector.launder.export import export

    manifest, cache, banks = corpus_and_banks(args)
    rows = manifest.split(args.split) if args.split else None
    result = export(manifest, cache, conditions_of(args), args.out, rows=rows, seed=args.seed,
                    banks=banks)
    print(f"wrote {result['files']} files, {result['protocol']} and {result['manifest']}")
    return result
