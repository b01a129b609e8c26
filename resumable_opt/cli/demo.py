"""``resumable-opt demo``: the demo search."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import DEFAULT_CHECKPOINT, DEFAULT_DELAY, DEFAULT_MAX_EVALS, run_demo
from .common import positive_int, print_run_result


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the demo search (tune gradient descent on x^2); Ctrl-C it and run again to resume",
        description="Tune the learning rate and start range of gradient descent on y = x^2. "
        "Press Ctrl-C at any time and run the same command again: it resumes where it stopped.",
    )
    demo.add_argument(
        "--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint file (default: %(default)s)"
    )
    demo.add_argument(
        "--max-evals",
        type=positive_int,
        default=DEFAULT_MAX_EVALS,
        help="total number of trials (default: %(default)s)",
    )
    demo.add_argument(
        "--delay", type=float, default=DEFAULT_DELAY, help="seconds each trial takes (default: %(default)s)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed of a new search (default: %(default)s)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print_run_result(run_demo(args.checkpoint, args.max_evals, args.delay, args.seed, progress=not args.quiet))
    return 0
