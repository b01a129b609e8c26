"""``resumable-opt plot CKPT -o FILE.png``: the losses and a panel per parameter."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reporting.plot import save_plot, search_figure
from .common import add_checkpoint_argument, load_search, note_if_raw


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw the loss of every trial with the best so far, and each parameter against the loss (PNG)",
        description="Draw a search as a PNG: the loss of every trial in order with the best-so-far line "
        "(failed trials marked along the bottom), then one panel per parameter with its value against the "
        "loss (the best trial starred). Needs matplotlib: pip install 'resumable-opt[plot]'.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.png", help="the PNG file to write")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    state = load_search(args.checkpoint)
    figure, table = search_figure(state)
    note_if_raw(table)
    save_plot(figure, args.output)
    print(f"Wrote the plot of {state.n_ok} trials with a loss ({len(table.parameters)} parameters) to {args.output}")
    return 0
