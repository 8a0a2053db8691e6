"""The ``detector`` command. Each subcommand lives in :mod:`detector.cli.commands`.

Building the parser imports no torch (each subcommand imports its heavy modules inside
``run``), so ``--help``, ``--version`` and ``detector conditions`` answer at once.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import logging
import sys

from detector.cli.formatting import HelpFormatter
from detector.utils.errors import USER_ERRORS

SUBCOMMANDS = ("demo", "prepare", "inspect", "train", "evaluate", "fuse", "ablate", "predict", "explain", "export",
               "launder", "render", "conditions")


class ConsoleHandler(logging.Handler):
    """The library's ``detector`` log on the terminal, as bare messages: progress on stdout, warnings on stderr.

    The stream is looked up per message, so a replaced ``sys.stdout`` (pytest, a redirect) is honoured.
    """

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:   # logging's own policy: a broken stream must not stop the command
            self.handleError(record)


def configure_logging() -> None:
    """Print the ``detector`` logger's INFO and above (once, however often ``main`` runs in a process)."""
    logger = logging.getLogger("detector")
    if not any(isinstance(handler, ConsoleHandler) for handler in logger.handlers):
        logger.addHandler(ConsoleHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False   # a root handler (e.g. pytest's) would print each message twice


def _module(name: str):
    return importlib.import_module(f"detector.cli.commands.{name}")


def _version() -> str:
    """The installed distribution's version, else the package's own (running from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("detector")
    except PackageNotFoundError:
        from detector import __version__
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector", description="Train, evaluate and stress-test audio deepfake detectors.",
        formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=functools.partial(argparse.ArgumentParser,
                                                                    formatter_class=HelpFormatter))
    for name in SUBCOMMANDS:
        _module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. User errors (:data:`~detector.utils.errors.USER_ERRORS`) print one line
    and return 2; any other exception propagates with its traceback, since it is a bug."""
    configure_logging()
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
