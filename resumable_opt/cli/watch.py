"""``resumable-opt watch CKPT``: follow a run live, from another terminal."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from ..reporting.progress import terminal_width
from ..reporting.watch import REFRESH, watch
from .common import add_checkpoint_argument, load_search, note


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="follow a run live: progress, ETA, best, the trials running and the last ones",
        description="Follow the run going on on a checkpoint, from another terminal or an SSH session: progress "
        "against the budget with an ETA, the best loss and its parameters, the trials being evaluated (for how "
        "long) and the last ones finished, failures. Reads the checkpoint when it changes, without its lock: "
        "it never blocks or slows the run. Ends by itself with the run's outcome when the run ends; says so "
        "at once when no run is going on. On a terminal the view is live (needs rich: "
        "pip install 'resumable-opt[watch]'); otherwise one plain line per finished trial.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument(
        "--interval",
        type=seconds,
        default=REFRESH,
        metavar="S",
        help="seconds between two looks (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def seconds(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def run(args: argparse.Namespace) -> int:
    live = sys.stdout.isatty() and not args.plain
    if live and importlib.util.find_spec("rich") is None:
        note("plain lines: the live view needs rich (pip install 'resumable-opt[watch]')")
        live = False
    try:
        watch(args.checkpoint, load_search, sys.stdout, live, terminal_width(sys.stdout), args.interval)
    except KeyboardInterrupt:
        print("Stopped watching; the run goes on.", file=sys.stderr)
    return 0
