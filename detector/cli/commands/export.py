"""``detector export``: a self-contained TorchScript or ONNX file mapping a waveform to a score."""
from __future__ import annotations

import argparse

from detector.cli.commands.common import add_window_flags, window_settings


def register(commands) -> None:
    parser = commands.add_parser("export", help="export a checkpoint as TorchScript or ONNX (front-end included)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to export (RUN/best.pt)")
    parser.add_argument("--format", required=True, choices=["torchscript", "onnx"])
    parser.add_argument("--out", required=True, help="file to write (.pt for TorchScript, .onnx for ONNX)")
    add_window_flags(parser)   # the windows and aggregation baked into the file, as predict's flags


def run(args: argparse.Namespace) -> None:
    from detector.engine.export import export_model

    difference = export_model(args.checkpoint, args.format, args.out, window_settings(args))
    print(f"wrote {args.out}: input 'wave' (batch, time) float32 at the model's rate -> 'score' (batch,), "
          f"higher = more bona fide, and 'probability_bonafide' (batch,), whole clips scored as predict does; "
          f"largest score difference to the PyTorch model on check clips: {difference:.2e}")
