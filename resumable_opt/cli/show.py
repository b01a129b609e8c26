"""``resumable-opt show CKPT``: the summary of a search."""

from __future__ import annotations

import argparse

from ..reporting.summary import summary_text
from .common import add_checkpoint_argument, load_search


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "show",
        help="summary of a search: running or how it ended, trials, best, time, space, runs",
        description="Summarise a search: whether a run is going on (pid, host, since when) or how the last one "
        "ended; trials finished, failed and pending against the budget; the best loss, its trial and its "
        "parameters; the time spent; the seed, the algorithm, the search space and the history of runs. "
        "Safe while the search runs: it never takes the lock.",
    )
    add_checkpoint_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(summary_text(load_search(args.checkpoint)))
    return 0
