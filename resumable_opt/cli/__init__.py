"""The ``resumable-opt`` command line.

Each command lives in its own module under ``resumable_opt/cli/`` and has a
``register(subparsers)`` function that adds its parser and sets its handler
(``parser.set_defaults(handler=...)``).  Every command reports a user's
mistake (a missing or damaged file, a bad argument) as one line on stderr and
a non-zero exit status; ``--debug`` (before or after the command) shows the
traceback instead.

Ctrl-C, SIGTERM and SIGHUP end every command cleanly from its first line:
:func:`main` installs their handling before anything heavy is imported (this
module and the package's ``__init__`` import only the standard library), so a
stop while hyperopt and scipy load, or while a large checkpoint is read, is
one line and the shell's status (130, 143, 129), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType
from typing import NoReturn

from .. import __version__
from ..errors import ResumableOptError
from ..interrupts import Interrupt, InterruptGuard, exit_status, tell

EXIT_ERROR = 1
EXIT_USAGE = 2

#: The modules that each add commands; their order is the order in --help.
COMMAND_MODULES = [
    *["demo", "show", "watch", "best", "trials", "export", "plot", "resume", "fork", "recovery", "importing"],
]


def command_modules() -> list[ModuleType]:
    """The command modules, imported (with hyperopt) once signals are handled."""
    return [importlib.import_module(f".{name}", __name__) for name in COMMAND_MODULES]


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
    for module in command_modules():
        module.register(subparsers)
    for command in subparsers.choices.values():
        if "--debug" not in command._option_string_actions:
            # SUPPRESS: absent here, it leaves the value given before the command alone.
            command.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    with InterruptGuard() as guard:
        try:
            return _run(argv)
        except Interrupt as stop:  # outside a run (a run saves, reports and exits itself)
            guard.acknowledge()
            guard.stop_raising()
            tell(f"resumable-opt: stopped by {stop.signal_name}")
            return exit_status(stop.signum)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ResumableOptError as exc:
        if args.debug:
            raise
        print(f"resumable-opt: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Interrupt:
        raise
    except KeyboardInterrupt:  # raised by the user's own code (an objective, a space module)
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
