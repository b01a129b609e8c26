"""The ``resumable-opt`` command line.

Each command lives in its own module under ``resumable_opt/cli/`` and has a
``register(subparsers)`` function that adds its parser and sets its handler
(``parser.set_defaults(handler=...)``).  Every command reports a user's
mistake (a missing or damaged file, a bad argument) as one line on stderr and
a non-zero exit status; ``--debug`` (before or after the command) shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from .. import __version__
from ..errors import ResumableOptError
from . import best, demo, export, fork, importing, plot, recovery, resume, show, trials, watch

EXIT_ERROR = 1
EXIT_USAGE = 2

#: The modules that each add commands; their order is the order in --help.
COMMAND_MODULES = [demo, show, watch, best, trials, export, plot, resume, fork, recovery, importing]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="resumable-opt",
        description="Resumable hyperopt searches: run, resume and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    for command in subparsers.choices.values():
        if "--debug" not in command._option_string_actions:
            # SUPPRESS: absent here, it leaves the value given before the command alone.
            command.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
            )
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
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run saves and exits 130 itself)
        print("resumable-opt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `resumable-opt trials X | head`: the reader has all it wanted
        # Point stdout at /dev/null so that flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug, or a fault we did not foresee: still no traceback at the user
        if args.debug:
            raise
        print(
            f"resumable-opt: unexpected error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
