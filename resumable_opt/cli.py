"""The ``resumable-opt`` command line.

Every command reports a user's mistake (a missing or damaged file, a bad
argument) as one line on stderr and a non-zero exit status; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import ResumableOptError

EXIT_ERROR = 1

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable:
    def register(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = handler
        return handler

    return register


@command("demo")
def run_demo_command(args: argparse.Namespace) -> int:
    from .demo import run_demo

    state = run_demo(args.checkpoint, args.max_evals, args.delay, args.seed, progress=not args.quiet)
    print(f"Best loss {state.best_loss:.6g} after {state.n_finished} trials; best parameters:")
    for name, value in state.best.items():
        print(f"  {name} = {value}")
    print(f"Checkpoint: {state.path}  (inspect it with: resumable-opt show {state.path})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resumable-opt",
        description="Resumable hyperopt searches: run, resume and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="run the demo search (tune gradient descent on x^2); Ctrl-C it and run again to resume",
        description="Tune the learning rate and start range of gradient descent on y = x^2. "
        "Press Ctrl-C at any time and run the same command again: it resumes where it stopped.",
    )
    demo.add_argument("--checkpoint", type=Path, default=Path("checkpoints/demo.ckpt"), help="checkpoint file (default: %(default)s)")
    demo.add_argument("--max-evals", type=int, default=30, help="total number of trials (default: %(default)s)")
    demo.add_argument("--delay", type=float, default=0.3, help="seconds each trial takes (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of a new search (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ResumableOptError as exc:
        if args.debug:
            raise
        print(f"resumable-opt: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. `resumable-opt trials X | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
