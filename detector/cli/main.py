"""The ``detector`` command. Each subcommand lives in :mod:`detector.cli.commands`."""
from __future__ import annotations

import argparse
import importlib
import sys

from detector.models.checkpoint import CheckpointError
from detector.data import AudioError, BadRowsError

SUBCOMMANDS = ("demo", "prepare", "inspect", "train", "evaluate", "ablate", "predict", "export", "launder", "render")
# Errors whose message is the whole story for a user; torch reports device problems (no CUDA,
# out of memory) as RuntimeError.
USER_ERRORS = (ValueError, OSError, CheckpointError, AudioError, BadRowsError, RuntimeError)


def _module(name: str):
    return importlib.import_module(f"detector.cli.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector", description="Train, evaluate and stress-test audio deepfake detectors.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        _module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _module(args.command).run(args)
    except USER_ERRORS as error:
        print(f"detector {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        detail = f": {error}" if str(error) else "; files already written are intact"
        print(f"detector {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
