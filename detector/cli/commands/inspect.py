"""``detector inspect manifest.csv``: print a manifest's summary and shortcut warnings again."""
from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.add_parser("inspect", help="summarise a manifest: counts, speakers, durations, warnings")
    parser.add_argument("manifest", help="manifest CSV")
    parser.add_argument("--probe", action="store_true",
                        help="check every file (duration, sample rate, level), then measure the cues known to "
                             "leak labels from the decoded audio (duration, leading/trailing silence, level, "
                             "peak, noise floor, bandwidth, energy below 100 Hz, DC offset) and warn about each "
                             "that alone separates the classes, overall or inside a split")
    parser.add_argument("--probe-threshold", type=_threshold, metavar="AUC",
                        help="with --probe: warn when a cue's max(ROC AUC, 1 - ROC AUC) reaches this, in [0.5, 1] "
                             "(default 0.7)")
    parser.add_argument("--workers", type=int, help="probing processes (default: min(8, cores))")


def _threshold(text: str) -> float:
    from detector.data.cues import check_threshold

    try:
        return check_threshold(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run(args: argparse.Namespace) -> None:
    from detector.data.manifest import read_manifest
    from detector.data.summary import manifest_dicts, summary_text

    if args.probe_threshold is not None and not args.probe:
        raise ValueError("--probe-threshold applies to --probe, which was not given")
    # Inspecting only reports on the files: a manifest reaching outside its folder is allowed here.
    manifest = read_manifest(args.manifest, allow_outside_root=True)
    rows = manifest_dicts(manifest)
    cues = None
    if args.probe:
        from detector.config import DataConfig
        from detector.data import load_corpus
        from detector.data.cues import PROBE_THRESHOLD, probe_cues
        from detector.data.validate import validate_rows
        for row, source in zip(rows, manifest.rows):
            row["_where"] = f"{manifest.path}:{source.line}"
        rows, bad, rate = validate_rows(rows, manifest.path, on_error="skip",
                                        report_path=manifest.path.with_suffix(".bad.csv"), workers=args.workers)
        print(f"probed {len(rows) + len(bad)} files ({rate:.0f} files/s)"
              + (f"; {len(bad)} bad, listed in {manifest.path.with_suffix('.bad.csv')}" if bad else ""))
        # The cues are read from the waveform cache at the model's rate. A clean manifest shares
        # its cache with training (which fails on bad files); only one with bad files needs "skip".
        data = DataConfig(manifest=args.manifest, allow_outside_root=True, on_error="skip" if bad else "fail")
        corpus, cache = load_corpus(data)
        cues = probe_cues(corpus, cache, args.probe_threshold or PROBE_THRESHOLD)
    print(summary_text(rows, title=str(args.manifest), cues=cues))
