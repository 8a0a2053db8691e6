"""``detector conditions``: the condition grammar, every laundering family and the study's conditions.

Reads :mod:`detector.launder.language` only, so it answers without importing torch.
"""
from __future__ import annotations

import argparse
import shutil


def register(commands) -> None:
    commands.add_parser("conditions", help="explain the laundering conditions: grammar, families, the study's 29",
                        description="Print the condition grammar that --conditions, --launder and config files "
                                    "use, each laundering family with its parameters and an example, and the "
                                    "laundered-ASVspoof study's 29 conditions.")


def run(args: argparse.Namespace) -> None:
    from detector.launder.language import conditions_text

    print(conditions_text(width=max(60, shutil.get_terminal_size().columns - 2)))
