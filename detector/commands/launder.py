"""``detector launder``: write laundered copies of a manifest's clips (FLAC) with a protocol and a manifest."""
from __future__ import annotations

import argparse

from detector.commands.common import add_data_flags


def add_bank_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise-dir", action="append", default=[], metavar="TYPE=PATH",
                        help="folder of noise recordings for TYPE (babble, cafe, street, volvo, white, ...); "
                             "repeatable; types without one use built-in substitutes")
    parser.add_argument("--rir-dir", help="folder of measured room impulse responses (reverb:model=measured)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")


def register(commands) -> None:
    parser = commands.add_parser("launder", help="write laundered copies of clips (FLAC + protocol)",
                                 description="Apply laundering conditions to whole clips and write FLAC files, "
                                             "protocol.csv and manifest.csv. 'all' is the laundered-ASVspoof "
                                             "study's 29 conditions plus clean.")
    parser.add_argument("--conditions", required=True,
                        help="comma-separated conditions, 'all' or 'study', e.g. 'clean,noise:white:snr=10'")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--split", choices=["train", "val", "test"], help="only this split (default: every row)")
    add_bank_flags(parser)
    add_data_flags(parser, manifest_required=True)


def run(args: argparse.Namespace) -> dict:
    from detector.data import load_or_build_cache, read_manifest
    from detector.launder.export import banks_for, export

    manifest = read_manifest(args.manifest)
    cache = load_or_build_cache(manifest, 16000, args.cache_dir or "", args.on_error or "fail")
    rows = manifest.split(args.split) if args.split else None
    result = export(manifest, cache, args.conditions, args.out, rows=rows, seed=args.seed,
                    banks=banks_for(manifest, cache, args.noise_dir, args.rir_dir))
    print(f"wrote {result['files']} files, {result['protocol']} and {result['manifest']}")
    return result
