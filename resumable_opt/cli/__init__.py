"""The ``resumable-opt`` command line.

Each command lives in its own module under ``resumable_opt/cli/`` and has a
``register(subparsers)`` function that adds its parser and sets its handler
(``parser.set_defaults(handler=...)``).  Every command reports a user's
mistake (a missing or damaged file, a bad argument) as one line on stderr and
a non-zero exit status; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import ResumableOptError
from . import demo, importing, recovery

EXIT_ERROR = 1

#: The modules that each add commands; their order is the order in --help.
COMMAND_MODULES = [demo, importing, recovery]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resumable-opt",
        description="Resumable hyperopt searches: run, resume and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ResumableOptError as exc:
        if args.debug:
            raise
        print(f"resumable-opt: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `resumable-opt trials X | head`
        return 0
