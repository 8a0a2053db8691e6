"""``detector predict``: score your own audio files with a trained checkpoint."""
from __future__ import annotations

import argparse
import json
import sys

from detector.cli.commands.common import add_device_flags, add_window_flags, window_settings


def register(commands) -> None:
    parser = commands.add_parser("predict", help="score audio files or folders (recursively)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to score with (RUN/best.pt)")
    parser.add_argument("paths", nargs="+", help="audio files and/or folders")
    parser.add_argument("--out", help="write CSV (.csv) or JSON lines (.jsonl) here instead of printing")
    parser.add_argument("--threshold-probability", type=float, default=0.5,
                        help="label bona fide when the calibrated probability is at least this")
    add_device_flags(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="scoring batch size in windows")
    parser.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                        help="unreadable files: stop (fail) or skip, count and list them")
    add_window_flags(parser)


def run(args: argparse.Namespace) -> None:
    from detector.engine.inference import find_audio, load_detector
    from detector.utils.io import atomic_write_text, csv_text

    if not 0 < args.threshold_probability < 1:
        raise ValueError(f"--threshold-probability {args.threshold_probability}: must be in (0, 1)")
    detector = load_detector(args.checkpoint, args.device, window_settings(args), args.batch_size, args.amp,
                             args.threshold_probability)
    files = find_audio(args.paths)
    if not files:
        raise ValueError(f"no audio files found in {' '.join(args.paths)}")
    predictions, skipped = detector.predict_files(files, on_error=args.on_error)
    rows = [p.as_dict() for p in predictions]
    columns = ["path", "score", "probability_bonafide", "label", "duration_s"]
    if args.out and args.out.endswith(".jsonl"):
        atomic_write_text(args.out, "".join(json.dumps({k: r[k] for k in columns}) + "\n" for r in rows))
    else:
        text = csv_text(rows, columns)
        if args.out:
            atomic_write_text(args.out, text)
        else:
            sys.stdout.write(text)
    if args.out:
        print(f"wrote {len(rows)} prediction(s) to {args.out}")
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for _, error in skipped:
            print(f"  {error}", file=sys.stderr)
