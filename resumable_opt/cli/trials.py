"""``resumable-opt trials CKPT``: one row per trial, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys

from ..errors import ResumableOptError
from ..reporting.progress import terminal_width
from ..reporting.render import csv_text, fit_table, json_text, render_table
from ..reporting.rows import TrialTable, sort_rows, step_table, trial_table
from .common import add_checkpoint_argument, load_search, note, note_if_raw, positive_int

FORMATS = ("table", "csv", "json")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "trials",
        help="one row per trial: decoded parameters, loss, status, duration, start",
        description="List the trials of a search, one per row: tid, status (ok, pruned, fail, running, pending), loss, "
        "the last step reported (in searches whose trials report intermediate values), "
        "one column per hyperopt label with the value the objective saw (empty where a conditional branch "
        "did not use it), duration in seconds and start time. On a terminal the table is aligned and long "
        "values are cut; piped, it is plain with whole values.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument(
        "--sort",
        metavar="COLUMN",
        default="tid",
        help="order by this column, e.g. loss (default: %(default)s); empty values last",
    )
    parser.add_argument("--desc", action="store_true", help="sort in descending order")
    parser.add_argument("--top", metavar="N", type=positive_int, help="only the first N rows (after sorting)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: %(default)s)")
    parser.add_argument(
        "--steps",
        action="store_true",
        help="one row per intermediate value the trials reported instead: tid, status, step, value",
    )
    parser.set_defaults(handler=run)


def selected_rows(table: TrialTable, sort: str, descending: bool, top: int | None) -> list[dict]:
    if sort not in table.columns:
        raise ResumableOptError(f"cannot sort by {sort!r}: no such column; the columns are {', '.join(table.columns)}")
    rows = sort_rows(table.rows, sort, descending)
    return rows[:top] if top else rows


def run(args: argparse.Namespace) -> int:
    state = load_search(args.checkpoint)
    table = step_table(state) if args.steps else trial_table(state)
    if not args.steps:
        note_if_raw(table)
    rows = selected_rows(table, args.sort, args.desc, args.top)
    if args.format == "csv":
        sys.stdout.write(csv_text(table.columns, rows, table.parameters))
    elif args.format == "json":
        sys.stdout.write(json_text(table.columns, rows, table.parameters))
    elif rows:
        width = terminal_width(sys.stdout)
        if width is None:  # not a terminal, or one of unknown size
            print(render_table(table.columns, rows, terminal=sys.stdout.isatty(), parameters=table.parameters))
        else:
            text, left_out = fit_table(table.columns, rows, table.parameters, width)
            print(text)
            if left_out:
                shown = ", ".join(left_out)
                note(f"columns left out to fit the terminal: {shown} (see them all with --format csv or json)")
    else:
        note("no intermediate values reported yet" if args.steps else "no trials yet")
    return 0
