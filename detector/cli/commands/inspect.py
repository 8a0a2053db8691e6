"""``detector inspect manifest.csv``: print a manifest's summary and shortcut warnings again."""
from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.add_parser("inspect", help="summarise a manifest: counts, speakers, durations, warnings")
    parser.add_argument("manifest", help="manifest CSV")
    parser.add_argument("--probe", action="store_true",
                        help="measure duration, sample rate and level of every file (when the manifest "
                             "lacks those columns)")
    parser.add_argument("--workers", type=int, help="probing processes (default: min(8, cores))")


def run(args: argparse.Namespace) -> None:
    from detector.data.manifest import read_manifest
    from detector.data.summary import manifest_dicts, summary_text

    manifest = read_manifest(args.manifest, allow_outside_root=True)   # only reads the manifest
    rows = manifest_dicts(manifest)
    if args.probe:
        from detector.data.validate import validate_rows
        for row, source in zip(rows, manifest.rows):
            row["_where"] = f"{manifest.path}:{source.line}"
        rows, bad, rate = validate_rows(rows, manifest.path, on_error="skip",
                                        report_path=manifest.path.with_suffix(".bad.csv"), workers=args.workers)
        print(f"probed {len(rows) + len(bad)} files ({rate:.0f} files/s)"
              + (f"; {len(bad)} bad, listed in {manifest.path.with_suffix('.bad.csv')}" if bad else ""))
    print(summary_text(rows, title=str(args.manifest)))
