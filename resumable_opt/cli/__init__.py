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
import gc
import importlib
import os
import sys
from types import ModuleType

from .. import __version__
from ..errors import ResumableOptError
from ..interrupts import Interrupt, InterruptGuard, exit_status, tell

TYPE_CHECKING = False  # typing's, without importing typing at run time (see resumable_opt/__init__.py)
if TYPE_CHECKING:
    from typing import Any, NoReturn

EXIT_ERROR = 1
EXIT_USAGE = 2

#: Each command and the module under ``resumable_opt/cli/`` that adds it; their order is the order in --help.
COMMANDS = {
    **{name: name for name in ("demo", "show", "watch", "best", "trials", "export", "plot", "resume", "fork")},
    **{"verify": "recovery", "recover": "recovery", "import": "importing", "add-points": "importing"},
}
#: The commands that only read a checkpoint: nothing of theirs needs finalising when the process ends.
READ_ONLY = frozenset({"show", "best", "trials", "export", "plot", "verify"})


def command_modules(command: str | None = None) -> list[ModuleType]:
    """The modules that add the commands, imported once signals are handled: all
    of them, or only the one that adds ``command`` when it names one.  A command
    needs nothing from the others, and importing them all would take longer
    than looking at a checkpoint does (``benchmarks/inspect_speed.py``)."""
    names = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f".{name}", __name__) for name in names]


def named_command(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first argument that is not an option
    (the options before the command take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def help_width() -> int:
    """The width argparse wraps help to, ``shutil.get_terminal_size().columns - 2``,
    worked out as ``shutil`` does (``COLUMNS``, else the terminal of stdout, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, given its width: argparse makes a formatter for every argument
    it adds, help or not, and each would import ``shutil`` for the width, with
    ``bz2`` and ``lzma``: 2 ms of the 50 that ``resumable-opt best`` may take."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, help_width() if width is None else width)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line instead of usage + error,
    and help formatted by :class:`HelpFormatter` (also the commands' parsers, made by this class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``command`` (a name in :data:`COMMANDS`)
    of that one only: it parses that command's arguments exactly as the whole one does."""
    parser = ArgumentParser(
        prog="resumable-opt",
        description="Resumable hyperopt searches: run, resume and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules(command):
        module.register(subparsers)
    for command_parser in subparsers.choices.values():
        if "--debug" not in command_parser._option_string_actions:
            # SUPPRESS: absent here, it leaves the value given before the command alone.
            command_parser.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors"
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` and return its exit status.

    Without ``argv`` it runs the process's own arguments, as the ``resumable-opt``
    script and ``python -m resumable_opt`` do: the process ends right after, so the
    objects of a command in :data:`READ_ONLY` are then frozen (``gc.freeze``):
    Python's last garbage collection at exit would walk and free every module's
    objects one by one, for nothing: 3 ms of the 50 that ``resumable-opt best`` may
    take (``benchmarks/inspect_speed.py``).  The commands that run a search or write
    files are left alone: an object of theirs in a reference cycle may have
    something to finalise (``__del__``), which frozen objects never get to do.
    """
    try:
        with InterruptGuard() as guard:
            try:
                return _run(argv)
            except Interrupt as stop:  # outside a run (a run saves, reports and exits itself)
                guard.acknowledge()
                guard.stop_raising()
                tell(f"resumable-opt: stopped by {stop.signal_name}")
                return exit_status(stop.signum)
    finally:
        if argv is None and named_command(sys.argv[1:]) in READ_ONLY:
            gc.freeze()


def _run(argv: list[str] | None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(named_command(argv))
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
