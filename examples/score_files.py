"""Inference from Python: score audio files, or a waveform you already hold, with a trained checkpoint.

Shows ``detector.load_detector(checkpoint)`` and its two calls:

- ``.predict_files(paths)``: decodes any format and rate libsndfile reads, scores every clip
  whole (sliding windows, averaged) and batches the windows of several files together;
- ``.predict(waveform, sample_rate)``: the same for an array, ``(time,)`` or ``(channels, time)``
  float in [-1, 1] at any rate (mixed down and resampled to the model's rate).

Each returns a ``Prediction``: ``score`` (higher = more bona fide), ``probability_bonafide``
(calibrated on the validation split at training time), ``label`` and ``duration_s``.

Needs a checkpoint, e.g. from ``detector demo --out runs/demo`` (``runs/demo/run/best.pt``) or
``detector train``. Run from the repository root; with no files given it scores a few clips of
the packaged demo corpus's test split and prints their true labels beside the predictions:

    python examples/score_files.py --checkpoint runs/demo/run/best.pt
    python examples/score_files.py --checkpoint runs/demo/run/best.pt my_audio/*.wav --out scores.csv
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import soundfile

import detector
from detector.data.demo import demo_manifest
from detector.data.manifest import read_manifest


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run's best.pt")
    parser.add_argument("files", nargs="*", help="audio files (default: --count clips of the demo corpus)")
    parser.add_argument("--count", type=int, default=6, help="demo clips to score when no files are given")
    parser.add_argument("--out", default="", help="also write the predictions to this CSV")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    return parser.parse_args()


def demo_clips(count: int) -> tuple[list[Path], list[str]]:
    """``count`` clips of the demo corpus's test split, half bona fide and half spoof, with their labels."""
    manifest = read_manifest(demo_manifest())
    test = [manifest.rows[i] for i in manifest.split("test")]
    bonafide = [row for row in test if row.label == "bonafide"][:count - count // 2]
    spoof = [row for row in test if row.label == "spoof"][:count // 2]
    return [manifest.audio_path(row) for row in bonafide + spoof], [row.label for row in bonafide + spoof]


def main() -> None:
    args = parse_args()
    if args.files:
        paths, truths = [Path(f) for f in args.files], [""] * len(args.files)
    else:
        paths, truths = demo_clips(args.count)

    model = detector.load_detector(args.checkpoint, device=args.device)   # loads weights_only: no code runs

    # Files: skip what cannot be decoded instead of stopping at the first bad file.
    predictions, skipped = model.predict_files(paths, on_error="skip", progress=False)
    for path, error in skipped:
        print(f"skipped {path}: {error}")
    truth_of = dict(zip(map(str, paths), truths))
    for p in predictions:
        truth = f"  (true: {truth_of[p.path]})" if truth_of[p.path] else ""
        print(f"{Path(p.path).name}: score {p.score:+.3f}  P(bona fide) {p.probability_bonafide:.3f}  "
              f"-> {p.label}{truth}")

    # An array you already hold (here read with soundfile at the file's own rate): predict() takes any
    # rate and channel count, and gives the same score as the file.
    if predictions:
        wave, rate = soundfile.read(predictions[0].path, dtype="float32", always_2d=True)   # (time, channels)
        again = model.predict(wave.T, rate)
        print(f"predict() on the array of {Path(predictions[0].path).name}: score {again.score:+.3f}")

    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*predictions[0].as_dict(), "true_label"]
                                    if predictions else ["path"])
            writer.writeheader()
            for p in predictions:
                writer.writerow({**p.as_dict(), "true_label": truth_of[p.path]})
        print(f"wrote {len(predictions)} rows to {args.out}")


if __name__ == "__main__":
    main()
