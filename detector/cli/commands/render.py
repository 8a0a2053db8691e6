"""``detector render``: spectrogram PNGs of a few clips, clean next to laundered, for people to look at
(or, with ``--frontend seed-image|seed-thresholded``, the model's input images)."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import (
    add_bank_flags,
    add_conditions_flag,
    add_data_flags,
    conditions_of,
    corpus_and_banks,
)
from detector.config import IMAGE_FRONTENDS


def register(commands) -> None:
    parser = commands.add_parser("render", help="spectrogram PNGs: clean vs laundered")
    add_conditions_flag(parser)
    parser.add_argument("--n", type=int, default=8, help="number of clips (spread over the manifest)")
    parser.add_argument("--out", required=True, help="output folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the conditions' random parameters")
    parser.add_argument("--frontend", choices=IMAGE_FRONTENDS,
                        help="instead of figures, write that front-end's model-input image per clip and "
                             "condition (224 x 224 RGB PNG, before normalisation)")
    add_bank_flags(parser)
    add_data_flags(parser, manifest_required=True)


def run(args: argparse.Namespace) -> list:
    from detector.launder.export import render

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    manifest, cache, banks = corpus_and_banks(args)
    paths = render(manifest, cache, conditions_of(args), args.out, n=args.n, seed=args.seed, banks=banks,
                   frontend=args.frontend or "")
    print(f"wrote {len(paths)} PNGs to {args.out}")
    return paths
