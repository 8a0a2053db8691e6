"""``detector prepare``: write a manifest for a corpus on disk."""
from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.add_parser("prepare", help="write a manifest for a corpus on disk")
    parser.add_argument("--corpus", required=True, choices=["folder"], help="corpus layout")
    parser.add_argument("--root", required=True, help="the corpus folder")
    parser.add_argument("--out", required=True, help="manifest CSV to write")
    parser.add_argument("--split", default="70/15/15", help="train/val/test percentages")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    from detector.data.corpora import folder_corpus, parse_split_ratios
    from detector.data.manifest import write_manifest

    rows = folder_corpus(args.root, args.out, parse_split_ratios(args.split), args.seed)
    write_manifest(rows, args.out)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row["split"], row["label"])] = counts.get((row["split"], row["label"]), 0) + 1
    print(f"wrote {args.out}: {len(rows)} clips; " +
          ", ".join(f"{split}/{label} {n}" for (split, label), n in sorted(counts.items())))
