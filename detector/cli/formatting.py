"""Help-text formatting shared by the ``detector`` command and its subcommands."""
from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing.

    Unlike :class:`argparse.ArgumentDefaultsHelpFormatter` this leaves out ``None``, ``False``
    (a switch that is off) and help texts that already name their default. Descriptions keep
    their line breaks (the condition grammar is a table).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        no_default = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if no_default or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"
