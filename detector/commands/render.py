"""``detector render``: spectrogram PNGs of a few clips, clean next to laundered, for people to look at."""
from __future__ import annotations

import argparse

from detector.commands.common import add_data_flags
from detector.commands.launder import add_bank_flags


def register(commands) -> None:
    parser = commands.add_parser("render", help="spectrogram PNGs: clean vs laundered")
    parser.add_argument("--conditions", required=True, help="comma-separated conditions, 'all' or 'study'")
    parser.add_argument("--n", type=int, default=8, help="number of clips (spread over the manifest)")
    parser.add_argument("--out", required=True, help="output folder for the PNGs")
    add_bank_flags(parser)
    add_data_flags(parser, manifest_required=True)


def run(args: argparse.Namespace) -> list:
    from detector.data import load_or_build_cache, read_manifest
    from detector.launder.export import banks_for, render

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    manifest = read_manifest(args.manifest)
    cache = load_or_build_cache(manifest, 16000, args.cache_dir or "", args.on_error or "fail")
    paths = render(manifest, cache, args.conditions, args.out, n=args.n, seed=args.seed,
                   banks=banks_for(manifest, cache, args.noise_dir, args.rir_dir))
    print(f"wrote {len(paths)} PNGs to {args.out}")
    return paths
